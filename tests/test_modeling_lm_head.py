"""A checkpoint's own MLM head: read from its weight files under mlm.Head's names, loaded into a new
head (the vocabulary projection tied to the input embeddings), refused with one line when absent;
and the from-scratch model saved as a masked-LM checkpoint that carries its head."""

from __future__ import annotations

import pytest
import torch
from safetensors import safe_open

from xstilts.config import ModelShape, TokenizerSpec
from xstilts.errors import ConfigError
from xstilts.modeling import HeadSpec, MultiTaskModel, checkpoint_lm_head, tensors_digest
from xstilts.pretraining import build_encoder, save_pretrained, train_tokenizer

SHAPE = dict(hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32)


def _masked_lm(kind: str, directory, *, tie: bool = True, seed: int = 0):
    """A randomly initialised HF masked LM (its head's biases made non-zero, so that a head left at
    init cannot pass for it), saved to ``directory``."""
    from transformers import BertConfig, BertForMaskedLM, XLMRobertaConfig, XLMRobertaForMaskedLM

    torch.manual_seed(seed)
    if kind == "xlmr":
        model = XLMRobertaForMaskedLM(XLMRobertaConfig(vocab_size=120, max_position_embeddings=40, layer_norm_eps=1e-5,
                                                       tie_word_embeddings=tie, **SHAPE))
        head = model.lm_head
        with torch.no_grad():
            head.bias.normal_()
            head.layer_norm.weight.normal_()
    else:
        model = BertForMaskedLM(BertConfig(vocab_size=120, max_position_embeddings=40, **SHAPE))
        with torch.no_grad():
            model.cls.predictions.bias.normal_()
    model.save_pretrained(directory)
    return model


def _file_tensors(directory) -> dict[str, torch.Tensor]:
    with safe_open(str(directory / "model.safetensors"), framework="pt") as f:
        return {k: f.get_tensor(k) for k in f.keys()}


def test_xlmr_lm_head_is_read_from_the_file_and_continued_tied(tmp_path):
    _masked_lm("xlmr", tmp_path)
    stored = _file_tensors(tmp_path)
    head = checkpoint_lm_head(str(tmp_path))
    assert set(head) == {"dense.weight", "dense.bias", "layer_norm.weight", "layer_norm.bias", "decoder.bias"}
    assert torch.equal(head["dense.weight"], stored["lm_head.dense.weight"])
    assert torch.equal(head["decoder.bias"], stored["lm_head.bias"])

    model = MultiTaskModel.from_pretrained(str(tmp_path))
    model.add_head("mlm", HeadSpec("mlm", {"vocab_size": 120, "layer_norm_eps": 1e-5}), state=head)
    own = model.heads["mlm"].state_dict()
    for key, source in {"dense.weight": "lm_head.dense.weight", "dense.bias": "lm_head.dense.bias",
                        "layer_norm.weight": "lm_head.layer_norm.weight", "layer_norm.bias": "lm_head.layer_norm.bias",
                        "decoder.bias": "lm_head.bias"}.items():
        assert torch.equal(own[key], stored[source]), key
    embeddings = model.encoder.get_input_embeddings().weight
    assert model.heads["mlm"].decoder.weight is embeddings
    assert torch.equal(embeddings, stored["roberta.embeddings.word_embeddings.weight"])
    assert tensors_digest(model.head_state("mlm")) == tensors_digest(head)


def test_the_continued_head_predicts_what_the_hf_masked_lm_predicts(tmp_path):
    hf = _masked_lm("xlmr", tmp_path).eval()
    model = MultiTaskModel.from_pretrained(str(tmp_path)).eval()
    model.add_head("mlm", HeadSpec("mlm", {"vocab_size": 120, "layer_norm_eps": 1e-5}),
                   state=checkpoint_lm_head(str(tmp_path)))
    ids = torch.tensor([[0, 5, 7, 4, 9, 2]])
    batch = {"input_ids": ids, "attention_mask": torch.ones_like(ids)}
    with torch.no_grad():
        expected = hf(**batch).logits[0]
        ours = model.heads["mlm"](model.encode(batch), {})["logits"][0]
    assert torch.allclose(ours, expected, atol=1e-5)


def test_an_untied_projection_is_loaded_from_the_checkpoint(tmp_path):
    hf = _masked_lm("xlmr", tmp_path, tie=False)
    head = checkpoint_lm_head(str(tmp_path))
    assert torch.equal(head["decoder.weight"], hf.lm_head.decoder.weight)
    model = MultiTaskModel.from_pretrained(str(tmp_path))
    model.add_head("mlm", HeadSpec("mlm", {"vocab_size": 120}), state=head)
    assert model.heads["mlm"].decoder.weight is not model.encoder.get_input_embeddings().weight
    assert torch.equal(model.heads["mlm"].decoder.weight, hf.lm_head.decoder.weight)


def test_bert_layout_maps_to_the_same_head(tmp_path):
    hf = _masked_lm("bert", tmp_path)
    head = checkpoint_lm_head(str(tmp_path))
    p = hf.cls.predictions
    assert torch.equal(head["dense.weight"], p.transform.dense.weight)
    assert torch.equal(head["layer_norm.bias"], p.transform.LayerNorm.bias)
    assert torch.equal(head["decoder.bias"], p.bias)


def test_a_checkpoint_without_an_lm_head_is_one_line_naming_it(tmp_path):
    from transformers import XLMRobertaConfig, XLMRobertaModel

    XLMRobertaModel(XLMRobertaConfig(vocab_size=120, max_position_embeddings=40, **SHAPE),
                    add_pooling_layer=False).save_pretrained(tmp_path / "bare")
    with pytest.raises(ConfigError) as err:
        checkpoint_lm_head(str(tmp_path / "bare"))
    message = str(err.value)
    assert "\n" not in message and str(tmp_path / "bare") in message and "no MLM head" in message
    assert "mlm.head: fresh" in message
    with pytest.raises(ConfigError, match="no weights"):
        checkpoint_lm_head(str(tmp_path))  # a folder without weight files


def test_a_head_of_another_shape_is_refused(tmp_path):
    _masked_lm("xlmr", tmp_path)
    model = MultiTaskModel.from_pretrained(str(tmp_path))
    head = checkpoint_lm_head(str(tmp_path))
    head["dense.weight"] = head["dense.weight"][:, :8]
    with pytest.raises(ConfigError, match="dense.weight"):
        model.add_head("mlm", HeadSpec("mlm", {"vocab_size": 120}), state=head)
    assert "mlm" not in model.heads


def test_from_scratch_save_is_a_masked_lm_checkpoint_with_its_head(tmp_path):
    from transformers import AutoModelForMaskedLM

    texts = [f"word{i % 17} thing{i % 5} other{i % 3}" for i in range(200)]
    tokenizer = train_tokenizer(texts, TokenizerSpec(vocab_size=100), model_max_length=32)
    model = MultiTaskModel(build_encoder(tokenizer, ModelShape(**SHAPE), 32, seed=0))
    model.add_head("mlm", HeadSpec("mlm", {"vocab_size": len(tokenizer)}))
    with torch.no_grad():
        model.heads["mlm"].decoder.bias.normal_()
        model.heads["mlm"].dense.weight.normal_()
    state = torch.get_rng_state()
    save_pretrained(model, tokenizer, tmp_path)
    assert torch.equal(torch.get_rng_state(), state)  # saving draws nothing from the global generator
    head = checkpoint_lm_head(str(tmp_path))
    own = model.head_state("mlm")
    assert set(head) == set(own) and all(torch.equal(head[k], own[k]) for k in own)
    # The folder is what XLM-R is: AutoModelForMaskedLM takes the same head, AutoModel the encoder.
    hf = AutoModelForMaskedLM.from_pretrained(tmp_path)
    assert torch.equal(hf.lm_head.dense.weight, own["dense.weight"])
    assert torch.equal(hf.lm_head.bias, own["decoder.bias"])
    again = MultiTaskModel.from_pretrained(str(tmp_path))
    for a, b in zip(again.encoder.state_dict().values(), model.encoder.state_dict().values()):
        assert torch.equal(a, b)
