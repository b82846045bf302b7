"""The report's figures, drawn with matplotlib's Agg canvas (no pyplot, no global backend switch).

Every function takes plain numbers and returns a :class:`matplotlib.figure.Figure`;
:func:`save_figure` writes it as PNG and SVG with fixed metadata and hash salt, so the same
numbers give byte-identical files.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import matplotlib
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import FixedLocator, NullLocator

RC = {
    "font.size": 10,
    "axes.titlesize": 10.5,
    "axes.labelsize": 10,
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
    "legend.fontsize": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": False,
    "svg.hashsalt": "xstilts-report",
    "svg.fonttype": "none",   # text stays text in the SVG: editable, searchable, small
    "path.simplify": False,
    "figure.dpi": 100,
}
PNG_DPI = 150
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
    width = int(round(fig.get_figwidth() * 100))
    return SavedFigure(name, caption, png.getvalue(), width, alt)


def _text_color(rgba) -> str:
    r, g, b = rgba[:3]
    return "black" if 0.299 * r + 0.587 * g + 0.114 * b > 0.55 else "white"


def _label_width(labels: Sequence[str], fontsize: float = 9) -> float:
    """Inches a column of tick labels needs (roughly)."""
    return 0.3 + 0.55 * fontsize / 72 * max((len(s) for s in labels), default=4)


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
    cell_w, cell_h = 0.62, 0.34
    label_w = _label_width([r for p in panels for r in p.rows])
    max_cols = max(len(p.columns) for p in panels)
    col_label_h = max(0.35, 0.065 * max(len(c) for p in panels for c in p.columns))
    heights = [cell_h * len(p.rows) + col_label_h + 0.35 for p in panels]
    width = min(15.0, max(6.0, label_w + cell_w * max_cols + 1.3))
    fig = new_figure(width, sum(heights) + 0.2)
    axes = fig.subplots(len(panels), 1, squeeze=False, gridspec_kw={"height_ratios": heights})[:, 0]
    colormap = matplotlib.colormaps[cmap].with_extremes(bad="#eeeeee")
    image = None
    fontsize = 9 if max_cols <= 12 else 7.5
    for ax, p in zip(axes, panels):
        data = np.ma.masked_invalid(np.asarray(p.values, dtype=float))
        image = ax.imshow(data, cmap=colormap, norm=norm, aspect="auto", interpolation="nearest")
        ax.set_title(p.title, loc="left")
        ax.set_xticks(range(len(p.columns)), p.columns, rotation=35 if col_label_h > 0.4 else 0,
                      ha="right" if col_label_h > 0.4 else "center", rotation_mode="anchor")
        ax.set_yticks(range(len(p.rows)), p.rows)
        ax.tick_params(length=0)
        for spine in ax.spines.values():
            spine.set_visible(False)
        ax.set_xticks(np.arange(-0.5, len(p.columns), 1), minor=True)
        ax.set_yticks(np.arange(-0.5, len(p.rows), 1), minor=True)
        ax.grid(which="minor", color="white", linewidth=1.2)
        ax.tick_params(which="minor", length=0)
        for i in range(len(p.rows)):
            for j in range(len(p.columns)):
                v = p.values[i, j]
                if p.text is not None:
                    label = p.text[i][j]
                elif not np.isfinite(v):
                    label = "–"
                else:
                    label = fmt(v) + ("*" if p.marks is not None and p.marks[i, j] else "")
                color = "#555555" if not np.isfinite(v) else _text_color(colormap(norm(v)))
                ax.text(j, i, label, ha="center", va="center", fontsize=fontsize, color=color)
    fig.get_layout_engine().set(h_pad=0.12)
    fig.colorbar(image, ax=list(axes), label=colorbar_label, pad=0.02,
                 aspect=min(60.0, max(8.0, sum(heights) / 0.2)))
    return fig


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


def _panel_grid(n: int, columns: int, extra_height: float):
    """A figure with ``n`` panels in rows of ``columns`` (unused slots hidden); returns (fig, axes, ncols)."""
    ncols = min(columns, n)
    nrows = math.ceil(n / ncols)
    fig = new_figure(max(5.0, 3.7 * ncols), 3.0 * nrows + extra_height)
    axes = list(fig.subplots(nrows, ncols, squeeze=False).ravel())
    for ax in axes[n:]:
        ax.set_visible(False)
    return fig, axes[:n], ncols


def trend_grid(panels: Sequence[TrendPanel], *, ylabel: str, columns: int = 3) -> Figure:
    """Gain vs intermediate max length (log2 axis), one line (with CI band) per bucket, per panel."""
    with rc_context():
        n = len(panels)
        fig, axes, ncols = _panel_grid(n, columns, 0.7)
        handles: dict[str, Line2D] = {}
        for k, ax in enumerate(axes):
            p = panels[k]
            ax.set_title(p.title, loc="left")
            if p.message or not p.lines:
                ax.text(0.5, 0.5, p.message or "no data", ha="center", va="center", wrap=True,
                        transform=ax.transAxes, color="#555555")
                ax.set_xticks([])
                ax.set_yticks([])
                continue
            ax.axhline(0, color="#888888", linewidth=0.8, zorder=0)
            for i, line in enumerate(p.lines):
                style = _line_style(line.key, i)
                (h,) = ax.plot(p.max_lens, line.values, label=line.label, **style)
                if line.lows is not None and line.highs is not None:
                    ax.fill_between(p.max_lens, line.lows, line.highs, color=style["color"], alpha=0.12,
                                    linewidth=0)
                handles.setdefault(line.label, h)
            _log2_axis(ax, p.max_lens)
            if k + ncols >= n:  # nothing below: label the x axis
                ax.set_xlabel("intermediate max length (tokens, log2 scale)")
            if k % ncols == 0:
                ax.set_ylabel(ylabel)
            ax.grid(axis="y", color="#e5e5e5", linewidth=0.6)
        if handles:
            fig.legend(list(handles.values()), list(handles), loc="outside lower center",
                       ncols=min(len(handles), 4), frameon=False)
        return fig


def value_lines(panels: Sequence[TrendPanel], *, ylabel: str, reference: Sequence[float | None],
                reference_label: str, columns: int = 3) -> Figure:
    """Values vs max length, one line per series, a dashed horizontal reference per panel."""
    with rc_context():
        n = len(panels)
        fig, axes, ncols = _panel_grid(n, columns, 0.6)
        handles: dict[str, Line2D] = {}
        for k, ax in enumerate(axes):
            p = panels[k]
            ax.set_title(p.title, loc="left")
            if reference[k] is not None:
                h = ax.axhline(reference[k], color="#555555", linestyle="--", linewidth=1.2)
                handles.setdefault(reference_label, h)
            for i, line in enumerate(p.lines):
                (h,) = ax.plot(p.max_lens, line.values, marker="o", linewidth=1.8, markersize=4.5,
                               color=OTHER_COLORS[i % len(OTHER_COLORS)], label=line.label)
                handles.setdefault(line.label, h)
            _log2_axis(ax, p.max_lens)
            ax.set_xlabel("intermediate max length (tokens, log2 scale)")
            ax.set_ylabel(ylabel)
            ax.grid(axis="y", color="#e5e5e5", linewidth=0.6)
        if handles:
            fig.legend(list(handles.values()), list(handles), loc="outside lower center",
                       ncols=min(len(handles), 4), frameon=False)
        return fig


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
        fig = new_figure(max(6.5, _label_width(labels) + 4.5), 0.9 + 0.36 * len(rows))
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
        ax.tick_params(axis="y", length=0, labelsize=10)
        ax.spines["left"].set_visible(False)
        ax.grid(axis="x", color="#e5e5e5", linewidth=0.6)
        ax.set_ylim(-0.7, len(rows) - 0.3)
        return fig
