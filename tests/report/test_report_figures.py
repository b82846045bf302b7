"""Every figure the report writes is legible at the size the HTML shows it: nothing drawn outside the
figure (a clipped legend, tick label or title), no text on other text or over another panel (a
colorbar, a neighbour), no text smaller than ``MIN_FONT``, and no figure wider than the page's text
column (the browser would shrink it). Checked with the renderer on the figures themselves, for report
folders shaped like the demo's and the real "mini" study's, and for the figure functions at the
extremes of what ``sections.py`` hands them."""

from __future__ import annotations

import itertools
import re

import numpy as np
import pytest
from matplotlib.text import Text
from matplotlib.transforms import Bbox

from report_synth import every_bucket, mini_study_examples, synthetic_examples, write_synthetic_dir
from xstilts.report import build_report
from xstilts.report import figures as F
from xstilts.report.html import CSS

TOLERANCE = 1.0  # display pixels


def _texts(fig) -> list[Text]:
    """The texts ``fig`` draws: visible, not empty, not in a hidden panel, not the label of a tick
    outside the axis' limits (the axis keeps such ticks but does not draw them)."""
    undrawn = set()
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            low, high = sorted(axis.get_view_interval())
            for tick in axis.get_major_ticks() + axis.get_minor_ticks():
                if not low <= tick.get_loc() <= high:
                    undrawn |= {id(tick.label1), id(tick.label2)}
    return [t for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip() and id(t) not in undrawn
            and (t.axes is None or t.axes.get_visible())]


def legibility_problems(fig) -> list[str]:
    """What a reader of ``fig`` at its natural size would stumble over; [] when nothing."""
    renderer = fig.canvas.get_renderer()
    fig.draw(renderer)
    inside = fig.bbox.padded(TOLERANCE)
    problems = []
    boxes = [(f"text {t.get_text()!r}", t, t.get_window_extent(renderer)) for t in _texts(fig)]
    boxes += [(f"legend {[t.get_text() for t in lg.get_texts()]}", lg, lg.get_window_extent(renderer))
              for lg in fig.legends]
    boxes += [(f"axes {ax.get_title(loc='left')!r}", ax, ax.get_tightbbox(renderer))
              for ax in fig.axes if ax.get_visible()]
    for what, _, box in boxes:
        if not _contains(inside, box):
            problems.append(f"{what} outside the figure: {box.bounds} not in {fig.bbox.bounds}")
    # rotated text has an axis-aligned box larger than its ink: compare only horizontal/vertical text
    straight = [(t, box) for what, t, box in boxes if isinstance(t, Text) and t.get_rotation() % 90 == 0]
    for (a, box_a), (b, box_b) in itertools.combinations(straight, 2):
        overlap = Bbox.intersection(box_a, box_b)
        if overlap is not None and overlap.width > TOLERANCE and overlap.height > TOLERANCE:
            problems.append(f"text {a.get_text()!r} overlaps {b.get_text()!r}")
    panels = [ax for ax in fig.axes if ax.get_visible()]
    for t in _texts(fig):
        box = t.get_window_extent(renderer)
        for ax in panels:
            overlap = Bbox.intersection(box, ax.bbox) if ax is not t.axes else None
            if overlap is not None and overlap.width > TOLERANCE and overlap.height > TOLERANCE:
                problems.append(f"text {t.get_text()!r} over the panel {ax.get_title(loc='left') or ax.get_label()!r}")
        if t.get_fontsize() < F.MIN_FONT - 1e-9:
            problems.append(f"text {t.get_text()!r} at {t.get_fontsize():.1f} pt")
    if fig.get_figwidth() > F.MAX_WIDTH + 1e-9:
        problems.append(f"{fig.get_figwidth():.2f} in wide: the page would shrink it")
    return problems


def _contains(outer: Bbox, inner: Bbox) -> bool:
    return (outer.x0 <= inner.x0 and inner.x1 <= outer.x1 and outer.y0 <= inner.y0 and inner.y1 <= outer.y1)


@pytest.fixture
def saved_figures(monkeypatch):
    """The figures ``build_report`` saves, as matplotlib figures (after saving, laid out as saved)."""
    figures = {}
    save = F.save_figure

    def keep(fig, directory, name, caption, alt):
        saved = save(fig, directory, name, caption, alt)
        figures[name] = (fig, saved)
        return saved

    monkeypatch.setattr(F, "save_figure", keep)
    return figures


DEMO = dict(targets=("syn_qa",), languages=("en", "xa", "xb", "xc"), seeds=(0,), n=80, max_lens=(64, 128, 256),
            intermediates={("syn_longqa",): 3.0, ("syn_nli",): 0.0})


STUDIES = {
    "demo": lambda: every_bucket(synthetic_examples(**DEMO)),
    "mini": lambda: mini_study_examples(n=40, seeds=(1,)),
    "two targets": lambda: synthetic_examples(n=60, seeds=(1,)),  # stacked heatmap panels, a 3-column trend grid
}


@pytest.mark.parametrize("study", STUDIES)
def test_every_report_figure_is_legible(tmp_path, saved_figures, study) -> None:
    examples = STUDIES[study]()
    root = write_synthetic_dir(tmp_path / study, examples=examples)
    page = build_report(root, n_resamples=20, seed=0).read_text(encoding="utf-8")
    assert set(saved_figures) == {"answer_slopes", "gain_heatmap_languages", "gain_heatmap_buckets",
                                  "gain_vs_max_len", "bucket_sizes", "retrieval_vs_max_len"}
    for name, (fig, saved) in saved_figures.items():
        assert legibility_problems(fig) == [], name
        # the page shows it at PX_PER_INCH CSS pixels per inch, which is what the fonts are sized for
        assert f'width="{saved.width_px}"' in page and saved.width_px == round(fig.get_figwidth() * F.PX_PER_INCH)


LONG = ["squad_v1-L384-equal_tokens", "hellaswag-L128-equal_steps", "squad_v1+hellaswag+mnli-L512-equal_tokens"]
BUCKETS = ["all", "quartile:1", "quartile:2", "quartile:3", "quartile:4 = long:top_quartile", "long:multi_window"]


def _trend_panels(n: int, lines: list[str]) -> list[F.TrendPanel]:
    lens = [128, 256, 384, 512]
    return [F.TrendPanel(f"{LONG[k % len(LONG)]} → all targets (test)", lens,
                         [F.TrendLine(b, b, [0.5 * i + j for j in range(4)], [i - 1.0] * 4, [i + 5.0] * 4)
                          for i, b in enumerate(lines)]) for k in range(n)]


def _heatmap(rows: int, columns: int) -> F.HeatmapPanel:
    values = np.linspace(-12.3, 14.6, rows * columns).reshape(rows, columns)
    return F.HeatmapPanel("pawsx (test): gain per length bucket (mean over languages and seeds)",
                          [LONG[i % len(LONG)] + f" @ {128 * (1 + i)}" for i in range(rows)],
                          [f"tokens:{c}-{c + 127}" for c in range(0, 128 * columns, 128)], values, values > 3)


EXTREMES = {
    "trend, one panel, six long buckets": lambda: F.trend_grid(_trend_panels(1, BUCKETS), ylabel="gain (points)",
                                                               columns=1),
    "trend, four columns": lambda: F.trend_grid(_trend_panels(8, BUCKETS), ylabel="gain over baseline (points)",
                                                columns=4),
    "trend, a panel without a trend": lambda: F.trend_grid(
        [*_trend_panels(1, BUCKETS), F.TrendPanel("mnli → xquad", [1, 2], message="no trend: " + "why " * 30)],
        ylabel="gain (points)", columns=2),
    "retrieval, eight series": lambda: F.value_lines(
        _trend_panels(2, LONG * 2 + ["x" * 70, "cosmosqa"]), ylabel="score (mean over languages)",
        reference=[40.0, None], reference_label="pretrained (no intermediate)"),
    "heatmap, 16 language columns": lambda: F.gain_heatmaps(
        [F.HeatmapPanel("panx (test): gain per language (1/3)", [f"{n} @ 512" for n in LONG[:2]],
                        [f"l{i}" for i in range(15)] + ["avg"], np.full((2, 16), -12.75), np.ones((2, 16), bool))],
        colorbar_label="gain over baseline (points)"),
    "heatmap, long bucket names, two panels": lambda: F.gain_heatmaps(
        [_heatmap(9, 10), _heatmap(4, 3)], colorbar_label="gain over baseline (points)"),
    "counts": lambda: F.count_heatmap(F.HeatmapPanel("examples per bucket", [f"tydiqa / l{i}" for i in range(9)],
                                                     BUCKETS, np.full((9, 6), 12345.0)), colorbar_label="examples"),
    "slopes, long names": lambda: F.slope_forest(
        [F.SlopeRow(n, label, 1.0, -2.0, 3.0) for n in LONG for label in ("long (long:multi_window)", "long − short")],
        xlabel="change of the gain per doubling of the max length (points)"),
}


@pytest.mark.parametrize("case", EXTREMES)
def test_figures_stay_legible_at_the_extremes(case) -> None:
    assert legibility_problems(EXTREMES[case]()) == []


def test_the_check_sees_a_legend_cut_off_at_the_edges() -> None:
    fig = F.trend_grid(_trend_panels(1, BUCKETS), ylabel="gain (points)", columns=1)
    legend = fig.legends[0]
    legend.remove()
    fig.legend(legend.legend_handles, [t.get_text() for t in legend.get_texts()], loc="outside lower center",
               ncols=len(BUCKETS))  # one row: wider than the figure
    assert any(p.startswith("legend") and "outside the figure" in p for p in legibility_problems(fig))


def test_the_widest_figure_fits_the_page_column() -> None:
    """``figures.MAX_WIDTH`` at ``PX_PER_INCH`` fits ``main``'s content box in the page's CSS."""
    main = re.search(r"main \{[^}]*max-width: (\d+)px;[^}]*padding: (\d+)px (\d+)px", CSS)
    assert main is not None
    assert F.MAX_WIDTH * F.PX_PER_INCH <= int(main.group(1)) - 2 * int(main.group(3))
