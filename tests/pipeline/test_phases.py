"""The phase seam: phase kinds are registered units that declare what they read and write, and the
runner dispatches on those declarations alone — a new kind is one registration, no runner change."""

from __future__ import annotations

import json
import warnings
from typing import Literal

import pytest

from xstilts.config import _Strict, load_config
from xstilts.errors import UnknownNameError
from xstilts.formats import get_format
from xstilts.modeling import MultiTaskModel
from xstilts.pipeline import phases, runner
from xstilts.pipeline.phases import PhaseKind, get_phase_kind, phase_kinds, register
from xstilts.pipeline.run import finish
from xstilts.tasks.registry import FORMATS

BUILT_IN = ["pretrained", "intermediate", "retrieval_eval", "target", "zero_shot_eval"]


def test_the_five_kinds_are_registered_with_their_declarations():
    assert phase_kinds()[:5] == BUILT_IN
    declared = {k: (get_phase_kind(k).trains, get_phase_kind(k).reads_model, get_phase_kind(k).writes)
                for k in BUILT_IN}
    assert declared == {
        "pretrained": (True, False, "shared"),
        "intermediate": (True, True, "shared"),
        "retrieval_eval": (False, True, "run"),
        "target": (True, True, "shared"),
        "zero_shot_eval": (False, True, "run"),
    }
    assert all(get_phase_kind(k).reads for k in BUILT_IN)  # every kind says what data it reads
    assert [k for k in BUILT_IN if get_phase_kind(k).fine_tunes] == ["intermediate", "target"]
    assert runner.TRAINING_KINDS == ("pretrained", "intermediate", "target")


def test_unknown_kind_fails_with_did_you_mean():
    with pytest.raises(UnknownNameError, match="did you mean 'zero_shot_eval'"):
        get_phase_kind("zero_shot")


def test_a_kind_cannot_be_registered_twice(fresh_registry):
    with pytest.raises(ValueError, match="registered twice"):
        register(type("Again", (PhaseKind,), {"kind": "target"}))


def test_what_each_kind_trains_on_and_evaluates():
    config = load_config(raw={"name": "x", "phases": [
        {"kind": "pretrained", "model": "m"},
        {"kind": "retrieval_eval", "tasks": ["tatoeba"], "languages": ["de"]},
        {"kind": "intermediate", "tasks": ["squad_v1", "anli"], "max_length": 256, "compute_policy": "equal_tokens"},
        {"kind": "target", "task": "xquad", "training": {}},
        {"kind": "zero_shot_eval", "max_examples": 5}]})
    kinds = [get_phase_kind(p.kind) for p in config.phases]
    assert [k.trains_on(p) for k, p in zip(kinds, config.phases)] == [[], [], ["squad_v1", "anli"], ["xquad"], []]
    # the compute policy's batch size, not the configured one
    assert kinds[2].training_args(config.phases[2]) == config.phases[2].effective_training()
    assert kinds[1].evaluates(config, 1) == [("tatoeba", ["test"], ["de"], None)]
    assert kinds[4].evaluates(config, 4) == [("xquad", ["dev", "test"], None, 5)]
    assert kinds[0].shares(config.phases[0]) is False  # a hub checkpoint trains and shares nothing


def test_every_format_declares_what_the_pipeline_asks_of_it():
    for name in FORMATS:
        fmt = get_format(name)
        assert isinstance(fmt.TARGET_COLUMNS, tuple) and isinstance(fmt.TOKEN_LEVEL, bool), name
        assert isinstance(fmt.SETTINGS, tuple) and isinstance(fmt.LABELS, bool), name
        scored = fmt.ADAPTER is not None
        assert scored == (name not in ("retrieval", "mlm")), name
        if hasattr(fmt, "featurize"):
            assert callable(fmt.featurize_kwargs), name


# ---------------------------------------------------------------- a new kind, registered from outside


class EchoTrainPhase(_Strict):
    kind: Literal["echo_train"] = "echo_train"
    note: str = "trained"


class EchoEvalPhase(_Strict):
    kind: Literal["echo_eval"] = "echo_eval"


@pytest.fixture
def fresh_registry(monkeypatch):
    """The registry as it is, restored after the test (kinds registered here do not leak)."""
    monkeypatch.setattr(phases._KINDS, "_items", dict(phases._KINDS._items))


@pytest.fixture
def echo_kinds(fresh_registry):
    calls: list[tuple] = []

    @register
    class EchoTrain(PhaseKind):
        kind = "echo_train"
        trains, reads_model, writes = True, True, "shared"
        reads = "nothing"

        def run(self, run, phase, index, folder, *, load_model, ordinal, **context):
            calls.append((self.kind, index, folder, ordinal, load_model))
            if (folder / "done.json").exists():  # finished: hand on its model (later phases read it)
                if load_model:
                    run.model = MultiTaskModel.load(folder / "model")
                return
            run.model.save(folder / "model")
            finish(run, folder, [], {"note": phase.note})

    @register
    class EchoEval(PhaseKind):
        kind = "echo_eval"
        reads = "nothing"

        def run(self, run, phase, index, folder, **context):
            calls.append((self.kind, index, folder))
            rows = run.rows(self.kind, "echo", "en", "test", {"accuracy": 100.0}, 1)
            finish(run, folder, rows, {"model": type(run.model).__name__})

    return calls


def test_run_experiment_dispatches_to_a_newly_registered_kind(tmp_path, tiny_model_dir, echo_kinds):
    # The config's phase list is a closed pydantic union (validated, with "did you mean"), so the
    # new phase models are put in after validation; the runner itself is not touched.
    base = load_config(raw={"name": "echo", "seed": 3, "phases": [{"kind": "pretrained", "model": str(tiny_model_dir)}]})
    config = base.model_copy(update={"phases": [*base.phases, EchoTrainPhase(), EchoEvalPhase()]})
    out = tmp_path / "out"
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Pydantic serializer warnings")  # the union does not know them
        key = runner.training_key(config, 1)
        run_dir = runner.run_experiment(config, out, progress=False, upto=1)
        shared = out / "shared" / f"echo_train-{key[:16]}"
        assert echo_kinds == [("echo_train", 1, shared, 1, True)]  # the training kind, not the later node
        assert (run_dir / "1-echo_train.txt").read_text() == f"shared/{shared.name}\n"
        assert json.loads((shared / "done.json").read_text()) == {"rows": 0, "note": "trained"}

        runner.run_experiment(config, out, progress=False)
        assert echo_kinds[1:] == [("echo_train", 1, shared, 1, True), ("echo_eval", 2, run_dir / "2-echo_eval")]
        assert json.loads((run_dir / "2-echo_eval" / "done.json").read_text()) == {"rows": 1, "model": "MultiTaskModel"}
        (row,) = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
        assert (row["phase"], row["task"], row["value"]) == ("echo_eval", "echo", 100.0)

        runner.run_experiment(config, out, progress=False)  # done: the evaluation is not run again
        assert [c[0] for c in echo_kinds[3:]] == ["echo_train"]
        assert run_dir.name == config.run_id
