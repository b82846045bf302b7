import hashlib

import pytest
import yaml

from xstilts.config import ExperimentConfig, TrainingArgs, load_config
from xstilts.errors import ConfigError

BASE = {
    "name": "nli",
    "phases": [
        {"kind": "pretrained", "model": "FacebookAI/xlm-roberta-large"},
        {"kind": "intermediate", "tasks": ["anli"], "training": {"learning_rate": 1e-5}},
        {"kind": "target", "task": "xnli", "head_init": "anli"},
        {"kind": "zero_shot_eval"},
    ],
}


def test_yaml_round_trip_and_hash_is_stable(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(BASE))
    a = load_config(path)
    b = load_config(raw=yaml.safe_load(yaml.safe_dump(a.resolved())))
    assert a == b and a.config_hash() == b.config_hash()
    assert a.run_id.startswith("nli-") and len(a.run_id) == len("nli-") + 12


def test_override_changes_hash_and_value():
    a = load_config(raw=BASE)
    b = load_config(raw=BASE, overrides=["phases.1.training.learning_rate=3e-5"])
    assert b.phases[1].training.learning_rate == 3e-5
    assert a.config_hash() != b.config_hash()
    assert BASE["phases"][1]["training"]["learning_rate"] == 1e-5  # caller's mapping untouched


@pytest.mark.parametrize("override,message", [
    ("phases.1.training.learnig_rate=1", "did you mean 'learning_rate'"),
    ("sed=3", "did you mean 'seed'"),
    ("phases.2.head_int=anli", "did you mean 'head_init'"),
])
def test_unknown_keys_suggest(override, message):
    with pytest.raises(ConfigError, match=message):
        load_config(raw=BASE, overrides=[override])


def test_phase_order_is_validated():
    raw = {"phases": [{"kind": "target", "task": "xnli"}]}
    with pytest.raises(ConfigError, match="pretrained"):
        load_config(raw=raw)
    raw = {"phases": [{"kind": "pretrained", "model": "x"}, {"kind": "zero_shot_eval"}]}
    with pytest.raises(ConfigError, match="target"):
        load_config(raw=raw)


def test_bad_value_names_the_key():
    with pytest.raises(ConfigError, match=r"phases\.1\.intermediate\.training\.per_device_train_batch_size"):
        load_config(raw=BASE, overrides=["phases.1.training.per_device_train_batch_size=0"])


def test_baseline_is_the_same_config_without_intermediate():
    raw = {**BASE, "phases": [p for p in BASE["phases"] if p["kind"] != "intermediate"]}
    raw["phases"][1] = {"kind": "target", "task": "xnli"}
    cfg = load_config(raw=raw)
    assert cfg.phase("intermediate") is None and cfg.phase("target").task == "xnli"


def test_training_args_use_hf_names():
    fields = set(TrainingArgs.model_fields)
    assert {"learning_rate", "per_device_train_batch_size", "gradient_accumulation_steps",
            "num_train_epochs", "max_steps", "warmup_ratio", "weight_decay", "max_grad_norm",
            "eval_steps", "save_steps", "metric_for_best_model"} <= fields


def test_missing_file_is_config_error(tmp_path):
    with pytest.raises(ConfigError, match="nope.yaml"):
        load_config(tmp_path / "nope.yaml")


def test_compute_policies():
    raw = {"phases": [{"kind": "pretrained", "model": "x"},
                      {"kind": "intermediate", "tasks": ["squad_v1"], "max_length": 512,
                       "compute_policy": "equal_tokens", "training": {"per_device_train_batch_size": 32}}]}
    phase = load_config(raw=raw).phases[1]
    assert phase.effective_training().per_device_train_batch_size == 8  # 32 × 128 / 512
    raw["phases"][1]["compute_policy"] = "equal_steps"
    assert load_config(raw=raw).phases[1].effective_training().per_device_train_batch_size == 32
    raw["phases"][1] |= {"compute_policy": "equal_tokens", "max_length": None}
    with pytest.raises(ConfigError, match="equal_tokens"):
        load_config(raw=raw)


# ------------------------------------------------------------------ the resolved config


def _udpos_data(root, text="Al\tPROPN\n"):
    """A data root holding only UD-POS's English train and dev files."""
    d = root / "xtreme/download/udpos"
    d.mkdir(parents=True, exist_ok=True)
    for split in ("train", "dev"):
        (d / f"{split}-en.tsv").write_text(text, encoding="utf-8")
    return root


UDPOS = {"name": "pos", "phases": [{"kind": "pretrained", "model": "x"}, {"kind": "target", "task": "udpos"}]}


def test_resolved_config_holds_every_effective_value(tmp_path, monkeypatch):
    from xstilts.config import resolve
    from xstilts.formats import FEATURIZATION_VERSION

    monkeypatch.setenv("XSTILTS_CACHE", str(tmp_path / "cache"))
    root = _udpos_data(tmp_path / "data")
    cfg = load_config(raw={**BASE, "data_dir": str(root),
                           "phases": [BASE["phases"][0], {"kind": "intermediate", "tasks": ["squad_v1"]},
                                      {"kind": "target", "task": "udpos"}],
                           "tasks": {"squad_v1": {"doc_stride": 64}}})
    block = resolve(cfg, require_data=False).as_dict()["resolved"]
    assert block["featurization_version"] == FEATURIZATION_VERSION
    # Registry defaults are filled in, under the config's overrides.
    assert {k: block["tasks"]["squad_v1"][k] for k in ("max_length", "doc_stride", "max_query_length",
                                                      "max_answer_length")} == {
        "max_length": 384, "doc_stride": 64, "max_query_length": 64, "max_answer_length": 30}
    assert block["tasks"]["udpos"]["labels"][:2] == ["ADJ", "ADP"] and block["tasks"]["udpos"]["max_length"] == 128
    # Every file a training phase reads, with its content hash; a missing one (SQuAD here) as None.
    assert block["data"]["2"]["udpos.train"] == {
        "xtreme/download/udpos/train-en.tsv": hashlib.sha256(b"Al\tPROPN\n").hexdigest()}
    assert set(block["data"]["1"]["squad_v1.train"].values()) == {None}
    # A saved config (its resolved block included) loads back to the same config and hash.
    again = load_config(raw=yaml.safe_load(yaml.safe_dump(cfg.resolved())))
    assert again == cfg and again.config_hash() == cfg.config_hash()


def test_a_new_registry_default_is_a_new_resolved_config(monkeypatch):
    import dataclasses

    from xstilts.tasks import registry

    before = load_config(raw=BASE)
    before_hash, before_id = before.config_hash(), before.run_id
    xnli = registry.get_task("xnli")
    monkeypatch.setitem(registry._REGISTRY, "xnli", dataclasses.replace(xnli, max_length=xnli.max_length + 1))
    after = load_config(raw=BASE)
    assert after == before  # the config as written is the same ...
    assert after.resolved()["resolved"]["tasks"]["xnli"]["max_length"] == xnli.max_length + 1
    assert after.config_hash() != before_hash and after.run_id != before_id  # ... the run is not


def test_a_run_needs_its_data_a_dry_run_does_not(tmp_path, monkeypatch):
    from xstilts.config import resolve
    from xstilts.errors import DataError

    monkeypatch.setenv("XSTILTS_CACHE", str(tmp_path / "cache"))
    root = _udpos_data(tmp_path / "data")
    (root / "xtreme/download/udpos/dev-en.tsv").unlink()
    cfg = load_config(raw={**UDPOS, "data_dir": str(root)})
    with pytest.raises(DataError, match=r"udpos/dev-en\.tsv"):
        resolve(cfg)
    assert resolve(cfg, require_data=False).data[1]["udpos.dev"] == {"xtreme/download/udpos/dev-en.tsv": None}
    # No data root at all: a run says so; a dry run resolves every file as missing.
    nowhere = load_config(raw={**UDPOS, "data_dir": str(tmp_path / "nowhere")})
    with pytest.raises(ConfigError, match="nowhere"):
        resolve(nowhere)
    assert set(resolve(nowhere, require_data=False).data[1]["udpos.train"].values()) == {None}
