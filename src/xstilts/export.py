"""``xstilts export-xtreme DIR --to OUT``: the runs' test predictions in XTREME's submission layout.

XTREME's README ("Submissions"): one folder with a sub-folder per task (``udpos``, ``panx``,
``xnli``, ``pawsx``, ``xquad``, ``mlqa``, ``tydiqa``, ``bucc2018``, ``tatoeba``), in each a file
``test-<language>.<ext>`` per language, ``json`` for QA and ``tsv`` otherwise — the layout its
``evaluate.py`` reads, and the one ``xstilts run`` already writes predictions in. So the files are
copied byte for byte; what this module decides is which file is the submission's:

* A submission is one encoder × intermediate condition × seed. One run trains one target, so the
  seven fine-tuned tasks come from as many runs (their ``zero_shot_eval`` phase, the last one that
  scores ``test``); two runs of one submission with the same target are ambiguous and an error
  (pick with ``--run``).
* ``bucc2018`` and ``tatoeba`` come from ``retrieval_eval``: the last such phase after the last
  intermediate phase, i.e. the encoder as intermediate training left it, with no target training —
  where X-STILTs scores them (on the bare encoder for the baseline). Every run of a condition
  scores the same encoder, so their files must agree byte for byte.
* A phase without ``done.json`` is unfinished, and one with ``max_examples`` predicted a subset of
  the test set: neither gives submission files.

Written atomically (a temporary folder beside ``OUT``, then renamed)::

    OUT/export.json                                   where every file came from, what is missing
    OUT/<submission>/predictions/<task>/test-<lang>.<ext>
    OUT/<submission>.zip                              with --zip: predictions/<task>/... inside

A submission lacking a task or a language is an error unless ``partial``; then it is written
with what there is and :attr:`Submission.missing` says the rest.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from xstilts import __version__
from xstilts.errors import ConfigError, DataError, UnknownNameError
from xstilts.tasks.catalog import XTREME_GROUPS, XTREME_LANGUAGES

SPLIT = "test"
RETRIEVAL = ("bucc2018", "tatoeba")
MANIFEST = "export.json"
PREDICTIONS = "predictions"
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # fixed, so the same files give the same zip


def extension(task: str) -> str:
    """evaluate.py's suffix: ``json`` for the QA tasks, ``tsv`` for the others."""
    return "json" if task in XTREME_GROUPS["qa"] else "tsv"


def submission_path(task: str, language: str) -> str:
    """A file's path inside a submission folder: ``<task>/test-<language>.<ext>``."""
    return f"{task}/{SPLIT}-{language}.{extension(task)}"


@dataclass
class Submission:
    """One submission: its files (task → language → source file) and what it lacks."""

    name: str
    key: tuple                                        # (encoder, intermediate, max length, seed)
    runs: list[str] = field(default_factory=list)
    files: dict = field(default_factory=dict)         # task → language → Path
    origin: dict = field(default_factory=dict)        # task → "runs/<id>/<i>-<kind>"
    problems: dict = field(default_factory=dict)      # task → why it has no files at all
    missing: list[str] = field(default_factory=list)  # human-readable, one item per task

    @property
    def complete(self) -> bool:
        return not self.missing

    def n_files(self) -> int:
        return sum(len(v) for v in self.files.values())


# ---------------------------------------------------------------- reading a run folder


@dataclass
class _RunFiles:
    run_id: str
    key: tuple
    provides: dict  # task → (phase folder relative to DIR, {language: Path}, problem or None)


def _read_config(run_dir: Path) -> dict:
    path = run_dir / "config.yaml"
    try:
        config = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(path, "missing: not a run folder of `xstilts run`") from None
    except yaml.YAMLError as err:
        raise DataError(path, f"not valid YAML ({err})") from None
    if not isinstance(config, dict) or not isinstance(config.get("phases"), list):
        raise DataError(path, "no 'phases' list: not a run config", field="phases")
    return config


def _key(config: dict) -> tuple:
    phases = [p if isinstance(p, dict) else {} for p in config["phases"]]
    first = phases[0] if phases else {}
    encoder = json.dumps({k: first.get(k) for k in ("model", "revision", "random_init", "from_scratch")},
                         sort_keys=True)
    inter = [p for p in phases if p.get("kind") == "intermediate"]
    tasks = tuple(t for p in inter for t in (p.get("tasks") or ()))
    return (encoder, tasks, inter[-1].get("max_length") if inter else None, config.get("seed"))


def _phase_files(out_dir: Path, run_dir: Path, index: int, phase: dict, task: str) -> tuple:
    folder = run_dir / f"{index}-{phase['kind']}"
    where = str(folder.relative_to(out_dir))
    if not (folder / "done.json").exists():
        return where, {}, f"{where} has not finished (no done.json)"
    if phase.get("max_examples") is not None:
        return where, {}, (f"{where} predicted only the first {phase['max_examples']} examples "
                           f"(phases.{index}.max_examples), not the test set")
    files = {}
    for lang in XTREME_LANGUAGES[task]:
        path = folder / PREDICTIONS / submission_path(task, lang)
        if path.is_file():
            files[lang] = path
    return where, files, None


def _run_files(out_dir: Path, run_dir: Path) -> _RunFiles:
    config = _read_config(run_dir)
    phases = [p if isinstance(p, dict) else {} for p in config["phases"]]
    provides: dict = {}
    last_intermediate = max((i for i, p in enumerate(phases) if p.get("kind") == "intermediate"), default=0)
    for i, p in enumerate(phases):
        scores_test = SPLIT in (p.get("splits") or (SPLIT,))
        if p.get("kind") == "zero_shot_eval" and scores_test:
            target = next((q.get("task") for q in reversed(phases[:i]) if q.get("kind") == "target"), None)
            if target in XTREME_LANGUAGES:  # the last scoring phase wins
                provides[target] = _phase_files(out_dir, run_dir, i, p, target)
        elif p.get("kind") == "retrieval_eval" and scores_test and i > last_intermediate:
            for task in p.get("tasks") or ():
                if task in RETRIEVAL:
                    provides[task] = _phase_files(out_dir, run_dir, i, p, task)
    return _RunFiles(run_dir.name, _key(config), provides)


# ---------------------------------------------------------------- planning


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._@+-]+", "-", text).strip("-") or "x"


def _names(keys: list[tuple]) -> dict[tuple, str]:
    """Readable, unique folder names: ``<intermediate>@<max length>-seed<seed>`` (``baseline-seed<seed>``),
    after the encoder's last path part when the export has several encoders."""
    several = len({k[0] for k in keys}) > 1
    names: dict[tuple, str] = {}
    for key in keys:
        encoder, tasks, max_len, seed = key
        condition = "+".join(tasks) + (f"@{max_len}" if max_len is not None and tasks else "") if tasks else "baseline"
        name = f"{condition}-seed{seed}"
        if several:
            model = json.loads(encoder).get("model") or "encoder"
            name = f"{Path(str(model).rstrip('/')).name}-{name}"
        names[key] = _slug(name)
    counts: dict[str, int] = {}
    for n in names.values():
        counts[n] = counts.get(n, 0) + 1
    return {k: n if counts[n] == 1 else f"{n}-{hashlib.sha256(repr(k).encode()).hexdigest()[:8]}"
            for k, n in names.items()}


def _missing(sub: Submission) -> list[str]:
    out = []
    absent = [t for t in XTREME_LANGUAGES if t not in sub.files and t not in sub.problems]
    if absent:
        out.append(f"no {', '.join(absent)} (no run of this condition predicts them on test)")
    for task, langs in XTREME_LANGUAGES.items():
        if task in sub.problems:
            out.append(f"{task}: {sub.problems[task]}")
        elif task in sub.files:
            lacking = [lang for lang in langs if lang not in sub.files[task]]
            if lacking:
                shown = ", ".join(lacking[:5]) + (", ..." if len(lacking) > 5 else "")
                out.append(f"{task}: no test predictions in {len(lacking)} of {len(langs)} languages "
                           f"({shown}; in {sub.origin[task]})")
    return out


def plan(out_dir: str | Path, run_ids: list[str] | None = None) -> list[Submission]:
    """The submissions the runs of ``out_dir`` (or just ``run_ids``) make, without writing anything."""
    out_dir = Path(out_dir)
    runs_dir = out_dir / "runs"
    if not runs_dir.is_dir():
        raise DataError(out_dir, "no runs/ folder: expected the --out folder of `xstilts run` or `xstilts study`")
    available = sorted(p.name for p in runs_dir.iterdir() if (p / "config.yaml").exists())
    for run_id in run_ids or ():
        if run_id not in available:
            raise UnknownNameError(f"run (--run) in {runs_dir}", run_id, available)
    chosen = sorted(set(run_ids)) if run_ids else available
    runs = [_run_files(out_dir, runs_dir / r) for r in chosen]
    by_key: dict[tuple, list[_RunFiles]] = {}
    for r in runs:
        by_key.setdefault(r.key, []).append(r)
    names = _names(list(by_key))
    submissions = []
    for key, members in by_key.items():
        sub = Submission(names[key], key, [m.run_id for m in members])
        for task in XTREME_LANGUAGES:
            sources = [(m.run_id, *m.provides[task]) for m in members if task in m.provides]
            if not sources:
                continue
            if task not in RETRIEVAL and len(sources) > 1:
                raise ConfigError(f"runs {', '.join(s[0] for s in sources)} of submission {sub.name!r} all predict "
                                  f"{task}: choose one with --run")
            _take(sub, task, sources)
        sub.missing = _missing(sub)
        submissions.append(sub)
    return sorted(submissions, key=lambda s: s.name)


def _take(sub: Submission, task: str, sources: list[tuple]) -> None:
    """The files of ``task`` from its sources: the first finished one; the others (retrieval of the
    same encoder in several runs) must hold the same bytes."""
    usable = [s for s in sources if s[3] is None]
    if not usable:
        sub.problems[task] = sources[0][3]
        return
    run_id, where, files, _ = usable[0]
    for other_run, other_where, other_files, _ in usable[1:]:
        for lang in sorted(set(files) & set(other_files)):
            if files[lang].read_bytes() != other_files[lang].read_bytes():
                raise DataError(other_files[lang], f"differs from {files[lang]} although both runs ({run_id}, "
                                f"{other_run}) score the same encoder: their {task} settings differ; choose one "
                                "with --run")
    sub.files[task] = dict(files)
    for _, _, other_files, _ in usable[1:]:  # languages only another run scored
        for lang, path in other_files.items():
            sub.files[task].setdefault(lang, path)
    sub.files[task] = {lang: sub.files[task][lang] for lang in XTREME_LANGUAGES[task] if lang in sub.files[task]}
    sub.origin[task] = where
    if not sub.files[task]:
        del sub.files[task]
        sub.problems[task] = f"{where} wrote no test predictions"


# ---------------------------------------------------------------- writing


def export_xtreme(out_dir: str | Path, to: str | Path, *, run_ids: list[str] | None = None, partial: bool = False,
                  zip_files: bool = False) -> list[Submission]:
    """Write the submissions of ``out_dir`` under ``to`` (see the module docstring); returns them.

    Raises :class:`DataError` when a submission lacks a task or a language, unless ``partial``
    (then incomplete submissions are written with what they have; ones with no file are skipped).
    """
    out_dir, to = Path(out_dir), Path(to)
    submissions = plan(out_dir, run_ids)
    if not any(s.files for s in submissions):
        raise DataError(out_dir / "runs", "no finished test predictions of any XTREME task (zero_shot_eval of an "
                        "XTREME target, retrieval_eval of bucc2018/tatoeba after the intermediate phase)")
    incomplete = [s for s in submissions if not s.complete]
    if incomplete and not partial:
        first = incomplete[0]
        others = f" ({len(incomplete) - 1} more incomplete)" if len(incomplete) > 1 else ""
        raise DataError(out_dir, f"submission {first.name!r} is incomplete{others}: {'; '.join(first.missing)}; "
                        "XTREME needs all nine tasks in every language (--partial writes what there is)")
    _check_destination(out_dir, to)
    to.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{to.name}.export-", dir=to.parent))
    try:
        written = [s for s in submissions if s.files]
        for sub in written:
            root = tmp / sub.name / PREDICTIONS
            for task, files in sub.files.items():
                for lang, path in files.items():
                    dest = root / submission_path(task, lang)
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(path, dest)
            if zip_files:
                _zip(root, tmp / f"{sub.name}.zip")
        (tmp / MANIFEST).write_text(json.dumps(_manifest(out_dir, written, zip_files), indent=1, ensure_ascii=False)
                                    + "\n", encoding="utf-8")
        _swap(tmp, to)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return submissions


def _check_destination(out_dir: Path, to: Path) -> None:
    if to.exists():
        if not to.is_dir() or (any(to.iterdir()) and not (to / MANIFEST).is_file()):
            raise ConfigError(f"--to {to}: exists and is not an earlier export-xtreme folder (no {MANIFEST}); "
                              "give a new folder")
    resolved = to.resolve()
    if resolved == out_dir.resolve() or out_dir.resolve() in resolved.parents and (
            resolved.relative_to(out_dir.resolve()).parts[:1] in (("runs",), ("shared",))):
        raise ConfigError(f"--to {to}: inside the run folder's runs/ or shared/; give a folder outside them")


def _manifest(out_dir: Path, submissions: list[Submission], zip_files: bool) -> dict:
    subs = {}
    for s in submissions:
        encoder, tasks, max_len, seed = s.key
        subs[s.name] = {
            "encoder": json.loads(encoder), "intermediate": list(tasks), "intermediate_max_len": max_len, "seed": seed,
            "runs": s.runs, "complete": s.complete, "missing": s.missing,
            "tasks": {t: {"from": s.origin[t], "languages": list(files)} for t, files in s.files.items()},
            "zip": f"{s.name}.zip" if zip_files else None,
        }
    return {"xstilts_version": __version__, "source": str(out_dir.resolve()), "layout":
            "<submission>/predictions/<task>/test-<language>.<json for QA, tsv otherwise>", "submissions": subs}


def _zip(root: Path, dest: Path) -> None:
    with zipfile.ZipFile(dest, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            info = zipfile.ZipInfo(f"{PREDICTIONS}/{path.relative_to(root).as_posix()}", date_time=_ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, path.read_bytes())


def _swap(new: Path, final: Path) -> None:
    """Replace ``final`` by ``new`` with renames (an earlier export is moved aside, then removed)."""
    old = None
    if final.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{final.name}.old-", dir=final.parent))
        final.rename(old / final.name)
    os.rename(new, final)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


__all__ = ["Submission", "export_xtreme", "extension", "plan", "submission_path"]
