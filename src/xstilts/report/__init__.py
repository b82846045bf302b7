"""``xstilts report DIR``: one self-contained HTML report, with figures and tables for papers,
computed only from the run outputs in ``DIR`` (``results.jsonl``, ``example_scores.jsonl``,
``runs/*/config.yaml`` and the phases' ``done.json``).

Layout written (atomically: built in a temporary folder beside it, then renamed into place)::

    DIR/report/index.html          the report (figures embedded as PNG; no external resources)
    DIR/report/figures/*.png|svg   every figure
    DIR/report/tables/*.csv|tex    every table (LaTeX: booktabs)

All statistics come from :mod:`xstilts.analysis`; the bootstrap is seeded, so the same inputs give
the same files (the generation date in the page follows ``SOURCE_DATE_EPOCH`` when it is set).
Whatever the folder lacks (no intermediate max-length variation, no buckets, one seed, no
retrieval, ...) is said in the report instead of failing.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

from xstilts.analysis import DEFAULT_RESAMPLES
from xstilts.errors import ConfigError
from xstilts.report import sections as S
from xstilts.report.data import ReportData, load
from xstilts.report.html import render_page
from xstilts.report.retrieval_sweep import retrieval_sweep
from xstilts.report.tables import Table
from xstilts.report.xtreme import xtreme_section

REPORT_DIR = "report"


def report_date() -> str:
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    stamp = int(epoch) if epoch and epoch.strip().isdigit() else time.time()
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(stamp))


def _walk(blocks):
    for b in blocks:
        if isinstance(b, S.Details):
            yield from _walk(b.blocks)
        else:
            yield b


def _write(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8", newline="\n")


def build_report(out_dir: str | Path, *, n_resamples: int = DEFAULT_RESAMPLES, seed: int = 0) -> Path:
    """Write ``out_dir/report/`` and return the path of its ``index.html``."""
    if n_resamples < 1:
        raise ConfigError(f"n_resamples must be at least 1, not {n_resamples}")
    out_dir = Path(out_dir)
    data = load(out_dir)
    tmp = Path(tempfile.mkdtemp(prefix=".report-", dir=out_dir))
    try:
        (tmp / "figures").mkdir()
        (tmp / "tables").mkdir()
        page = _build(data, tmp, n_resamples=n_resamples, seed=seed)
        _write(tmp / "index.html", page)
        _swap(tmp, out_dir / REPORT_DIR)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out_dir / REPORT_DIR / "index.html"


def _swap(new: Path, final: Path) -> None:
    """Replace ``final`` by ``new`` with renames (an old report is moved aside, then removed)."""
    old = None
    if final.exists():
        old = Path(tempfile.mkdtemp(prefix=".report-old-", dir=final.parent))
        final.rename(old / "report")
    new.rename(final)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _build(data: ReportData, tmp: Path, *, n_resamples: int, seed: int) -> str:
    ctx = S.make_context(data, tmp / "figures", n_resamples=n_resamples, seed=seed)
    main = S.main_results(ctx)
    heat = S.heatmaps(ctx)
    trend = S.trends(ctx)
    sizes = S.buckets(ctx)
    retrieval = S.retrieval(ctx)        # before the answer: it quotes their summaries
    training = S.pretraining(ctx)
    answer = S.answer(ctx)
    date = report_date()
    repro = S.reproducibility(ctx, date=date)
    body = [answer, main, heat, trend, sizes, retrieval, training, repro]
    body.insert(2, xtreme_section(ctx))  # XTREME score, after the main results
    body.insert(body.index(retrieval) + 1, retrieval_sweep(ctx))  # layer × pooling, after retrieval
    missing = list(dict.fromkeys(b.text for s in body for b in _walk(s.blocks) if isinstance(b, S.Note) and b.missing))
    sections = [S.overview(ctx, missing)] + body
    for s in sections:
        for b in _walk(s.blocks):
            if isinstance(b, Table):
                _write(tmp / "tables" / f"{b.name}.csv", b.to_csv())
                _write(tmp / "tables" / f"{b.name}.tex", b.to_latex())
    name = data.out_dir.resolve().name
    return render_page(
        sections, title=f"xstilts report: {name}",
        subtitle=("English intermediate-task training (STILTs), its max sequence length, and zero-shot "
                  "cross-lingual transfer on long documents"),
        footer=(f"Generated {date} from {data.out_dir.resolve()} ({len(data.runs)} runs) by xstilts report; "
                f"every number is computed from results.jsonl, example_scores.jsonl and runs/ in that folder."))


__all__ = ["build_report", "REPORT_DIR"]
