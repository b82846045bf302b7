"""End-to-end: `xstilts run` on a tiny random model over real shared data, checking results rows."""

from __future__ import annotations

import json

import pytest
import yaml
from typer.testing import CliRunner

from xstilts.cli import app
from xstilts.pipeline.results import ROW_FIELDS, read_rows

pytestmark = pytest.mark.slow

FAST = {"per_device_train_batch_size": 8, "gradient_accumulation_steps": 1, "max_steps": 4, "eval_steps": 2, "learning_rate": 1e-4,
        "logging_steps": 2, "per_device_eval_batch_size": 64}


def _config(model_dir, target: str) -> dict:
    if target == "xnli":
        intermediate, tasks = "hellaswag", {
            "hellaswag": {"train": {"split": "dev", "stop": 32}, "dev": {"split": "dev", "start": 32, "stop": 48}, "max_length": 48},
            "xnli": {"train": {"task": "anli", "split": "dev", "stop": 32}, "dev": {"task": "anli", "split": "dev", "start": 3100}},
        }
    else:  # udpos, after SQuAD as QA intermediate task
        intermediate, tasks = "squad_v1", {
            "squad_v1": {"train": {"split": "dev", "stop": 32}, "dev": {"split": "dev", "start": 32, "stop": 48},
                         "max_length": 96, "doc_stride": 32, "max_query_length": 24},
            "udpos": {"train": {"split": "train", "stop": 32}, "dev": {"split": "dev", "stop": 32}, "max_length": 64},
        }
    return {
        "name": f"e2e-{target}", "seed": 3,
        "phases": [
            {"kind": "pretrained", "model": str(model_dir)},
            {"kind": "retrieval_eval", "tasks": ["tatoeba"], "layer": 2, "languages": ["de", "fr"], "max_length": 24},
            {"kind": "intermediate", "tasks": [intermediate], "training": FAST},
            {"kind": "retrieval_eval", "tasks": ["tatoeba"], "layer": 2, "languages": ["de", "fr"], "max_length": 24},
            {"kind": "target", "task": target, "training": FAST},
            {"kind": "zero_shot_eval"},
        ],
        "tasks": tasks,
    }


@pytest.mark.parametrize("target,languages", [("xnli", {"de"}), ("udpos", {"en", "de", "zh"})])
def test_run_writes_rows_for_every_phase_and_language(tmp_path, data_dir, tiny_model_dir, monkeypatch, target, languages):
    monkeypatch.setenv("XSTILTS_DATA_DIR", str(data_dir))
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump(_config(tiny_model_dir, target)))
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["run", str(cfg), "--out", str(out), "--no-progress"])
    assert result.exit_code == 0, result.output
    run_dir = out / "runs" / result.output.strip().splitlines()[-1].split("/")[-1]
    assert (run_dir / "config.yaml").exists() and (run_dir / "log.txt").exists()
    rows = list(read_rows(out / "results.jsonl"))
    assert rows and all(list(r) == list(ROW_FIELDS) for r in rows)
    assert {r["run_id"] for r in rows} == {run_dir.name}

    retrieval = [r for r in rows if r["phase"] == "retrieval_eval"]
    assert {(tuple(r["intermediate"]), r["language"]) for r in retrieval} == {
        ((), "de"), ((), "fr"), ((_config(tiny_model_dir, target)["phases"][2]["tasks"][0],), "de"),
        ((_config(tiny_model_dir, target)["phases"][2]["tasks"][0],), "fr")}
    assert all(r["metric"] == "accuracy" and r["n"] == 1000 for r in retrieval)
    # Tatoeba also writes one example row per English query; their mean is the official accuracy.
    examples = [e for e in read_rows(out / "example_scores.jsonl") if e["phase"] == "retrieval_eval"]
    for r in retrieval:
        mine = [e for e in examples if e["language"] == r["language"] and e["intermediate"] == r["intermediate"]]
        assert len(mine) == 1000 and len({e["example_id"] for e in mine}) == 1000
        assert 100 * sum(e["stats"]["correct"] for e in mine) / len(mine) == pytest.approx(r["value"], abs=1e-9)

    zero_all = [r for r in rows if r["phase"] == "zero_shot_eval"]
    zero = [r for r in zero_all if r["bucket"] == "all"]
    # Length buckets: the fixed-threshold buckets partition every language/split.
    for lang in languages:
        for split in ("dev", "test"):
            n_all = {r["n"] for r in zero if r["language"] == lang and r["split"] == split}
            fixed = {r["bucket"]: r["n"] for r in zero_all
                     if r["language"] == lang and r["split"] == split and r["bucket"].startswith("tokens:")}
            assert sum(fixed.values()) == n_all.pop()
    assert {r["bucket"] for r in zero_all} >= {"all", "quartile:1", "quartile:4", "long:top_quartile"}
    assert {r["language"] for r in zero} == languages
    assert {r["task"] for r in zero} == {target} and all(r["target"] == target for r in zero)
    expected_metrics = {"accuracy"} if target == "xnli" else {"f1", "precision", "recall", "token_accuracy"}
    assert {r["metric"] for r in zero} == expected_metrics
    assert {r["split"] for r in zero} == {"dev", "test"}
    for r in zero:
        assert 0 <= r["value"] <= 100 and r["n"] > 0 and r["higher_is_better"]
    # Predictions in the file layout XTREME's evaluate.py reads.
    preds = run_dir / "5-zero_shot_eval" / "predictions" / target
    ext = "tsv"
    for lang in languages:
        assert (preds / f"test-{lang}.{ext}").exists()

    # Re-running the same command on the same DIR skips finished work and adds no rows.
    again = CliRunner().invoke(app, ["run", str(cfg), "--out", str(out), "--no-progress"])
    assert again.exit_code == 0, again.output
    assert len(list(read_rows(out / "results.jsonl"))) == len(rows)
    assert "already done" in (run_dir / "log.txt").read_text()


def _bucc_root(tmp_path, data_dir):
    """A data root with BUCC-layout files built from real Tatoeba de-en pairs (plus unaligned ones)."""
    root = tmp_path / "data"
    (root / "xtreme" / "download" / "bucc2018").mkdir(parents=True)
    (root / "xtreme" / "labels" / "bucc2018").mkdir(parents=True)
    src = (data_dir / "xtreme/download/tatoeba/de-en.de").read_text(encoding="utf-8").splitlines()
    en_sorted = (data_dir / "xtreme/download/tatoeba/de-en.en").read_text(encoding="utf-8").splitlines()
    # Gold line j: the source index of sorted English line j; invert it to pair source i with its English.
    src_of = [int(x) for x in (data_dir / "xtreme/labels/tatoeba/test-de.tsv").read_text().split()]
    gold_idx = [0] * len(src_of)
    for j, i in enumerate(src_of):
        gold_idx[i] = j
    pairs = [(src[i], en_sorted[gold_idx[i]]) for i in range(80)]
    de = [(f"de-{i:06d}", s) for i, (s, _) in enumerate(pairs)] + [(f"de-{i:06d}", src[i]) for i in range(100, 120)]
    en = [(f"en-{i:06d}", t) for i, (_, t) in enumerate(pairs)] + [(f"en-{i:06d}", en_sorted[gold_idx[i]]) for i in range(200, 220)]
    prefix = root / "xtreme" / "download" / "bucc2018" / "de-en.test"
    for suffix, rows in ((".de", de), (".en", en)):
        prefix.with_name(prefix.name + suffix).write_text("".join(f"{i}\t{s}\n" for i, s in rows), encoding="utf-8")
    (root / "xtreme" / "labels" / "bucc2018" / "test-de.tsv").write_text("".join(f"de-{i:06d}\ten-{i:06d}\n" for i in range(80)))
    return root


def test_retrieval_phase_scores_bucc_and_tatoeba(tmp_path, data_dir, tiny_model_dir, monkeypatch):
    monkeypatch.setenv("XSTILTS_DATA_DIR", str(_bucc_root(tmp_path, data_dir)))
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump({"name": "retrieval", "phases": [
        {"kind": "pretrained", "model": str(tiny_model_dir)},
        {"kind": "retrieval_eval", "tasks": ["bucc2018"], "layer": 1, "max_length": 32}]}))
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["run", str(cfg), "--out", str(out), "--no-progress"])
    assert result.exit_code == 0, result.output
    rows = list(read_rows(out / "results.jsonl"))
    assert {(r["task"], r["language"], r["split"]) for r in rows} == {("bucc2018", "de", "test")}
    metrics = {r["metric"]: r for r in rows}
    assert set(metrics) == {"f1", "precision", "recall", "threshold"}
    assert metrics["threshold"]["higher_is_better"] is False and metrics["f1"]["n"] == 80
    done = json.loads(next(out.glob("runs/*/1-retrieval_eval/done.json")).read_text())
    assert done["settings"]["bucc2018"] == {"layer": 1, "pooling": "mean", "max_length": 32,  # the paper's pooling
                                            "source_prefix": "", "target_prefix": ""}
    pairs = next(out.glob("runs/*/1-retrieval_eval/predictions/bucc2018/test-de.tsv")).read_text().splitlines()
    assert pairs and all(p.count("\t") == 1 for p in pairs)


def _run_each(tmp_path, out, *configs) -> list[str]:
    """``xstilts run`` each config in turn on one ``out``; their run ids."""
    ids = []
    for i, raw in enumerate(configs):
        cfg = tmp_path / f"c{i}.yaml"
        cfg.write_text(yaml.safe_dump(raw))
        result = CliRunner().invoke(app, ["run", str(cfg), "--out", str(out), "--no-progress"])
        assert result.exit_code == 0, result.output
        ids.append(result.output.strip().splitlines()[-1].split("/")[-1])
    return ids


def test_runs_share_an_identical_training_prefix(tmp_path, data_dir, tiny_model_dir, monkeypatch):
    """Two targets after the same intermediate phase train it once; the second run reuses it."""
    monkeypatch.setenv("XSTILTS_DATA_DIR", str(data_dir))
    base = _config(tiny_model_dir, "xnli")
    base["phases"] = [p for p in base["phases"] if p["kind"] != "retrieval_eval"][:3]  # pretrained, intermediate, target
    other = json.loads(json.dumps(base))
    other["phases"][2] = {"kind": "target", "task": "udpos", "training": FAST}
    other["tasks"]["udpos"] = {"train": {"split": "train", "stop": 32}, "dev": {"split": "dev", "stop": 32}, "max_length": 64}
    out = tmp_path / "out"
    _run_each(tmp_path, out, base, other)
    assert len([d for d in out.glob("shared/intermediate-*") if d.is_dir()]) == 1
    assert len([d for d in out.glob("shared/target-*") if d.is_dir()]) == 2
    logs = sorted(out.glob("runs/*/log.txt"), key=lambda p: p.stat().st_mtime)
    assert "reloaded its model" in logs[-1].read_text()


def test_an_evaluation_before_a_finished_shared_phase_gets_its_own_model(tmp_path, data_dir, tiny_model_dir,
                                                                          monkeypatch):
    """A second run reusing a finished intermediate phase still scores the bare encoder in its
    retrieval phase before it (it used to have no model there: the run resumed after the shared phase)."""
    monkeypatch.setenv("XSTILTS_DATA_DIR", str(data_dir))
    first = _config(tiny_model_dir, "xnli")
    first["phases"] = [p for i, p in enumerate(first["phases"]) if i != 1]  # no retrieval before intermediate
    second = _config(tiny_model_dir, "xnli")  # the same phases, and retrieval on the bare encoder first
    out = tmp_path / "out"
    second_id = _run_each(tmp_path, out, first, second)[-1]
    assert len([d for d in out.glob("shared/intermediate-*") if d.is_dir()]) == 1
    rows = [r for r in read_rows(out / "results.jsonl") if r["run_id"] == second_id and r["phase"] == "retrieval_eval"]
    before = {r["language"]: r["value"] for r in rows if not r["intermediate"] and r["metric"] == "accuracy"}
    after = {r["language"]: r["value"] for r in rows if r["intermediate"] and r["metric"] == "accuracy"}
    assert set(before) == set(after) == {"de", "fr"}
    assert before != after  # two models: the bare encoder, then the intermediate one


def test_example_scores_reproduce_the_official_numbers(tmp_path, data_dir, tiny_model_dir, monkeypatch):
    from xstilts.metrics.per_example import aggregate

    monkeypatch.setenv("XSTILTS_DATA_DIR", str(data_dir))
    raw = _config(tiny_model_dir, "udpos")
    raw["phases"] = [raw["phases"][0], raw["phases"][4], {"kind": "zero_shot_eval", "splits": ["dev"], "max_examples": 40}]
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump(raw))
    out = tmp_path / "out"
    assert CliRunner().invoke(app, ["run", str(cfg), "--out", str(out), "--no-progress"]).exit_code == 0
    examples = list(read_rows(out / "example_scores.jsonl"))
    results = [r for r in read_rows(out / "results.jsonl") if r["phase"] == "zero_shot_eval"]
    assert {e["language"] for e in examples} == {"en", "de", "zh"}
    for lang in ("en", "de", "zh"):
        mine = [e for e in examples if e["language"] == lang]
        assert len(mine) == 40 and len({e["example_id"] for e in mine}) == 40
        for bucket in ("all", "quartile:4"):
            subset = [e["stats"] for e in mine if bucket == "all" or bucket in e["buckets"]]
            official = {r["metric"]: r["value"] for r in results if r["language"] == lang and r["bucket"] == bucket}
            got = aggregate("seqeval", subset, with_token_accuracy=True)
            for metric, value in official.items():
                assert abs(got[metric] - value) < 1e-9, (lang, bucket, metric)


def test_tatoeba_reported_accuracy_of_the_mini_encoder(tmp_path, data_dir, mini_encoder_dir, monkeypatch):
    """The number in results.jsonl, end to end on the real shared files: multilingual-e5-small
    retrieves German Tatoeba translations well (last layer, mean pooling, no E5 prefix). A gold
    file read in the wrong layout reports ~0 here (it did: 0.0–0.6)."""
    monkeypatch.setenv("XSTILTS_DATA_DIR", str(data_dir))
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump({"name": "tatoeba-mini", "phases": [
        {"kind": "pretrained", "model": str(mini_encoder_dir)},
        {"kind": "retrieval_eval", "tasks": ["tatoeba"], "layer": 12, "pooling": "mean", "languages": ["de"],
         "max_length": 64}]}))
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["run", str(cfg), "--out", str(out), "--no-progress"])
    assert result.exit_code == 0, result.output
    (row,) = [r for r in read_rows(out / "results.jsonl") if r["task"] == "tatoeba"]
    assert (row["language"], row["metric"], row["n"]) == ("de", "accuracy", 1000)
    assert row["value"] >= 90 and row["value"] == pytest.approx(97.1, abs=0.2)
    # The prediction file is evaluate.py's: scored against the gold file it gives the same number.
    from xstilts.scoring import score_files

    pred = next(out.glob("runs/*/1-retrieval_eval/predictions/tatoeba/test-de.tsv"))
    scored = score_files("tatoeba", "de", data_dir / "xtreme/labels/tatoeba/test-de.tsv", pred)
    assert scored["metrics"]["accuracy"] == pytest.approx(row["value"], abs=1e-9)
