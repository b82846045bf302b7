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


def _quiet_hf(progress: bool) -> None:
    """With --no-progress, silence the Hugging Face libraries' own progress bars as well."""
    if not progress:
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()


_DEBUG = {"on": False}  # --debug: every error with its traceback
# Errors of the operating system that bad input makes common: one line when they concern a path the
# user gave (--out that is a file, a folder given for a file); anywhere else they are bugs.
_PATH_ERRORS = (FileNotFoundError, FileExistsError, IsADirectoryError, NotADirectoryError, PermissionError)


@app.callback()
def _options(
    debug: bool = typer.Option(False, "--debug", envvar="XSTILTS_DEBUG",
                               help="show the traceback of every error (otherwise bad input is one line, exit code 2)"),
) -> None:
    _DEBUG["on"] = debug


def _clean_errors(fn: Callable) -> Callable:
    """Bad input → ``error: ...`` on one line of stderr and exit code 2; a bug keeps its traceback
    (and so does every error under ``--debug``)."""

    @wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except XstiltsError as err:
            if _DEBUG["on"]:
                raise
            _fail(str(err))
        except _PATH_ERRORS as err:
            if _DEBUG["on"] or not _on_given_path(err, kwargs):
                raise
            _fail(f"{err.filename}: {err.strerror or err}")
        except UnicodeDecodeError as err:
            if _DEBUG["on"]:
                raise
            _fail(f"not UTF-8 text (byte 0x{err.object[err.start]:02x} at offset {err.start}: {err.reason})")

    return wrapper


def _fail(message: str) -> None:
    typer.echo("error: " + " ".join(line.strip() for line in message.splitlines() if line.strip()), err=True)
    raise typer.Exit(2)


def _on_given_path(err: OSError, kwargs: dict) -> bool:
    """Whether ``err`` is about a path given on the command line, a folder above it or a path in it."""
    import os

    given = [Path(os.path.abspath(v)) for v in kwargs.values() if isinstance(v, Path)]
    for name in (err.filename, err.filename2):
        if name is None or isinstance(name, int):
            continue
        path = Path(os.path.abspath(os.fsdecode(name)))
        if any(path == g or g in path.parents or path in g.parents for g in given):
            return True
    return False


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


data_app = typer.Typer(help="Inspect task data.", no_args_is_help=True)
app.add_typer(data_app, name="data")


@data_app.command("lengths")
@_clean_errors
def data_lengths(
    task: str = typer.Option(..., help="task name (xquad, xnli, udpos, syn_qa, ...)"),
    split: str = typer.Option("test", help="split"),
    tokenizer: str = typer.Option("FacebookAI/xlm-roberta-large", help="tokenizer (hub id or directory) whose tokens are counted"),
    data_dir: Optional[Path] = typer.Option(None, help="data root (default: $XSTILTS_DATA_DIR)"),
    max_length: Optional[int] = typer.Option(None, help="window size for the multi-window share (default: the task's)"),
) -> None:
    """Length distribution per language, in the tokenizer's tokens (what length buckets use)."""
    import numpy as np
    from transformers import AutoTokenizer

    from xstilts.data.lengths import FIXED_EDGES, fixed_bucket_names, text_lengths
    from xstilts.data.loading import load_examples
    from xstilts.tasks import get_task

    t = get_task(task)
    tok = AutoTokenizer.from_pretrained(tokenizer)
    window = max_length or t.max_length
    header = ["lang", "n", "mean", "median", "p75", "max", *fixed_bucket_names(), f">{window}"]
    typer.echo("  ".join(f"{h:>14}" if i else f"{h:<5}" for i, h in enumerate(header)))
    for lang in t.splits.get(split, ()):
        try:
            examples = load_examples(t, split, lang, data_dir=data_dir)
        except XstiltsError as err:
            typer.echo(f"{lang:<5}  (skipped: {err})", err=True)
            continue
        n = np.asarray(text_lengths(t.format, examples, tok))
        if not len(n):
            continue
        edges = np.searchsorted(np.asarray(FIXED_EDGES), n, side="left")
        shares = [f"{np.mean(edges == k):.1%}" for k in range(len(FIXED_EDGES) + 1)]
        cells = [str(len(n)), f"{n.mean():.1f}", f"{np.median(n):.0f}", f"{np.percentile(n, 75):.0f}", str(n.max()),
                 *shares, f"{np.mean(n > window):.1%}"]
        typer.echo(f"{lang:<5}  " + "  ".join(f"{c:>14}" for c in cells))


retrieval_app = typer.Typer(help="Bitext retrieval (Tatoeba, BUCC) with a bare encoder.", no_args_is_help=True)
app.add_typer(retrieval_app, name="retrieval")


@retrieval_app.command("sweep")
@_clean_errors
def retrieval_sweep(
    model: Path = typer.Option(..., help="encoder: a Hugging Face model folder, or an xstilts model folder (its encoder/)"),
    task: str = typer.Option("tatoeba", help="retrieval task (tatoeba, bucc2018, syn_tatoeba)"),
    languages: Optional[str] = typer.Option(None, help="comma-separated languages (default: every language of the split)"),
    split: str = typer.Option("test", help="split"),
    max_examples: Optional[int] = typer.Option(None, min=1, help="first N source sentences per language (quick looks)"),
    max_length: Optional[int] = typer.Option(None, min=1, help="tokens per sentence, special tokens included "
                                             "(default: the task's, 512 as XTREME)"),
    layers: str = typer.Option("all", help="hidden states to score: all (0 = embeddings … L) or e.g. 0,4,8,12"),
    poolings: str = typer.Option("mean,cls", help="poolings: mean, cls or both"),
    prefix: str = typer.Option("", help="text put before every sentence (E5: 'query: ')"),
    source_prefix: Optional[str] = typer.Option(None, help="prefix of the non-English side (default: --prefix)"),
    target_prefix: Optional[str] = typer.Option(None, help="prefix of the English side (default: --prefix)"),
    tokenizer: Optional[str] = typer.Option(None, help="tokenizer folder or hub id (default: the model folder's)"),
    data_dir: Optional[Path] = typer.Option(None, help="data root (default: $XSTILTS_DATA_DIR)"),
    batch_size: int = typer.Option(32, min=1, help="sentences per forward pass"),
    out: Optional[Path] = typer.Option(None, "--out", help="also write every number to FILE (.csv, else JSON)"),
) -> None:
    """Score every layer × pooling of an encoder on Tatoeba or BUCC (one forward pass per batch gives
    every layer); prints the main metric per layer and pooling, averaged over languages and per language."""
    from xstilts.data.loading import load_examples
    from xstilts.errors import ConfigError
    from xstilts.formats import retrieval
    from xstilts.metrics.aggregate import main_metric_value
    from xstilts.modeling import MultiTaskModel
    from xstilts.tasks import get_task

    t = get_task(task)
    if t.format != "retrieval":
        raise ConfigError(f"--task {task}: a {t.format} task; the sweep scores retrieval tasks")
    if split not in t.splits:
        raise ConfigError(f"--split {split!r}: {t.name} has splits {', '.join(t.splits)}")
    langs = [x.strip() for x in languages.split(",") if x.strip()] if languages else list(t.splits[split])
    for lang in langs:
        if not t.has(split, lang):
            raise ConfigError(f"--languages: {t.name} has no {lang!r} in {split}")
    pools = [x.strip() for x in poolings.split(",") if x.strip()]
    if not pools or any(x not in retrieval.POOLINGS for x in pools):
        raise ConfigError(f"--poolings {poolings!r}: expected mean, cls or mean,cls")
    try:
        wanted = None if layers.strip() == "all" else [int(x) for x in layers.split(",") if x.strip()]
    except ValueError:
        raise ConfigError(f"--layers {layers!r}: expected all or comma-separated integers") from None
    folder, tok_source = _encoder_folder(model, tokenizer)
    from transformers import AutoTokenizer

    encoder = MultiTaskModel.from_pretrained(str(folder)).encoder
    tok = AutoTokenizer.from_pretrained(tok_source)
    depth = encoder.config.num_hidden_layers
    if wanted is not None:
        for x in wanted:
            if not -(depth + 1) <= x <= depth:
                raise ConfigError(f"--layers: a {depth}-layer encoder has hidden states 0 (embeddings) to {depth}, got {x}")
    examples = {}
    for lang in langs:
        (ex,) = load_examples(t, split, lang, data_dir=data_dir, require_labels=True)
        examples[lang] = retrieval.head(ex, max_examples) if max_examples else ex
    length = max_length or t.max_length
    records = retrieval.sweep(encoder, tok, t, examples, layers=wanted, poolings=pools, max_length=length,
                              source_prefix=prefix if source_prefix is None else source_prefix,
                              target_prefix=prefix if target_prefix is None else target_prefix, batch_size=batch_size)
    metrics: dict = {}
    for r in records:
        metrics.setdefault((r["layer"], r["pooling"]), {}).setdefault(r["language"], {})[r["metric"]] = r["value"]
    try:
        default = (retrieval.resolve_layer(depth, t.options), t.options.get("pooling", "mean"))
    except ConfigError:
        default = None  # a depth the task's table lacks: no default to mark
    header = ["layer", *[f"avg {q}" for q in pools], *[f"{lang} {q}" for lang in langs for q in pools]]
    lines = []
    for layer in sorted({c[0] for c in metrics}):
        main = {(lang, q): float(main_metric_value(metrics[(layer, q)][lang])) for q in pools for lang in langs}
        mark = "*" if default and default[0] == layer else ""
        lines.append([f"{layer}{mark}", *[f"{sum(main[(lang, q)] for lang in langs) / len(langs):.1f}" for q in pools],
                      *[f"{main[(lang, q)]:.1f}" for lang in langs for q in pools]])
    widths = [max(len(h), *(len(row[i]) for row in lines)) for i, h in enumerate(header)]
    metric_name = "F1" if any(r["metric"] == "f1" for r in records) else "accuracy"
    typer.echo(f"{t.name} {split} {metric_name} (%), {encoder.config.num_hidden_layers}-layer encoder {model}, "
               f"max length {length}, {sum(len(e.source) for e in examples.values())} source sentences"
               + (f"; * = the task's default layer ({default[1]} pooling)" if default else ""))
    typer.echo("  ".join(h.rjust(w) for h, w in zip(header, widths)))
    for row in lines:
        typer.echo("  ".join(c.rjust(w) for c, w in zip(row, widths)))
    if out is not None:
        model_name = str(model)
        rows = [{"model": model_name, "split": split, **r} for r in records]
        if out.suffix.lower() == ".csv":
            import csv
            import io

            buf = io.StringIO()
            writer = csv.DictWriter(buf, fieldnames=list(rows[0]) if rows else ["model"], lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows)
            text = buf.getvalue()
        else:
            text = json.dumps(rows, ensure_ascii=False, indent=1) + "\n"
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(f".{out.name}.tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(out)
        typer.echo(str(out))


def _encoder_folder(model: Path, tokenizer: Optional[str]) -> tuple[Path, str]:
    """The encoder folder of ``--model`` (a Hugging Face folder, or an xstilts model folder's
    ``encoder/``) and where its tokenizer comes from (fine-tuned xstilts models keep none)."""
    from xstilts.errors import DataError

    folder = model / "encoder" if (model / "encoder" / "config.json").is_file() else model
    if not (folder / "config.json").is_file():
        raise DataError(model, "no config.json here or in encoder/ (expected a Hugging Face model folder or an "
                               "xstilts model folder)")
    if tokenizer:
        return folder, tokenizer
    for d in (model, folder):
        if (d / "tokenizer.json").is_file() or (d / "tokenizer_config.json").is_file():
            return folder, str(d)
    raise DataError(model, "no tokenizer files here or in encoder/: pass --tokenizer (the pretrained model's folder "
                           "or hub id)")


@app.command()
@_clean_errors
def score(
    task: str = typer.Option(..., help="XTREME task code (xnli, pawsx, udpos, panx, xquad, mlqa, tydiqa, bucc2018, tatoeba)"),
    language: str = typer.Option(..., help="language code (MLQA normalisation depends on it)"),
    gold: Path = typer.Option(..., help="gold file in the label-folder format evaluate.py reads"),
    predictions: Path = typer.Option(..., help="prediction file in the same format"),
    allow_missing: bool = typer.Option(
        False, "--allow-missing",
        help="QA (xquad, mlqa, tydiqa): a gold question without a prediction scores exact match 0 and F1 0 "
             "(still in the denominator, as XTREME's evaluate.py) instead of being an error; their count goes "
             "to stderr and to the output's 'missing'. Prediction ids not in the gold stay an error; line files "
             "(labels, tags, Tatoeba indices) must still pair 1:1 with the gold"),
) -> None:
    """Score a prediction file against a gold file exactly as XTREME's evaluate.py; prints JSON.

    Bad input is an error (exit code 2), never a number: an empty or cut-off file, a value outside the
    task's labels or index range, a BUCC id that cannot be in the pools, QA ids missing or not in the gold.
    """
    from xstilts.scoring import missing_warning, score_files

    result = score_files(task, language, gold, predictions, allow_missing=allow_missing)
    warning = missing_warning(result, predictions)
    if warning:
        typer.echo(warning, err=True)
    typer.echo(json.dumps(result, ensure_ascii=False))


@app.command("export-xtreme")
@_clean_errors
def export_xtreme(
    out: Path = typer.Argument(..., help="run output folder (the --out of `xstilts run` / `xstilts study`)"),
    to: Path = typer.Option(..., "--to", help="folder to write (an earlier export there is replaced atomically)"),
    run_ids: list[str] = typer.Option([], "--run", help="export only this run (repeatable; default: every run)"),
    partial: bool = typer.Option(False, "--partial", help="write incomplete submissions too, saying what they lack"),
    zip_files: bool = typer.Option(False, "--zip", help="also write OUT/<submission>.zip"),
) -> None:
    """Write the test predictions in XTREME's submission layout: OUT/<submission>/predictions/<task>/test-<lang>.<ext>,
    one submission per encoder, intermediate condition and seed (see docs/xtreme.md)."""
    from xstilts.export import export_xtreme as export

    for sub in export(out, to, run_ids=run_ids or None, partial=partial, zip_files=zip_files):
        if not sub.files:
            typer.echo(f"{sub.name}: nothing to write ({'; '.join(sub.missing)})", err=True)
            continue
        status = "complete" if sub.complete else "incomplete: " + "; ".join(sub.missing)
        typer.echo(f"{sub.name}: {len(sub.files)} of 9 tasks, {sub.n_files()} files ({status})")
    typer.echo(str(to))


@app.command()
@_clean_errors
def run(
    config: Path = typer.Argument(..., help="experiment YAML (see configs/)"),
    out: Path = typer.Option(..., "--out", help="output directory (results.jsonl, runs/, cache/)"),
    set_: list[str] = typer.Option([], "--set", help="override a config key: a.b.c=value (repeatable)"),
    progress: bool = typer.Option(True, help="progress bars"),
    dry_run: bool = typer.Option(False, "--dry-run", help="check the config and show its phases, run id and "
                                 "compute estimate; run nothing (the model and data need not be present)"),
) -> None:
    """Run (or resume) an experiment: its phases in order; re-running skips finished work."""
    from xstilts.config import load_config
    from xstilts.pipeline.runner import run_experiment
    from xstilts.validate import check

    _quiet_hf(progress)
    cfg = load_config(config, set_)
    if dry_run:
        check(cfg, source=str(config), resources=False)
        typer.echo(f"run {cfg.run_id}: {' → '.join(p.kind for p in cfg.phases)}")
        _echo_plan(None, [(cfg, "")], None, nodes=True)
        return
    check(cfg, source=str(config), out=out)  # model, data and --out, named with the file; nothing created yet
    run_dir = run_experiment(cfg, out, progress=progress)
    typer.echo(str(run_dir))


@app.command()
@_clean_errors
def world(
    out: Path = typer.Option(..., "--out", help="folder to write (an earlier world there is replaced atomically)"),
    seed: int = typer.Option(0, help="random seed: the same seed and settings write byte-identical files"),
    size: str = typer.Option("demo", help="preset: tiny (unit tests) | demo (laptop) | large"),
    set_: list[str] = typer.Option([], "--set", help="override a knob: key=JSON value, repeatable "
                                   "(anchor_share=0.2, corpus_sentences=50000, qa_doc_sentences=[2,400])"),
) -> None:
    """Write the seeded synthetic multilingual world: every syn_* task and the MLM corpora."""
    import time

    from xstilts.world import generate

    started = time.perf_counter()
    manifest = generate(out, seed=seed, size=size, **_world_overrides(set_))
    seconds = time.perf_counter() - started
    files = manifest["files"]
    megabytes = sum(f["bytes"] for f in files.values()) / 2**20
    typer.echo(f"synthetic world: seed {seed}, size {size}: {len(files)} files, {megabytes:.1f} MiB, {seconds:.1f} s")
    typer.echo("examples per task / split / language:")
    for task, splits in manifest["counts"].items():
        for split, langs in splits.items():
            typer.echo(f"  {task:<12} {split:<5} " + " ".join(f"{k}={v}" for k, v in langs.items()))
    typer.echo(f"use it with XSTILTS_DATA_DIR={Path(out).resolve()}")
    typer.echo(str(Path(out).resolve()))


def _world_overrides(items: list[str]) -> dict:
    """``key=value`` pairs with JSON values (a bare word is a string)."""
    from xstilts.errors import ConfigError

    out = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set {item!r}: expected key=value")
        try:
            out[key.strip()] = json.loads(raw)
        except json.JSONDecodeError:
            out[key.strip()] = raw
    return out


study_app = typer.Typer(help="Studies: grids of experiments with analysis and a report.", no_args_is_help=True)
app.add_typer(study_app, name="study")


@study_app.command("seqlen")
@_clean_errors
def study_seqlen(
    preset: str = typer.Option("demo", help="demo | mini | xtreme | path to a study YAML"),
    out: Path = typer.Option(..., "--out", help="output directory"),
    set_: list[str] = typer.Option([], "--set", help="override a preset key: a.b=value, e.g. "
                                   "pretrained.model=/path/to/encoder (repeatable)"),
    dry_run: bool = typer.Option(False, "--dry-run", help="list the runs and estimate compute; run nothing"),
    progress: bool = typer.Option(True, help="progress bars"),
    executor: str = typer.Option("inline", help="inline | local | slurm (see `xstilts grid run`)"),
    workers: int = typer.Option(1, min=1, help="worker processes (local) or jobs in flight (slurm)"),
) -> None:
    """Intermediate-task max sequence length × long-document transfer: runs, analysis, report."""
    from xstilts.study import run_study

    _quiet_hf(progress)
    summary = run_study(preset, out, dry_run=dry_run, progress=progress, echo=typer.echo, overrides=set_,
                        executor=executor, workers=workers)
    if "report" in summary:
        typer.echo(summary["report"])


@app.command()
@_clean_errors
def demo(
    out: Path = typer.Option(Path("xstilts-demo"), "--out", help="output directory"),
    progress: bool = typer.Option(True, help="progress bars"),
) -> None:
    """The seqlen study's demo preset on the synthetic world: offline, two CPU cores, minutes."""
    from xstilts.study import run_study

    _quiet_hf(progress)
    summary = run_study("demo", out, progress=progress, echo=typer.echo, **_demo_executor())
    typer.echo(f"report: {summary.get('report', '(not built)')}")


def _demo_executor() -> dict:
    """Two local workers of one thread each on a CPU with two or more cores: the demo's small
    models train 2.1× faster that way than one process with two threads (the pretraining that
    every run waits on still takes every core: ``local.threads_for``). Inline elsewhere."""
    import torch

    from xstilts.settings import cpu_cores

    if torch.cuda.is_available() or cpu_cores() < 2:
        return {"executor": "inline"}
    return {"executor": "local", "workers": 2}


@app.command()
@_clean_errors
def report(
    out: Path = typer.Argument(..., help="run output folder (the --out of `xstilts run` / `xstilts study`)"),
    resamples: int = typer.Option(1000, "--resamples", help="paired-bootstrap resamples for intervals and p-values"),
    seed: int = typer.Option(0, help="random seed of the bootstrap"),
) -> None:
    """Build DIR/report/: index.html (self-contained), figures (PNG, SVG) and tables (CSV, LaTeX), computed
    only from the run outputs in DIR; prints the path of index.html."""
    from xstilts.report import build_report

    typer.echo(str(build_report(out, n_resamples=resamples, seed=seed)))


@app.command()
@_clean_errors
def results(
    out: Path = typer.Argument(..., help="run output folder (reads DIR/results.jsonl) or a results .jsonl file"),
    where: list[str] = typer.Option([], "--where", help="keep rows with KEY=VALUE (compared as text; repeat a key "
                                    "for any of several values, different keys must all match; "
                                    "intermediate=squad+hellaswag, intermediate= for the baseline)"),
    fmt: str = typer.Option("md", "--format", help="md (markdown table) | csv | json | parquet (needs --output)"),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="write to FILE instead of stdout"),
    all_rows: bool = typer.Option(False, "--all", help="keep every row as written (re-runs included), "
                                  "not only the last row of each result"),
) -> None:
    """Print the results table (DIR/results.jsonl), filtered. No matching row: an empty table, a note on
    stderr and exit 0. The markdown table shortens hashes; csv, json and parquet hold every field in full."""
    import warnings

    from xstilts.errors import ConfigError
    from xstilts.pipeline.results import load_results

    formats = ("md", "csv", "json", "parquet")
    if fmt not in formats:
        raise ConfigError(f"--format {fmt!r}: expected one of {', '.join(formats)}")
    filters: dict[str, list[str]] = {}
    for item in where:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--where {item!r}: expected KEY=VALUE (e.g. --where language=de)")
        filters.setdefault(key.strip(), []).append(value)
    if fmt == "parquet":
        if output is None:
            raise ConfigError("--format parquet writes a binary file: give --output FILE")
        try:
            import pyarrow  # noqa: F401
        except ImportError:
            raise ConfigError("--format parquet needs pyarrow (pip install pyarrow)") from None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        frame = load_results(out, where=filters or None, latest=not all_rows)
    for w in caught:
        typer.echo(f"warning: {w.message}", err=True)
    if frame.empty:
        typer.echo("no rows match" + (f" {' '.join(where)}" if where else ""), err=True)
    if fmt == "parquet":
        output.parent.mkdir(parents=True, exist_ok=True)
        frame.to_parquet(output, index=False)
        typer.echo(str(output))
        return
    text = {"md": _markdown_table, "csv": lambda f: f.to_csv(index=False), "json": _json_records}[fmt](frame)
    if output is None:
        typer.echo(text, nl=not text.endswith("\n"))
    else:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text, encoding="utf-8")
        typer.echo(str(output))


def _cell(value, column: str) -> str:
    """A markdown cell: empty for a missing value, 6 significant digits, hashes shortened."""
    import math

    if value is None or (isinstance(value, float) and math.isnan(value)) or value is _pandas_na():
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    text = str(value)
    if column in ("config_hash", "git_sha"):
        text = text[:12]
    return text.replace("|", "\\|").replace("\n", " ")


def _pandas_na():
    import pandas as pd

    return pd.NA


def _markdown_table(frame) -> str:
    """A GitHub markdown table (numbers right-aligned); no ``tabulate`` needed."""
    from pandas.api.types import is_bool_dtype, is_numeric_dtype

    columns = list(frame.columns)
    cells = [[_cell(v, c) for c, v in zip(columns, row)] for row in frame.astype(object).itertuples(index=False)]
    right = [is_numeric_dtype(frame[c]) and not is_bool_dtype(frame[c]) for c in columns]
    widths = [max([len(c), 3] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]

    def line(values):
        return "| " + " | ".join(v.rjust(w) if r else v.ljust(w) for v, w, r in zip(values, widths, right)) + " |"

    rule = "|" + "|".join(("-" * (w + 1) + ":") if r else ("-" * (w + 2)) for w, r in zip(widths, right)) + "|"
    return "\n".join([line(columns), rule] + [line(r) for r in cells]) + "\n"


def _json_records(frame) -> str:
    """The rows as a JSON array of objects; missing values are null, floats keep every digit."""
    import math

    def plain(value):
        if hasattr(value, "item"):  # numpy scalars
            value = value.item()
        if value is None or value is _pandas_na() or (isinstance(value, float) and math.isnan(value)):
            return None
        return value

    records = [{c: plain(v) for c, v in zip(frame.columns, row)} for row in frame.astype(object).itertuples(index=False)]
    return json.dumps(records, ensure_ascii=False, indent=1) + "\n"


grid_app = typer.Typer(help="Run graphs: plan, run on an executor (inline | local | slurm), status.",
                       no_args_is_help=True)
app.add_typer(grid_app, name="grid")
EXECUTOR_HELP = "inline (this process) | local (worker processes) | slurm (submitit; grid.slurm settings)"


def _grid_source(config: Optional[Path], preset: Optional[str], overrides: list[str], out: Optional[Path]):
    """(study or None, runs, grid spec) from a study preset/YAML or a single experiment config."""
    from xstilts.config import load_config, read_yaml
    from xstilts.errors import ConfigError
    from xstilts.pipeline.grid import GridSpec
    from xstilts.study import grid_runs, load_preset

    if (config is None) == (preset is None):
        raise ConfigError("give a CONFIG file or --preset NAME (one of them)")
    if config is not None:
        raw = read_yaml(config)
        if not (isinstance(raw, dict) and "study" in raw):
            cfg = load_config(config, overrides)
            return None, [(cfg, "")], GridSpec()
        preset = str(config)
    study = load_preset(preset, overrides)
    return study, grid_runs(study, out or Path(".")), study.grid


@grid_app.command("plan")
@_clean_errors
def grid_plan(
    config: Optional[Path] = typer.Argument(None, help="a study YAML or an experiment config"),
    preset: Optional[str] = typer.Option(None, help="demo | mini | xtreme"),
    set_: list[str] = typer.Option([], "--set", help="override a key: a.b=value (repeatable)"),
    nodes: bool = typer.Option(False, "--nodes", help="also list every node and what it needs"),
) -> None:
    """The run graph: nodes (shared training phases once), dependencies, device-hours and disk."""
    study, runs, spec = _grid_source(config, preset, set_, None)
    _echo_plan(study, runs, spec, nodes=nodes)


def _echo_plan(study, runs, spec, *, nodes: bool) -> None:
    """Print the run graph's estimate (and ``nodes``: every node) without the data being present."""
    from xstilts.pipeline import graph as graphs
    from xstilts.pipeline.grid import GridSpec
    from xstilts.study import CostModel, SeqlenStudy, describe_estimate, estimate

    graph = graphs.build(runs, require_data=False)
    if study is None:
        study = SeqlenStudy.model_construct(cost=CostModel(), grid=spec or GridSpec())
    for line in describe_estimate(estimate(study, graph)):
        typer.echo(line)
    if nodes:
        for line in graphs.describe(graph):
            typer.echo(line)


@grid_app.command("run")
@_clean_errors
def grid_run(
    config: Optional[Path] = typer.Argument(None, help="a study YAML or an experiment config"),
    preset: Optional[str] = typer.Option(None, help="demo | mini | xtreme"),
    out: Path = typer.Option(..., "--out", help="the grid folder (shared by every worker)"),
    executor: str = typer.Option("inline", help=EXECUTOR_HELP),
    workers: int = typer.Option(1, min=1, help="worker processes (local) or jobs in flight (slurm)"),
    set_: list[str] = typer.Option([], "--set", help="override a key: a.b=value (repeatable)"),
    report: bool = typer.Option(True, help="build the report when every node is done (studies)"),
) -> None:
    """Run every node of the grid that is not done; safe to start twice or to re-run."""
    from xstilts.errors import XstiltsError
    from xstilts.pipeline import graph as graphs
    from xstilts.pipeline.executors import get_executor
    from xstilts.pipeline.grid import exclusive, grid_dir
    from xstilts.study import prepare

    run_fn = get_executor(executor)
    study, runs, spec = _grid_source(config, preset, set_, out)
    if study is not None:
        with exclusive(out, "prepare", spec):  # two drivers: one writes the data, the other waits
            prepare(study, out, typer.echo)
    graph = graphs.build(runs)
    graphs.save(graph, grid_dir(out) / "graph.json", grid=spec.model_dump(mode="json"))
    typer.echo(f"grid {out}: {len(graph)} nodes, executor {executor}, {workers} worker(s)")
    state = run_fn(graph, out, spec, workers=workers, echo=typer.echo)
    bad = {k: v for k, v in state.items() if v != "done"}
    if bad:
        raise XstiltsError(f"{len(bad)} node(s) not done: see `xstilts grid status {out}`")
    typer.echo(f"all {len(graph)} nodes done")
    if study is not None and report:
        from xstilts.report import build_report

        typer.echo(str(build_report(out)))


@grid_app.command("status")
@_clean_errors
def grid_status(
    out: Path = typer.Argument(..., help="the grid folder"),
    as_json: bool = typer.Option(False, "--json", help="one JSON record per node"),
) -> None:
    """Pending / running / done / failed nodes, with reasons and where each log is."""
    from collections import Counter

    from xstilts.pipeline.grid import GridSpec, status

    graph, extra = _load_grid(out)
    records = status(graph, out, GridSpec.model_validate(extra.get("grid", {})))
    if as_json:
        typer.echo(json.dumps(records, indent=1))
        return
    counts = Counter(r["state"] for r in records)
    typer.echo(f"{len(records)} nodes: " + ", ".join(f"{n} {s}" for s, n in sorted(counts.items())))
    for r in records:
        if r["state"] == "done":
            continue
        line = f"{r['state']:8} {r['id']}  [{r['what']}]"
        if r["worker"]:
            line += f"  worker {r['worker']}"
        if r["error"]:
            line += f"  after {r['attempts']} attempt(s): {r['error'].splitlines()[0]}"
        typer.echo(line + f"  log {r['log']}")


def _load_grid(out: Path):
    from xstilts.errors import ConfigError
    from xstilts.pipeline import graph as graphs
    from xstilts.pipeline.grid import grid_dir

    path = grid_dir(out) / "graph.json"
    if not path.exists():
        raise ConfigError(f"{out}: not a grid folder (no grid/graph.json; start it with `xstilts grid run`)")
    return graphs.load(path)


@grid_app.command("work")
@_clean_errors
def grid_work(
    out: Path = typer.Argument(..., help="the grid folder"),
    worker: Optional[str] = typer.Option(None, help="worker name in claims and logs; unique per worker (a claim "
                                         "under this name is taken back at once, as after a requeue)"),
) -> None:
    """A worker: run ready nodes of a started grid until none is left (start more on any machine)."""
    import os
    import socket

    from xstilts.pipeline.grid import GridSpec, work

    _threads_from_env()
    graph, extra = _load_grid(out)
    name = worker or f"worker-{socket.gethostname()}-{os.getpid()}"
    from xstilts.pipeline.executors.local import set_threads_for

    work(graph, out, GridSpec.model_validate(extra.get("grid", {})), worker=name, echo=typer.echo,
         before_node=set_threads_for if os.environ.get("XSTILTS_CORES") else None)


@grid_app.command("node", hidden=True)
@_clean_errors
def grid_node(out: Path = typer.Argument(...), node_id: str = typer.Argument(...)) -> None:
    """Run one node, unclaimed (its job holds the claim): what ``accelerate launch`` starts per GPU."""
    from xstilts.pipeline.grid import _run_inline

    _threads_from_env()
    graph, _ = _load_grid(out)
    _run_inline(graph.nodes[node_id], out)


def _threads_from_env() -> None:
    import os

    if os.environ.get("XSTILTS_THREADS"):
        import torch

        torch.set_num_threads(int(os.environ["XSTILTS_THREADS"]))


def main() -> None:  # pragma: no cover - console entry point alias
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
