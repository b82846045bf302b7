"""No stale trained phase: a training phase is reused only when every value it was trained from is the same.

Its key hashes the resolved config: registry defaults, the featurization version and the content of
every data file the phase reads, not only the config as written.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os

import pytest
import yaml

import xstilts.formats
from xstilts.config import load_config
from xstilts.pipeline.runner import run_experiment, training_key
from xstilts.tasks import registry

SHARED = "xtreme/download/udpos"


@pytest.fixture(autouse=True)
def _fingerprint_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XSTILTS_CACHE", str(tmp_path / "fingerprints"))


@pytest.fixture
def pos_data(tmp_path, data_dir):
    """A data root of our own, holding the first sentences of the real English UD-POS train and dev files."""
    root = tmp_path / "data"
    (root / SHARED).mkdir(parents=True)
    for split, n in (("train", 24), ("dev", 8)):
        sentences = (data_dir / SHARED / f"{split}-en.tsv").read_text(encoding="utf-8").split("\n\n")[:n]
        (root / SHARED / f"{split}-en.tsv").write_text("\n\n".join(sentences) + "\n\n", encoding="utf-8")
    return root


def _raw(root, model="unused") -> dict:
    return {
        "name": "stale", "seed": 5, "data_dir": str(root),
        "phases": [
            {"kind": "pretrained", "model": str(model)},
            {"kind": "intermediate", "tasks": ["squad_v1"], "training": {"max_steps": 2}},
            {"kind": "target", "task": "udpos",
             "training": {"per_device_train_batch_size": 8, "gradient_accumulation_steps": 1, "max_steps": 2,
                          "eval_steps": 2, "learning_rate": 1e-4, "logging_steps": 1, "per_device_eval_batch_size": 8}},
        ],
        "tasks": {"udpos": {"max_length": 32}},
    }


def _rewrite_in_place(path, old: str, new: str) -> None:
    """Replace a file's content at the same path, as a user fixing a data file would."""
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    stat = path.stat()  # a coarse-mtime filesystem must still see a change
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))


def test_a_new_registry_default_makes_a_new_phase_only_where_it_is_used(pos_data, monkeypatch):
    cfg = load_config(raw=_raw(pos_data))
    before = [training_key(cfg, i) for i in range(3)]
    assert [training_key(load_config(raw=_raw(pos_data)), i) for i in range(3)] == before  # unchanged: reused
    udpos = registry.get_task("udpos")
    monkeypatch.setitem(registry._REGISTRY, "udpos", dataclasses.replace(udpos, max_query_length=7))
    assert [training_key(cfg, i) for i in range(3)] == before  # not a setting UD-POS uses
    squad = registry.get_task("squad_v1")
    monkeypatch.setitem(registry._REGISTRY, "squad_v1", dataclasses.replace(squad, max_length=squad.max_length // 2))
    after = [training_key(cfg, i) for i in range(3)]
    assert after[0] == before[0]  # the encoder is not trained on SQuAD
    assert after[1] != before[1] and after[2] != before[2]  # the SQuAD phase, and every phase after it


def test_a_new_featurization_version_makes_new_phases(pos_data, monkeypatch):
    cfg = load_config(raw=_raw(pos_data))
    before = training_key(cfg, 2)
    monkeypatch.setattr(xstilts.formats, "FEATURIZATION_VERSION", xstilts.formats.FEATURIZATION_VERSION + 1)
    assert training_key(cfg, 2) != before


def test_a_data_file_replaced_in_place_makes_a_new_phase(pos_data):
    cfg = load_config(raw=_raw(pos_data))
    before, before_id = [training_key(cfg, i) for i in range(3)], cfg.run_id
    _rewrite_in_place(pos_data / SHARED / "dev-en.tsv", "\tPROPN", "\tNOUN")
    after = [training_key(cfg, i) for i in range(3)]
    assert after[:2] == before[:2] and after[2] != before[2]  # only the phase that reads UD-POS dev
    assert cfg.run_id != before_id  # and the run's own (evaluation) phases are new too


@pytest.mark.slow
def test_a_rerun_reuses_the_phase_until_its_data_changes(tmp_path, pos_data, tiny_model_dir):
    raw = _raw(pos_data, tiny_model_dir)
    raw["phases"] = [raw["phases"][0], raw["phases"][2]]  # pretrained → target: the cheapest real training
    out = tmp_path / "out"

    first = run_experiment(load_config(raw=raw), out, progress=False)
    assert len(list(out.glob("shared/target-*/done.json"))) == 1

    again = run_experiment(load_config(raw=raw), out, progress=False)
    assert again == first and len(list(out.glob("shared/target-*/done.json"))) == 1
    assert "already done: reloaded its model" in (again / "log.txt").read_text()

    train_file = pos_data / SHARED / "train-en.tsv"
    _rewrite_in_place(train_file, "\tPROPN", "\tNOUN")
    changed = run_experiment(load_config(raw=raw), out, progress=False)
    assert changed != first  # a new run: its evaluations are not the old model's either
    assert len(list(out.glob("shared/target-*/done.json"))) == 2  # trained anew, not reloaded
    assert "reloaded its model" not in (changed / "log.txt").read_text()
    # The saved config shows what the new phase was trained from.
    saved = yaml.safe_load((changed / "config.yaml").read_text())
    assert saved["resolved"]["data"]["1"]["udpos.train"][f"{SHARED}/train-en.tsv"] == \
        hashlib.sha256(train_file.read_bytes()).hexdigest()
