"""One self-contained HTML page: inline CSS, figures as base64 PNG, no scripts, fonts or links out
(the only links point at the CSV/TeX files written beside it)."""

from __future__ import annotations

import base64
import html
from typing import Sequence

from xstilts.report.figures import SavedFigure
from xstilts.report.sections import Details, Html, Note, Section
from xstilts.report.tables import Table

CSS = """
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { margin: 0; background: #f6f7f9; color: #1d2127;
       font: 16px/1.55 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
main { max-width: 1180px; margin: 0 auto; padding: 28px 32px 60px; background: #fff; min-height: 100vh;
       box-shadow: 0 0 0 1px #e3e6ea; }
h1 { font-size: 1.75rem; margin: 0 0 4px; line-height: 1.25; }
h2 { font-size: 1.3rem; margin: 44px 0 12px; padding-bottom: 6px; border-bottom: 2px solid #e3e6ea; }
.subtitle { color: #57606a; margin: 0 0 18px; }
nav.toc { background: #f6f8fa; border: 1px solid #e3e6ea; border-radius: 6px; padding: 10px 16px; margin: 16px 0; }
nav.toc ol { margin: 4px 0; padding-left: 22px; columns: 2; }
a { color: #0b5cad; }
p.question { font-style: italic; color: #3b434c; }
p.answer { background: #f4f8fd; border-left: 4px solid #2166ac; padding: 10px 14px; border-radius: 0 6px 6px 0; }
p.answer.significant { border-left-color: #b2182b; background: #fdf5f4; }
p.caveat { color: #57606a; font-size: 0.93rem; }
.note { background: #fff8e5; border: 1px solid #f0d58c; border-radius: 6px; padding: 8px 12px; margin: 10px 0;
        font-size: 0.95rem; }
.note.info { background: #f6f8fa; border-color: #e3e6ea; }
.note.warning { background: #fdf0ef; border-color: #e5a29b; }
.missing { background: #fff8e5; border: 1px solid #f0d58c; border-radius: 6px; padding: 8px 14px; margin: 12px 0; }
.missing ul { margin: 6px 0 2px; padding-left: 22px; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 4px 18px; margin: 10px 0; }
dl.facts dt { font-weight: 600; color: #3b434c; }
dl.facts dd { margin: 0; overflow-wrap: anywhere; }
figure { margin: 22px 0; }
figure img { display: block; max-width: 100%; height: auto; margin: 0 auto; }
figcaption, p.caption { font-size: 0.92rem; color: #3b434c; text-align: left; line-height: 1.45; }
figcaption { margin-top: 8px; }
.table-block { margin: 22px 0; }
p.caption { margin: 0 0 8px; }
.table-wrap { overflow-x: auto; }
table { border-collapse: collapse; font-size: 0.88rem; font-variant-numeric: tabular-nums; }
thead th { border-top: 2px solid #1d2127; border-bottom: 1px solid #1d2127; padding: 5px 8px; font-weight: 600;
           vertical-align: bottom; }
tbody td { padding: 4px 8px; border-bottom: 1px solid #eef0f2; vertical-align: top; }
td.num, td.txt { white-space: nowrap; }
td.txt.wrap { white-space: normal; min-width: 14em; }
span.ci { color: #57606a; font-size: 0.86em; }
tbody tr:last-child td { border-bottom: 2px solid #1d2127; }
tbody tr.group-end td { border-bottom: 1px solid #8c959f; }
td.num, th.num { text-align: right; }
td.txt, th.txt { text-align: left; }
.files { font-size: 0.85rem; }
details { margin: 14px 0; }
details > summary { cursor: pointer; font-weight: 600; color: #0b5cad; }
footer { margin-top: 40px; font-size: 0.85rem; color: #57606a; }
@media print { body { background: #fff; } main { box-shadow: none; } details { display: block; } }
"""


class Numbering:
    def __init__(self) -> None:
        self.tables = 0
        self.figures = 0


def render_block(block, n: Numbering) -> str:
    if isinstance(block, Html):
        return block.markup
    if isinstance(block, Note):
        cls = "note warning" if block.warning else "note" if block.missing else "note info"
        return f'<div class="{cls}">{html.escape(block.text)}</div>'
    if isinstance(block, Table):
        n.tables += 1
        return block.to_html(n.tables)
    if isinstance(block, SavedFigure):
        n.figures += 1
        data = base64.b64encode(block.png).decode("ascii")
        return (f'<figure id="figure-{html.escape(block.name)}"><img src="data:image/png;base64,{data}" '
                f'width="{block.width_px}" alt="{html.escape(block.alt)}">'
                f"<figcaption><b>Figure {n.figures}.</b> {html.escape(block.caption)} "
                f'<span class="files">(<a href="figures/{block.name}.png">png</a>, '
                f'<a href="figures/{block.name}.svg">svg</a>)</span></figcaption></figure>')
    if isinstance(block, Details):
        inner = "".join(render_block(b, n) for b in block.blocks)
        return f"<details><summary>{html.escape(block.summary)}</summary>{inner}</details>"
    raise TypeError(f"cannot render {type(block).__name__}")


def render_page(sections: Sequence[Section], *, title: str, subtitle: str, footer: str) -> str:
    n = Numbering()
    toc = "".join(f'<li><a href="#{s.id}">{html.escape(s.title)}</a></li>' for s in sections)
    body = []
    for s in sections:
        inner = "".join(render_block(b, n) for b in s.blocks)
        body.append(f'<section id="{s.id}"><h2>{html.escape(s.title)}</h2>{inner}</section>')
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title><style>{CSS}</style></head>\n"
        f"<body><main><h1>{html.escape(title)}</h1><p class=\"subtitle\">{html.escape(subtitle)}</p>"
        f'<nav class="toc"><b>Contents</b><ol>{toc}</ol></nav>\n'
        + "\n".join(body)
        + f"\n<footer>{html.escape(footer)}</footer></main></body></html>\n"
    )
