import pytest
import torch

from xstilts.errors import ConfigError
from xstilts.modeling import MultiTaskModel, head_spec_for
from xstilts.tasks import get_task


def test_heads_share_one_encoder_and_save_load_round_trip(tiny_model_dir, tmp_path):
    torch.manual_seed(0)
    model = MultiTaskModel.from_pretrained(str(tiny_model_dir))
    model.add_head("anli", head_spec_for(get_task("anli")))
    model.add_head("squad_v1", head_spec_for(get_task("squad_v1")))
    model.add_head("udpos", head_spec_for(get_task("udpos")))
    batch = {"input_ids": torch.tensor([[0, 100, 200, 2]]), "attention_mask": torch.ones(1, 4, dtype=torch.long)}
    model.eval()
    before = {h: model(h, batch) for h in model.heads}
    assert before["anli"]["logits"].shape == (1, 3)
    assert before["udpos"]["logits"].shape == (1, 4, 17)
    model.save(tmp_path / "m")
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == ["encoder", "heads.json", "heads.safetensors"]
    assert not list((tmp_path / "m").rglob("*.bin")) and not list((tmp_path / "m").rglob("*.pt"))
    loaded = MultiTaskModel.load(tmp_path / "m").eval()
    for h in model.heads:
        for k, v in before[h].items():
            assert torch.equal(v, loaded(h, batch)[k])


def test_head_init_copies_a_compatible_head(tiny_model_dir):
    model = MultiTaskModel.from_pretrained(str(tiny_model_dir))
    model.add_head("anli", head_spec_for(get_task("anli")))
    model.add_head("xnli", head_spec_for(get_task("xnli")), init_from="anli")
    for (k, a), (_, b) in zip(model.heads["anli"].state_dict().items(), model.heads["xnli"].state_dict().items()):
        assert torch.equal(a, b), k
    fresh = MultiTaskModel.from_pretrained(str(tiny_model_dir))
    fresh.add_head("xnli", head_spec_for(get_task("xnli")))
    assert not torch.equal(fresh.heads["xnli"].out_proj.weight, model.heads["anli"].out_proj.weight)


def test_head_init_rejects_incompatible_heads(tiny_model_dir):
    model = MultiTaskModel.from_pretrained(str(tiny_model_dir))
    model.add_head("qqp", head_spec_for(get_task("qqp")))
    with pytest.raises(ConfigError, match="incompatible"):
        model.add_head("xnli", head_spec_for(get_task("xnli")), init_from="qqp")
    with pytest.raises(ConfigError, match="no such head"):
        model.add_head("xnli", head_spec_for(get_task("xnli")), init_from="mnli")


def test_multiple_choice_inputs_are_flattened(tiny_model_dir):
    model = MultiTaskModel.from_pretrained(str(tiny_model_dir))
    model.add_head("hellaswag", head_spec_for(get_task("hellaswag")))
    batch = {"input_ids": torch.randint(3, 1000, (2, 4, 6)), "attention_mask": torch.ones(2, 4, 6, dtype=torch.long)}
    assert model("hellaswag", batch)["logits"].shape == (2, 4)


@pytest.mark.parametrize("tie", [True, False])
def test_mlm_head_shares_the_input_embeddings_when_the_config_ties_them(tiny_model_dir, tmp_path, tie):
    from safetensors.torch import load_file

    torch.manual_seed(0)
    model = MultiTaskModel.from_pretrained(str(tiny_model_dir))
    model.encoder.config.tie_word_embeddings = tie  # XLM-R's config: true (HF's default)
    model.add_head("mlm", head_spec_for(get_task("mlm"), vocab_size=model.encoder.config.vocab_size))
    embeddings = model.encoder.get_input_embeddings().weight
    assert (model.heads["mlm"].decoder.weight is embeddings) == tie
    batch = {"input_ids": torch.tensor([[0, 100, 200, 2]]), "attention_mask": torch.ones(1, 4, dtype=torch.long),
             "labels": torch.tensor([[-100, 100, -100, -100]])}
    before = embeddings[100].detach().clone()
    model.loss("mlm", model("mlm", batch), batch).backward()
    with torch.no_grad():
        model.heads["mlm"].decoder.weight -= model.heads["mlm"].decoder.weight.grad
    # The step on the vocabulary projection moved the input embedding of the predicted word iff tied.
    assert (not torch.equal(embeddings[100], before)) == tie
    model.eval()
    expected = model("mlm", batch)["logits"]
    model.save(tmp_path / "m")
    stored = load_file(str(tmp_path / "m" / "heads.safetensors"))
    assert ("mlm.decoder.weight" in stored) == (not tie)  # a tied weight lives once, in the encoder
    loaded = MultiTaskModel.load(tmp_path / "m").eval()
    assert (loaded.heads["mlm"].decoder.weight is loaded.encoder.get_input_embeddings().weight) == tie
    assert torch.equal(loaded("mlm", batch)["logits"], expected)
