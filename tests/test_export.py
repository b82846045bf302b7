"""`xstilts export-xtreme`: XTREME's submission layout, which phase each task comes from, refusing
incomplete submissions, atomic replacement — and, end to end, a real run's exported files re-scored
by `xstilts score` against the real gold files give the numbers of results.jsonl."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from xstilts.cli import app
from xstilts.errors import ConfigError, DataError, UnknownNameError
from xstilts.export import MANIFEST, export_xtreme, extension, plan, submission_path
from xstilts.pipeline.results import read_rows
from xstilts.tasks import get_task
from xstilts.tasks.catalog import XTREME_GROUPS, XTREME_LANGUAGES

TARGETS = [t for t in XTREME_LANGUAGES if t not in ("bucc2018", "tatoeba")]
# evaluate.py reads <label_folder>/<task>/test-<lg>.<json for QA, tsv otherwise> for every language of TASK2LANGS.
EVALUATE_PY_LAYOUT = {f"{task}/test-{lg}.{'json' if task in ('xquad', 'mlqa', 'tydiqa') else 'tsv'}"
                      for task, langs in XTREME_LANGUAGES.items() for lg in langs}


# ---------------------------------------------------------------- run folders as the pipeline lays them out


def _phase(run_dir: Path, index: int, kind: str, files: dict[str, str], done: bool = True) -> None:
    folder = run_dir / f"{index}-{kind}"
    for rel, text in files.items():
        (folder / "predictions" / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / "predictions" / rel).write_text(text, encoding="utf-8")
    folder.mkdir(parents=True, exist_ok=True)
    if done:
        (folder / "done.json").write_text("{}")


def _files(task: str, langs=None, text: str | None = None) -> dict[str, str]:
    return {submission_path(task, lang): text or f"{task} {lang}\n" for lang in (langs or XTREME_LANGUAGES[task])}


def fake_run(out: Path, run_id: str, target: str | None, *, intermediate=("mnli",), seed: int = 1,
             model: str = "xlm-roberta-large", retrieval=("bucc2018", "tatoeba"), before: bool = True,
             target_langs=None, retrieval_text: str | None = None, max_examples=None, done: bool = True) -> Path:
    """A run folder: [retrieval on the bare encoder], intermediate, retrieval, target, zero_shot_eval."""
    run_dir = out / "runs" / run_id
    run_dir.mkdir(parents=True)
    phases = [{"kind": "pretrained", "model": model}]
    if before:
        phases.append({"kind": "retrieval_eval", "tasks": list(retrieval), "splits": ["test"]})
        _phase(run_dir, len(phases) - 1, "retrieval_eval",
               {k: v for t in retrieval for k, v in _files(t, text="bare encoder\n").items()})
    if intermediate:
        phases.append({"kind": "intermediate", "tasks": list(intermediate), "max_length": 128})
    if retrieval:
        phases.append({"kind": "retrieval_eval", "tasks": list(retrieval), "splits": ["test"]})
        _phase(run_dir, len(phases) - 1, "retrieval_eval",
               {k: v for t in retrieval for k, v in _files(t, text=retrieval_text).items()})
    if target:
        phases += [{"kind": "target", "task": target},
                   {"kind": "zero_shot_eval", "splits": ["dev", "test"], "max_examples": max_examples}]
        _phase(run_dir, len(phases) - 1, "zero_shot_eval", _files(target, target_langs), done=done)
    (run_dir / "config.yaml").write_text(yaml.safe_dump({"name": run_id, "seed": seed, "phases": phases}))
    return run_dir


def full_condition(out: Path, **kw) -> None:
    for target in TARGETS:
        fake_run(out, f"{target}-run", target, **kw)


def _tree(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


# ---------------------------------------------------------------- layout and choices


def test_extension_is_the_formats_and_evaluate_pys() -> None:
    from xstilts.pipeline.evaluation import adapter

    for task in XTREME_LANGUAGES:
        assert extension(task) == ("json" if task in XTREME_GROUPS["qa"] else "tsv")
        if task in TARGETS:  # what zero_shot_eval writes (retrieval_eval writes .tsv)
            assert adapter(get_task(task)).extension == extension(task)


def test_a_complete_condition_is_one_submission_in_evaluate_pys_layout(tmp_path) -> None:
    full_condition(tmp_path / "out")
    subs = export_xtreme(tmp_path / "out", tmp_path / "sub")
    assert [s.name for s in subs] == ["mnli@128-seed1"] and subs[0].complete
    folder = tmp_path / "sub" / "mnli@128-seed1" / "predictions"
    assert _tree(folder) == EVALUATE_PY_LAYOUT and len(EVALUATE_PY_LAYOUT) == sum(map(len, XTREME_LANGUAGES.values()))
    assert sorted(p.name for p in folder.iterdir()) == sorted(XTREME_LANGUAGES)  # nine task folders, nothing else
    # Files are copied byte for byte; retrieval from the phase after the intermediate one, not the bare encoder.
    assert (folder / "xnli" / "test-de.tsv").read_text() == "xnli de\n"
    assert (folder / "tatoeba" / "test-de.tsv").read_text() == "tatoeba de\n"
    manifest = json.loads((tmp_path / "sub" / MANIFEST).read_text())["submissions"]["mnli@128-seed1"]
    assert manifest["tasks"]["tatoeba"]["from"] == "runs/mlqa-run/3-retrieval_eval"  # the first run by id
    assert manifest["tasks"]["xquad"]["from"] == "runs/xquad-run/5-zero_shot_eval"
    assert manifest["complete"] and manifest["missing"] == [] and manifest["seed"] == 1


def test_the_layout_is_the_real_label_folders(tmp_path, data_dir) -> None:
    """evaluate.py compares OUT/<task>/<file> with <labels>/<task>/<file>: every gold file of the shared
    data has its prediction file, under the same name (the label folder also has XTREME-R's xquad ro)."""
    full_condition(tmp_path / "out")
    export_xtreme(tmp_path / "out", tmp_path / "sub")
    exported = _tree(tmp_path / "sub" / "mnli@128-seed1" / "predictions")
    labels = data_dir / "xtreme" / "labels"
    gold = {p.relative_to(labels).as_posix() for p in labels.glob("*/test-*") if p.parent.name in XTREME_LANGUAGES}
    xtreme_gold = {g for g in gold if g.split("/")[1][len("test-"):].split(".")[0] in XTREME_LANGUAGES[g.split("/")[0]]}
    assert xtreme_gold and xtreme_gold <= exported and gold - xtreme_gold == {"xquad/test-ro.json"}
    for task in ("tatoeba", "xquad"):  # complete in the shared data: the same names exactly
        assert {g for g in xtreme_gold if g.startswith(task + "/")} == {e for e in exported if e.startswith(task + "/")}


def test_the_baseline_takes_retrieval_of_the_bare_encoder(tmp_path) -> None:
    fake_run(tmp_path / "out", "base", "xnli", intermediate=(), before=False)
    (sub,) = plan(tmp_path / "out")
    assert sub.name == "baseline-seed1" and sub.origin["tatoeba"] == "runs/base/1-retrieval_eval"


def test_retrieval_before_the_intermediate_phase_is_not_the_conditions(tmp_path) -> None:
    fake_run(tmp_path / "out", "r", "xnli", retrieval=("tatoeba",))
    run_dir = tmp_path / "out" / "runs" / "r"
    config = yaml.safe_load((run_dir / "config.yaml").read_text())
    del config["phases"][3]  # only the retrieval on the bare encoder (phase 1) is left
    (run_dir / "config.yaml").write_text(yaml.safe_dump(config))
    (sub,) = plan(tmp_path / "out")
    assert "tatoeba" not in sub.files and sub.missing[0].startswith("no ") and "tatoeba" in sub.missing[0]


def test_an_incomplete_submission_is_refused_in_one_line(tmp_path) -> None:
    out = tmp_path / "out"
    full_condition(out)
    (out / "runs" / "xquad-run" / "5-zero_shot_eval" / "predictions" / "xquad" / "test-th.json").unlink()
    with pytest.raises(DataError, match=r"xquad: no test predictions in 1 of 11 languages \(th; in runs/xquad-run/"):
        export_xtreme(out, tmp_path / "sub")
    assert not (tmp_path / "sub").exists()
    result = CliRunner().invoke(app, ["export-xtreme", str(out), "--to", str(tmp_path / "sub")])
    assert result.exit_code == 2 and len(result.output.strip().splitlines()) == 1
    assert "--partial" in result.output and "incomplete" in result.output

    result = CliRunner().invoke(app, ["export-xtreme", str(out), "--to", str(tmp_path / "sub"), "--partial"])
    assert result.exit_code == 0, result.output
    assert "9 of 9 tasks, 161 files (incomplete: xquad: no test predictions in 1 of 11 languages (th" in result.output
    assert not (tmp_path / "sub" / "mnli@128-seed1" / "predictions" / "xquad" / "test-th.json").exists()


def test_unfinished_phases_and_subsets_give_no_files(tmp_path) -> None:
    out = tmp_path / "out"
    fake_run(out, "a", "xnli", max_examples=300)
    fake_run(out, "b", "pawsx", done=False)
    (sub,) = plan(out)
    assert "xnli" not in sub.files and "pawsx" not in sub.files
    assert any("runs/a/5-zero_shot_eval predicted only the first 300 examples (phases.5.max_examples)" in m
               for m in sub.missing)
    assert any("pawsx: runs/b/5-zero_shot_eval has not finished (no done.json)" in m for m in sub.missing)


def test_submissions_are_per_encoder_condition_and_seed(tmp_path) -> None:
    out = tmp_path / "out"
    fake_run(out, "a", "xnli", seed=1)
    fake_run(out, "b", "xnli", seed=2)
    fake_run(out, "c", "xnli", intermediate=("squad_v1",))
    fake_run(out, "d", "pawsx", model="/models/other/xlm-roberta-base")
    names = [s.name for s in plan(out)]
    assert names == ["xlm-roberta-base-mnli@128-seed1", "xlm-roberta-large-mnli@128-seed1",
                     "xlm-roberta-large-mnli@128-seed2", "xlm-roberta-large-squad_v1@128-seed1"]


def test_two_runs_of_one_target_are_ambiguous_until_one_is_chosen(tmp_path) -> None:
    out = tmp_path / "out"
    fake_run(out, "a", "xnli")
    fake_run(out, "b", "xnli")
    with pytest.raises(ConfigError, match="runs a, b of submission 'mnli@128-seed1' all predict xnli"):
        plan(out)
    (sub,) = plan(out, ["b"])
    assert sub.runs == ["b"] and sub.origin["xnli"] == "runs/b/5-zero_shot_eval"
    with pytest.raises(UnknownNameError, match="did you mean 'a'"):
        plan(out, ["aa"])


def test_retrieval_of_several_runs_must_agree(tmp_path) -> None:
    out = tmp_path / "out"
    fake_run(out, "a", "xnli")
    fake_run(out, "b", "pawsx")
    assert plan(out)[0].origin["tatoeba"] == "runs/a/3-retrieval_eval"  # identical files: either
    fake_run(out, "c", "udpos", retrieval_text="another layer\n")
    with pytest.raises(DataError, match="differs from .*runs/a/3-retrieval_eval.*choose one with --run"):
        plan(out)


def test_replacing_an_export_is_atomic_and_other_folders_are_not_touched(tmp_path) -> None:
    out = tmp_path / "out"
    full_condition(out)
    dest = tmp_path / "sub"
    export_xtreme(out, dest, zip_files=True)
    first = (dest / "mnli@128-seed1.zip").read_bytes()
    (dest / "stale").write_text("from before")
    export_xtreme(out, dest, zip_files=True)
    assert not (dest / "stale").exists() and (dest / "mnli@128-seed1.zip").read_bytes() == first  # deterministic
    with zipfile.ZipFile(io.BytesIO(first)) as zf:
        assert sorted(zf.namelist()) == sorted(f"predictions/{p}" for p in EVALUATE_PY_LAYOUT)
        assert zf.read("predictions/mlqa/test-hi.json") == b"mlqa hi\n"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporary folder left

    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep")
    with pytest.raises(ConfigError, match="not an earlier export-xtreme folder"):
        export_xtreme(out, mine)
    assert (mine / "notes.txt").read_text() == "keep"
    with pytest.raises(ConfigError, match="inside the run folder's runs/"):
        export_xtreme(out, out / "runs" / "sub")


def test_nothing_to_export(tmp_path) -> None:
    fake_run(tmp_path / "out", "a", None, retrieval=())
    with pytest.raises(DataError, match="no finished test predictions of any XTREME task"):
        export_xtreme(tmp_path / "out", tmp_path / "sub", partial=True)
    with pytest.raises(DataError, match="no runs/ folder"):
        plan(tmp_path)


# ---------------------------------------------------------------- a real run, re-scored against the real gold


TATOEBA = ("ar", "de", "fr", "ja", "sw", "zh")
FAST = {"per_device_train_batch_size": 8, "gradient_accumulation_steps": 1, "max_steps": 2, "eval_steps": 2,
        "learning_rate": 1e-4, "logging_steps": 2, "per_device_eval_batch_size": 256}


def _real_config(model_dir: Path, target: str) -> dict:
    tasks = {"hellaswag": {"train": {"split": "dev", "stop": 32}, "dev": {"split": "dev", "start": 32, "stop": 48}}}
    phases = [{"kind": "pretrained", "model": str(model_dir)}]
    if target == "xnli":
        tasks["xnli"] = {"train": {"task": "anli", "split": "dev", "stop": 32},
                         "dev": {"task": "anli", "split": "dev", "start": 3100}, "max_length": 32}
        languages = list(TATOEBA)
    else:
        tasks["udpos"] = {"train": {"split": "train", "stop": 32}, "dev": {"split": "dev", "stop": 32},
                          "max_length": 64}
        languages = ["de", "fr"]  # the same encoder as the xnli run: these files must agree with its own
    phases += [{"kind": "intermediate", "tasks": ["hellaswag"], "max_length": 48, "training": FAST},
               {"kind": "retrieval_eval", "tasks": ["tatoeba"], "layer": 2, "languages": languages, "max_length": 24},
               {"kind": "target", "task": target, "training": FAST},
               {"kind": "zero_shot_eval", "splits": ["test"]}]
    return {"name": f"export-{target}", "seed": 3, "phases": phases, "tasks": tasks}


@pytest.fixture(scope="module")
def real_runs(tmp_path_factory, data_dir, tiny_model_dir):
    root = tmp_path_factory.mktemp("export")
    out = root / "out"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("XSTILTS_DATA_DIR", str(data_dir))
        for target in ("xnli", "udpos"):
            cfg = root / f"{target}.yaml"
            cfg.write_text(yaml.safe_dump(_real_config(tiny_model_dir, target)))
            result = CliRunner().invoke(app, ["run", str(cfg), "--out", str(out), "--no-progress"])
            assert result.exit_code == 0, result.output
    return out


@pytest.mark.slow
def test_exported_files_rescore_to_the_results_against_the_real_gold(real_runs, data_dir, tmp_path) -> None:
    dest = tmp_path / "sub"
    result = CliRunner().invoke(app, ["export-xtreme", str(real_runs), "--to", str(dest), "--partial"])
    assert result.exit_code == 0, result.output
    assert "hellaswag@48-seed3: 3 of 9 tasks, 10 files (incomplete" in result.output
    submission = dest / "hellaswag@48-seed3" / "predictions"
    labels = data_dir / "xtreme" / "labels"
    exported = _tree(submission)
    # the real label folder's names: all of them for xnli and udpos, the languages retrieved for tatoeba
    assert exported == ({f"{t}/{p.name}" for t in ("xnli", "udpos") for p in (labels / t).iterdir()}
                        | {f"tatoeba/test-{lang}.tsv" for lang in TATOEBA})
    assert all((labels / rel).is_file() for rel in exported)

    rows = {(r["phase"], r["task"], r["language"], r["metric"]): r["value"]
            for r in read_rows(real_runs / "results.jsonl")
            if r["split"] == "test" and r["bucket"] == "all" and r["intermediate"] == ["hellaswag"]}
    checked = 0
    for rel in sorted(exported):
        task, name = rel.split("/")
        lang = name[len("test-"):].split(".")[0]
        scored = CliRunner().invoke(app, ["score", "--task", task, "--language", lang, "--gold", str(labels / rel),
                                          "--predictions", str(submission / rel)])
        assert scored.exit_code == 0, scored.output
        metrics = json.loads(scored.output)["metrics"]
        phase = "retrieval_eval" if task == "tatoeba" else "zero_shot_eval"
        assert metrics and all(rows[(phase, task, lang, m)] == pytest.approx(v, abs=1e-9) for m, v in metrics.items())
        checked += 1
    assert checked == 10

    # The report's XTREME section on the same folder: task scores over the languages evaluated, no XTREME score.
    from xstilts.report.data import load
    from xstilts.report.xtreme import xtreme_units

    (unit,) = [u for u in xtreme_units(load(real_runs)) if u.intermediate == ("hellaswag",)]
    assert unit.detailed["xnli"]["avg_metric"] == pytest.approx(rows[("zero_shot_eval", "xnli", "de", "accuracy")])
    assert unit.detailed["tatoeba"]["avg_metric"] == pytest.approx(
        sum(rows[("retrieval_eval", "tatoeba", lang, "accuracy")] for lang in TATOEBA) / len(TATOEBA))
    assert unit.detailed["udpos"]["avg_metric"] == pytest.approx(
        sum(rows[("zero_shot_eval", "udpos", lang, "f1")] for lang in ("de", "en", "zh")) / 3)
    assert not unit.full and unit.overall == {} and unit.coverage().startswith("3 of 9 tasks")
