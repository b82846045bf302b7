"""Run one experiment: its phases in order, resumable, with results appended to ``results.jsonl``.

Layout under ``--out DIR``::

    DIR/results.jsonl                         append-only results of every run in DIR
    DIR/cache/features/                       tokenized features, shared by every run in DIR
    DIR/shared/<kind>-<key>/                  a training phase: model, checkpoints, done.json
    DIR/runs/<run_id>/config.yaml             the resolved config (its hash is in the run id)
    DIR/runs/<run_id>/log.txt                 one log per run
    DIR/runs/<run_id>/<i>-<kind>.txt          where training phase i lives (DIR/shared/...)
    DIR/runs/<run_id>/<i>-<kind>/             an evaluation phase: predictions, done.json

What a phase does is its kind's (:mod:`xstilts.pipeline.phases`, one module per kind); the runner
only walks the phases and, from what each kind declares (``trains``, ``shares``), decides where it
works, under which lock, and whether it runs at all. A phase whose ``done.json`` exists is skipped
on a re-run (training phases reload their saved model), and an interrupted training phase resumes
from its last checkpoint, so re-running the same command on the same DIR finishes the work without
repeating it.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from contextlib import contextmanager
from pathlib import Path

import yaml

from xstilts.config import ExperimentConfig, ResolvedConfig, resolve
from xstilts.data.cache import FeatureCache
from xstilts.errors import ConfigError
from xstilts.pipeline import overlap
from xstilts.pipeline.phases import get_phase_kind, phase_kinds
from xstilts.pipeline.run import Run
from xstilts.pipeline.run import write_text as _write_text  # graph and grid write their files with it
from xstilts.training import distributed
from xstilts.training.loop import seed_everything

# The kinds that train (a node of their own in the run graph, a folder in OUT/shared), as registered.
TRAINING_KINDS = tuple(name for name in phase_kinds() if get_phase_kind(name).trains)
# Bump when a change to heads or training changes what the same config trains (part of the key, so
# models trained before are not reused): 2 = training.dropout also sets the heads' dropout.
MODELING_VERSION = 2


def run_experiment(config: ExperimentConfig, out_dir: str | Path, *, progress: bool = True,
                   upto: int | None = None) -> Path:
    """Run (or resume) ``config`` under ``out_dir``; returns the run directory.

    Training phases live in ``out_dir/shared/<kind>-<key>`` (see :func:`training_key`), so every run
    whose phases up to there are identical reuses the trained model; evaluation phases live in the
    run's own directory. ``upto``: stop after that phase (a node of the run graph,
    :mod:`xstilts.pipeline.graph`); models of finished phases before the last finished training
    phase are not loaded, only what that phase needs.
    """
    from xstilts.validate import check; check(config, source=None, out=out_dir)  # noqa: E702 - before anything in out_dir
    out_dir = Path(out_dir)
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:  # accelerate launch / torchrun: one process group
        from accelerate import PartialState
        from accelerate.utils import parse_flag_from_env

        PartialState(cpu=parse_flag_from_env("ACCELERATE_USE_CPU"))  # as Accelerator() reads it
    resolved = resolve(config)  # once: a missing data file fails here, named
    run_dir = out_dir / "runs" / resolved.run_id
    run_dir.mkdir(parents=True, exist_ok=True)
    cfg_path = run_dir / "config.yaml"
    if not cfg_path.exists():
        tmp = cfg_path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(yaml.safe_dump(resolved.as_dict(), sort_keys=False))
        tmp.replace(cfg_path)
    seed_everything(config.seed)
    run = Run(config, out_dir, run_dir, None, None, FeatureCache(out_dir / "cache" / "features"), progress, resolved)
    phases = config.phases[:None if upto is None else upto + 1]
    kinds = [get_phase_kind(p.kind) for p in phases]
    run.log(f"run {resolved.run_id}: {' → '.join(p.kind for p in phases)}"
            + (f" (up to phase {upto} of {len(config.phases)})" if upto is not None else ""))
    overlaps = _guard_overlap(run, len(phases))
    # The model after the last finished fine-tuning phase is all later phases need — unless an
    # evaluation before it is still to run: that one needs the model of its own point in the run.
    first_pending = next((i for i, kind in enumerate(kinds) if not kind.trains and not (upto is not None and i < upto)
                          and not (run_dir / f"{i}-{phases[i].kind}" / "done.json").exists()), len(phases))
    done = [i for i, kind in enumerate(kinds[:first_pending])
            if kind.fine_tunes and (shared_dir(run, i) / "done.json").exists()]
    resume_at = done[-1] if done else -1

    ordinal = 0  # position among fine-tuning phases: seeds must not depend on interleaved evaluations
    for index, (phase, kind) in enumerate(zip(phases, kinds)):
        if kind.trains:  # always entered: it trains, or sets up the model and names later phases need
            if kind.fine_tunes:
                ordinal += 1
            shared = shared_dir(run, index)
            context = {"load_model": index >= resume_at, "ordinal": ordinal, "overlaps": overlaps.get(index, [])}
            if not kind.shares(phase):  # e.g. a hub checkpoint: nothing to train or share
                kind.run(run, phase, index, shared, **context)
                continue
            _write_text(run_dir / f"{index}-{phase.kind}.txt", str(shared.relative_to(out_dir)) + "\n")
            with _locked(shared, run):
                kind.run(run, phase, index, shared, **context)
        elif upto is not None and index < upto:
            continue  # another node of the run graph: not this call's to run
        else:
            phase_dir = run_dir / f"{index}-{phase.kind}"
            with _locked(phase_dir, run):  # a second `xstilts run` of this run waits, then skips it
                if (phase_dir / "done.json").exists():
                    run.log(f"phase {index}-{phase.kind} already done")
                else:
                    kind.run(run, phase, index, phase_dir)
    run.log(f"run {resolved.run_id} {'finished' if len(phases) == len(config.phases) else f'reached phase {upto}'}")
    return run_dir


def training_key(config: ExperimentConfig | ResolvedConfig, index: int) -> str:
    """Hash of everything that determines the model after training phase ``index``, from resolved
    values only: the seed, the training phases up to it, the resolved settings of the tasks they
    train on, the featurization version and the fingerprints of the data files they read. Runs that
    share it (e.g. one intermediate checkpoint for every target of a grid) share the trained model.

    Each training phase's part is its kind's (:meth:`~xstilts.pipeline.phases.PhaseKind.key`). A
    target task enters by what it trains on, not by its name: XQuAD, MLQA and TyDiQA-GoldP
    fine-tuned on the same SQuAD data with the same settings, selected on the same dev data by the
    same metric, are one model, as in XTREME.

    A plain :class:`ExperimentConfig` is resolved here without requiring its data (what a dry run
    knows); a run passes the config it resolved with its data."""
    resolved = config if isinstance(config, ResolvedConfig) else resolve(config, require_data=False)
    config = resolved.config
    phases, tasks, data = [], {}, []
    for i, p in enumerate(config.phases[:index + 1]):
        kind = get_phase_kind(p.kind)
        if not kind.trains:
            continue
        dump, trained_on, reads = kind.key(resolved, i)
        phases.append(dump)
        tasks.update(trained_on)
        data.append(reads)
    seed = config.seed
    first = config.phases[0]
    if index == 0 and first.from_scratch is not None and first.from_scratch.seed is not None:
        seed = first.from_scratch.seed  # one pretrained model shared by runs of every fine-tuning seed
    payload = {"seed": seed, "data_source": config.data_source, "data_dir": config.data_dir,
               "featurization_version": resolved.featurization_version, "modeling_version": MODELING_VERSION,
               "phases": phases, "tasks": dict(sorted(tasks.items())), "data": data}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def shared_dir(run: Run, index: int) -> Path:
    """Where training phase ``index`` of the run lives, shared with every run of the same key."""
    return run.out_dir / "shared" / f"{run.config.phases[index].kind}-{training_key(run.resolved, index)[:16]}"


def _guard_overlap(run: Run, stop: int | None = None) -> dict[int, list[overlap.Overlap]]:
    """Refuse to train on what a later phase evaluates (:mod:`xstilts.pipeline.overlap`), unless the
    config sets ``allow_overlap``; then the overlaps go to ``overlap.json`` beside the run (the report
    shows them) and into each training phase's ``done.json``. Checked once per run, whether or not
    its training phases are shared with runs checked before (a shared SQuAD model is checked
    against MLQA's test set too); with ``allow_overlap`` again while a phase before ``stop`` trains,
    to record the overlap in its ``done.json``."""
    config = run.config
    checked = run.run_dir / "overlap-checked.json"
    pending = [i for i, p in enumerate(config.phases[:stop]) if get_phase_kind(p.kind).fine_tunes
               and not (shared_dir(run, i) / "done.json").exists()]
    if checked.exists() and not (pending and config.allow_overlap):
        return {}
    found = overlap.check_experiment(config, run.source_slice, run.examples, run.languages)  # every source language
    if not found:
        run.log("overlap guard: no training or dev example is among the evaluated ones")
        _write_text(checked, json.dumps({"overlaps": 0}))
        return {}
    first = next(iter(found.values()))[0]
    total = sum(len(v) for v in found.values())
    if not config.allow_overlap:
        raise ConfigError(f"train/test overlap: {first.describe()}"
                          + (f"; and {total - 1} more overlapping pair(s)" if total > 1 else "")
                          + " — exclude the evaluation data from the training slice (tasks.<task>.train/dev.exclude: "
                          "[<task>]) or set allow_overlap: true to run anyway (recorded)")
    records = [{"phase": i, "kind": config.phases[i].kind, **o.as_dict()} for i, os_ in found.items() for o in os_]
    for r in records:
        run.log(f"overlap allowed (allow_overlap: true): phase {r['phase']}: {r['trained']} and {r['evaluated']} "
                f"share {r['count']} of {r['total']} examples")
    _write_text(run.run_dir / "overlap.json", json.dumps(records, indent=1))
    _write_text(checked, json.dumps({"overlaps": total, "allowed": True}))
    return found


@contextmanager
def _locked(directory: Path, run: Run):
    """One process at a time works in a phase folder (a shared training phase, or an evaluation
    phase of the run): the others wait, then reuse what it wrote. A claim file (atomic on NFS, with a
    heartbeat; :mod:`xstilts.pipeline.claims`), not ``flock``, so that runs on different machines of
    a cluster exclude each other too. Under several processes of one run, the main process holds it."""
    from xstilts.pipeline import claims

    directory.mkdir(parents=True, exist_ok=True)
    if not distributed.is_main():
        distributed.barrier()  # the main process holds the claim from here ...
        try:
            yield directory
        finally:
            distributed.barrier()  # ... to here
        return
    claim = claims.Claim(directory.with_name(directory.name + ".claim"), owner=f"run-{os.getpid()}",
                         lease=float(os.environ.get("XSTILTS_CLAIM_LEASE", 120)))
    told = False
    while not claim.acquire():
        holder = claims.read(claim.path)
        if holder is not None and not told:
            run.log(f"{directory.name}: in use by PID {holder.get('pid')} on {holder.get('host')}; waiting")
            told = True
        time.sleep(1.0)
    distributed.barrier()
    try:
        yield directory
    finally:
        distributed.barrier()
        claim.release()
