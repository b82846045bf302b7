"""Phase kinds: one module each, registered here, looked up by the runner with :func:`get_phase_kind`.

A phase kind says what it reads and what it writes (the attributes of :class:`PhaseKind`) and does
its work in :meth:`PhaseKind.run`; the runner (:func:`xstilts.pipeline.runner.run_experiment`)
only decides where that happens, under which lock, and whether it happens at all (resume, ``upto``)
from those declarations, never from a kind's name. The five kinds:

============== ======== =========== ======== ==========================================================
kind           trains   reads model writes   reads data
============== ======== =========== ======== ==========================================================
pretrained     yes      no          shared   a hub id or model folder; from scratch, MLM corpora
intermediate   yes      yes         shared   English train/dev slices of its tasks
retrieval_eval no       yes         run      the retrieval tasks' bitext (every language asked)
target         yes      yes         shared   English train/dev slices of the target task
zero_shot_eval no       yes         run      the target task's dev/test splits in every language
============== ======== =========== ======== ==========================================================

A new kind is one module here with one ``@register`` class, and its phase model in
:mod:`xstilts.config` (the config's phase list is a closed, validated union).
"""

from __future__ import annotations

import importlib
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from xstilts.registry import Registry

if TYPE_CHECKING:
    from xstilts.config import ExperimentConfig, ResolvedConfig, TrainingArgs
    from xstilts.pipeline.run import Run


class PhaseKind:
    """What one kind of phase reads and writes, and how it runs.

    Declarations (class attributes):

    * ``kind`` — the name configs use (``phases[i].kind``).
    * ``trains`` — it writes a trained model: its folder is ``OUT/shared/<kind>-<key>``, shared by
      every run whose phases up to it agree (:func:`~xstilts.pipeline.runner.training_key`), it is a
      training node of the run graph, it runs under a lock, and a run always enters it (to train,
      or to reload what a later phase needs) — even on a call that runs a later node (``upto``).
    * ``reads_model`` — it starts from the model the phases before it leave (``False``: it makes one).
    * ``writes`` — ``"shared"`` (``OUT/shared/<kind>-<key>/``: the model, checkpoints, ``done.json``)
      or ``"run"`` (``OUT/runs/<run_id>/<i>-<kind>/``: predictions, ``done.json``); both append
      their rows to ``OUT/results.jsonl``.
    * ``reads`` — the data it reads, in words (the config resolves and fingerprints the files of
      training phases; :meth:`trains_on` and :meth:`evaluates` give the overlap guard the sets).
    """

    kind: ClassVar[str]
    trains: ClassVar[bool] = False
    reads_model: ClassVar[bool] = True
    writes: ClassVar[Literal["shared", "run"]] = "run"
    reads: ClassVar[str] = ""

    @property
    def fine_tunes(self) -> bool:
        """Trains a model it was given: the phases whose position among themselves seeds heads
        and batches, and whose English data the overlap guard checks."""
        return self.trains and self.reads_model

    def shares(self, phase) -> bool:
        """Whether this phase writes under ``OUT/shared`` (a pretrained phase that only loads a hub
        checkpoint trains and shares nothing)."""
        return self.writes == "shared"

    def trains_on(self, phase) -> list[str]:
        """The tasks whose English train and dev slices this phase trains and selects on."""
        return []

    def training_args(self, phase) -> TrainingArgs | None:
        """The training arguments the phase trains with (after any compute policy)."""
        return None

    def train_tokens(self, resolved: ResolvedConfig, phase) -> int | None:
        """Training tokens of the phase for ``grid plan``, an upper bound (every row at max length):
        max_steps × global batch × length, or for epoch-based training epochs × English training
        examples × length (counted from the files, else the tasks' ``english_sizes``); None if
        unknown or the kind trains nothing."""
        from xstilts.pipeline.graph import english_examples

        args = self.training_args(phase)
        if args is None:
            return None
        names = self.trains_on(phase)
        lengths = [getattr(phase, "max_length", None) or resolved.tasks[t]["max_length"] for t in names]
        if args.max_steps > 0:
            return args.max_steps * args.per_device_train_batch_size * args.gradient_accumulation_steps * max(lengths)
        counts = [english_examples(resolved, t, "train", args.max_train_examples) for t in names]
        if any(c is None for c in counts):
            return None
        return int(math.ceil(args.num_train_epochs * sum(c * n for c, n in zip(counts, lengths))))

    def evaluates(self, config: ExperimentConfig, index: int) -> list[tuple[str, list[str], list[str] | None, int | None]]:
        """``(task, splits, languages, max examples)`` of every set phase ``index`` scores (None:
        every language present, every example)."""
        return []

    def key(self, resolved: ResolvedConfig, index: int) -> tuple[dict, dict[str, dict], dict]:
        """What training phase ``index`` contributes to a training key: the phase as configured,
        the resolved settings of the tasks it trains on, and the fingerprints of what it reads."""
        phase = resolved.config.phases[index]
        tasks = {name: resolved.tasks[name] for name in self.trains_on(phase)}
        return phase.model_dump(mode="json"), tasks, resolved.data.get(index, {})

    def run(self, run: Run, phase, index: int, folder: Path, **context: Any) -> None:
        """Do phase ``index`` of ``run`` in ``folder`` and write its ``done.json`` last.

        ``folder`` is the shared folder of a training kind (which may hold a finished phase: then
        reload it) or the run's own folder of an evaluation kind (entered only when not done).
        ``context``: ``load_model`` (False: a later finished training phase's model replaces this
        one's, so set up the state only), ``ordinal`` (the phase's position among the fine-tuning
        phases: it seeds heads and batches, so evaluations in between change nothing) and
        ``overlaps`` (train/test overlaps the config allows, to record in ``done.json``).
        """
        raise NotImplementedError


_KINDS: Registry[PhaseKind] = Registry("phase kind")


def register(cls: type[PhaseKind]) -> type[PhaseKind]:
    """Class decorator: make ``cls.kind`` a phase kind the runner can run (twice is an error)."""
    _KINDS.register(cls.kind)(cls())
    return cls


def get_phase_kind(name: str) -> PhaseKind:
    """The registered phase kind ``name``; an unknown name fails with "did you mean"."""
    return _KINDS.get(name)


def phase_kinds() -> list[str]:
    """Names of every registered phase kind, in registration order."""
    return _KINDS.names()


# The built-in kinds register themselves on import (after the registry above exists).
for _module in ("pretrained", "intermediate", "retrieval_eval", "target", "zero_shot_eval"):
    importlib.import_module(f"{__name__}.{_module}")
