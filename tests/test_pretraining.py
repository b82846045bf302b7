"""Pretraining from scratch: tokenizer training, a tiny MLM, an HF directory the pipeline reloads."""

from __future__ import annotations

import pytest
import yaml
from transformers import AutoModel, AutoTokenizer

from xstilts.config import TokenizerSpec, load_config
from xstilts.pipeline.results import read_rows
from xstilts.pipeline.runner import run_experiment
from xstilts.pretraining import train_tokenizer


@pytest.fixture(scope="module")
def corpora(tmp_path_factory, data_dir):
    """Monolingual text per language (real Tatoeba sentences; not aligned across languages)."""
    root = tmp_path_factory.mktemp("corpora-root")
    (root / "corpora").mkdir()
    for lang, name in (("en", "de-en.en"), ("de", "de-en.de"), ("fr", "fr-en.fr")):
        lines = (data_dir / "xtreme/download/tatoeba" / name).read_text(encoding="utf-8").splitlines()
        (root / "corpora" / f"train.{lang}.txt").write_text("\n".join(lines[:300]) + "\n", encoding="utf-8")
        (root / "corpora" / f"dev.{lang}.txt").write_text("\n".join(lines[900:960]) + "\n", encoding="utf-8")
    return root


def test_bpe_tokenizer_is_reproducible_and_xlmr_like(corpora):
    texts = (corpora / "corpora" / "train.de.txt").read_text(encoding="utf-8").splitlines()
    a = train_tokenizer(texts, TokenizerSpec(vocab_size=500), model_max_length=64)
    b = train_tokenizer(texts, TokenizerSpec(vocab_size=500), model_max_length=64)
    assert a.backend_tokenizer.to_str() == b.backend_tokenizer.to_str()
    assert (a.cls_token_id, a.pad_token_id, a.sep_token_id, a.unk_token_id, a.mask_token_id) == (0, 1, 2, 3, 4)
    enc = a("Wo ist Tom?", "Hier.", return_offsets_mapping=True)
    ids = enc["input_ids"]
    assert ids[0] == 0 and ids[-1] == 2 and ids.count(2) == 3  # <s> A </s></s> B </s>
    text = "Wo ist Tom?"
    spans = [text[s:e] for s, e in enc["offset_mapping"][1:ids.index(2)]]
    assert all(span == span.strip() and span for span in spans)  # offsets never include the space


@pytest.mark.slow
def test_from_scratch_phase_is_deterministic_and_reloadable(tmp_path, corpora):
    raw = {"name": "scratch", "seed": 5, "data_dir": str(corpora), "phases": [{"kind": "pretrained", "from_scratch": {
        "languages": ["en", "de", "fr"], "tokenizer": {"vocab_size": 600},
        "model": {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 64},
        "max_length": 24, "training": {"max_steps": 12, "eval_steps": 6, "per_device_train_batch_size": 16}}}]}
    values = []
    for out in (tmp_path / "a", tmp_path / "b"):
        run_dir = run_experiment(load_config(raw=raw), out, progress=False)
        rows = {r["metric"]: r for r in read_rows(out / "results.jsonl")}
        assert set(rows) == {"loss", "perplexity"} and rows["loss"]["phase"] == "pretrained"
        assert rows["perplexity"]["higher_is_better"] is False
        values.append(rows["loss"]["value"])
        model_dir = out / (run_dir / "0-pretrained.txt").read_text().strip() / "model"
        assert AutoModel.from_pretrained(model_dir).config.num_hidden_layers == 2
        assert len(AutoTokenizer.from_pretrained(model_dir)) == 600
    assert values[0] == values[1]
    files = lambda d: sorted(p.name for p in d.glob("shared/pretrained-*/model/*"))
    assert files(tmp_path / "a") == files(tmp_path / "b")
    # Re-running reloads the saved model instead of pretraining again.
    run_experiment(load_config(raw=raw), tmp_path / "a", progress=False)
    assert "already done" in next((tmp_path / "a").glob("runs/*/log.txt")).read_text()


@pytest.mark.slow
def test_length_curriculum_trains_each_block_length_then_max_length(tmp_path, corpora):
    scratch = {"languages": ["en", "de"], "tokenizer": {"vocab_size": 400},
               "model": {"hidden_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 64},
               "max_length": 48, "length_curriculum": [12, 24], "curriculum_stage_steps": 2,
               "curriculum_learning_rate": 5e-4,
               "training": {"max_steps": 9, "eval_steps": 2, "per_device_train_batch_size": 4, "logging_steps": 1}}
    raw = {"name": "stages", "seed": 3, "data_dir": str(corpora),
           "phases": [{"kind": "pretrained", "from_scratch": scratch}]}
    run_experiment(load_config(raw=raw), tmp_path, progress=False)
    phase = next(p for p in tmp_path.glob("shared/pretrained-*") if p.is_dir())
    done = yaml.safe_load((phase / "done.json").read_text())
    # 9 steps: 5 on 12-token blocks (4x the rows: the same tokens per batch), 2 on 24, 2 at max_length.
    assert [(s["max_length"], s["steps"], s["per_device_train_batch_size"], s["learning_rate"])
            for s in done["curriculum"]] == [(12, 5, 16, 1e-3), (24, 2, 8, 5e-4), (48, 2, 4, 5e-4)]
    assert done["steps"] == 9  # totals over every stage
    assert done["wall_seconds"] == pytest.approx(sum(s["wall_seconds"] for s in done["curriculum"]))
    assert yaml.safe_load((phase / "stage-12" / "checkpoint" / "state.json").read_text())["step"] == 5
    assert AutoModel.from_pretrained(phase / "model").config.max_position_embeddings == 48 + 2


@pytest.mark.parametrize("change, message", [
    ({"length_curriculum": [16, 64]}, "below max_length"),
    ({"length_curriculum": [32, 16]}, "ascend"),
    ({"training": {"max_steps": 100}}, "needs training.max_steps above"),
])
def test_length_curriculum_is_validated(change, message):
    from xstilts.errors import ConfigError

    scratch = {"languages": ["en"], "max_length": 48, "length_curriculum": [16, 32], "curriculum_stage_steps": 50,
               "training": {"max_steps": 400}, **change}
    with pytest.raises(ConfigError, match=message):
        load_config(raw={"phases": [{"kind": "pretrained", "from_scratch": scratch}]})
