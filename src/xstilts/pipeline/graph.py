"""The run graph of a grid: every phase of every run as a node, training nodes shared by content.

A training phase (from-scratch pretraining, intermediate, target) is keyed by what determines its
model (:func:`~xstilts.pipeline.runner.training_key`): runs that agree up to it share ONE node, so
an intermediate checkpoint is trained once for every target and seed that uses it, and XQuAD,
MLQA and TyDiQA share one SQuAD model where their training data and settings agree. Evaluation
phases (``retrieval_eval``, ``zero_shot_eval``) belong to their run. Every node needs the training
node before it in its run; nothing else orders the graph, so any executor may run ready nodes in
any order, on any machine that sees the grid folder.

A node runs as ``run_experiment(config, out, upto=index)`` of a run that contains it (the first
in grid order, whichever executor runs it): the result rows and files are those of a plain
sequential run.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Callable, Sequence

from xstilts.config import ExperimentConfig, ResolvedConfig, load_config, resolve
from xstilts.pipeline.phases import get_phase_kind

BYTES_PER_PARAM = 4  # safetensors in float32, as MultiTaskModel.save writes
# A finished training phase holds its model; while it trains, also the best weights and the last
# checkpoint (weights + AdamW's two moments): 5 copies of the weights at peak.
PEAK_COPIES = 5


@dataclass
class Node:
    id: str
    kind: str
    where: str  # sub-folder of the grid folder ("" or "control")
    config: ExperimentConfig  # the first run of the grid that contains the node
    run_id: str  # that run's id, computed once: it hashes data fingerprints, and drivers poll folder() often
    index: int  # its phase index in that run
    needs: list[str]
    runs: list[str] = field(default_factory=list)
    tokens: int | None = None  # training tokens, an upper bound (every row at max length); None: unknown

    @property
    def training(self) -> bool:
        return get_phase_kind(self.kind).trains

    def folder(self, out: str | Path) -> Path:
        base = Path(out) / self.where if self.where else Path(out)
        if self.training:
            return base / "shared" / self.id.split("~")[-1]
        return base / "runs" / self.run_id / f"{self.index}-{self.kind}"

    def done(self, out: str | Path) -> bool:
        return (self.folder(out) / "done.json").exists()

    def label(self) -> str:
        phase = self.config.phases[self.index]
        what = (getattr(phase, "tasks", None) or [getattr(phase, "task", None) or ""])
        return f"{self.kind} {'+'.join(t for t in what if t)}".strip()


@dataclass
class Graph:
    nodes: dict[str, Node]  # in topological order
    runs: list[tuple[ExperimentConfig, str]]

    def __iter__(self):
        return iter(self.nodes.values())

    def __len__(self) -> int:
        return len(self.nodes)

    def dependents(self, node_id: str) -> list[Node]:
        return [n for n in self if node_id in n.needs]


def build(runs: Sequence[tuple[ExperimentConfig, str]], *, require_data: bool = True) -> Graph:
    """The graph of ``runs`` — (config, sub-folder) pairs. ``require_data=False`` plans before the
    data exists (a missing file is keyed as missing, so keys may differ from the real run's)."""
    from xstilts.pipeline.runner import training_key

    nodes: dict[str, Node] = {}
    for config, where in runs:
        resolved = resolve(config, require_data=require_data)
        run_id = resolved.run_id
        previous: str | None = None
        for index, phase in enumerate(config.phases):
            kind = get_phase_kind(phase.kind)
            if kind.trains and not kind.shares(phase):
                continue  # a hub id or directory: loaded by every node, nothing to run
            if kind.trains:
                node_id = f"{phase.kind}-{training_key(resolved, index)[:16]}"
            else:
                node_id = f"{run_id}.{index}-{phase.kind}"
            node_id = f"{where}~{node_id}" if where else node_id
            if node_id not in nodes:
                nodes[node_id] = Node(node_id, phase.kind, where, config, run_id, index, [previous] if previous else [],
                                      tokens=kind.train_tokens(resolved, phase) if kind.trains else None)
            nodes[node_id].runs.append(run_id)
            if kind.trains:
                previous = node_id
    return Graph(nodes, list(runs))


# ------------------------------------------------------------------ saved with the grid folder


def save(graph: Graph, path: str | Path, **extra) -> None:
    """The runs of the graph (the graph is rebuilt from them), for workers on any machine."""
    from xstilts.pipeline.runner import _write_text

    payload = {"runs": [{"where": where, "config": config.model_dump(mode="json")} for config, where in graph.runs],
               **extra}
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    _write_text(Path(path), json.dumps(payload, indent=1))


def load(path: str | Path) -> tuple[Graph, dict]:
    payload = json.loads(Path(path).read_text(encoding="utf-8"))
    runs = [(load_config(raw=r["config"]), r["where"]) for r in payload.pop("runs")]
    return build(runs), payload


# ------------------------------------------------------------------ estimates (tokens: PhaseKind.train_tokens)


def english_examples(resolved: ResolvedConfig, name: str, role: str, cap: int | None) -> int | None:
    """How many English ``role`` examples task ``name`` trains on (exclusions not subtracted)."""
    from xstilts import settings as xsettings
    from xstilts.errors import XstiltsError
    from xstilts.tasks import get_task

    data = resolved.data_slice(name, role)
    source = get_task(data.task or name)
    if not source.has(data.split, "en"):
        return 0
    n = None
    if resolved.config.data_source == "files":
        try:
            n = _count(source.name, data.split, str(xsettings.data_dir(resolved.config.data_dir)))
        except (XstiltsError, OSError):
            n = None
    if n is None:
        n = source.english_sizes.get(data.split)
    if n is None:
        return None
    n = max(0, min(n, data.stop if data.stop is not None else n) - data.start)
    return min(n, cap) if cap else n


@lru_cache(maxsize=None)
def _count(task: str, split: str, root: str) -> int:
    from xstilts.data.loading import load_examples
    from xstilts.tasks import get_task

    return len(load_examples(get_task(task), split, "en", data_dir=root))


def parameters(config: ExperimentConfig, given: float | None = None) -> float | None:
    """The encoder's parameter count: ``given`` (the preset's cost model), else from the shape of a
    from-scratch encoder (embeddings + 12·H² per layer + the feed-forward), else None."""
    if given:
        return given
    first = config.phases[0]
    if first.kind != "pretrained" or first.from_scratch is None:
        return None
    spec = first.from_scratch
    m, vocab = spec.model, spec.tokenizer.vocab_size
    positions = max(spec.max_positions or spec.max_length, spec.max_length)
    per_layer = 4 * m.hidden_size ** 2 + 2 * m.hidden_size * m.intermediate_size + 9 * m.hidden_size
    return float((vocab + positions + 2) * m.hidden_size + m.num_hidden_layers * per_layer)


def max_length(node: Node) -> int:
    """The max length a training node's rows are priced at: a from-scratch encoder's pretraining
    length, else the longest of the phase's tasks (the phase's own ``max_length`` first), as
    :meth:`~xstilts.pipeline.phases.PhaseKind.train_tokens` counts them."""
    phase = node.config.phases[node.index]
    if node.kind == "pretrained":
        return phase.from_scratch.max_length
    resolved = resolve(node.config, require_data=False)
    names = get_phase_kind(node.kind).trains_on(phase)
    return max(getattr(phase, "max_length", None) or resolved.tasks[t]["max_length"] for t in names)


def summary(graph: Graph, *, params: float | None, hours_per_token: float | None,
            keep_models: bool = True, seconds_per_row: Callable[[int], float] | None = None) -> dict:
    """Counts, device-hours and disk of the graph, for ``grid plan``. Device-hours: the training
    tokens × ``hours_per_token``, or with ``seconds_per_row`` (a measured profile: the seconds one
    row of max length L costs) Σ over training nodes of rows × seconds_per_row(L) at the node's max
    length, rows = tokens / L (every row at max length, as the tokens count them)."""
    training = [n for n in graph if n.training]
    tokens = sum(n.tokens for n in training if n.tokens is not None)
    unknown = [n.id for n in training if n.tokens is None]
    hours = tokens * hours_per_token if hours_per_token else None
    by_length: dict[int, float] = {}  # device-hours per max length (a profile only)
    if seconds_per_row is not None:
        for n in training:
            if n.tokens is not None:
                length = max_length(n)
                by_length[length] = by_length.get(length, 0.0) + n.tokens / length * seconds_per_row(length) / 3600
        hours = sum(by_length.values())
    by_kind: dict[str, int] = {}
    for n in graph:
        by_kind[n.kind] = by_kind.get(n.kind, 0) + 1
    model_bytes = params * BYTES_PER_PARAM if params else None
    return {
        "runs": len(graph.runs), "nodes": len(graph), "by_kind": by_kind,
        "training_tokens": tokens, "training_nodes_without_estimate": unknown,
        "device_hours": hours, "device_hours_by_length": dict(sorted(by_length.items())),
        "disk_kept_bytes": (model_bytes * len(training) if keep_models else model_bytes) if model_bytes else None,
        "disk_peak_per_running_node_bytes": model_bytes * PEAK_COPIES if model_bytes else None,
        "shared": {n.id: len(n.runs) for n in training if len(n.runs) > 1},
    }


def describe(graph: Graph) -> list[str]:
    """One line per node: id, what it runs, which nodes it needs and how many runs use it."""
    lines = []
    for n in graph:
        needs = ", ".join(n.needs) or "-"
        lines.append(f"{n.id}  [{n.label()}]  needs {needs}  runs {len(n.runs)}"
                     + (f"  ~{n.tokens:,} tokens" if n.tokens else ""))
    return lines
