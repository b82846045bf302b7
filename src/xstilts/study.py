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

Two optional sweep axes train in other languages than English (``source_language`` of a phase,
docs/config.md): ``source_languages`` — the *target* phase's, for every run, the baseline included
(Turc et al. 2021: German or Russian as the source language); ``intermediate_source_languages`` —
the *intermediate* phase's, for every intermediate condition (a list element such as
``[en, xa, xb, xc]`` is translate-train: the translations mixed with English). Each element is a
language code or a list of them; each multiplies the grid, run names say it (``baseline-udpos-in_de``,
``syn_nli-in_en_xa-L128-...``) and rows name the condition by it (``udpos[de]``,
``syn_nli[en+xa]``), so the report shows every source language apart.
"""

from __future__ import annotations

import json
import math
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from xstilts.config import (ExperimentConfig, ResolvedConfig, apply_override, check_name, describe_error, load_config,
                            read_yaml, resolve, yaml_error)
from xstilts.errors import ConfigError
from xstilts.pipeline.grid import GridSpec
from xstilts.tasks import get_task

PRESETS = ("demo", "mini", "xtreme")


class ProfileFit(BaseModel):
    """A measured profile's numbers inline: seconds per training row of max length L = a + b·L + c·L²
    (``benchmarks/scaling.py`` prints and writes them), valid at the batch they were measured at."""

    model_config = ConfigDict(extra="forbid")
    a: float
    b: float
    c: float
    batch: int | None = None
    device: str = ""
    measured_at: str = ""


class CostModel(BaseModel):
    """How ``--dry-run`` turns the training phases into time, the first that is given of:
    ``profile`` — a measured throughput profile (a JSON file from ``python benchmarks/scaling.py
    --json FILE``, relative to the working directory, with ``profile_model`` naming its model when
    it holds several; or its a, b, c inline): each phase costs rows × (a + b·L + c·L²) seconds at
    its max length L; ``tokens_per_second`` — one measured training throughput for every length;
    6·N FLOPs per trained token (attention ignored) at ``mfu`` of ``peak_flops``."""

    model_config = ConfigDict(extra="forbid")
    device: str = "GPU"
    params: float | None = None
    peak_flops: float | None = None
    mfu: float = 0.3
    tokens_per_second: float | None = None  # measured training throughput; overrides the FLOPs model
    profile: str | ProfileFit | None = None  # measured per-row time vs max length; overrides both
    profile_model: str | None = None  # which model of a profile file (None: its only one)
    source: str = ""


class WorldSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    seed: int = 0
    size: str = "demo"
    overrides: dict[str, Any] = {}

    @field_validator("size")
    @classmethod
    def _known_size(cls, size: str) -> str:
        from xstilts.world.config import PRESETS as WORLD_SIZES

        if size not in WORLD_SIZES:
            raise ValueError(f"unknown world size {size!r} (sizes: {', '.join(WORLD_SIZES)})")
        return size

    @field_validator("overrides")
    @classmethod
    def _known_overrides(cls, overrides: dict[str, Any], info) -> dict[str, Any]:
        from xstilts.errors import XstiltsError
        from xstilts.world.config import resolve_config

        try:
            resolve_config(info.data.get("size", "demo"), overrides)
        except XstiltsError as err:
            raise ValueError(str(err)) from None
        return overrides


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
    # One task, or a multi-task mixture written "a+b+c" (one intermediate phase training on all of
    # them; Phang et al. 2020's multi-task condition). An MLM corpus task (mlm, syn_mlm) may join a
    # mixture — "mnli+mlm", the paper's continued-multilingual-MLM baseline — never stand alone.
    intermediate_tasks: list[str] = Field(min_length=1)
    # Intermediate-phase keys for mixtures only: sampler, temperature, examples_cap, and the mlm block
    # (corpus languages, head) of one with an MLM task.
    mixture: dict[str, Any] = {}
    max_lengths: list[Annotated[int, Field(gt=0)]] = Field(min_length=1)
    compute_policies: list[Literal["equal_steps", "equal_tokens"]] = ["equal_steps"]
    policy_reference_length: int = 128
    doc_stride_ratio: float = Field(1 / 3, gt=0, lt=1)  # QA intermediate windows: stride = ratio · max_len
    intermediate_training: dict[str, Any] = {}
    targets: list[str] = Field(min_length=1)
    # Sweeps of the phases' source_language (a code, or a list mixed in training); English: as before.
    source_languages: list[str | list[str]] = Field(["en"], min_length=1)  # the target phase's
    intermediate_source_languages: list[str | list[str]] = Field(["en"], min_length=1)  # the intermediate's
    target_training: dict[str, dict[str, Any]] = {}
    head_init: Literal["fresh", "intermediate"] = "fresh"
    retrieval_eval: dict[str, Any] | None = None  # scored on the pretrained model and after intermediate
    random_init_control: bool = False  # also every baseline from a random-init encoder (OUT/control)
    bucc_from_tatoeba: BuccFromTatoeba | None = None
    zero_shot_eval: dict[str, Any] = {}
    tasks: dict[str, dict[str, Any]] = {}
    cost: CostModel = CostModel()
    grid: GridSpec = GridSpec()  # retries, claim leases, retention, Slurm (xstilts.pipeline.grid)

    @field_validator("name")
    @classmethod
    def _safe_name(cls, name: str) -> str:
        return check_name(name)  # every run's name starts with it: a folder under OUT/runs

    @field_validator("seeds", "intermediate_tasks", "max_lengths", "compute_policies", "targets", "source_languages",
                     "intermediate_source_languages")
    @classmethod
    def _once_each(cls, values: list) -> list:
        twice = next((v for i, v in enumerate(values) if v in values[:i]), None)
        if twice is not None:
            raise ValueError(f"{twice!r} is listed twice (each run would be run twice), got {values}")
        return values

    @field_validator("source_languages", "intermediate_source_languages", mode="before")
    @classmethod
    def _language_codes(cls, values: Any) -> Any:
        # Each element as a phase's source_language takes it ([de] is de), so twins show as twins.
        from xstilts.config import _SourceLanguage

        if not isinstance(values, list):
            return values
        out = []
        for i, value in enumerate(values):
            if isinstance(value, (str, list)):
                try:
                    value = _SourceLanguage._codes(value)
                except ValueError as err:
                    raise ValueError(f"item {i}: {err}") from None
            out.append(value)
        return out

    @field_validator("intermediate_tasks", "targets")
    @classmethod
    def _known_tasks(cls, names: list[str], info) -> list[str]:
        from xstilts.errors import UnknownNameError

        for entry in names:
            parts = entry.split("+") if info.field_name == "intermediate_tasks" else [entry]
            if len(set(parts)) < len(parts):
                raise ValueError(f"the mixture {entry!r} lists a task twice")
            for name in parts:
                try:
                    task = get_task(name)
                except UnknownNameError as err:
                    raise ValueError(str(err)) from None
                if info.field_name == "targets" and (task.role != "target" or task.format == "retrieval"):
                    raise ValueError(f"{name!r} is {'a retrieval' if task.format == 'retrieval' else f'an {task.role}'} "
                                     f"task, not a target trained in English and scored zero-shot")
                mlm_in_mixture = task.format == "mlm" and len(parts) > 1
                if info.field_name == "intermediate_tasks" and (task.format == "retrieval" or
                                                                (task.role == "pretraining" and not mlm_in_mixture)):
                    raise ValueError(f"{name!r} is a {task.role} {task.format} task, not one to fine-tune on"
                                     + (" (an MLM corpus joins a mixture: 'task+mlm')" if task.format == "mlm" else ""))
        return names


def load_preset(preset: str, overrides: list[str] = ()) -> SeqlenStudy:
    """A packaged preset by name, or a YAML file; ``overrides`` are ``key.path=value`` settings
    (as ``xstilts run --set``), e.g. ``pretrained.model=/path/to/encoder``.

    Every error is one :class:`ConfigError` line naming the preset: the file (a YAML error at
    ``FILE:LINE``, not UTF-8, a directory), a ``--set`` argument, a study key, or — for what only
    the expanded runs show (lengths against the encoder, languages the target lacks) — the run and
    its key (:func:`xstilts.validate.check`, without the data, which a study may write itself)."""
    if preset in PRESETS:
        text = resources.files("xstilts.presets").joinpath(f"seqlen_{preset}.yaml").read_text(encoding="utf-8")
        where = f"preset {preset!r}"
        try:
            raw = yaml.safe_load(text)
        except yaml.YAMLError as err:  # pragma: no cover - the packaged presets are tested
            raise ConfigError(yaml_error(where, err)) from None
    else:
        path = Path(preset)
        if not path.exists():
            raise ConfigError(f"--preset {preset!r}: not {', '.join(PRESETS)} and no such file")
        where = str(path)
        raw = read_yaml(path)
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected a mapping of study keys (study, name, seeds, ...) at the top, "
                          f"got {type(raw).__name__}")
    for assignment in overrides:
        try:
            apply_override(raw, assignment)
        except ConfigError as err:
            raise ConfigError(f"{where}: {err}") from None
    try:
        study = SeqlenStudy.model_validate(raw)
    except ValidationError as err:
        raise ConfigError(f"{where}: " + "; ".join(_study_error(e) for e in err.errors())) from None
    _check_runs(study, where)
    return study


def _study_error(e: dict) -> str:
    loc = ".".join(map(str, e["loc"]))
    if e["type"] == "extra_forbidden":
        return f"unknown key {loc!r}"
    return f"{loc}: {describe_error(e)}" if loc else describe_error(e)


# The study key a phase of an expanded run comes from (for messages).
_STUDY_KEY = {"pretrained": "pretrained", "intermediate": "intermediate_training", "retrieval_eval": "retrieval_eval",
              "target": "target_training", "zero_shot_eval": "zero_shot_eval"}


def _check_runs(study: SeqlenStudy, where: str) -> None:
    """Every run of the grid means what it says (:func:`xstilts.validate.check` without the data)."""
    import re

    from xstilts.validate import check

    try:
        configs = expand(study) + controls(study)
    except ConfigError as err:
        raise ConfigError(f"{where}: {err}") from None
    for cfg in configs:
        try:
            check(cfg, source=None, resources=False)
        except ConfigError as err:
            message = str(err)
            found = re.match(r"phases\.(\d+)(\.\w+)?", message)
            key = "tasks" if message.startswith("tasks.") else "name" if message.startswith("name") else "pretrained"
            if found:
                kind = cfg.phases[int(found.group(1))].kind
                key = "max_lengths" if kind == "intermediate" and found.group(2) == ".max_length" else _STUDY_KEY[kind]
                if found.group(2) == ".source_language":
                    key = "source_languages" if kind == "target" else "intermediate_source_languages"
            raise ConfigError(f"{where}: {key}: in run {cfg.name}: {message}") from None


def expand(study: SeqlenStudy, data_dir: str | None = None) -> list[ExperimentConfig]:
    """Every run of the grid: per seed, per target and its source language, the baseline and each
    intermediate condition (per intermediate source language)."""
    configs = []
    for seed in study.seeds:
        for target in study.targets:
            for source in study.source_languages:
                configs.append(_config(study, seed, target, None, None, None, data_dir, source=source))
                for task in study.intermediate_tasks:
                    for inter in study.intermediate_source_languages:
                        for policy in study.compute_policies:
                            for max_len in study.max_lengths:
                                configs.append(_config(study, seed, target, task, max_len, policy, data_dir,
                                                       source=source, intermediate_source=inter))
    return configs


def controls(study: SeqlenStudy, data_dir: str | None = None) -> list[ExperimentConfig]:
    """The random-init control of every baseline (none unless ``random_init_control``)."""
    if not study.random_init_control:
        return []
    return [_config(study, seed, target, None, None, None, data_dir, random_init=True, source=source)
            for seed in study.seeds for target in study.targets for source in study.source_languages]


def _languages(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def _tagged(name: str, value: str | list[str]) -> str:
    """A run-name part with its source languages: ``udpos`` (English), ``udpos-in_de``, ``syn_nli-in_en_xa``."""
    languages = _languages(value)
    return name if languages == ["en"] else f"{name}-in_{'_'.join(languages)}"


def _config(study: SeqlenStudy, seed: int, target: str, task: str | None, max_len: int | None,
            policy: str | None, data_dir: str | None, random_init: bool = False, *,
            source: str | list[str] = "en", intermediate_source: str | list[str] = "en") -> ExperimentConfig:
    if random_init and "model" not in study.pretrained:
        raise ConfigError("random_init_control needs pretrained.model (whose architecture to initialise)")
    phases: list[dict] = [{"kind": "pretrained", **study.pretrained, **({"random_init": True} if random_init else {})}]
    tasks = json.loads(json.dumps(study.tasks))
    if study.retrieval_eval is not None and task is None:
        # The bare encoder is scored once per seed, in its baseline run (the report pairs the others with it).
        phases.append({"kind": "retrieval_eval", **study.retrieval_eval})
    if task is None:
        condition = f"{'control-' if random_init else ''}baseline-{_tagged(target, source)}"
    else:
        mixture = task.split("+")
        # '+' is not allowed in a run name
        condition = f"{_tagged('.'.join(mixture), intermediate_source)}-L{max_len}-{policy}-{_tagged(target, source)}"
        phases.append({"kind": "intermediate", "tasks": mixture, "max_length": max_len, "compute_policy": policy,
                       "policy_reference_length": study.policy_reference_length,
                       "training": study.intermediate_training,
                       **(_mixture_keys(study, mixture) if len(mixture) > 1 else {}),
                       **({} if _languages(intermediate_source) == ["en"]
                          else {"source_language": intermediate_source})})
        for part in mixture:
            if get_task(part).format == "span_qa":
                tasks.setdefault(part, {})["doc_stride"] = max(1, round(study.doc_stride_ratio * max_len))
        if study.retrieval_eval is not None:
            phases.append({"kind": "retrieval_eval", **study.retrieval_eval})
    # A mixture hands on the head of its first member with the target's format and labels.
    donors = [part for part in (task.split("+") if task else []) if _compatible(part, target)]
    head_init = donors[0] if (donors and study.head_init == "intermediate") else "fresh"
    phases.append({"kind": "target", "task": target, "head_init": head_init,
                   "training": study.target_training.get(target, {}),
                   **({} if _languages(source) == ["en"] else {"source_language": source})})
    phases.append({"kind": "zero_shot_eval", **study.zero_shot_eval})
    raw = {"name": f"{study.name}-{condition}-s{seed}", "seed": seed, "data_source": study.data_source,
           "data_dir": data_dir or study.data_dir, "phases": phases, "tasks": tasks}
    return load_config(raw=raw)


def _mixture_keys(study: SeqlenStudy, mixture: list[str]) -> dict:
    """``study.mixture`` for one mixture's phase: its ``mlm`` block only where an MLM task is mixed in."""
    keys = dict(study.mixture)
    if not any(get_task(t).format == "mlm" for t in mixture):
        keys.pop("mlm", None)
    return keys


def _compatible(a: str, b: str) -> bool:
    ta, tb = get_task(a), get_task(b)
    return ta.format == tb.format and (ta.labels or None) == (tb.labels or None)


# ------------------------------------------------------------------------ compute estimate


def hours_per_token(cost: CostModel) -> tuple[float | None, str]:
    """Device-hours per training token under the preset's cost model, and how it was obtained
    (a ``profile`` prices rows by their length instead: :func:`seconds_per_row`)."""
    if cost.tokens_per_second:
        return 1 / cost.tokens_per_second / 3600, f"{cost.tokens_per_second:,.0f} training tokens/s ({cost.source or 'given'})"
    if cost.params and cost.peak_flops:
        return (6 * cost.params / (cost.mfu * cost.peak_flops) / 3600,
                f"6·N·tokens FLOPs, N = {cost.params:.3g} parameters, {cost.mfu:.0%} of {cost.peak_flops:.3g} FLOP/s "
                f"({cost.source or 'assumed'})")
    return None, "no cost model in the preset"


def seconds_per_row(cost: CostModel):
    """``(L → seconds one training row of max length L costs, how)`` from the preset's measured
    ``profile``; ``(None, "")`` without one."""
    from xstilts.throughput import Profile, RowFit, load_profile

    if cost.profile is None:
        return None, ""
    if isinstance(cost.profile, ProfileFit):
        p = cost.profile
        profile = Profile(RowFit(p.a, p.b, p.c), cost.profile_model or "the preset's model", p.device, p.batch,
                          p.measured_at, "inline")
    else:
        profile = load_profile(cost.profile, cost.profile_model)

    def per_row(length: int) -> float:
        seconds = profile.fit.seconds_per_row(length)
        if not seconds > 0:  # a fit extrapolated far below its shortest measured length can go negative
            raise ConfigError(f"cost.profile: {profile.source}: the fit gives {seconds:.3g} s per row at max length "
                              f"{length}: measure the profile down to that length")
        return seconds

    return per_row, profile.describe()


def estimate(study: SeqlenStudy, graph) -> dict:
    """Training tokens of every training node of the run graph (shared phases once) → hours, disk."""
    from xstilts.pipeline import graph as graphs

    per_row, how = seconds_per_row(study.cost)
    per_token, how = (None, how) if per_row else hours_per_token(study.cost)
    params = graphs.parameters(graph.runs[0][0], study.cost.params) if graph.runs else None
    s = graphs.summary(graph, params=params, hours_per_token=per_token,
                       keep_models=study.grid.retention.unused_models, seconds_per_row=per_row)
    return {**s, "training_phases": sum(1 for n in graph if n.training),
            "hours": math.nan if s["device_hours"] is None else s["device_hours"],
            "device": study.cost.device, "how": how, "params": params}


def describe_estimate(cost: dict) -> list[str]:
    """The plan's summary lines (``study --dry-run`` and ``grid plan``)."""
    kinds = ", ".join(f"{n} {k}" for k, n in cost["by_kind"].items())
    hours = "unknown" if math.isnan(cost["hours"]) else f"{cost['hours']:,.1f}"
    lines = [f"run graph: {cost['nodes']} nodes ({kinds}) for {cost['runs']} runs; "
             f"{len(cost['shared'])} training nodes shared by several runs",
             f"estimated compute: {cost['training_tokens']:,} training tokens (upper bound: every row at max length) "
             f"≈ {hours} {cost['device']}-hours ({cost['how']}); evaluation not counted"]
    if cost.get("device_hours_by_length"):
        lines.append("  by max length: " + ", ".join(f"{length}: {h:,.2f}" for length, h in
                                                      cost["device_hours_by_length"].items()) + f" {cost['device']}-hours")
    if cost["training_nodes_without_estimate"]:
        lines.append(f"  {len(cost['training_nodes_without_estimate'])} training node(s) without an estimate "
                     f"(epoch-based, training set size unknown)")
    if cost["disk_kept_bytes"] is not None:
        lines.append(f"expected disk: {_size(cost['disk_kept_bytes'])} of models kept "
                     f"({cost['params']:.3g} parameters × 4 bytes per training node), "
                     f"+{_size(cost['disk_peak_per_running_node_bytes'])} per training node while it runs "
                     f"(best weights and last checkpoint with optimizer states); features cache not counted")
    return lines


def _size(n: float) -> str:
    for unit, scale in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:,.1f} {unit}"
    return f"{n:.0f} B"


# ------------------------------------------------------------------------ running


def grid_runs(study: SeqlenStudy, out_dir: str | Path) -> list[tuple[ExperimentConfig, str]]:
    """Every run of the study with its sub-folder: the grid in ``OUT``, the controls in ``OUT/control``."""
    out_dir = Path(out_dir)
    data_dir = None
    if study.world is not None:
        data_dir = str((out_dir / "world").resolve())
    elif study.bucc_from_tatoeba is not None:
        data_dir = str((out_dir / "data").resolve())
    return [(cfg, "") for cfg in expand(study, data_dir)] + [(cfg, "control") for cfg in controls(study, data_dir)]


def prepare(study: SeqlenStudy, out_dir: str | Path, echo=print) -> None:
    """The data the runs read that the study makes itself: the synthetic world, BUCC-style pools."""
    from xstilts import settings as xsettings

    out_dir = Path(out_dir)
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


def run_study(preset: str, out_dir: str | Path, *, dry_run: bool = False, progress: bool = True,
              echo=print, overrides: list[str] = (), executor: str = "inline", workers: int = 1) -> dict:
    """Expand, plan, (optionally) run the run graph through ``executor``, then analyse and report."""
    from xstilts.pipeline import graph as graphs
    from xstilts.pipeline.executors import get_executor
    from xstilts.pipeline.grid import exclusive, grid_dir

    study = load_preset(preset, overrides)
    out_dir = Path(out_dir)
    runs = grid_runs(study, out_dir)
    configs = [c for c, where in runs if not where]
    control = [c for c, where in runs if where]
    graph = graphs.build(runs, require_data=False)
    cost = estimate(study, graph)
    sources = f" × {len(study.source_languages)} source languages" if len(study.source_languages) > 1 else ""
    inter = (f" × {len(study.intermediate_source_languages)} intermediate source languages"
             if len(study.intermediate_source_languages) > 1 else "")
    echo(f"study {study.name}: {len(configs)} runs ({len(study.seeds)} seeds × {len(study.targets)} targets{sources} "
         f"× [baseline + {len(study.intermediate_tasks)} tasks{inter} × {len(study.compute_policies)} policies × "
         f"{len(study.max_lengths)} max lengths]); {cost['training_phases']} distinct training phases")
    if control:
        echo(f"  + {len(control)} random-init control run(s) in {out_dir / 'control'}")
    for cfg in configs + control:
        echo(f"  {cfg.run_id}")
    for line in describe_estimate(cost):
        echo(line)
    if dry_run:
        return {"runs": [c.run_id for c in configs], "estimate": cost}
    with exclusive(out_dir, "prepare", study.grid):  # two drivers: one writes the data, the other waits
        prepare(study, out_dir, echo)
    graph = graphs.build(runs)  # with the data's fingerprints: the keys the runs will use
    graphs.save(graph, grid_dir(out_dir) / "graph.json", grid=study.grid.model_dump(mode="json"))
    state = get_executor(executor)(graph, out_dir, study.grid, workers=workers, echo=echo, progress=progress)
    bad = {k: v for k, v in state.items() if v != "done"}
    summary: dict[str, Any] = {"runs": [c.run_id for c in configs], "control": [c.run_id for c in control],
                               "estimate": cost, "state": state}
    if bad:
        from xstilts.errors import XstiltsError

        raise XstiltsError(f"{len(bad)} node(s) not done ({', '.join(sorted(set(bad.values())))}): "
                           f"see `xstilts grid status {out_dir}`")
    try:
        from xstilts.report import build_report
    except ImportError:  # pragma: no cover - the report package ships with xstilts
        return summary
    summary["report"] = str(build_report(out_dir))
    return summary
