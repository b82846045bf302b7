"""`build_report` on a hand-made run folder: sections, the answer's numbers, figures, tables,
determinism, atomic replacement, and folders that lack most things."""

from __future__ import annotations

import base64
import csv
import html
import io
import json
import math
import re
import shutil
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from matplotlib import image as mpimg

from report_synth import minimal_examples, synthetic_examples, write_synthetic_dir
from xstilts.analysis import NO_EFFECT, answer_questions, bootstrap_gains, holm
from xstilts.errors import DataError
from xstilts.pipeline.results import read_rows
from xstilts.report import build_report
from xstilts.report import sections as report_sections

RESAMPLES = 200
SECTIONS = ("overview", "answer", "main-results", "gains", "trends", "buckets", "retrieval", "training",
            "reproducibility")
FIGURES = ("answer_slopes", "gain_heatmap_languages", "gain_heatmap_buckets", "gain_vs_max_len", "bucket_sizes",
           "retrieval_vs_max_len")
TABLES = ("main_results", "main_results_by_language", "gains", "trends", "answer", "bucket_sizes",
          "intermediate_truncation", "retrieval", "pretraining", "english_dev", "training_phases", "runs",
          "xtreme_scores")


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = write_synthetic_dir(tmp_path_factory.mktemp("synthetic") / "out")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SOURCE_DATE_EPOCH", "1700000000")
        index = build_report(root, n_resamples=RESAMPLES, seed=0)
    return root, index, index.read_text(encoding="utf-8")


def test_index_has_every_section_and_is_self_contained(built) -> None:
    root, index, page = built
    assert index == root / "report" / "index.html"
    for section in SECTIONS:
        assert f'<section id="{section}">' in page, section
    assert page.count("<figcaption>") == len(FIGURES) and page.count("data:image/png;base64,") == len(FIGURES)
    assert "<script" not in page and "<link" not in page and "@import" not in page
    external = [u for u in re.findall(r'(?:src|href)="([^"]+)"', page) if not u.startswith(("#", "data:", "tables/",
                                                                                             "figures/"))]
    assert external == []
    assert "2023-11-14 22:13 UTC" in page  # SOURCE_DATE_EPOCH
    for run_id in {r["run_id"] for r in read_rows(root / "results.jsonl")}:
        assert run_id in page


def test_the_answer_quotes_answer_questions(built) -> None:
    """The answer's two tests (one per intermediate task set) are one Holm family: the page quotes
    exactly what answer_questions says of them, raw and adjusted p, and the seeds' spread."""
    root, _, page = built
    examples = list(read_rows(root / "example_scores.jsonl"))
    answers = answer_questions(examples, targets=["pawsx", "xnli"], split="test", n_resamples=RESAMPLES, seed=0)
    assert [(a.intermediate, a.significant, a.n_tests) for a in answers] == [
        (("hellaswag",), False, 2), (("squad",), True, 2)]
    for a in answers:
        assert html.escape(a.summary()) in page
        assert f"{a.difference.value:+.2f} [{a.difference.low:+.2f}, {a.difference.high:+.2f}]" in page
        assert f"p = {a.p_value:.3g}, Holm-adjusted p = {a.p_holm:.3g}" in page
        assert "(2 seeds; per-seed difference " in a.verdict and html.escape(a.verdict) in page
    assert [a.p_holm for a in answers] == pytest.approx(holm([a.p_value for a in answers]))
    assert NO_EFFECT + " after Holm&#x27;s correction for 2 tests" in page
    assert "The answer makes 2 tests (one per intermediate task set)" in page
    rows = {(r["intermediate"], r["targets"]): r for r in csv.DictReader(io.StringIO(
        (root / "report" / "tables" / "answer.csv").read_text()))}
    squad = rows[("squad", "pawsx xnli")]
    a = answers[1]
    assert float(squad["slope_long"]) == pytest.approx(a.slope_long.value, abs=1e-6)
    assert float(squad["difference_ci_low"]) == pytest.approx(a.difference.low, abs=1e-6)
    assert float(squad["p_value"]) == pytest.approx(a.p_value, abs=1e-6)
    assert float(squad["p_holm"]) == pytest.approx(a.p_holm, abs=1e-6)
    assert squad["significant"] == "True" and squad["long_bucket"] == "long:multi_window"
    assert (squad["holm_family"], squad["n_tests"]) == ("answer", "2")
    assert [float(x) for x in squad["difference_by_seed"].split()] == pytest.approx(a.difference_by_seed, abs=1e-6)
    # the per-target rows are a family of their own: Holm over those four tests
    per_target = [r for r in rows.values() if r["holm_family"] == "per target"]
    assert len(per_target) == 4 and {r["n_tests"] for r in per_target} == {"4"}
    assert [float(r["p_holm"]) for r in per_target] == pytest.approx(
        holm([float(r["p_value"]) for r in per_target]), abs=1e-5)  # the CSV rounds to 6 decimals
    assert all((r["significant"] == "True") == (float(r["p_holm"]) < 0.05) for r in rows.values())


def test_gain_marks_are_decided_on_holm_over_the_figure(built) -> None:
    """A heatmap star means Holm-adjusted p < 0.05 over the figure's cells, not "the CI excludes 0";
    with too few resamples for that many cells the caption says so."""
    root, _, page = built
    examples = list(read_rows(root / "example_scores.jsonl"))
    rows = [r for r in bootstrap_gains(examples, buckets=["all"], n_resamples=4000, seed=0)
            if r["target"] == "xnli" and r["language"] != "avg"]
    marked = report_sections.with_holm(rows)
    assert [r["p_holm"] for r in marked] == pytest.approx(holm([r["p_value"] for r in rows]))
    keys = sorted({report_sections.cond_key(r) for r in marked}, key=report_sections.key_order)
    languages = sorted({r["language"] for r in marked})
    panel = report_sections._panel("xnli", marked, keys, languages, "language", 0.05)
    index = {(report_sections.cond_key(r), r["language"]): r for r in marked}
    expected = np.array([[index[(k, lang)]["p_holm"] < 0.05 for lang in languages] for k in keys])
    assert np.array_equal(panel.marks, expected) and expected.any()
    ci_only = [r for r in marked if not r["ci_low"] <= 0 <= r["ci_high"] and r["p_holm"] >= 0.05]
    assert ci_only  # cells the old rule (CI excludes 0) starred and Holm does not
    assert "*: Holm-adjusted p &lt; 0.05 over the 60 cells of this figure" in page
    assert "none of the 60 tests can pass Holm at 0.05: rerun `xstilts report --resamples 2399`" in page
    gains = list(csv.DictReader(io.StringIO((root / "report" / "tables" / "gains.csv").read_text())))
    from_csv = holm([float(r["p_value"]) for r in gains])  # p rounded to 6 decimals, times up to 12
    assert [float(r["p_holm"]) for r in gains] == pytest.approx(from_csv, abs=1e-4)


def test_figures_are_valid_png_and_svg(built) -> None:
    root, _, page = built
    figures = root / "report" / "figures"
    assert sorted(p.name for p in figures.iterdir()) == sorted(f"{n}.{e}" for n in FIGURES for e in ("png", "svg"))
    for name in FIGURES:
        png = (figures / f"{name}.png").read_bytes()
        assert png.startswith(b"\x89PNG\r\n\x1a\n")
        pixels = mpimg.imread(io.BytesIO(png), format="png")
        assert pixels.shape[0] > 200 and pixels.shape[1] > 400 and float(np.std(pixels)) > 0.05  # not blank
        assert base64.b64encode(png).decode() in page  # the page embeds exactly these bytes
        svg = ET.parse(figures / f"{name}.svg").getroot()
        assert svg.tag.endswith("svg")


def test_tables_parse_and_tex_is_booktabs(built) -> None:
    root, _, _ = built
    tables = root / "report" / "tables"
    assert sorted(p.name for p in tables.iterdir()) == sorted(f"{n}.{e}" for n in TABLES for e in ("csv", "tex"))
    for name in TABLES:
        rows = list(csv.reader(io.StringIO((tables / f"{name}.csv").read_text())))
        assert len(rows) >= 2 and all(len(r) == len(rows[0]) for r in rows), name
        tex = (tables / f"{name}.tex").read_text()
        for command in ("\\toprule", "\\midrule", "\\bottomrule", "\\begin{tabular}", "\\caption{"):
            assert command in tex, (name, command)
        body = re.sub(r"\$\\[a-z]+\$", "", tex.split("\\toprule", 1)[1])  # $\rightarrow$ etc.
        body = body.replace(" & ", " ").replace("\\\\", "")
        assert not re.search(r"(?<!\\)[_%&#$^~]", body), (name, body)
    assert "long:multi\\_window" in (tables / "trends.tex").read_text()


def test_main_table_is_the_mean_over_languages_and_seeds_of_results(built) -> None:
    root, _, page = built
    rows = [r for r in read_rows(root / "results.jsonl")
            if r["phase"] == "zero_shot_eval" and r["bucket"] == "all" and r["metric"] == "accuracy"]
    table = list(csv.DictReader(io.StringIO((root / "report" / "tables" / "main_results.csv").read_text())))
    got = {(r["intermediate"], r["intermediate_max_len"], r["target"]): float(r["value"]) for r in table}
    for inter, max_len in (((), None), (("squad",), 512), (("hellaswag",), 128)):
        for target in ("xnli", "pawsx"):
            by_lang: dict[str, list[float]] = {}
            for r in rows:
                if tuple(r["intermediate"]) == inter and r["intermediate_max_len"] == max_len and r["target"] == target:
                    by_lang.setdefault(r["language"], []).append(r["value"])
            assert len(by_lang) == 4 and all(len(v) == 2 for v in by_lang.values())
            expected = np.mean([np.mean(v) for v in by_lang.values()])
            key = ("+".join(inter) or "none", "" if max_len is None else str(max_len), target)
            assert got[key] == pytest.approx(expected, abs=1e-6)
    assert "none (baseline)" in page and "squad @ 512" in page
    assert got[("squad", "512", "avg")] == pytest.approx((got[("squad", "512", "xnli")] + got[("squad", "512", "pawsx")]) / 2)


def test_trend_table_and_retrieval_and_truncation(built) -> None:
    root, _, page = built
    tables = root / "report" / "tables"
    trends = list(csv.DictReader(io.StringIO((tables / "trends.csv").read_text())))
    long_squad = next(r for r in trends if r["intermediate"] == "squad" and r["targets"] == "pawsx xnli"
                      and r["bucket"] == "long:multi_window")
    assert float(long_squad["slope_ci_low"]) > 0  # the planted slope
    retrieval = {(r["model"], r["task"]): r for r in csv.DictReader(io.StringIO((tables / "retrieval.csv").read_text()))}
    assert float(retrieval[("squad @ 512", "tatoeba")]["delta_vs_pretrained"]) == pytest.approx(4.0)
    assert float(retrieval[("hellaswag @ 256", "bucc2018")]["delta_vs_pretrained"]) == pytest.approx(-1.0)
    # Tatoeba has per-query example rows: paired-bootstrap intervals around the planted +4 and −1 points
    # (the queries that change are 40 and 10 of 1,000); BUCC (F1 over mined pairs) has none.
    squad, hella = retrieval[("squad @ 512", "tatoeba")], retrieval[("hellaswag @ 256", "tatoeba")]
    assert 0 < float(squad["ci_low"]) < 4.0 < float(squad["ci_high"])
    assert float(hella["ci_low"]) < -1.0 < float(hella["ci_high"]) < 0
    assert retrieval[("squad @ 512", "bucc2018")]["ci_low"] == ""
    assert re.search(r"\+4\.00<br><span class=\"ci\">\[\+\d\.\d\d, \+\d\.\d\d\]", page)  # the cell, two lines in HTML
    assert "Retrieval — " in page and "MLM dev perplexity" in page
    assert f"{math.exp(2.6):.2f} (seed 1)" in page
    trunc = list(csv.DictReader(io.StringIO((tables / "intermediate_truncation.csv").read_text())))
    assert {r["truncation_recorded"] for r in trunc if r["intermediate"] == "squad"} == {"True"}
    assert {r["truncation_recorded"] for r in trunc if r["intermediate"] == "hellaswag"} == {"False"}
    assert "not recorded" in page
    squad_512 = next(r for r in trunc if r["intermediate"] == "squad" and r["max_length"] == "512")
    assert float(squad_512["share_truncated"]) == pytest.approx(0.15)


def test_rebuild_is_byte_identical_and_replaces_the_old_report(built, monkeypatch) -> None:
    root, _, _ = built
    before = {p.relative_to(root): p.read_bytes() for p in (root / "report").rglob("*") if p.is_file()}
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    build_report(root, n_resamples=RESAMPLES, seed=0)
    after = {p.relative_to(root): p.read_bytes() for p in (root / "report").rglob("*") if p.is_file()}
    assert sorted(before) == sorted(after)
    assert [str(k) for k in before if before[k] != after[k]] == []
    assert not [p for p in root.iterdir() if p.name.startswith(".report")]


def test_a_failed_build_leaves_the_old_report(tmp_path, monkeypatch) -> None:
    root = write_synthetic_dir(tmp_path / "out", examples=minimal_examples(), retrieval=False, pretraining=False)
    index = build_report(root, n_resamples=20)
    old = index.read_bytes()

    def broken(ctx):
        raise RuntimeError("boom")

    monkeypatch.setattr(report_sections, "heatmaps", broken)
    with pytest.raises(RuntimeError, match="boom"):
        build_report(root, n_resamples=20)
    assert index.read_bytes() == old
    assert not [p for p in root.iterdir() if p.name.startswith(".report")]


# ---------------------------------------------------------------- folders that lack things


def test_minimal_folder_one_condition_one_language_no_buckets(tmp_path) -> None:
    root = write_synthetic_dir(tmp_path / "out", examples=minimal_examples(), retrieval=False, pretraining=False)
    page = build_report(root, n_resamples=20).read_text()
    for section in SECTIONS:
        assert f'<section id="{section}">' in page
    assert "Not in this report" in page
    assert "No intermediate-task runs" in page and "No length buckets besides" in page
    assert "No retrieval results" in page
    assert list((root / "report" / "figures").iterdir()) == []
    table = list(csv.DictReader(io.StringIO((root / "report" / "tables" / "main_results.csv").read_text())))
    assert [(r["intermediate"], r["target"]) for r in table] == [("none", "xnli"), ("none", "avg")]


def test_retrieval_intervals_that_cannot_be_computed_are_said(tmp_path) -> None:
    examples = synthetic_examples(targets=("xnli",), languages=("de",), intermediates={("squad",): 1.0},
                                  max_lens=(128,), seeds=(1,), n=50)
    root = write_synthetic_dir(tmp_path / "out", examples=examples, pretraining=False)
    path = root / "example_scores.jsonl"
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    bad = next(r for r in rows if r["phase"] == "retrieval_eval")
    path.write_text("".join(json.dumps(r) + "\n" for r in rows + [{**bad, "example_id": "extra", "metric": "f1"}]))
    page = build_report(root, n_resamples=20).read_text()
    assert "Paired bootstrap of the retrieval Δ failed" in page and "&#x27;f1&#x27;" in page
    retrieval = list(csv.DictReader(io.StringIO((root / "report" / "tables" / "retrieval.csv").read_text())))
    assert {r["ci_low"] for r in retrieval} == {""} and any(r["delta_vs_pretrained"] for r in retrieval)


@pytest.mark.parametrize("case", ["one_max_len_one_seed", "no_example_scores", "only_example_scores",
                                  "no_baseline", "mixed_splits"])
def test_degraded_folders_build_and_say_what_is_missing(tmp_path, case) -> None:
    root = tmp_path / "out"
    if case == "one_max_len_one_seed":
        ex = synthetic_examples(targets=("xnli",), languages=("de", "fr"), intermediates={("squad",): 1.0},
                                max_lens=(256,), seeds=(1,), n=60)
        write_synthetic_dir(root, examples=ex, retrieval=False)
        expected = ["does not vary", "needs at least two intermediate max lengths"]
    elif case == "no_example_scores":
        ex = synthetic_examples(targets=("xnli",), languages=("de", "fr"), seeds=(1,), n=60)
        write_synthetic_dir(root, examples=ex, write_examples=False, pretraining=False)
        expected = ["No example_scores.jsonl", "point estimates"]
    elif case == "only_example_scores":
        ex = synthetic_examples(targets=("xnli",), languages=("de", "fr"), seeds=(1,), n=60)
        write_synthetic_dir(root, examples=ex, retrieval=False, pretraining=False)
        (root / "results.jsonl").unlink()
        shutil.rmtree(root / "runs")
        expected = ["example_scores.jsonl", "No retrieval results", "No intermediate training phases"]
    elif case == "no_baseline":
        ex = [r for r in synthetic_examples(targets=("xnli",), languages=("de", "fr"), seeds=(1,), n=60)
              if r["intermediate"]]
        write_synthetic_dir(root, examples=ex, retrieval=False, pretraining=False)
        expected = ["No baseline run", "no baseline"]
    else:  # one target scored on test, the other only on dev: each keeps its split, the answer pools test
        kw = dict(languages=("de", "fr"), seeds=(1,), n=60, intermediates={("squad",): 2.0})
        ex = (synthetic_examples(targets=("xnli",), **kw) +
              synthetic_examples(targets=("pawsx",), split="dev", **kw))
        write_synthetic_dir(root, examples=ex, retrieval=False, pretraining=False)
        expected = ["xnli (test)", "pawsx (dev)", "squad → pawsx", "on xnli (test) changes by"]
    page = build_report(root, n_resamples=30).read_text()
    for text in expected:
        assert text in page, text
    assert '<section id="reproducibility">' in page


def test_an_empty_folder_is_a_data_error(tmp_path) -> None:
    with pytest.raises(DataError, match="nothing to report"):
        build_report(tmp_path)
    with pytest.raises(DataError, match="no such directory"):
        build_report(tmp_path / "missing")


def test_a_broken_config_is_reported_not_fatal(tmp_path) -> None:
    root = write_synthetic_dir(tmp_path / "out", examples=minimal_examples(), retrieval=False, pretraining=False)
    run_dir = next((root / "runs").iterdir())
    (run_dir / "config.yaml").write_text("phases: [unclosed\n")
    page = build_report(root, n_resamples=20).read_text()
    assert "Unreadable files" in page and "config.yaml" in page


def test_runs_that_the_analysis_cannot_tell_apart_are_flagged(tmp_path) -> None:
    ex = synthetic_examples(targets=("xnli",), languages=("de",), seeds=(1,), n=40,
                            intermediates={("squad",): 1.0}, max_lens=(128, 256))
    twin = [dict(r, run_id=r["run_id"] + "-tokens") for r in ex if r["intermediate_max_len"] == 256]
    root = write_synthetic_dir(tmp_path / "out", examples=ex + twin, retrieval=False, pretraining=False)
    for run_dir in (root / "runs").iterdir():
        cfg = (run_dir / "config.yaml").read_text()
        policy = "equal_tokens" if run_dir.name.endswith("-tokens") else "equal_steps"
        cfg = cfg.replace("max_length: 256", f"max_length: 256\n  compute_policy: {policy}")
        if run_dir.name.endswith("-tokens"):  # and another encoder, as a control run would have
            cfg = cfg.replace("model: synthetic-encoder", "model: control-encoder")
        (run_dir / "config.yaml").write_text(cfg)
    page = build_report(root, n_resamples=20).read_text()
    assert "2 runs share intermediate condition squad @ 256" in page
    assert "compute policies equal_steps, equal_tokens; pretrained encoders control-encoder, synthetic-encoder" in page
    assert page.count("pretrained encoders") == 1  # the runs at 128 share theirs


def test_slope_forest_draws_intervals_that_exclude_their_estimate() -> None:
    """A percentile bootstrap CI may miss the estimate; a null effect gives [0, 0] around ±1e-17."""
    from xstilts.report.figures import SlopeRow, slope_forest

    rows = [SlopeRow("syn_nli", "long", 1.3e-17, 0.0, 0.0), SlopeRow("syn_longqa", "short", -0.5, -0.4, 0.7)]
    fig = slope_forest(rows, xlabel="gain per doubling")
    assert len(fig.axes[0].get_yticklabels()) == 2
