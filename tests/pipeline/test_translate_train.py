"""The translate-train baseline end to end on the synthetic world, offline: the intermediate task
trained on its English data mixed with the world's translations into xa/xb/xc
(``source_language: [en, xa, xb, xc]``), next to the same task in English only and the
no-intermediate baseline, then zero-shot evaluation and the report."""

from __future__ import annotations

import json

import pytest
import yaml

from xstilts.study import run_study

LANGUAGES = ["en", "xa", "xb", "xc"]
FAST = {"max_steps": 6, "per_device_train_batch_size": 8, "learning_rate": 1.0e-3, "eval_steps": 6,
        "logging_steps": 6, "max_eval_examples": 16, "max_train_examples": 32}
STUDY = {
    "study": "seqlen", "name": "tt", "seeds": [0],
    "world": {"seed": 0, "size": "tiny", "overrides": {"translations": True}},
    "pretrained": {"from_scratch": {"seed": 0, "languages": LANGUAGES, "corpus_task": "syn_mlm",
                                    "tokenizer": {"vocab_size": 400},
                                    "model": {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2,
                                              "intermediate_size": 64},
                                    "max_length": 64, "max_examples_per_language": 200,
                                    "training": {"max_steps": 6, "per_device_train_batch_size": 16, "eval_steps": 6}}},
    "intermediate_tasks": ["syn_nli"], "max_lengths": [64],
    "intermediate_source_languages": ["en", LANGUAGES],
    "intermediate_training": FAST,
    "targets": ["syn_xnli"], "target_training": {"syn_xnli": FAST}, "head_init": "intermediate",
    "zero_shot_eval": {"splits": ["test"], "languages": ["en", "xa", "xb", "xc"], "max_examples": 20},
    "tasks": {"syn_xnli": {"max_length": 64}},
}


@pytest.mark.slow
def test_translate_train_runs_on_the_world_and_is_its_own_condition_in_the_report(tmp_path):
    preset = tmp_path / "tt.yaml"
    preset.write_text(yaml.safe_dump(STUDY), encoding="utf-8")
    out = tmp_path / "out"
    summary = run_study(str(preset), out, progress=False, echo=lambda *a: None)
    assert len(summary["runs"]) == 3 and set(summary["state"].values()) == {"done"}

    rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    mixed = "syn_nli[en+xa+xb+xc]"
    # The translate-train phase trained on 4 × 32 examples and selected on the dev set of every language.
    inter = [r for r in rows if r["phase"] == "intermediate" and r["task"] == "syn_nli"]
    trained = {r["language"]: r for r in inter if r["split"] == "train" and r["metric"] == "share_truncated"}
    assert trained["en"]["n"] == 32 and trained["en+xa+xb+xc"]["n"] == 4 * 32
    dev = {(r["language"], r["n"]) for r in inter if r["split"] == "dev" and r["metric"] == "accuracy"}
    assert dev == {("en", 16)} | {(lang, 16) for lang in LANGUAGES}
    zero_shot = [r for r in rows
                 if r["phase"] == "zero_shot_eval" and r["bucket"] == "all" and r["metric"] == "accuracy"]
    conditions = {tuple(r["intermediate"]) for r in zero_shot}
    assert conditions == {(), ("syn_nli",), (mixed,)}
    for r in zero_shot:
        assert r["target"] == "syn_xnli" and r["n"] == 20 and 0 <= r["value"] <= 100
        assert r.get("intermediate_source_language") == ("en+xa+xb+xc" if r["intermediate"] == [mixed] else None)
    assert {r["language"] for r in zero_shot if r["intermediate"] == [mixed]} == set(LANGUAGES)
    done = [json.loads(p.read_text()) for p in out.glob("shared/intermediate-*/done.json")]
    assert sorted(d.get("source_language", ["en"]) for d in done) == [["en"], LANGUAGES]

    assert {r.get("source_language") for r in inter} == {None, "en+xa+xb+xc"}  # each phase's rows say which

    html = (out / "report" / "index.html").read_text(encoding="utf-8")
    assert f"{mixed} @ 64" in html and "syn_nli @ 64" in html  # two conditions, each against the baseline
    gains = (out / "report" / "tables" / "gains.csv").read_text().splitlines()
    assert sum(line.startswith(("syn_nli,64,", f"{mixed},64,")) for line in gains) == 2
    # The intermediate phases' own dev numbers stay apart too (English dev of each, not two "seeds").
    english_dev = (out / "report" / "tables" / "english_dev.csv").read_text().splitlines()
    assert "intermediate,syn_nli @ 64,syn_nli,en/dev" in "\n".join(english_dev)
    assert any(line.startswith(f"intermediate,{mixed} @ 64,syn_nli,xb/dev,") for line in english_dev)
    assert all(line.endswith(",1") for line in english_dev[1:])  # one seed each
