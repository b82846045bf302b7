"""Bad input is one line ``error: ...`` and exit code 2, never a traceback: config and preset files
(YAML errors at FILE:LINE, not UTF-8, directories, Python tags), ``--set`` values, ``world --set``
values, study dry runs, ``report`` on empty results; ``--debug`` keeps the traceback."""

from __future__ import annotations

from importlib import resources

import pytest
import typer
import yaml
from typer.testing import CliRunner

from xstilts.cli import app
from xstilts.errors import ConfigError

runner = CliRunner()


def assert_one_line_error(result, *needles: str) -> str:
    """Exit code 2, one line ``error: ...`` (stdout and stderr together), no traceback, every needle in it."""
    assert result.exit_code == 2, f"exit {result.exit_code}: {result.output!r} {result.exception!r}"
    assert "Traceback" not in result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    for needle in needles:
        assert needle in lines[0], f"{needle!r} not in {lines[0]!r}"
    return lines[0]


def base(model) -> dict:
    return {"name": "v", "seed": 1, "phases": [{"kind": "pretrained", "model": str(model)},
                                    {"kind": "intermediate", "tasks": ["hellaswag"]},
                                    {"kind": "target", "task": "xnli"},
                                    {"kind": "zero_shot_eval", "splits": ["dev"], "languages": ["de"]}]}


# ------------------------------------------------------------------ experiment config files


def _write(path, content):
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


@pytest.mark.parametrize("content,needles", [
    pytest.param("name: x\nphases:\n  - kind: pretrained\n   model: y\n", ["c.yaml:4: ", "(while parsing"],
                 id="yaml-syntax-error"),
    pytest.param("name: x\nseed: 1\nphases: [a, b\n", ["c.yaml:4: ", "expected ',' or ']'"], id="yaml-unclosed-list"),
    pytest.param("name: x\n\tseed: 1\n", ["c.yaml:2: ", "'\\t'"], id="yaml-tab"),
    pytest.param("name: !!python/object/apply:os.system ['echo hi']\n", ["c.yaml:1: ", "python/object/apply:os.system"],
                 id="yaml-python-tag"),
    pytest.param(b"name: caf\xe9\nseed: 1\n", ["c.yaml: not UTF-8 text (byte 0xe9 at offset 9)"], id="not-utf8"),
    pytest.param("- pretrained\n- target\n", ["c.yaml: ", "mapping", "list"], id="top-level-list"),
])
def test_config_file_errors_are_one_line(tmp_path, content, needles):
    path = _write(tmp_path / "c.yaml", content)
    result = runner.invoke(app, ["run", str(path), "--out", str(tmp_path / "out")])
    line = assert_one_line_error(result, *needles)
    assert "<unicode string>" not in line
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("kind", ["directory", "missing"])
def test_config_path_that_is_not_a_file(tmp_path, kind):
    path = tmp_path / "c.yaml"
    if kind == "directory":
        path.mkdir()
    result = runner.invoke(app, ["run", str(path), "--out", str(tmp_path / "out")])
    assert_one_line_error(result, str(path), "directory" if kind == "directory" else "no such file")
    assert not (tmp_path / "out").exists()


# ------------------------------------------------------------------ --set


@pytest.mark.parametrize("assignment,needles", [
    pytest.param("foo", ["--set 'foo'", "KEY=VALUE"], id="no-equals"),
    pytest.param("=1", ["--set '=1'", "key"], id="empty-key"),
    pytest.param("phases.9.task=x", ["--set 'phases.9.task=x'", "phases has 4 items"], id="index-out-of-range"),
    pytest.param("phases.first.task=x", ["--set 'phases.first.task=x'", "'first'"], id="index-not-a-number"),
    pytest.param("seed.x=1", ["--set 'seed.x=1'", "seed", "not a mapping"], id="into-a-scalar"),
    pytest.param("foo=1", ["--set 'foo=1'", "unknown key 'foo'"], id="unknown-key"),
    pytest.param("phases.1.training.learnig_rate=1", ["--set 'phases.1.training.learnig_rate=1'", "learning_rate"],
                 id="unknown-nested-key"),
    pytest.param("seed=[1", ["--set 'seed=[1'", "YAML"], id="value-not-yaml"),
    pytest.param("seed=abc", ["--set 'seed=abc'", "seed"], id="value-wrong-type"),
])
def test_bad_set_values_name_the_argument(tmp_path, tiny_model_dir, assignment, needles):
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(base(tiny_model_dir)), encoding="utf-8")
    result = runner.invoke(app, ["run", str(path), "--out", str(tmp_path / "out"), "--set", assignment])
    assert_one_line_error(result, "c.yaml", *needles)
    assert not (tmp_path / "out").exists()


# ------------------------------------------------------------------ --debug


def test_debug_keeps_the_traceback(tmp_path):
    path = _write(tmp_path / "c.yaml", "name: x\nphases: [a, b\n")
    result = runner.invoke(app, ["--debug", "run", str(path), "--out", str(tmp_path / "out")])
    assert result.exit_code != 2 and isinstance(result.exception, ConfigError)
    plain = runner.invoke(app, ["run", str(path), "--out", str(tmp_path / "out")])
    assert_one_line_error(plain, "c.yaml:3: ")


# ------------------------------------------------------------------ xstilts world --set


@pytest.mark.parametrize("assignment,needles", [
    pytest.param("qa_doc_sentences=5", ["qa_doc_sentences", "[low, high]", "5"], id="range-given-a-number"),
    pytest.param("qa_doc_sentences=[1,2,3]", ["qa_doc_sentences", "[low, high]"], id="range-of-three"),
    pytest.param("anchor_share=abc", ["anchor_share", "number", "'abc'"], id="share-given-text"),
    pytest.param("n_names=1.5", ["n_names", "whole number", "1.5"], id="count-given-a-fraction"),
    pytest.param("n_names=[1]", ["n_names", "whole number"], id="count-given-a-list"),
    pytest.param("sizes=3", ["sizes", "mapping"], id="sizes-not-a-mapping"),
    pytest.param('sizes={"syn_nli": {"train": "many"}}', ["sizes.syn_nli.train", "'many'"], id="size-given-text"),
    pytest.param('sizes={"syn_nli": {"train": -3}}', ["sizes.syn_nli.train", "-3"], id="size-negative"),
    pytest.param('sizes={"syn_nli": 5}', ["sizes.syn_nli", "mapping"], id="sizes-task-not-a-mapping"),
    pytest.param("tatoeba_variants=3", ["tatoeba_variants", "true or false"], id="flag-given-a-number"),
])
def test_bad_world_set_values_are_one_line(tmp_path, assignment, needles):
    out = tmp_path / "world"
    result = runner.invoke(app, ["world", "--out", str(out), "--size", "tiny", "--set", assignment])
    assert_one_line_error(result, *needles)
    assert not out.exists()


def test_world_out_below_a_file(tmp_path):
    blocker = tmp_path / "blocker"
    blocker.write_text("keep me\n")
    result = runner.invoke(app, ["world", "--out", str(blocker / "world"), "--size", "tiny"])
    assert_one_line_error(result, "blocker")
    assert blocker.read_text() == "keep me\n"


def test_os_errors_off_the_given_paths_keep_their_traceback(tmp_path):
    """An OS error about a path the user did not give is a bug: its traceback stays."""
    from pathlib import Path

    from xstilts.cli import _clean_errors

    @_clean_errors
    def command(out: Path):
        raise FileNotFoundError(2, "No such file or directory", "/somewhere/else/model.bin")

    with pytest.raises(FileNotFoundError):
        command(out=tmp_path / "out")

    @_clean_errors
    def below(out: Path):
        raise NotADirectoryError(20, "Not a directory", str(out / "runs"))

    with pytest.raises(typer.Exit) as exit_:
        below(out=tmp_path / "out")
    assert exit_.value.exit_code == 2


# ------------------------------------------------------------------ study presets


def _demo() -> dict:
    return yaml.safe_load(resources.files("xstilts.presets").joinpath("seqlen_demo.yaml").read_text(encoding="utf-8"))


@pytest.mark.parametrize("content,needles", [
    pytest.param("study: seqlen\nname: x\nseeds: [0\n", ["s.yaml:4: "], id="yaml-error"),
    pytest.param("study: seqlen\nname: !!python/name:os.system\n", ["s.yaml:2: ", "python/name:os.system"],
                 id="python-tag"),
    pytest.param(b"study: seqlen\nname: d\xe9mo\n", ["s.yaml: not UTF-8 text (byte 0xe9 at offset 21)"], id="not-utf8"),
    pytest.param("[1, 2]\n", ["s.yaml: ", "mapping"], id="top-level-list"),
])
def test_study_preset_file_errors_are_one_line(tmp_path, content, needles):
    path = _write(tmp_path / "s.yaml", content)
    result = runner.invoke(app, ["study", "seqlen", "--preset", str(path), "--out", str(tmp_path / "o"), "--dry-run"])
    assert_one_line_error(result, *needles)
    assert not (tmp_path / "o").exists()


def test_study_preset_that_is_a_directory(tmp_path):
    (tmp_path / "s.yaml").mkdir()
    result = runner.invoke(app, ["study", "seqlen", "--preset", str(tmp_path / "s.yaml"), "--out", str(tmp_path / "o"),
                                 "--dry-run"])
    assert_one_line_error(result, "s.yaml", "directory")


@pytest.mark.parametrize("change,needles", [
    pytest.param({"world": {"seed": 0, "size": "huge"}}, ["world.size", "huge"], id="unknown-world-size"),
    pytest.param({"targets": ["syn_qa", "syn_qa"]}, ["targets", "syn_qa", "twice"], id="duplicated-targets"),
    pytest.param({"intermediate_tasks": ["syn_nli", "syn_nli"]}, ["intermediate_tasks", "syn_nli"],
                 id="duplicated-intermediate-tasks"),
    pytest.param({"max_lengths": [64, 0]}, ["max_lengths.1", "got 0"], id="max-length-0"),
    pytest.param({"max_lengths": [64, 512]}, ["512", "256"], id="max-length-above-positions"),
    pytest.param({"targets": ["syn_nli"]}, ["targets", "syn_nli"], id="intermediate-task-as-target"),
    pytest.param({"seeds": [0, 0]}, ["seeds", "twice"], id="duplicated-seeds"),
    pytest.param({"name": "../escape"}, ["name", "../escape"], id="unsafe-name"),
    pytest.param({"zero_shot_eval": {"splits": ["test"], "languages": ["zz"]}}, ["zero_shot_eval", "'zz'"],
                 id="zero-shot-language-the-target-lacks"),
])
def test_study_dry_run_checks_the_grid(tmp_path, change, needles):
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump({**_demo(), **change}), encoding="utf-8")
    result = runner.invoke(app, ["study", "seqlen", "--preset", str(path), "--out", str(tmp_path / "o"), "--dry-run"])
    assert_one_line_error(result, "s.yaml", *needles)
    assert not (tmp_path / "o").exists()


# ------------------------------------------------------------------ report


@pytest.mark.parametrize("layout", ["empty-results", "blank-lines-only", "results-is-a-directory"])
def test_report_on_results_with_nothing_to_report(tmp_path, layout):
    out = tmp_path / "o"
    out.mkdir()
    if layout == "empty-results":
        (out / "results.jsonl").write_text("")
    elif layout == "blank-lines-only":
        (out / "results.jsonl").write_text("\n\n")
    else:
        (out / "results.jsonl").mkdir()
    result = runner.invoke(app, ["report", str(out)])
    assert_one_line_error(result, "results.jsonl")
    assert not (out / "report").exists()


def test_report_on_a_missing_folder(tmp_path):
    result = runner.invoke(app, ["report", str(tmp_path / "nope")])
    assert_one_line_error(result, "nope")


# ------------------------------------------------------------------ grid plan / run


@pytest.mark.parametrize("command", ["plan", "run"])
@pytest.mark.parametrize("content,needles", [
    pytest.param("study: seqlen\nseeds: [0\n", ["g.yaml:3: "], id="yaml-error"),
    pytest.param(b"study: seqlen\nname: d\xe9mo\n", ["g.yaml: not UTF-8 text"], id="not-utf8"),
    pytest.param("name: !!python/name:os.system\n", ["g.yaml:1: ", "python/name:os.system"], id="python-tag"),
])
def test_grid_source_file_errors_are_one_line(tmp_path, command, content, needles):
    path = _write(tmp_path / "g.yaml", content)
    args = ["grid", command, str(path)] + (["--out", str(tmp_path / "o")] if command == "run" else [])
    assert_one_line_error(runner.invoke(app, args), *needles)
    assert not (tmp_path / "o").exists()
