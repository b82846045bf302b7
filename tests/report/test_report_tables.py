"""The report's table renderer (CSV, booktabs LaTeX, HTML) and its helpers."""

from __future__ import annotations

import csv
import io

from xstilts.report.sections import _truncation_rows
from xstilts.report.tables import Table, column_best, fmt_auto, fmt_ci, latex_escape


def _table() -> Table:
    rows = [["none (baseline)", 61.234, None], ["squad_v2 @ 512", 64.5, -0.25], ["a & b 100%", 60.0, 1.0]]
    return Table("demo_table", "Demo", "Scores for tokens:<=128 & more_than #1 {x}", ["model", "score", "gain"],
                 rows, signed={2}, digits={2: 2}, bold=column_best(rows, [1, 2]), group_rule_after={0})


def test_latex_is_booktabs_and_escaped() -> None:
    tex = _table().to_latex()
    assert tex.count("\\toprule") == 1 and tex.count("\\bottomrule") == 1 and tex.count("\\midrule") == 2
    assert "\\begin{tabular}{lrr}" in tex
    assert "squad\\_v2 @ 512 & \\textbf{64.5} & -0.25 \\\\" in tex
    assert "a \\& b 100\\% & 60.0 & \\textbf{+1.00} \\\\" in tex
    assert "none (baseline) & 61.2 & – \\\\".replace("–", "--") in tex
    assert "tokens:\\textless{}=128 \\& more\\_than \\#1 \\{x\\}" in tex
    assert "\\label{tab:demo-table}" in tex


def test_csv_round_trips_display_or_records() -> None:
    t = _table()
    rows = list(csv.reader(io.StringIO(t.to_csv())))
    assert rows[0] == ["model", "score", "gain"] and rows[1] == ["none (baseline)", "61.234", ""]
    t.records = [{"model": "x", "ci": (1, 2)}, {"model": "y", "extra": 0.5}]
    rows = list(csv.DictReader(io.StringIO(t.to_csv())))
    assert rows == [{"model": "x", "ci": "1 2", "extra": ""}, {"model": "y", "ci": "", "extra": "0.5"}]


def test_html_escapes_aligns_and_bolds() -> None:
    page = _table().to_html(3)
    assert "<b>Table 3.</b>" in page and "&lt;=128 &amp; more_than" in page
    assert '<td class="num"><strong>64.5</strong></td>' in page
    assert '<td class="txt">a &amp; b 100%</td>' in page
    assert '<tr class="group-end">' in page and 'href="tables/demo_table.csv"' in page


def test_formatting_helpers() -> None:
    assert fmt_ci(1.234, 0.5, 2.0) == "+1.23 [+0.50, +2.00]" and fmt_ci(-0.5, None, None) == "-0.50"
    assert fmt_auto(128000.0) == "128000" and fmt_auto(0.15) == "0.15" and fmt_auto(1.23456) == "1.235"
    assert latex_escape("x_1 ≤ 2 → ~") == "x\\_1 $\\leq$ 2 $\\rightarrow$ \\textasciitilde{}"


def test_truncation_rows_follow_the_runners_layout() -> None:
    trunc = {"tokens_seen": 1000, "per_device_train_batch_size": 8, "compute_policy": "equal_tokens",
             "tasks": {"squad": {"examples": 10, "windows_per_example": 1.5, "share_truncated": 0.3,
                                 "answers_lost": 2},
                       "mnli": {"examples": 20, "windows_per_example": 1.0, "share_truncated": 0.0}}}
    rows = _truncation_rows(trunc)
    assert [t for t, _ in rows] == ["mnli", "squad"]
    assert rows[1][1] == {"tokens_seen": 1000, "per_device_train_batch_size": 8, "compute_policy": "equal_tokens",
                          "examples": 10, "windows_per_example": 1.5, "share_truncated": 0.3, "answers_lost": 2}
    assert _truncation_rows({"a": 1, "b": {"c": [1, 2]}}) == [("", {"a": 1, "b.c": "[1, 2]"})]
