"""The retrieval sweep (``retrieval_eval`` with ``sweep: true``; ``xstilts retrieval sweep``) on the
shared mini encoder over real Tatoeba: the same number at the default setting as the plain phase,
rows that never collide with or read as the main ones, the prefix recorded, the CLI's table and
the report's section."""

from __future__ import annotations

import csv
import json

import pytest
import yaml
from typer.testing import CliRunner

from xstilts.analysis import main_scores
from xstilts.cli import app
from xstilts.config import ExperimentConfig, load_config
from xstilts.errors import ConfigError
from xstilts.pipeline.results import latest_rows, read_rows
from xstilts.validate import check

LANGS = ["de", "es"]
N = 60  # source sentences per language (and their English partners)


def _config(model, **retrieval) -> dict:
    return {"name": "sweep", "seed": 1, "phases": [
        {"kind": "pretrained", "model": str(model)},
        {"kind": "retrieval_eval", "tasks": ["tatoeba"], "languages": LANGS, "max_examples": N, "max_length": 48,
         "prefix": "query: ", **retrieval}]}


def _run(tmp_path, name, raw, out):
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(raw))
    result = CliRunner().invoke(app, ["run", str(path), "--out", str(out), "--no-progress"])
    assert result.exit_code == 0, result.output
    return result.output.strip().splitlines()[-1].split("/")[-1]


@pytest.mark.slow
def test_sweep_phase_cli_and_report_agree_with_the_plain_phase(tmp_path, data_dir, mini_encoder_dir, monkeypatch):
    monkeypatch.setenv("XSTILTS_DATA_DIR", str(data_dir))
    out = tmp_path / "out"
    plain_id = _run(tmp_path, "plain", _config(mini_encoder_dir), out)
    sweep_id = _run(tmp_path, "sweep", _config(mini_encoder_dir, sweep=True), out)
    assert plain_id != sweep_id

    rows = list(read_rows(out / "results.jsonl"))
    main = {(r["run_id"], r["language"]): r["value"] for r in rows if r["phase"] == "retrieval_eval"}
    sweep = [r for r in rows if r["phase"] == "retrieval_sweep"]
    assert {r for _, r in main} == set(LANGS) and len(main) == 4
    # 13 hidden states (0 = embeddings … 12) × {mean, cls} × 2 languages, accuracy only.
    assert len(sweep) == 13 * 2 * 2 and {r["run_id"] for r in sweep} == {sweep_id}
    assert {(r["layer"], r["pooling"]) for r in sweep} == {(x, q) for x in range(13) for q in ("mean", "cls")}
    assert all(r["max_length"] == 48 and r["source_prefix"] == r["target_prefix"] == "query: " and r["n"] == N
               for r in sweep)
    for lang in LANGS:
        # The default (XTREME's layer 7 of 12 = hidden_states[8], mean) equals the plain phase's number.
        at_default = [r["value"] for r in sweep if r["language"] == lang and (r["layer"], r["pooling"]) == (8, "mean")]
        assert at_default == [main[(plain_id, lang)]] == [main[(sweep_id, lang)]]
        values = [r["value"] for r in sweep if r["language"] == lang]
        assert max(values) - min(values) > 40  # layers and poolings matter (embeddings' cls is near 0)
    # Distinct keys: nothing collapses, and the main readers see only the main rows.
    assert len(latest_rows(out / "results.jsonl")) == len(rows)
    assert len(main_scores(rows, phase="retrieval_eval")) == 4
    examples = [e for e in read_rows(out / "example_scores.jsonl")]
    assert len(examples) == 2 * len(LANGS) * N  # example rows of the main setting only, per run

    done = json.loads(next((out / "runs" / sweep_id).glob("*-retrieval_eval/done.json")).read_text())
    assert done["settings"] == {"tatoeba": {"layer": 8, "pooling": "mean", "max_length": 48,
                                            "source_prefix": "query: ", "target_prefix": "query: "}}
    assert done["sweep"] == {"phase": "retrieval_sweep", "layers": list(range(13)), "poolings": ["mean", "cls"],
                             "rows": 52}

    # The CLI: a separate process path (loads the folder, reads the files) gives the same numbers.
    table = tmp_path / "sweep.json"
    result = CliRunner().invoke(app, ["retrieval", "sweep", "--model", str(mini_encoder_dir), "--task", "tatoeba",
                                      "--languages", ",".join(LANGS), "--max-examples", str(N), "--max-length", "48",
                                      "--prefix", "query: ", "--out", str(table)])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[1].split() == ["layer", "avg", "mean", "avg", "cls", "de", "mean", "de", "cls", "es", "mean",
                                "es", "cls"]
    default_line = next(line for line in lines if line.split() and line.split()[0] == "8*")
    expected = sum(main[(plain_id, lang)] for lang in LANGS) / len(LANGS)
    assert default_line.split()[1] == f"{expected:.1f}"
    cli = {(r["language"], r["layer"], r["pooling"]): r["value"] for r in json.loads(table.read_text())}
    assert cli == pytest.approx({(r["language"], r["layer"], r["pooling"]): r["value"] for r in sweep}, abs=1e-9)

    # The report: one layer × pooling table, the default row marked, numbers from the sweep rows.
    from xstilts.report import build_report

    page = build_report(out, n_resamples=50).read_text()
    assert "Retrieval by layer and pooling" in page and "8 (default: mean)" in page
    with open(out / "report" / "tables" / "retrieval_sweep_tatoeba.csv", encoding="utf-8") as f:
        records = list(csv.DictReader(f))
    avg = next(r for r in records if r["layer"] == "8" and r["pooling"] == "mean" and r["language"] == "avg")
    assert float(avg["value"]) == pytest.approx(expected) and avg["default"] == "True"


def test_prefix_and_sweep_are_part_of_the_phase_identity_and_new_keys_leave_old_ids_alone(mini_encoder_dir):
    base = _config(mini_encoder_dir)
    del base["phases"][1]["prefix"], base["phases"][1]["max_examples"]
    plain = ExperimentConfig.model_validate(base)
    dumped = plain.model_dump(mode="json")["phases"][1]
    assert set(dumped) == {"kind", "tasks", "layer", "pooling", "max_length", "splits", "languages"}  # as before
    ids = {plain.run_id}
    for extra in ({"prefix": "query: "}, {"target_prefix": "passage: "}, {"sweep": True}):
        raw = json.loads(json.dumps(base))
        raw["phases"][1].update(extra)
        ids.add(ExperimentConfig.model_validate(raw).run_id)
    assert len(ids) == 4


@pytest.mark.parametrize("edit,needle", [
    ({"sweep_layers": [0, 4]}, "phases.1.sweep_layers: has no effect without phases.1.sweep: true"),
    ({"sweep_poolings": ["cls"]}, "phases.1.sweep_poolings: has no effect without"),
    ({"sweep": True, "sweep_layers": [0, 13]}, "phases.1.sweep_layers.1: a 12-layer encoder has hidden states 0"),
])
def test_sweep_settings_are_checked_before_anything_runs(tmp_path, mini_encoder_dir, data_dir, monkeypatch, edit,
                                                         needle):
    monkeypatch.setenv("XSTILTS_DATA_DIR", str(data_dir))
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(_config(mini_encoder_dir, **edit)))
    with pytest.raises(ConfigError, match=needle.replace("(", r"\(")):
        check(load_config(path, []), source=str(path), resources=False)
