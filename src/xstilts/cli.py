"""The ``xstilts`` command line (typer). Thin: every command calls the public API.

Errors that xstilts raises on purpose (bad input, unknown names) print one line and exit 2;
anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import json
import sys
from functools import wraps
from pathlib import Path
from typing import Callable, Optional

import typer

from xstilts.errors import XstiltsError

app = typer.Typer(
    name="xstilts",
    help="English intermediate-task training (STILTs) and zero-shot cross-lingual transfer on XTREME.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _clean_errors(fn: Callable) -> Callable:
    @wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except XstiltsError as err:
            typer.echo(f"error: {err}", err=True)
            raise typer.Exit(2) from None

    return wrapper


@app.command()
@_clean_errors
def tasks(
    role: Optional[str] = typer.Option(None, help="only intermediate | target | pretraining tasks"),
    as_json: bool = typer.Option(False, "--json", help="print JSON instead of a table"),
) -> None:
    """List every task: format, languages, splits and sources."""
    from xstilts.tasks import all_tasks

    rows = [t for t in all_tasks() if role is None or t.role == role]
    if as_json:
        typer.echo(json.dumps([_task_summary(t) for t in rows], indent=2))
        return
    header = ("task", "role", "format", "metric", "#lang", "splits", "sources")
    table = [header] + [
        (
            t.name, t.role, t.format, t.metric, str(len(t.languages)),
            " ".join(f"{s}:{len(l)}" for s, l in t.splits.items()),
            _sources(t),
        )
        for t in rows
    ]
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]
    for i, r in enumerate(table):
        typer.echo("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
        if i == 0:
            typer.echo("  ".join("-" * w for w in widths))


def _sources(task) -> str:
    parts = []
    if task.files:
        parts.append("files")
    if task.hub:
        parts.append(f"hub:{task.hub.path}")
    if task.components:
        parts.append("= " + "+".join(task.components))
    return ", ".join(parts)


def _task_summary(task) -> dict:
    return {
        "name": task.name, "role": task.role, "format": task.format, "metric": task.metric,
        "description": task.description, "languages": list(task.languages),
        "splits": {k: list(v) for k, v in task.splits.items()},
        "files": {k: list(v) for k, v in task.files.items()},
        "gold_files": dict(task.gold_files),
        "hub": None if task.hub is None else {"path": task.hub.path, "config": task.hub.config,
                                              "splits": dict(task.hub.splits)},
        "labels": None if task.labels is None else list(task.labels),
        "max_length": task.max_length, "doc_stride": task.doc_stride,
        "components": list(task.components), "license": task.license, "reference": task.reference,
    }


@app.command()
@_clean_errors
def score(
    task: str = typer.Option(..., help="XTREME task code (xnli, pawsx, udpos, panx, xquad, mlqa, tydiqa, bucc2018, tatoeba)"),
    language: str = typer.Option(..., help="language code (MLQA normalisation depends on it)"),
    gold: Path = typer.Option(..., help="gold file in the label-folder format evaluate.py reads"),
    predictions: Path = typer.Option(..., help="prediction file in the same format"),
) -> None:
    """Score a prediction file against a gold file exactly as XTREME's evaluate.py; prints JSON."""
    from xstilts.scoring import score_files

    result = score_files(task, language, gold, predictions)
    typer.echo(json.dumps(result, ensure_ascii=False))


@app.command()
@_clean_errors
def run(
    config: Path = typer.Argument(..., help="experiment YAML (see configs/)"),
    out: Path = typer.Option(..., "--out", help="output directory (results.jsonl, runs/, cache/)"),
    set_: list[str] = typer.Option([], "--set", help="override a config key: a.b.c=value (repeatable)"),
    progress: bool = typer.Option(True, help="progress bars"),
) -> None:
    """Run (or resume) an experiment: its phases in order; re-running skips finished work."""
    from xstilts.config import load_config
    from xstilts.pipeline.runner import run_experiment

    cfg = load_config(config, set_)
    run_dir = run_experiment(cfg, out, progress=progress)
    typer.echo(str(run_dir))


def main() -> None:  # pragma: no cover - console entry point alias
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
