"""``xstilts study seqlen``: the intermediate-max-length study as a grid of ordinary experiments.

A preset (``demo``, ``mini``, ``xtreme`` or a YAML path) names the pretrained encoder, the English
intermediate tasks, the intermediate max lengths, compute policies, targets and seeds. It expands
into one :class:`~xstilts.config.ExperimentConfig` per (seed, condition, target) — the
no-intermediate baseline included — and every run goes through :func:`run_experiment`. With
``random_init_control`` each baseline also runs from a randomly initialised encoder of the same
shape, in ``OUT/control`` (its own results and report: the report keys conditions by task and
length, not by encoder). ``bucc_from_tatoeba`` builds BUCC-style mining data from Tatoeba into a
linked copy of the data folder (``OUT/data``) where the BUCC 2018 release is not at hand. Training
phases are shared by prefix hash, so each intermediate checkpoint is trained once and reused for
every target (and a from-scratch encoder once for every seed when its seed is fixed). Then the
analysis and the report are built from ``results.jsonl`` and ``example_scores.jsonl``.
"""

from __future__ import annotations

import json
import math
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from xstilts.config import ExperimentConfig, ResolvedConfig, apply_override, load_config, resolve
from xstilts.errors import ConfigError
from xstilts.tasks import get_task

PRESETS = ("demo", "mini", "xtreme")


class CostModel(BaseModel):
    """How ``--dry-run`` turns tokens into time: 6·N FLOPs per trained token, 2·N per evaluated
    token (attention ignored), at ``mfu`` of ``peak_flops`` — or a measured ``tokens_per_second``."""

    model_config = ConfigDict(extra="forbid")
    device: str = "GPU"
    params: float | None = None
    peak_flops: float | None = None
    mfu: float = 0.3
    tokens_per_second: float | None = None  # measured training throughput; overrides the FLOPs model
    source: str = ""


class WorldSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    seed: int = 0
    size: str = "demo"
    overrides: dict[str, Any] = {}


class BuccFromTatoeba(BaseModel):
    """BUCC-style pools from Tatoeba pairs (:mod:`xstilts.data.bucc_from_tatoeba`)."""

    model_config = ConfigDict(extra="forbid")
    languages: list[str] = Field(min_length=1)
    aligned: int = 600
    unaligned: int = 200
    seed: int = 0


class SeqlenStudy(BaseModel):
    model_config = ConfigDict(extra="forbid")
    study: Literal["seqlen"] = "seqlen"
    name: str
    seeds: list[int] = Field(min_length=1)
    world: WorldSpec | None = None  # generate the synthetic world into OUT/world and read from it
    data_dir: str | None = None
    data_source: Literal["files", "hub"] = "files"
    pretrained: dict[str, Any]
    intermediate_tasks: list[str] = Field(min_length=1)
    max_lengths: list[int] = Field(min_length=1)
    compute_policies: list[Literal["equal_steps", "equal_tokens"]] = ["equal_steps"]
    policy_reference_length: int = 128
    doc_stride_ratio: float = Field(1 / 3, gt=0, lt=1)  # QA intermediate windows: stride = ratio · max_len
    intermediate_training: dict[str, Any] = {}
    targets: list[str] = Field(min_length=1)
    target_training: dict[str, dict[str, Any]] = {}
    head_init: Literal["fresh", "intermediate"] = "fresh"
    retrieval_eval: dict[str, Any] | None = None  # scored on the pretrained model and after intermediate
    random_init_control: bool = False  # also every baseline from a random-init encoder (OUT/control)
    bucc_from_tatoeba: BuccFromTatoeba | None = None
    zero_shot_eval: dict[str, Any] = {}
    tasks: dict[str, dict[str, Any]] = {}
    cost: CostModel = CostModel()


def load_preset(preset: str, overrides: list[str] = ()) -> SeqlenStudy:
    """A packaged preset by name, or a YAML file; ``overrides`` are ``key.path=value`` settings
    (as ``xstilts run --set``), e.g. ``pretrained.model=/path/to/encoder``."""
    if preset in PRESETS:
        text = resources.files("xstilts.presets").joinpath(f"seqlen_{preset}.yaml").read_text(encoding="utf-8")
        where = f"preset {preset!r}"
    else:
        path = Path(preset)
        if not path.exists():
            raise ConfigError(f"--preset {preset!r}: not {', '.join(PRESETS)} and no such file")
        text, where = path.read_text(encoding="utf-8"), str(path)
    raw = yaml.safe_load(text)
    for assignment in overrides:
        apply_override(raw, assignment)
    try:
        return SeqlenStudy.model_validate(raw)
    except ValidationError as err:
        raise ConfigError(f"{where}: " + "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in err.errors())) from None


def expand(study: SeqlenStudy, data_dir: str | None = None) -> list[ExperimentConfig]:
    """Every run of the grid: per seed, per target, the baseline and each intermediate condition."""
    configs = []
    for seed in study.seeds:
        for target in study.targets:
            configs.append(_config(study, seed, target, None, None, None, data_dir))
            for task in study.intermediate_tasks:
                for policy in study.compute_policies:
                    for max_len in study.max_lengths:
                        configs.append(_config(study, seed, target, task, max_len, policy, data_dir))
    return configs


def controls(study: SeqlenStudy, data_dir: str | None = None) -> list[ExperimentConfig]:
    """The random-init control of every baseline (none unless ``random_init_control``)."""
    if not study.random_init_control:
        return []
    return [_config(study, seed, target, None, None, None, data_dir, random_init=True)
            for seed in study.seeds for target in study.targets]


def _config(study: SeqlenStudy, seed: int, target: str, task: str | None, max_len: int | None,
            policy: str | None, data_dir: str | None, random_init: bool = False) -> ExperimentConfig:
    if random_init and "model" not in study.pretrained:
        raise ConfigError("random_init_control needs pretrained.model (whose architecture to initialise)")
    phases: list[dict] = [{"kind": "pretrained", **study.pretrained, **({"random_init": True} if random_init else {})}]
    tasks = json.loads(json.dumps(study.tasks))
    if study.retrieval_eval is not None and task is None:
        # The bare encoder is scored once per seed, in its baseline run (the report pairs the others with it).
        phases.append({"kind": "retrieval_eval", **study.retrieval_eval})
    if task is None:
        condition = f"{'control-' if random_init else ''}baseline-{target}"
    else:
        condition = f"{task}-L{max_len}-{policy}-{target}"
        phases.append({"kind": "intermediate", "tasks": [task], "max_length": max_len, "compute_policy": policy,
                       "policy_reference_length": study.policy_reference_length,
                       "training": study.intermediate_training})
        if get_task(task).format == "span_qa":
            tasks.setdefault(task, {})["doc_stride"] = max(1, round(study.doc_stride_ratio * max_len))
        if study.retrieval_eval is not None:
            phases.append({"kind": "retrieval_eval", **study.retrieval_eval})
    head_init = task if (task and study.head_init == "intermediate" and _compatible(task, target)) else "fresh"
    phases.append({"kind": "target", "task": target, "head_init": head_init,
                   "training": study.target_training.get(target, {})})
    phases.append({"kind": "zero_shot_eval", **study.zero_shot_eval})
    raw = {"name": f"{study.name}-{condition}-s{seed}", "seed": seed, "data_source": study.data_source,
           "data_dir": data_dir or study.data_dir, "phases": phases, "tasks": tasks}
    return load_config(raw=raw)


def _compatible(a: str, b: str) -> bool:
    ta, tb = get_task(a), get_task(b)
    return ta.format == tb.format and (ta.labels or None) == (tb.labels or None)


# ------------------------------------------------------------------------ compute estimate


def estimate(study: SeqlenStudy, configs: list[ExperimentConfig]) -> dict:
    """Training tokens of every distinct training phase (shared phases counted once) → hours."""
    from xstilts.pipeline.runner import TRAINING_KINDS, training_key

    seen: dict[str, int] = {}
    for cfg in configs:
        # Data not required: a dry run may come before the data (files missing are keyed as missing).
        resolved = resolve(cfg, require_data=False)
        for i, phase in enumerate(cfg.phases):
            if phase.kind not in TRAINING_KINDS or (phase.kind == "pretrained" and phase.from_scratch is None):
                continue
            key = training_key(resolved, i)
            if key not in seen:
                seen[key] = _phase_tokens(resolved, phase)
    tokens = sum(v for v in seen.values() if v is not None)
    unknown = sum(1 for v in seen.values() if v is None)
    c = study.cost
    if c.tokens_per_second:
        hours = tokens / c.tokens_per_second / 3600
        how = f"{c.tokens_per_second:,.0f} training tokens/s ({c.source or 'given'})"
    elif c.params and c.peak_flops:
        hours = tokens * 6 * c.params / (c.mfu * c.peak_flops) / 3600
        how = (f"6·N·tokens FLOPs, N = {c.params:.3g} parameters, {c.mfu:.0%} of {c.peak_flops:.3g} FLOP/s "
               f"({c.source or 'assumed'})")
    else:
        hours, how = math.nan, "no cost model in the preset"
    return {"runs": len(configs), "training_phases": len(seen), "training_tokens": tokens,
            "phases_without_step_budget": unknown, "hours": hours, "device": c.device, "how": how}


def _phase_tokens(resolved: ResolvedConfig, phase) -> int | None:
    """Upper bound: steps × batch × accumulation × max length (needs max_steps, as the study sets)."""
    if phase.kind == "pretrained":
        spec = phase.from_scratch
        args, length = spec.training, spec.max_length
    else:
        args = phase.effective_training() if phase.kind == "intermediate" else phase.training
        task = phase.tasks[0] if phase.kind == "intermediate" else phase.task
        length = getattr(phase, "max_length", None) or resolved.tasks[task]["max_length"]
    if args.max_steps <= 0:
        return None
    return args.max_steps * args.per_device_train_batch_size * args.gradient_accumulation_steps * length


# ------------------------------------------------------------------------ running


def run_study(preset: str, out_dir: str | Path, *, dry_run: bool = False, progress: bool = True,
              echo=print, overrides: list[str] = ()) -> dict:
    """Expand, (optionally) run every run, then analyse and report. Returns a summary dict."""
    from xstilts import settings as xsettings
    from xstilts.pipeline.runner import run_experiment

    study = load_preset(preset, overrides)
    out_dir = Path(out_dir)
    data_dir = None
    if study.world is not None:
        data_dir = str((out_dir / "world").resolve())
    elif study.bucc_from_tatoeba is not None:
        data_dir = str((out_dir / "data").resolve())
    configs = expand(study, data_dir)
    control = controls(study, data_dir)
    cost = estimate(study, configs + control)
    echo(f"study {study.name}: {len(configs)} runs ({len(study.seeds)} seeds × {len(study.targets)} targets × "
         f"[baseline + {len(study.intermediate_tasks)} tasks × {len(study.compute_policies)} policies × "
         f"{len(study.max_lengths)} max lengths]); {cost['training_phases']} distinct training phases")
    if control:
        echo(f"  + {len(control)} random-init control run(s) in {out_dir / 'control'}")
    for cfg in configs + control:
        echo(f"  {cfg.run_id}")
    hours = "unknown" if math.isnan(cost["hours"]) else f"{cost['hours']:.2f}"
    echo(f"estimated compute: {cost['training_tokens']:,} training tokens ≈ {hours} {cost['device']}-hours "
         f"({cost['how']})" + (f"; {cost['phases_without_step_budget']} phases without max_steps not counted"
                              if cost["phases_without_step_budget"] else ""))
    if dry_run:
        return {"runs": [c.run_id for c in configs], "estimate": cost}
    if study.world is not None and not (out_dir / "world" / "manifest.json").exists():
        from xstilts.world import generate

        echo(f"generating the synthetic world (seed {study.world.seed}, {study.world.size}) in {out_dir / 'world'}")
        generate(out_dir / "world", seed=study.world.seed, size=study.world.size, **study.world.overrides)
    if study.bucc_from_tatoeba is not None:
        from xstilts.data import bucc_from_tatoeba

        b = study.bucc_from_tatoeba
        source = xsettings.data_dir(study.data_dir)
        echo(f"BUCC-style pools from Tatoeba ({', '.join(b.languages)}) in {out_dir / 'data'} (links to {source})")
        bucc_from_tatoeba.write(source, bucc_from_tatoeba.overlay(source, out_dir / "data"), b.languages,
                                aligned=b.aligned, unaligned=b.unaligned, seed=b.seed)
    runs = [(cfg, out_dir) for cfg in configs] + [(cfg, out_dir / "control") for cfg in control]
    for i, (cfg, where) in enumerate(runs, 1):
        echo(f"[{i}/{len(runs)}] {cfg.run_id}")
        run_experiment(cfg, where, progress=progress)
    summary: dict[str, Any] = {"runs": [c.run_id for c in configs], "control": [c.run_id for c in control],
                               "estimate": cost}
    try:
        from xstilts.report import build_report
    except ImportError:  # pragma: no cover - the report package ships with xstilts
        return summary
    summary["report"] = str(build_report(out_dir))
    return summary
