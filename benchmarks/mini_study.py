"""The seqlen study on real weights and real data, CPU-sized: `xstilts study seqlen --preset mini`.

    python benchmarks/mini_study.py [--out DIR] [--resamples 1000] [--set KEY=VALUE ...]

Builds the shared mini multilingual encoder (multilingual-e5-small, XLM-R vocabulary), runs the
``mini`` preset on it with the real files of ``$XSTILTS_DATA_DIR`` (an existing ``--out`` resumes),
and prints: the wall time against the 90-minute budget, the report's answer, retrieval before and
after each intermediate run (and on the random-init control), and zero-shot XQuAD per language for
every condition against the random-init control, with 95% paired-bootstrap CIs over questions.
"""

from __future__ import annotations

import argparse
import html
import json
import os
import re
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from _common import build_mini_encoder, paired_difference_ci, score_ci

BUDGET_SECONDS = 90 * 60


def _rows(path: Path, **match) -> list[dict]:
    from xstilts.pipeline.results import latest_rows

    return [r for r in latest_rows(path) if all(r[k] == v for k, v in match.items())]


def _examples(path: Path) -> dict[tuple, list[dict]]:
    """Example rows by (phase, intermediate max length or None, task, language), last run wins."""
    out: dict[tuple, dict[str, dict]] = defaultdict(dict)
    with open(path, encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            key = (r["phase"], r["intermediate_max_len"] if r["intermediate"] else None, r["task"], r["language"])
            out[key][r["example_id"]] = r
    return {k: list(v.values()) for k, v in out.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=None)
    parser.add_argument("--resamples", type=int, default=1000)
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    args = parser.parse_args()
    from xstilts.study import load_preset, run_study

    cache = Path(os.environ.get("XSTILTS_TEST_CACHE", Path(tempfile.gettempdir()) / "xstilts-test-cache"))
    overrides = [f"pretrained.model={build_mini_encoder(cache)}", *args.overrides]
    study = load_preset("mini", overrides)
    out = Path(args.out or tempfile.mkdtemp(prefix="xstilts-mini-"))
    start = time.perf_counter()
    summary = run_study("mini", out, progress=False, overrides=overrides, echo=lambda m: print(m, flush=True))
    wall = time.perf_counter() - start
    print(f"\nwall time {wall / 60:.1f} min ({wall:.0f} s; budget {BUDGET_SECONDS // 60} min: "
          f"{'within' if wall <= BUDGET_SECONDS else 'OVER'}); report: {summary.get('report')}")

    page = out / "report" / "index.html"
    if page.exists():
        print("\n## Answer (the report's answer paragraphs)")
        for para in re.findall(r'<p class="answer[^"]*">(.*?)</p>', page.read_text(encoding="utf-8"), re.S):
            print(html.unescape(re.sub(r"<[^>]+>", "", para)).strip())

    lengths = study.max_lengths
    print("\n## Retrieval before / after English intermediate training (squad_v1; Tatoeba accuracy, "
          "BUCC-style F1)")
    head = ["task", "lang", "bare", *[f"after L{n}" for n in lengths], "control (random init)"]
    print(" | ".join(head))
    res, ctl = out / "results.jsonl", out / "control" / "results.jsonl"
    for task, metric in (("tatoeba", "accuracy"), ("bucc2018", "f1")):
        rows = _rows(res, phase="retrieval_eval", task=task, metric=metric)
        control = {r["language"]: r["value"] for r in _rows(ctl, phase="retrieval_eval", task=task, metric=metric)}
        by = {(r["language"], r["intermediate_max_len"] if r["intermediate"] else None): r["value"] for r in rows}
        for lang in sorted({k[0] for k in by}):
            cells = [by.get((lang, None)), *[by.get((lang, n)) for n in lengths], control.get(lang)]
            print(" | ".join([task, lang, *("–" if v is None else f"{v:.1f}" for v in cells)]))

    print("\n## Zero-shot XQuAD F1 per language: each condition vs. the random-init control "
          "(difference [95% paired-bootstrap CI over questions])")
    examples, controls = _examples(out / "example_scores.jsonl"), _examples(out / "control" / "example_scores.jsonl")
    conditions = [("baseline", None), *[(f"squad_v1 L{n}", n) for n in lengths]]
    print(" | ".join(["lang", "control F1", *[c for c, _ in conditions]]))
    for lang in study.zero_shot_eval.get("languages", []):
        base = controls.get(("zero_shot_eval", None, "xquad", lang))
        if not base:
            continue
        c = score_ci(base, "squad", resamples=args.resamples, key="f1")
        cells = [f"{c[0]:.1f} [{c[1]:.1f}, {c[2]:.1f}]"]
        for _, n in conditions:
            mine = examples.get(("zero_shot_eval", n, "xquad", lang))
            if not mine:
                cells.append("–")
                continue
            f1 = score_ci(mine, "squad", resamples=args.resamples, key="f1")[0]
            d = paired_difference_ci(mine, base, "squad", resamples=args.resamples, key="f1")
            cells.append(f"{f1:.1f} ({d[0]:+.1f} [{d[1]:+.1f}, {d[2]:+.1f}])")
        print(" | ".join([lang, *cells]))

    print("\n## Training phases (wall seconds)")
    for done in sorted((out / "shared").glob("*/done.json")) + sorted((out / "control" / "shared").glob("*/done.json")):
        info = json.loads(done.read_text())
        print(f"{done.parent.relative_to(out)}: {info.get('steps')} steps, {info.get('wall_seconds', 0):.0f} s")


if __name__ == "__main__":
    main()
