"""The report's figures, drawn with matplotlib's Agg canvas (no pyplot, no global backend switch).

Every function takes plain numbers and returns a :class:`matplotlib.figure.Figure`;
:func:`save_figure` writes it as PNG and SVG with fixed metadata and hash salt, so the same
numbers give byte-identical files.

Sizes are chosen for the page: the HTML shows a figure at :data:`PX_PER_INCH` CSS pixels per inch,
so 10 pt text is as large as the tables' text, and no figure is wider than the page's text column
(:data:`MAX_WIDTH`), where the browser would shrink it and its text with it. Everything is laid out
by constrained layout inside the figure's fixed size (no ``bbox_inches="tight"``, which would change
the size the HTML was told).
"""

from __future__ import annotations

import functools
import io
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import matplotlib
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.artist import Artist
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.lines import Line2D
from matplotlib.ticker import FixedLocator, NullLocator

RC = {
    "font.size": 11,
    "axes.titlesize": 11,
    "axes.labelsize": 11,
    "xtick.labelsize": 10,
    "ytick.labelsize": 10,
    "legend.fontsize": 10,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": False,
    "svg.hashsalt": "xstilts-report",
    "svg.fonttype": "none",   # text stays text in the SVG: editable, searchable, small
    "path.simplify": False,
    "figure.dpi": 100,
}
PNG_DPI = 150      # 1.5 image pixels per CSS pixel: sharp on high-density screens
PX_PER_INCH = 100  # CSS pixels per figure inch in the HTML: 10 pt = 13.9 px, the tables' 0.88rem
MAX_WIDTH = 11.0   # inches: the page's text column is 1116 CSS px (html.CSS, main)
MIN_FONT = 8.0     # points: no text smaller (heatmap values in the widest heatmaps)
DIVERGING = "RdBu"
BUCKET_COLORS = {
    "all": "#222222",
    "tokens:<=128": "#2166ac", "quartile:1": "#2166ac",
    "tokens:129-256": "#67a9cf", "quartile:2": "#67a9cf",
    "tokens:257-384": "#ef8a62", "quartile:3": "#ef8a62",
    "tokens:>384": "#b2182b", "quartile:4": "#b2182b", "long:top_quartile": "#b2182b",
    "long:multi_window": "#7b3294",
}
OTHER_COLORS = ("#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d", "#666666")


def rc_context():
    return matplotlib.rc_context(RC)


def new_figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


@dataclass
class SavedFigure:
    name: str
    caption: str
    png: bytes
    width_px: int      # display width in the HTML (CSS pixels)
    alt: str


def save_figure(fig: Figure, directory: Path, name: str, caption: str, alt: str) -> SavedFigure:
    """Write ``name.png`` and ``name.svg`` under ``directory``; returns the PNG bytes for embedding."""
    with rc_context():
        png = io.BytesIO()
        fig.savefig(png, format="png", dpi=PNG_DPI, metadata={"Software": None})
        fig.set_layout_engine("none")  # keep the positions the first draw laid out (layout is the slow part)
        svg = io.BytesIO()
        fig.savefig(svg, format="svg", metadata={"Date": None, "Creator": None})
    (directory / f"{name}.png").write_bytes(png.getvalue())
    (directory / f"{name}.svg").write_bytes(svg.getvalue())
    width = int(round(fig.get_figwidth() * PX_PER_INCH))
    return SavedFigure(name, caption, png.getvalue(), width, alt)


def _text_color(rgba) -> str:
    r, g, b = rgba[:3]
    return "black" if 0.299 * r + 0.587 * g + 0.114 * b > 0.55 else "white"


@functools.cache
def _renderer():
    return FigureCanvasAgg(Figure(dpi=100)).get_renderer()


def _inches(text: str, fontsize: float) -> float:
    """How wide ``text`` (its widest line) is at ``fontsize`` points, as Agg draws it."""
    renderer, font = _renderer(), FontProperties(size=fontsize)
    return max(renderer.get_text_width_height_descent(line, font, ismath=False)[0]
               for line in text.split("\n")) / renderer.dpi


def _label_width(labels: Sequence[str], fontsize: float) -> float:
    """Inches a column of tick labels takes, with the tick pad."""
    return 0.15 + max((_inches(s, fontsize) for s in labels), default=0.3)


def _wrap(text: str, width: float, fontsize: float) -> str:
    """``text`` in lines at most ``width`` inches wide, broken after spaces, '+', '/', '=' or '-'
    (condition names like "squad_v1+hellaswag-L512-equal_tokens" have no spaces)."""
    lines = [""]
    for piece in re.split(r"(?<=[ +/=-])", text):
        if lines[-1] and _inches((lines[-1] + piece).rstrip(), fontsize) > width:
            lines.append(piece)
        else:
            lines[-1] += piece
    return "\n".join(line.rstrip() for line in lines)


def _font_size(key: str) -> float:
    return FontProperties(size=matplotlib.rcParams[key]).get_size_in_points()


def _figure_legend(fig: Figure, handles: dict[str, Artist]) -> None:
    """One legend for all panels, below them, in the fewest rows whose columns fit the figure's width
    (constrained layout reserves a legend's height but not its width: a wider one is cut off at both
    edges), read left to right; the figure grows by the legend's height, so the panels keep theirs."""
    if not handles:
        return
    renderer = fig.canvas.get_renderer()
    n, artists = len(handles), list(handles.values())
    labels = [_wrap(label, fig.get_figwidth() - 1.0, _font_size("legend.fontsize")) for label in handles]
    for rows in range(1, n + 1):
        ncols = math.ceil(n / rows)  # balanced: 6 entries that fit 5 a row go 3 + 3, not 5 + 1
        # matplotlib fills a legend column by column: hand it the entries so that rows read in order
        order = [k for j in range(ncols) for k in range(j, n, ncols)]
        legend = fig.legend([artists[k] for k in order], [labels[k] for k in order],
                            loc="outside lower center", ncols=ncols, frameon=False)
        if ncols == 1 or legend.get_window_extent(renderer).width <= fig.bbox.width - 0.2 * fig.dpi:
            break
        legend.remove()
    fig.set_figheight(fig.get_figheight() + legend.get_window_extent(renderer).height / fig.dpi)


def symmetric_limit(values: Sequence[float], floor: float = 0.5) -> float:
    finite = [abs(v) for v in values if v is not None and math.isfinite(v)]
    return max([floor, *finite])


# ---------------------------------------------------------------- heatmaps


@dataclass
class HeatmapPanel:
    title: str
    rows: list[str]
    columns: list[str]
    values: np.ndarray                    # (rows, columns), NaN = no value
    marks: np.ndarray | None = None       # (rows, columns) bool: append "*"
    text: list[list[str]] | None = None   # overrides the annotation


def gain_heatmaps(panels: Sequence[HeatmapPanel], *, colorbar_label: str, limit: float | None = None,
                  digits: int = 1) -> Figure:
    """One heatmap per panel (stacked), a diverging colormap centred at 0, values annotated."""
    with rc_context():
        limit = limit or symmetric_limit([float(v) for p in panels for v in p.values.ravel()])
        norm = Normalize(vmin=-limit, vmax=limit)
        return _heatmaps(panels, norm=norm, cmap=DIVERGING, colorbar_label=colorbar_label,
                         fmt=lambda v: f"{v:+.{digits}f}")


def count_heatmap(panel: HeatmapPanel, *, colorbar_label: str) -> Figure:
    with rc_context():
        finite = panel.values[np.isfinite(panel.values)]
        norm = Normalize(vmin=0, vmax=float(finite.max()) if finite.size else 1.0)
        return _heatmaps([panel], norm=norm, cmap="Blues", colorbar_label=colorbar_label, fmt=lambda v: f"{v:.0f}")


def _heatmaps(panels, *, norm, cmap, colorbar_label, fmt) -> Figure:
    colormap = matplotlib.colormaps[cmap].with_extremes(bad="#eeeeee")
    texts = [[_cell_text(p, i, j, fmt) for j in range(len(p.columns))] for p in panels for i in range(len(p.rows))]
    tick_size = _font_size("xtick.labelsize")
    label_w = _label_width([r for p in panels for r in p.rows], tick_size)
    max_cols = max(len(p.columns) for p in panels)
    colorbar_w = 1.2
    # cells as wide as the page allows, at most 0.62 in, at least as wide as the widest value at
    # MIN_FONT; the values' font follows the cell width
    widest = max((_inches(t, 10.0) for row in texts for t in row), default=0.1) / 0.9  # at 10 pt, with a margin
    cell_w = max(widest * MIN_FONT / 10, min(0.62, (MAX_WIDTH - label_w - colorbar_w) / max_cols))
    fontsize = max(MIN_FONT, min(10.0, 10 * cell_w / widest))
    longest = max(_inches(c, tick_size) for p in panels for c in p.columns)
    rotate = longest > 0.9 * cell_w
    col_label_h = 0.3 + (0.6 * longest if rotate else 0.0)  # rotated 35°: sin 35° ≈ 0.57
    n_rows = sum(len(p.rows) for p in panels)
    cell_h = max(0.34, 1.3 / n_rows)  # the colorbar (as tall as the cells) needs room for its label
    heights = [cell_h * len(p.rows) + col_label_h + 0.4 for p in panels]
    fig = new_figure(max(6.0, label_w + cell_w * max_cols + colorbar_w), sum(heights) + 0.2)
    axes = fig.subplots(len(panels), 1, squeeze=False, gridspec_kw={"height_ratios": heights})[:, 0]
    image = None
    row = 0
    for ax, p in zip(axes, panels):
        data = np.ma.masked_invalid(np.asarray(p.values, dtype=float))
        image = ax.imshow(data, cmap=colormap, norm=norm, aspect="auto", interpolation="nearest")
        ax.set_title(_wrap(p.title, fig.get_figwidth() - label_w - colorbar_w, _font_size("axes.titlesize")),
                     loc="left")
        ax.set_xticks(range(len(p.columns)), p.columns, rotation=35 if rotate else 0,
                      ha="right" if rotate else "center", rotation_mode="anchor")
        ax.set_yticks(range(len(p.rows)), p.rows)
        ax.tick_params(length=0)
        for spine in ax.spines.values():
            spine.set_visible(False)
        ax.set_xticks(np.arange(-0.5, len(p.columns), 1), minor=True)
        ax.set_yticks(np.arange(-0.5, len(p.rows), 1), minor=True)
        ax.grid(which="minor", color="white", linewidth=1.2)
        ax.set_xlim(-0.5, max_cols - 0.5)  # cells as wide as the widest panel's; the rest of the row stays empty
        ax.tick_params(which="minor", length=0)
        for i in range(len(p.rows)):
            for j in range(len(p.columns)):
                v = p.values[i, j]
                color = "#555555" if not np.isfinite(v) else _text_color(colormap(norm(v)))
                ax.text(j, i, texts[row + i][j], ha="center", va="center", fontsize=fontsize, color=color)
        row += len(p.rows)
    fig.get_layout_engine().set(h_pad=0.12)
    fig.colorbar(image, ax=list(axes), label=_wrap(colorbar_label, cell_h * n_rows, _font_size("axes.labelsize")),
                 pad=0.02,
                 aspect=min(60.0, max(8.0, sum(heights) / 0.2)))
    return fig


def _cell_text(p: HeatmapPanel, i: int, j: int, fmt) -> str:
    if p.text is not None:
        return p.text[i][j]
    v = p.values[i, j]
    if not np.isfinite(v):
        return "–"
    return fmt(v) + ("*" if p.marks is not None and p.marks[i, j] else "")


# ---------------------------------------------------------------- gain vs max length


@dataclass
class TrendLine:
    label: str
    key: str                   # bucket name (picks the colour)
    values: Sequence[float]
    lows: Sequence[float] | None = None
    highs: Sequence[float] | None = None


@dataclass
class TrendPanel:
    title: str
    max_lens: Sequence[int]
    lines: list[TrendLine] = field(default_factory=list)
    message: str | None = None   # shown instead of lines


def _line_style(key: str, index: int) -> dict:
    color = BUCKET_COLORS.get(key, OTHER_COLORS[index % len(OTHER_COLORS)])
    style = {"color": color, "marker": "o", "linestyle": "-", "linewidth": 1.8, "markersize": 4.5}
    if key == "all":
        style.update(linestyle="--", marker="D", markersize=4)
    elif key.startswith("long:"):
        style.update(marker="s")
    return style


def _log2_axis(ax, max_lens: Sequence[int]) -> None:
    ax.set_xscale("log", base=2)
    ax.xaxis.set_major_locator(FixedLocator(list(max_lens)))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set_xticks(list(max_lens), [str(x) for x in max_lens])
    lo, hi = min(max_lens), max(max_lens)
    ax.set_xlim(lo / 2 ** 0.25, hi * 2 ** 0.25)


def _line_panels(panels: Sequence[TrendPanel], *, ylabel: str, columns: int, draw) -> Figure:
    """Panels of lines against the intermediate max length (log2 axis) in rows of ``columns``, the
    x label under each bottom panel, the y label left of each row, one legend below all.

    ``draw(ax, k, panel)`` draws panel ``k`` and returns its ``{label: handle}`` for the legend.
    """
    n = len(panels)
    ncols = min(columns, n)
    nrows = math.ceil(n / ncols)
    panel_w = min(3.7, MAX_WIDTH / ncols)
    fig = new_figure(max(5.0, panel_w * ncols), 3.0 * nrows + 0.3)
    fig.get_layout_engine().set(wspace=0.06)  # a panel's y tick labels apart from its left neighbour
    axes = list(fig.subplots(nrows, ncols, squeeze=False).ravel())
    for ax in axes[n:]:
        ax.set_visible(False)
    handles: dict[str, Artist] = {}
    for k, (ax, p) in enumerate(zip(axes, panels)):
        # a title starts at the axes' left edge, right of the tick labels
        ax.set_title(_wrap(p.title, panel_w - 0.7, _font_size("axes.titlesize")), loc="left")
        if p.message:
            ax.text(0.5, 0.5, _wrap(p.message, panel_w - 0.8, _font_size("font.size")), ha="center", va="center",
                    transform=ax.transAxes, color="#555555")
            ax.set_xticks([])
            ax.set_yticks([])
            continue
        for label, handle in draw(ax, k, p).items():
            handles.setdefault(label, handle)
        _log2_axis(ax, p.max_lens)
        if k + ncols >= n:  # nothing below: label the x axis (the captions say it is log2)
            ax.set_xlabel(_wrap("intermediate max length (tokens)", panel_w - 0.7, _font_size("axes.labelsize")))
        if k % ncols == 0:
            ax.set_ylabel(ylabel)
        ax.grid(axis="y", color="#e5e5e5", linewidth=0.6)
    _figure_legend(fig, handles)
    return fig


def trend_grid(panels: Sequence[TrendPanel], *, ylabel: str, columns: int = 3) -> Figure:
    """Gain vs intermediate max length (log2 axis), one line (with CI band) per bucket, per panel,
    in rows of ``columns`` panels; ``columns=1`` (one panel per row) lays the panels side by side
    instead, up to three a row, as one tall column of them leaves the page's width empty."""
    def draw(ax, k, p):
        handles = {}
        ax.axhline(0, color="#888888", linewidth=0.8, zorder=0)
        for i, line in enumerate(p.lines):
            style = _line_style(line.key, i)
            (handles[line.label],) = ax.plot(p.max_lens, line.values, label=line.label, **style)
            if line.lows is not None and line.highs is not None:
                ax.fill_between(p.max_lens, line.lows, line.highs, color=style["color"], alpha=0.12, linewidth=0)
        return handles

    with rc_context():
        panels = [p if p.lines else TrendPanel(p.title, p.max_lens, message=p.message or "no data") for p in panels]
        return _line_panels(panels, ylabel=ylabel, columns=columns if columns > 1 else min(len(panels), 3), draw=draw)


def value_lines(panels: Sequence[TrendPanel], *, ylabel: str, reference: Sequence[float | None],
                reference_label: str, columns: int = 3) -> Figure:
    """Values vs max length, one line per series, a dashed horizontal reference per panel."""
    def draw(ax, k, p):
        handles = {}
        if reference[k] is not None:
            handles[reference_label] = ax.axhline(reference[k], color="#555555", linestyle="--", linewidth=1.2)
        for i, line in enumerate(p.lines):
            (handles[line.label],) = ax.plot(p.max_lens, line.values, marker="o", linewidth=1.8, markersize=4.5,
                                             color=OTHER_COLORS[i % len(OTHER_COLORS)], label=line.label)
        return handles

    with rc_context():
        return _line_panels(panels, ylabel=ylabel, columns=columns, draw=draw)


# ---------------------------------------------------------------- slopes


@dataclass
class SlopeRow:
    group: str
    label: str
    value: float
    low: float
    high: float
    emphasis: bool = False


def slope_forest(rows: Sequence[SlopeRow], *, xlabel: str) -> Figure:
    """Estimates with their intervals, grouped, against a vertical line at 0."""
    with rc_context():
        labels = [f"{r.group}: {r.label}" for r in rows]
        label_w = _label_width(labels, _font_size("ytick.labelsize"))
        fig = new_figure(min(MAX_WIDTH, max(6.5, label_w + 4.5)), 0.9 + 0.36 * len(rows))
        ax = fig.subplots()
        y = np.arange(len(rows))[::-1]
        ax.axvline(0, color="#888888", linewidth=0.8)
        for yi, r in zip(y, rows):
            color = "#b2182b" if r.emphasis else "#2166ac"
            # A percentile-bootstrap interval need not contain the estimate (and a null effect gives
            # [0, 0] around a rounding-level estimate): draw the interval, never a negative arm.
            arms = [[max(0.0, r.value - r.low)], [max(0.0, r.high - r.value)]]
            ax.errorbar([r.value], [yi], xerr=arms, fmt="o", color=color,
                        capsize=3, markersize=5, linewidth=1.6)
        ax.set_yticks(y, labels)
        ax.set_xlabel(xlabel)
        ax.tick_params(axis="y", length=0)
        ax.spines["left"].set_visible(False)
        ax.grid(axis="x", color="#e5e5e5", linewidth=0.6)
        ax.set_ylim(-0.7, len(rows) - 0.3)
        return fig
