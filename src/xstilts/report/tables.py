"""Tables for the report and for papers: one :class:`Table` renders to HTML, CSV and LaTeX.

A table holds display cells (text or numbers, formatted per column) and, optionally, separate
machine-readable records for the CSV (e.g. a gain and its interval as three numeric columns where
the display shows ``+1.23 [+0.40, +2.10]``). The LaTeX is a booktabs ``table`` float
(``\\usepackage{booktabs}``) with every special character escaped.
"""

from __future__ import annotations

import csv
import html
import io
import math
from dataclasses import dataclass, field
from typing import Callable, Sequence

Cell = object  # str | int | float | None
PLACEHOLDERS = ("not recorded", "–", "")


def fmt_number(value, digits: int = 1, *, sign: bool = False) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return f"{value:+d}" if sign else f"{value:d}"
    if isinstance(value, float):
        return f"{value:+.{digits}f}" if sign else f"{value:.{digits}f}"
    return str(value)


def fmt_auto(value) -> str:
    """A statistic of unknown scale: integers as integers, else about four significant digits."""
    if isinstance(value, float) and math.isfinite(value):
        if value.is_integer() and abs(value) < 1e15:
            return f"{int(value):d}"
        if abs(value) >= 1000:
            return f"{value:.1f}"
        return f"{value:.4g}"
    return fmt_number(value)


def fmt_ci(value, low, high, digits: int = 2) -> str:
    """``+1.23 [+0.40, +2.10]`` (no interval part when the bounds are unknown)."""
    if value is None:
        return "–"
    if low is None or high is None:
        return fmt_number(value, digits, sign=True)
    return f"{value:+.{digits}f} [{low:+.{digits}f}, {high:+.{digits}f}]"


@dataclass
class Table:
    name: str                       # file stem under tables/
    title: str
    caption: str
    columns: list[str]
    rows: list[list[Cell]]
    digits: dict[int, int | str] = field(default_factory=dict)  # column → decimals (default 1), "auto"
    signed: set[int] = field(default_factory=set)            # columns shown with a sign
    bold: set[tuple[int, int]] = field(default_factory=set)  # (row, column) cells in bold
    records: list[dict] | None = None                        # CSV rows (default: the display rows)
    group_rule_after: set[int] = field(default_factory=set)  # rows followed by a \midrule
    ci_columns: set[int] = field(default_factory=set)        # "value [low, high]" cells: two lines in HTML
    notes: list[str] = field(default_factory=list)

    # ---------------------------------------------------------------- cells

    def text(self, i: int, j: int) -> str:
        value = self.rows[i][j]
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            digits = self.digits.get(j, 1)
            if digits == "auto":
                return fmt_auto(value)
            return fmt_number(value, int(digits), sign=j in self.signed)
        return "–" if value is None else str(value)

    def numeric(self, j: int) -> bool:
        values = [r[j] for r in self.rows if r[j] is not None and r[j] not in PLACEHOLDERS]
        return bool(values) and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)

    def right_aligned(self, j: int) -> bool:
        if j == 0:
            return False
        return self.numeric(j) or all(_looks_numeric(self.text(i, j)) for i in range(len(self.rows)))

    # ---------------------------------------------------------------- renderings

    def to_csv(self) -> str:
        buf = io.StringIO()
        if self.records is not None:
            fields = list(dict.fromkeys(k for r in self.records for k in r))
            writer = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n")
            writer.writeheader()
            for r in self.records:
                writer.writerow({k: _csv_value(r.get(k)) for k in fields})
        else:
            writer = csv.writer(buf, lineterminator="\n")
            writer.writerow(self.columns)
            for row in self.rows:
                writer.writerow([_csv_value(v) for v in row])
        return buf.getvalue()

    def to_latex(self) -> str:
        spec = "".join("r" if self.right_aligned(j) else "l" for j in range(len(self.columns)))
        lines = ["% requires \\usepackage{booktabs}", "\\begin{table}[t]", "\\centering", "\\small",
                 f"\\begin{{tabular}}{{{spec}}}", "\\toprule",
                 " & ".join(latex_escape(c) for c in self.columns) + " \\\\", "\\midrule"]
        for i in range(len(self.rows)):
            cells = []
            for j in range(len(self.columns)):
                cell = latex_escape(self.text(i, j))
                cells.append(f"\\textbf{{{cell}}}" if (i, j) in self.bold else cell)
            lines.append(" & ".join(cells) + " \\\\")
            if i in self.group_rule_after and i != len(self.rows) - 1:
                lines.append("\\midrule")
        caption = self.caption + ("" if not self.notes else " " + " ".join(self.notes))
        lines += ["\\bottomrule", "\\end{tabular}", f"\\caption{{{latex_escape(caption)}}}",
                  f"\\label{{tab:{latex_label(self.name)}}}", "\\end{table}", ""]
        return "\n".join(lines)

    def to_html(self, number: int, *, files: bool = True) -> str:
        head = "".join(f'<th class="{"num" if self.right_aligned(j) else "txt"}">{html.escape(c)}</th>'
                       for j, c in enumerate(self.columns))
        body = []
        for i in range(len(self.rows)):
            cells = []
            for j in range(len(self.columns)):
                text = html.escape(self.text(i, j))
                if j in self.ci_columns and " [" in text:
                    value, interval = text.split(" [", 1)
                    text = f'{value}<br><span class="ci">[{interval}</span>'
                if (i, j) in self.bold:
                    text = f"<strong>{text}</strong>"
                cls = "num" if self.right_aligned(j) else "txt wrap" if len(self.text(i, j)) > 28 else "txt"
                cells.append(f'<td class="{cls}">{text}</td>')
            cls = ' class="group-end"' if i in self.group_rule_after and i < len(self.rows) - 1 else ""
            body.append(f"<tr{cls}>{''.join(cells)}</tr>")
        links = (f' <span class="files">(<a href="tables/{self.name}.csv">csv</a>, '
                 f'<a href="tables/{self.name}.tex">tex</a>)</span>') if files else ""
        notes = "".join(f" {html.escape(n)}" for n in self.notes)
        return (f'<div class="table-block" id="table-{html.escape(self.name)}">'
                f'<p class="caption"><b>Table {number}.</b> {html.escape(self.caption)}{notes}{links}</p>'
                f'<div class="table-wrap"><table>'
                f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table></div></div>")


def _csv_value(value) -> object:
    if value is None:
        return ""
    if isinstance(value, float):
        return "" if not math.isfinite(value) else repr(round(value, 6))
    if isinstance(value, (list, tuple, set)):
        return " ".join(str(v) for v in value)
    return value


def _looks_numeric(text: str) -> bool:
    t = text.strip().lstrip("+-–").split(" ")[0]
    try:
        float(t)
        return True
    except ValueError:
        return text.strip() in ("–", "")


_LATEX = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{",
          "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "<": r"\textless{}",
          ">": r"\textgreater{}", "–": "--", "−": "-", "×": r"$\times$", "±": r"$\pm$", "≤": r"$\leq$",
          "≥": r"$\geq$", "→": r"$\rightarrow$", "·": r"$\cdot$"}


def latex_escape(text: str) -> str:
    return "".join(_LATEX.get(ch, ch) for ch in str(text))


def latex_label(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-:" else "-" for ch in name)


def column_best(rows: Sequence[Sequence[Cell]], columns: Sequence[int], *, higher: bool = True,
                skip: Callable[[int], bool] = lambda i: False) -> set[tuple[int, int]]:
    """Cells holding the best number of each column (ties all bold)."""
    out = set()
    for j in columns:
        values = [(i, r[j]) for i, r in enumerate(rows)
                  if not skip(i) and isinstance(r[j], (int, float)) and math.isfinite(r[j])]
        if len(values) < 2:
            continue
        best = (max if higher else min)(v for _, v in values)
        out |= {(i, j) for i, v in values if round(v, 6) == round(best, 6)}
    return out
