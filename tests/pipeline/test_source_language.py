"""Training in another source language than English (``source_language``): keys, rows, the overlap
guard, and a real-data run trained on German UD-POS and scored zero-shot on English and Chinese.

The shared data has no German training split, so the German run trains on a slice of German dev
(``tasks.udpos.train: {split: dev, stop: 200}``) and selects on another (``start: 200``).
"""

from __future__ import annotations

import json
import math

import pytest
import yaml

from xstilts.config import load_config, source_languages
from xstilts.errors import ConfigError
from xstilts.pipeline.run import language_label
from xstilts.pipeline.runner import run_experiment, training_key

POS_DE = {"max_length": 48, "train": {"split": "dev", "stop": 200}, "dev": {"split": "dev", "start": 200, "stop": 260}}
TRAINING = {"per_device_train_batch_size": 16, "gradient_accumulation_steps": 1, "max_steps": 6, "eval_steps": 6,
            "learning_rate": 1e-3, "logging_steps": 3, "per_device_eval_batch_size": 32}


@pytest.fixture(autouse=True)
def _fingerprint_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XSTILTS_CACHE", str(tmp_path / "fingerprints"))


def _raw(data_dir, model="unused", source=None, evaluate=None) -> dict:
    target = {"kind": "target", "task": "udpos", "training": dict(TRAINING)}
    if source is not None:
        target["source_language"] = source
    return {
        "name": "pos", "seed": 3, "data_dir": str(data_dir),
        "phases": [{"kind": "pretrained", "model": str(model)},
                   {"kind": "intermediate", "tasks": ["squad_v1"], "training": {"max_steps": 2}},
                   target,
                   evaluate or {"kind": "zero_shot_eval", "splits": ["test"], "languages": ["de", "en", "zh"],
                                "max_examples": 40}],
        "tasks": {"udpos": dict(POS_DE)},
    }


def _keys(cfg) -> list[str]:
    return [training_key(cfg, i) for i in range(3)]


# ------------------------------------------------------------------ keys and run ids


def test_english_by_default_and_explicitly_is_one_phase_with_the_keys_it_had(data_dir):
    plain = load_config(raw=_raw(data_dir))
    assert all("source_language" not in p for p in plain.model_dump(mode="json")["phases"])  # saved configs as before
    assert "source_language" not in yaml.safe_dump(plain.resolved())
    for explicit in ("en", ["en"]):
        cfg = load_config(raw=_raw(data_dir, source=explicit))
        assert source_languages(cfg.phases[2]) == ("en",)
        assert _keys(cfg) == _keys(plain) and cfg.run_id == plain.run_id


def test_a_source_language_changes_the_key_of_its_phase_and_the_run_id(data_dir):
    english = load_config(raw=_raw(data_dir))
    german = load_config(raw=_raw(data_dir, source="de"))
    assert _keys(german)[:2] == _keys(english)[:2]  # the encoder and the English intermediate phase are shared
    assert _keys(german)[2] != _keys(english)[2] and german.run_id != english.run_id
    assert _keys(load_config(raw=_raw(data_dir, source=["de"]))) == _keys(german)  # [de] is de
    mixed = load_config(raw=_raw(data_dir, source=["en", "de"]))
    assert len({_keys(mixed)[2], _keys(german)[2], _keys(english)[2]}) == 3
    # What the German phase reads is fingerprinted under its language: German dev, not English.
    data = german.resolved()["resolved"]["data"]["2"]
    assert set(data) == {"udpos.train.de", "udpos.dev.de"}
    assert list(data["udpos.train.de"]) == ["xtreme/download/udpos/dev-de.tsv"]
    assert set(mixed.resolved()["resolved"]["data"]["2"]) == {"udpos.train", "udpos.dev", "udpos.train.de",
                                                              "udpos.dev.de"}


def test_rows_name_a_condition_trained_in_other_languages():
    assert language_label("udpos", ("en",)) == "udpos"
    assert language_label("udpos", ("de",)) == "udpos[de]"
    assert language_label("syn_nli", ("en", "xa", "xb")) == "syn_nli[en+xa+xb]"


def test_source_language_must_be_language_codes(data_dir):
    for bad, why in (("", "not a language code"), ([], "non-empty"), (["de", "de"], "listed twice"),
                     ("../x", "not a language code")):
        with pytest.raises(ConfigError, match=why):
            load_config(raw=_raw(data_dir, source=bad))


# ------------------------------------------------------------------ the overlap guard, per language


def test_the_guard_refuses_to_score_the_german_dev_sentences_it_trains_on(tmp_path, data_dir, tiny_model_dir):
    german_dev = {"kind": "zero_shot_eval", "splits": ["dev"], "languages": ["de"]}
    raw = _raw(data_dir, tiny_model_dir, "de", evaluate=german_dev)
    raw["phases"].pop(1)
    with pytest.raises(ConfigError) as err:
        run_experiment(load_config(raw=raw), tmp_path / "out", progress=False)
    message = str(err.value)
    assert message.startswith("train/test overlap: udpos/dev-de[0:200] (udpos train) and udpos/dev-de share ")
    shared = int(message.split(" share ")[1].split(" of ")[0])
    assert 0 < shared <= 200  # the training slice's long sentences; the selection slice is not counted
    assert not list((tmp_path / "out").glob("shared/target-*/done.json"))  # refused before training


# ------------------------------------------------------------------ a real run trained in German


@pytest.mark.slow
def test_trained_on_german_scored_zero_shot_in_english_and_chinese(tmp_path, data_dir, tiny_model_dir):
    raw = _raw(data_dir, tiny_model_dir, "de")
    raw["phases"].pop(1)  # pretrained → German target → zero-shot: the cheapest real training
    out = tmp_path / "out"
    run_dir = run_experiment(load_config(raw=raw), out, progress=False)

    rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert rows and all(r["target"] == "udpos[de]" and r["source_language"] == "de" for r in rows)
    train = {r["metric"]: r for r in rows if r["phase"] == "target" and r["split"] == "train"}
    assert train["tokens_seen"]["language"] == "de" and train["share_truncated"]["n"] == 200  # German dev[0:200]
    dev = [r for r in rows if r["phase"] == "target" and r["split"] == "dev"]
    assert {(r["language"], r["n"]) for r in dev} == {("de", 60)}  # selected on German dev[200:260]
    zero_shot = {(r["language"], r["metric"]): r for r in rows
                 if r["phase"] == "zero_shot_eval" and r["bucket"] == "all"}
    assert {lang for lang, _ in zero_shot} == {"de", "en", "zh"}
    for lang in ("de", "en", "zh"):
        r = zero_shot[(lang, "f1")]
        assert r["split"] == "test" and r["n"] == 40 and math.isfinite(r["value"]) and 0 <= r["value"] <= 100
    examples = [json.loads(line) for line in (out / "example_scores.jsonl").read_text().splitlines()]
    assert {e["target"] for e in examples} == {"udpos[de]"} and len(examples) == 3 * 40

    done = json.loads(next(out.glob("shared/target-*/done.json")).read_text())
    assert done["source_language"] == ["de"] and done["target"] == "udpos"  # the head keeps the task's name
    saved = yaml.safe_load((run_dir / "config.yaml").read_text())
    assert saved["phases"][1]["source_language"] == "de"
    assert "udpos.train.de" in saved["resolved"]["data"]["1"]
    log = (run_dir / "log.txt").read_text()
    assert "phase target: udpos in de;" in log and "tokenizing udpos train-de: 200 examples" in log
