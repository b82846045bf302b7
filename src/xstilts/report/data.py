"""Everything the report reads from a run-output folder, and nothing else.

``DIR/results.jsonl`` (re-runs collapsed by :func:`xstilts.pipeline.results.latest_rows`),
``DIR/example_scores.jsonl``, ``DIR/runs/<run_id>/config.yaml`` with the phase pointers
``<i>-<kind>.txt`` (training phases live in ``DIR/shared/<kind>-<key>/``), every ``done.json``
and ``runs/<run_id>/overlap.json`` (train/test overlap a config allowed).
Unreadable side files (a broken config or ``done.json``) are listed in :attr:`ReportData.problems`
and the report goes on without them; a broken ``results.jsonl`` line is an error.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from xstilts.analysis import ExampleTable, condition_of, main_scores, results_from_examples
from xstilts.analysis.tables import ZERO_SHOT_PHASE, Condition
from xstilts.errors import DataError
from xstilts.pipeline.results import latest_rows, read_rows

TRAINING_KINDS = ("pretrained", "intermediate", "target")


@dataclass
class PhaseInfo:
    """One phase of one run: where it lives and what its ``done.json`` says (None if absent)."""

    run_id: str
    index: int
    kind: str
    location: str | None       # folder relative to DIR
    done: dict | None
    spec: dict                 # the phase's entry in the resolved config

    @property
    def shared(self) -> bool:
        return bool(self.location) and self.location.startswith("shared/")


@dataclass
class RunInfo:
    run_id: str
    config: dict | None
    seed: object = None
    config_hash: str | None = None
    condition: Condition | None = None   # from its zero-shot rows (else its config)
    phases: list[PhaseInfo] = field(default_factory=list)
    versions: set = field(default_factory=set)
    git_shas: set = field(default_factory=set)
    overlap: list = field(default_factory=list)  # runs/<id>/overlap.json: train/test overlap run anyway


@dataclass
class ReportData:
    out_dir: Path
    rows: list[dict]                  # results.jsonl, latest row per key
    raw_rows: list[dict]              # results.jsonl as written (retrieval needs rows latest_rows merges)
    examples: list[dict]              # example_scores.jsonl rows
    table: ExampleTable | None        # the zero-shot example scores, indexed (None without any)
    zero_shot: list[dict]             # zero-shot main-metric rows (results.jsonl, else from the examples)
    zero_shot_rows: list[dict]        # the zero-shot results rows they come from
    zero_shot_source: str             # where ``zero_shot`` came from
    runs: dict[str, RunInfo]
    problems: list[str] = field(default_factory=list)

    @property
    def has_examples(self) -> bool:
        return self.table is not None


def _read_json(path: Path, problems: list[str], root: Path) -> dict | None:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        problems.append(f"{path.relative_to(root)}: unreadable ({err})")
        return None
    return value if isinstance(value, dict) else {"value": value}


def _read_jsonl(path: Path, *, latest: bool) -> list[dict]:
    try:
        return latest_rows(path) if latest else list(read_rows(path))
    except json.JSONDecodeError as err:
        raise DataError(path, f"a line is not valid JSON ({err.msg})") from None
    except UnicodeDecodeError as err:
        raise DataError(path, f"not UTF-8 text ({err.reason})") from None
    except IsADirectoryError:
        raise DataError(path, "is a directory, not a JSON-lines file") from None
    except OSError as err:
        raise DataError(path, f"cannot read it ({err.strerror or err})") from None


def load(out_dir: str | Path) -> ReportData:
    out_dir = Path(out_dir)
    if not out_dir.is_dir():
        raise DataError(out_dir, "no such directory (expected the --out folder of `xstilts run`)")
    results_path, examples_path = out_dir / "results.jsonl", out_dir / "example_scores.jsonl"
    if not results_path.exists() and not examples_path.exists():
        raise DataError(out_dir, "neither results.jsonl nor example_scores.jsonl: nothing to report")
    raw_rows = _read_jsonl(results_path, latest=False)
    rows = _read_jsonl(results_path, latest=True)
    examples = _read_jsonl(examples_path, latest=False)
    if not raw_rows and not examples:  # an empty report with exit 0 would look like a finished one
        empty = results_path if results_path.exists() else examples_path
        raise DataError(empty, "no rows (an empty file): nothing to report — have the runs in this folder finished?")
    table = None
    if any(r.get("phase") == ZERO_SHOT_PHASE for r in examples):
        table = ExampleTable(examples)
    zero_shot_rows, source = [r for r in rows if r.get("phase") == ZERO_SHOT_PHASE], "results.jsonl"
    if not main_scores(zero_shot_rows) and table is not None:
        zero_shot_rows, source = results_from_examples(examples), "example_scores.jsonl"
    zero_shot = main_scores(zero_shot_rows)
    problems: list[str] = []
    runs = _runs(out_dir, rows, examples, problems)
    return ReportData(out_dir, rows, raw_rows, examples, table, zero_shot, zero_shot_rows, source, runs, problems)


def _runs(out_dir: Path, rows: list[dict], examples: list[dict], problems: list[str]) -> dict[str, RunInfo]:
    runs: dict[str, RunInfo] = {}
    conditions: dict[str, Condition] = {}
    for r in rows:
        info = runs.setdefault(r["run_id"], RunInfo(r["run_id"], None))
        info.seed = r.get("seed", info.seed)
        info.config_hash = r.get("config_hash") or info.config_hash
        if r.get("xstilts_version"):
            info.versions.add(str(r["xstilts_version"]))
        if r.get("git_sha"):
            info.git_shas.add(str(r["git_sha"]))
        if r.get("phase") == ZERO_SHOT_PHASE:
            conditions[r["run_id"]] = condition_of(r)
    seen_example_runs = set()
    for r in examples:  # runs that wrote only example scores
        if r["run_id"] in seen_example_runs:
            continue
        seen_example_runs.add(r["run_id"])
        info = runs.setdefault(r["run_id"], RunInfo(r["run_id"], None, r.get("seed"), r.get("config_hash")))
        conditions.setdefault(r["run_id"], condition_of(r))
    runs_dir = out_dir / "runs"
    if runs_dir.is_dir():
        for run_dir in sorted(p for p in runs_dir.iterdir() if p.is_dir()):
            info = runs.setdefault(run_dir.name, RunInfo(run_dir.name, None))
            cfg_path = run_dir / "config.yaml"
            if cfg_path.exists():
                try:
                    cfg = yaml.safe_load(cfg_path.read_text(encoding="utf-8"))
                    info.config = cfg if isinstance(cfg, dict) else None
                except (OSError, yaml.YAMLError) as err:
                    problems.append(f"{cfg_path.relative_to(out_dir)}: unreadable ({err})")
            if info.config is not None and info.seed is None:
                info.seed = info.config.get("seed")
            info.phases = _phases(out_dir, run_dir, info.config, problems)
            if (run_dir / "overlap.json").exists():
                try:
                    info.overlap = list(json.loads((run_dir / "overlap.json").read_text(encoding="utf-8")))
                except (OSError, json.JSONDecodeError, TypeError) as err:
                    problems.append(f"{(run_dir / 'overlap.json').relative_to(out_dir)}: unreadable ({err})")
    for run_id, info in runs.items():
        info.condition = conditions.get(run_id) or _condition_from_config(info.config)
    return dict(sorted(runs.items()))


def _phases(out_dir: Path, run_dir: Path, config: dict | None, problems: list[str]) -> list[PhaseInfo]:
    specs = list((config or {}).get("phases") or [])
    indices: dict[int, str] = {i: str(p.get("kind")) for i, p in enumerate(specs) if isinstance(p, dict)}
    for p in run_dir.iterdir():  # phases on disk but not in the config (or no config)
        stem, dash, kind = p.stem.partition("-") if p.suffix == ".txt" else p.name.partition("-")
        if dash and stem.isdigit() and (p.is_dir() or p.suffix == ".txt"):
            indices.setdefault(int(stem), kind)
    out = []
    for index, kind in sorted(indices.items()):
        spec = specs[index] if index < len(specs) and isinstance(specs[index], dict) else {"kind": kind}
        location = None
        pointer = run_dir / f"{index}-{kind}.txt"
        local = run_dir / f"{index}-{kind}"
        if pointer.exists():
            location = pointer.read_text(encoding="utf-8").strip() or None
        elif local.is_dir():
            location = str(local.relative_to(out_dir))
        done = None
        if location and (out_dir / location / "done.json").exists():
            done = _read_json(out_dir / location / "done.json", problems, out_dir)
        out.append(PhaseInfo(run_dir.name, index, kind, location, done, spec))
    return out


def _condition_from_config(config: dict | None) -> Condition | None:
    if not config:
        return None
    inter, max_len, target = [], None, None
    for p in config.get("phases") or []:
        if not isinstance(p, dict):
            continue
        if p.get("kind") == "intermediate":
            inter += list(p.get("tasks") or [])
            max_len = p.get("max_length")
        elif p.get("kind") == "target":
            target = p.get("task")
    return Condition(tuple(inter), max_len if inter else None, target)


def training_phases(data: ReportData) -> dict[str, list[PhaseInfo]]:
    """Training phase folders → the phases (of every run) that use them, in folder order."""
    out: dict[str, list[PhaseInfo]] = defaultdict(list)
    for info in data.runs.values():
        for p in info.phases:
            if p.kind in TRAINING_KINDS and p.location:
                out[p.location].append(p)
    return dict(sorted(out.items()))
