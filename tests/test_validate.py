"""A config is checked for what it means before anything runs (:mod:`xstilts.validate`).

Every case is a config that used to run and mean something else, or fail late with a traceback
or a run folder left behind: ``xstilts run`` now stops with exit code 2 and one line naming the
config file and the key, and writes nothing under ``--out``. The checks read the config, the task
registry, the data folder's listing and the model's ``config.json``; no model is loaded.
"""

from __future__ import annotations

import copy
import math

import pytest
import yaml
from typer.testing import CliRunner

from xstilts.cli import app
from xstilts.config import load_config
from xstilts.errors import ConfigError

FAST = {"per_device_train_batch_size": 8, "max_steps": 2, "eval_steps": 2, "learning_rate": 1e-4,
        "logging_steps": 1, "per_device_eval_batch_size": 32, "max_eval_examples": 8}


def base(model) -> dict:
    """A valid config over the shared data: hellaswag → XNLI (trained on ANLI dev) → German dev."""
    return {
        "name": "v", "seed": 1,
        "phases": [
            {"kind": "pretrained", "model": str(model)},
            {"kind": "intermediate", "tasks": ["hellaswag"], "training": dict(FAST)},
            {"kind": "target", "task": "xnli", "training": dict(FAST)},
            {"kind": "zero_shot_eval", "splits": ["dev"], "languages": ["de"], "max_examples": 8},
        ],
        "tasks": {
            "hellaswag": {"train": {"split": "dev", "stop": 16}, "dev": {"split": "dev", "start": 16, "stop": 24}},
            "xnli": {"train": {"task": "anli", "split": "dev", "stop": 16},
                     "dev": {"task": "anli", "split": "dev", "start": 3100}},
        },
    }


def assert_one_line_error(result, *needles: str) -> str:
    """Exit code 2, one line ``error: ...`` (stdout and stderr together), no traceback, every needle in it."""
    assert result.exit_code == 2, f"exit {result.exit_code}: {result.output!r} {result.exception!r}"
    assert "Traceback" not in result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    for needle in needles:
        assert needle in lines[0], f"{needle!r} not in {lines[0]!r}"
    return lines[0]


@pytest.fixture
def env(tmp_path, data_dir, monkeypatch):
    monkeypatch.setenv("XSTILTS_DATA_DIR", str(data_dir))
    return tmp_path


def run_config(tmp_path, raw: dict, *args: str, out=None):
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    out = out if out is not None else tmp_path / "out"
    return CliRunner().invoke(app, ["run", str(path), "--out", str(out), "--no-progress", *args]), out


def _phases(*kinds):
    """Phases of the base config by kind name, in the order given (extra phases spelled out)."""
    def edit(raw, ctx):
        by_kind = {p["kind"]: p for p in raw["phases"]}
        raw["phases"] = [copy.deepcopy(by_kind[k]) if isinstance(k, str) else k for k in kinds]
        return raw
    return edit


def _set(path: str, value):
    """Set ``a.b.0.c`` in the raw config (creating mappings on the way)."""
    def edit(raw, ctx):
        node = raw
        parts = path.split(".")
        for part in parts[:-1]:
            node = node[int(part)] if isinstance(node, list) else node.setdefault(part, {})
        last = parts[-1]
        if isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value
        return raw
    return edit


def _scratch(raw, ctx):
    """A from-scratch encoder pretrained at 64 tokens (positions = 64), then XNLI at its default 128."""
    raw["phases"] = [{"kind": "pretrained", "from_scratch": {"languages": ["en"], "max_length": 64}},
                     raw["phases"][2], raw["phases"][3]]
    return raw


def _model(kind):
    def edit(raw, ctx):
        tmp = ctx
        if kind == "missing":
            model = tmp / "nope" / "model"
        elif kind == "empty":
            model = tmp / "empty-model"
            model.mkdir()
        else:
            model = tmp / "model.bin"
            model.write_bytes(b"\0")
        raw["phases"][0]["model"] = str(model)
        return raw
    return edit


RETRIEVAL = {"kind": "retrieval_eval", "tasks": ["tatoeba"], "languages": ["de"], "max_length": 24, "layer": 2}
SECOND_TARGET = {"kind": "target", "task": "pawsx", "training": dict(FAST)}
ZERO_SHOT = {"kind": "zero_shot_eval", "splits": ["dev"], "languages": ["de"], "max_examples": 8}

# (id, edit of the base config, what the one-line message must name besides the file)
CASES = [
    # phase order
    ("intermediate-after-target", _phases("pretrained", "target", "zero_shot_eval", "intermediate"), ["phases.3"]),
    ("second-target", _phases("pretrained", "intermediate", "target", "zero_shot_eval", SECOND_TARGET, ZERO_SHOT),
     ["phases.4", "target"]),
    ("retrieval-after-target", _phases("pretrained", "intermediate", "target", "zero_shot_eval", RETRIEVAL),
     ["phases.4", "retrieval_eval"]),
    ("zero-shot-before-target", _phases("pretrained", "intermediate", "zero_shot_eval", "target"),
     ["phases.2", "zero_shot_eval"]),
    ("two-pretrained", _phases("pretrained", "pretrained", "target", "zero_shot_eval"), ["phases.1", "pretrained"]),
    # lengths
    ("intermediate-max-length-0", _set("phases.1.max_length", 0), ["phases.1", "max_length", "got 0"]),
    ("intermediate-max-length-negative", _set("phases.1.max_length", -5), ["phases.1", "max_length", "got -5"]),
    ("target-length-above-positions", _set("tasks.xnli.max_length", 513), ["tasks.xnli.max_length", "512", "513"]),
    ("retrieval-length-above-positions",
     _phases("pretrained", {**RETRIEVAL, "max_length": 600}, "intermediate", "target", "zero_shot_eval"),
     ["phases.1.max_length", "512", "600"]),
    ("intermediate-length-above-positions", _set("phases.1.max_length", 1024), ["phases.1.max_length", "1024"]),
    ("from-scratch-64-target-default-128", _scratch, ["tasks.xnli.max_length", "64", "128"]),
    ("task-max-length-0", _set("tasks.xnli.max_length", 0), ["tasks.xnli.max_length", "got 0"]),
    ("qa-stride-above-window",
     lambda raw, ctx: _set("tasks.squad_v1", {"max_length": 96, "doc_stride": 80, "max_query_length": 24,
                                              "train": {"split": "dev", "stop": 16}})(
         _set("phases.1.tasks", ["squad_v1"])(raw, ctx), ctx),
     ["tasks.squad_v1.doc_stride", "80"]),
    ("qa-intermediate-length-leaves-no-room-for-stride",
     lambda raw, ctx: _set("phases.1.max_length", 64)(_set("phases.1.tasks", ["squad_v1"])(raw, ctx), ctx),
     ["phases.1.max_length", "64", "doc_stride"]),
    ("qa-query-longer-than-window",
     lambda raw, ctx: _set("tasks.squad_v1", {"max_length": 96, "doc_stride": 16, "max_query_length": 200})(
         _set("phases.1.tasks", ["squad_v1"])(raw, ctx), ctx),
     ["tasks.squad_v1.max_query_length", "200"]),
    # optimisation
    ("learning-rate-negative", _set("phases.2.training.learning_rate", -1e-5), ["phases.2", "learning_rate"]),
    ("learning-rate-zero", _set("phases.2.training.learning_rate", 0), ["phases.2", "learning_rate"]),
    ("learning-rate-nan", _set("phases.1.training.learning_rate", math.nan), ["phases.1", "learning_rate", "finite"]),
    ("learning-rate-inf", _set("phases.1.training.learning_rate", math.inf), ["phases.1", "learning_rate", "finite"]),
    ("dropout-5", _set("phases.1.training.dropout", 5), ["phases.1", "dropout", "got 5"]),
    ("max-train-examples-0", _set("phases.2.training.max_train_examples", 0), ["max_train_examples", "got 0"]),
    ("from-scratch-positions-below-length",
     lambda raw, ctx: _set("phases.0.from_scratch.max_positions", 32)(_scratch(raw, ctx), ctx),
     ["max_positions", "32"]),
    # languages, splits, data
    ("language-the-task-lacks", _set("phases.3.languages", ["xx"]), ["phases.3.languages", "'xx'"]),
    ("split-the-task-lacks", _set("phases.3.splits", ["validation"]), ["phases.3.splits", "'validation'"]),
    ("language-without-files", _set("phases.3.languages", ["fr"]), ["phases.3.languages", "dev-fr.tsv"]),
    ("empty-language-list", _set("phases.3.languages", []), ["phases.3", "languages"]),
    ("max-examples-0", _set("phases.3.max_examples", 0), ["phases.3", "max_examples", "got 0"]),
    ("retrieval-language-the-task-lacks",
     _phases("pretrained", {**RETRIEVAL, "languages": ["xx"]}, "intermediate", "target", "zero_shot_eval"),
     ["phases.1.languages", "'xx'"]),
    ("retrieval-layer-out-of-range",
     _phases("pretrained", {**RETRIEVAL, "layer": 5}, "intermediate", "target", "zero_shot_eval"),
     ["phases.1.layer", "2-layer encoder"]),
    ("retrieval-layer-not-declared-for-this-depth",
     _phases("pretrained", {k: v for k, v in RETRIEVAL.items() if k != "layer"}, "intermediate", "target",
             "zero_shot_eval"),
     ["phases.1.layer", "layer_by_depth"]),
    ("retrieval-of-a-classification-task",
     _phases("pretrained", {**RETRIEVAL, "tasks": ["xnli"]}, "intermediate", "target", "zero_shot_eval"),
     ["phases.1.tasks", "xnli"]),
    ("training-split-the-task-lacks", _set("tasks.hellaswag.train.split", "tran"), ["tasks.hellaswag.train", "tran"]),
    ("training-slice-empty", _set("tasks.xnli.train", {"task": "anli", "split": "dev", "start": 16, "stop": 16}),
     ["tasks.xnli.train.stop", "16"]),
    ("borrowed-data-of-another-format", _set("tasks.xnli.train", {"task": "squad_v1", "split": "dev"}),
     ["tasks.xnli.train.task", "squad_v1"]),
    ("exclude-split-the-task-lacks", _set("tasks.xnli.train.exclude", ["xquad/nosplit"]),
     ["tasks.xnli.train.exclude", "nosplit"]),
    ("unknown-task-settings", _set("tasks.xnlii", {"max_length": 64}), ["tasks.xnlii", "did you mean 'xnli'"]),
    # roles
    ("intermediate-only-task-as-target", _set("phases.2.task", "hellaswag"), ["phases.2.task", "hellaswag"]),
    ("retrieval-task-as-target", _set("phases.2.task", "tatoeba"), ["phases.2.task", "tatoeba"]),
    ("pretraining-corpus-as-intermediate", _set("phases.1.tasks", ["mlm"]), ["phases.1.tasks", "mlm"]),
    ("head-init-not-an-intermediate-task", _set("phases.2.head_init", "anli"), ["phases.2.head_init", "anli"]),
    # the model
    ("model-dir-missing", _model("missing"), ["phases.0.model", "nope"]),
    ("model-dir-without-config", _model("empty"), ["phases.0.model", "config.json"]),
    ("model-is-a-file", _model("file"), ["phases.0.model", "model.bin"]),
    # names that would write outside --out
    ("name-parent-traversal", _set("name", "../../../x"), ["name", "../../../x"]),
    ("name-absolute", _set("name", "/tmp/xstilts-escape"), ["name", "/tmp/xstilts-escape"]),
    ("name-hidden", _set("name", ".hidden"), ["name"]),
    ("name-with-slash", _set("name", "a/b"), ["name"]),
]


@pytest.mark.parametrize("edit,needles", [pytest.param(e, n, id=i) for i, e, n in CASES])
def test_run_refuses_a_config_that_means_something_else(env, tiny_model_dir, edit, needles):
    raw = edit(base(tiny_model_dir), env)
    result, out = run_config(env, raw)
    assert_one_line_error(result, "c.yaml", *needles)
    assert not out.exists(), sorted(str(p) for p in out.rglob("*"))


def test_the_base_config_passes(env, tiny_model_dir):
    from xstilts.validate import check

    check(load_config(raw=base(tiny_model_dir)), source="c.yaml", out=env / "out")
    with_retrieval = _phases("pretrained", RETRIEVAL, "intermediate", RETRIEVAL, "target", "zero_shot_eval")
    check(load_config(raw=with_retrieval(base(tiny_model_dir), env)), source="c.yaml", out=env / "out")
    assert not (env / "out").exists()


def test_positions_are_max_position_embeddings_minus_the_padding_offset(env, tiny_model_dir):
    from xstilts.validate import check

    raw = base(tiny_model_dir)  # 514 position embeddings, pad id 1: 512 usable
    raw["tasks"]["xnli"]["max_length"] = 512
    check(load_config(raw=raw), source="c.yaml")
    raw["tasks"]["xnli"]["max_length"] = 513
    with pytest.raises(ConfigError, match=r"^c\.yaml: tasks\.xnli\.max_length: .*512.*513"):
        check(load_config(raw=raw), source="c.yaml")


def test_the_runner_checks_before_creating_anything(env, tiny_model_dir):
    """Called from Python (no CLI), run_experiment refuses before ``--out`` exists."""
    from xstilts.pipeline.runner import run_experiment

    raw = base(tiny_model_dir)
    raw["tasks"]["xnli"]["train"] = {"task": "anli", "split": "dev", "start": 16, "stop": 8}
    with pytest.raises(ConfigError, match=r"tasks\.xnli\.train\.stop"):
        run_experiment(load_config(raw=raw), env / "out", progress=False)
    assert not (env / "out").exists()


def test_run_dir_must_stay_inside_out(env, tiny_model_dir):
    """A config built without validation (model_construct) still cannot write outside --out."""
    from xstilts.config import ExperimentConfig
    from xstilts.pipeline.runner import run_experiment

    good = load_config(raw=base(tiny_model_dir))
    bad = ExperimentConfig.model_construct(**{**dict(good), "name": "../../escape"})
    with pytest.raises(ConfigError, match="name"):
        run_experiment(bad, env / "out", progress=False)
    assert not (env / "out").exists() and not (env.parent / "escape").exists()


@pytest.mark.parametrize("where", ["file", "file-parent"])
def test_out_that_is_a_file(env, tiny_model_dir, where):
    blocker = env / "blocker"
    blocker.write_text("keep me\n")
    out = blocker if where == "file" else blocker / "sub"
    result, _ = run_config(env, base(tiny_model_dir), out=out)
    assert_one_line_error(result, "--out", "blocker", "not a directory")
    assert blocker.read_text() == "keep me\n"
