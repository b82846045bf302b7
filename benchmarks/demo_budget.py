"""Wall time of ``xstilts demo`` by stage, against its 5-minute budget on a 2-core CPU.

    python benchmarks/demo_budget.py [--out DIR]        (or: python -m benchmarks --only demo_budget)

Runs the real command in a subprocess, then reads the grid's own records (each node attempt's start
and end, written by the worker that ran it) to split the wall time into: the driver's preparation
(imports, the world), the pretraining every run waits on, the runs (intermediate, target and
zero-shot nodes; two local workers, so their node seconds add up to more than their wall time),
and the report. Also prints the demo's answer paragraphs, so a faster demo can be checked for
giving the same answer.
"""

from __future__ import annotations

import argparse
import html
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BUDGET_SECONDS = 300


def stages(out: Path, started: float, ended: float) -> list[dict]:
    """Rows (stage, seconds) from the grid folder of a finished demo in ``out``."""
    attempts = []
    for record in sorted((out / "grid" / "nodes").glob("*.json")):
        node = json.loads(record.read_text())
        done = [a for a in node["attempts"] if not a.get("error")]
        if done:
            attempts.append((node["id"], done[-1]["started"], done[-1]["ended"]))
    attempts.sort(key=lambda a: a[1])
    pretrain = [a for a in attempts if a[0].startswith("pretrained-")]
    runs = [a for a in attempts if not a[0].startswith("pretrained-")]
    rows = [{"case": "prepare (imports, world, graph)", "seconds": attempts[0][1] - started}]
    rows += [{"case": "pretraining (tokenizer, MLM curriculum)", "seconds": a[2] - a[1]} for a in pretrain]
    by_kind: dict[str, list[float]] = {}
    for node_id, start, end in runs:
        kind = "zero_shot_eval" if node_id.endswith("zero_shot_eval") else node_id.split("-")[0]
        by_kind.setdefault(kind, []).append(end - start)
    for kind, seconds in by_kind.items():
        rows.append({"case": f"  {kind}: {len(seconds)} nodes, node-seconds (median {sorted(seconds)[len(seconds) // 2]:.1f})",
                     "seconds": sum(seconds)})
    first, last = min(a[1] for a in runs), max(a[2] for a in runs)
    rows.append({"case": f"runs after pretraining ({len(runs)} nodes, wall)", "seconds": last - first})
    rows.append({"case": "report", "seconds": ended - last})
    rows.append({"case": f"TOTAL xstilts demo (budget {BUDGET_SECONDS} s)", "seconds": ended - started})
    return rows


def answers(out: Path) -> list[str]:
    """The report's answer paragraphs, as text."""
    page = (out / "report" / "index.html").read_text(encoding="utf-8")
    found = re.findall(r'<p class="answer[^"]*">(.*?)</p>', page, re.S)
    return [re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", "", a))).strip() for a in found]


def run(quick: bool = False, *, out: Path | None = None, echo=print) -> list[dict]:
    """One timed ``xstilts demo`` (``quick``: skipped, it takes minutes)."""
    if quick:
        echo("demo_budget: skipped under --quick (one demo takes minutes)")
        return []
    out = Path(out or tempfile.mkdtemp(prefix="xstilts-demo-budget-")) / "demo"
    started = time.time()
    done = subprocess.run([sys.executable, "-m", "xstilts", "demo", "--out", str(out), "--no-progress"],
                          capture_output=True, text=True)
    ended = time.time()
    if done.returncode != 0:
        raise RuntimeError(f"xstilts demo failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    rows = stages(out, started, ended)
    echo(f"{'stage':<62} {'seconds':>8}")
    for row in rows:
        echo(f"{row['case']:<62} {row['seconds']:>8.1f}")
    total = rows[-1]["seconds"]
    echo(f"{'OK' if total <= BUDGET_SECONDS else 'OVER'}: {total:.0f} s of {BUDGET_SECONDS} s; outputs in {out}")
    for paragraph in answers(out):
        echo(f"answer: {paragraph}")
    return [{**row, "benchmark": "demo_budget"} for row in rows]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=None, help="folder for the demo's outputs (default: a temp folder)")
    args = parser.parse_args()
    run(out=args.out)


if __name__ == "__main__":
    main()
