"""``target``: fine-tune on the target task's training data (:mod:`.finetune`) — English, or the
phase's ``source_language`` (one or several; a split the task lacks in a language is read from its
translated files); its head may start from an intermediate task's (``head_init``).

Reads the model of the phases before it and the target's train/dev slices in its source languages;
writes the trained model to ``OUT/shared/target-<key>``. The key holds what the target trains on, not
its name (:meth:`Target.key`), so XQuAD, MLQA and TyDiQA-GoldP trained on the same SQuAD slices are
one model, reloaded under each name; a source language other than English is part of it (the
phase's ``source_language`` and the fingerprints of the files read in it). Rows name a target
trained in another language ``<task>[<languages>]`` (``udpos[de]``): a condition of its own.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from xstilts.config import source_languages
from xstilts.pipeline.phases import PhaseKind, finetune, register
from xstilts.pipeline.run import Run
from xstilts.tasks import get_task

TARGET = "<target>"  # a target task's name in a training key: the model does not depend on it


@register
class Target(PhaseKind):
    kind = "target"
    trains = True
    reads_model = True
    writes = "shared"
    reads = "train/dev slices of the target task in its source languages (default English)"

    def trains_on(self, phase) -> list[str]:
        return [phase.task]

    def training_args(self, phase):
        return phase.training

    def key(self, resolved, index: int) -> tuple[dict, dict[str, dict], dict]:
        phase = resolved.config.phases[index]
        dump, reads = phase.model_dump(mode="json"), resolved.data.get(index, {})
        dump["task"] = TARGET
        reads = {TARGET + label[len(phase.task):]: v for label, v in reads.items()}
        return dump, {TARGET: _identity(resolved, phase.task)}, reads

    def run(self, run: Run, phase, index: int, folder: Path, *, load_model: bool = True, ordinal: int,
            overlaps: Sequence = (), **context) -> None:
        run.target, run.target_languages = phase.task, source_languages(phase)
        finetune.train_or_reload(run, phase, [get_task(phase.task)], self.training_args(phase), folder,
                                 load_model=load_model, index=ordinal, head_init=phase.head_init,
                                 overlaps=overlaps, done_info={"target": run.target})


def _identity(resolved, name: str) -> dict:
    """What a target task contributes to the model: its resolved settings, each data slice naming
    where its English examples come from (reader and files, or hub dataset) instead of a task name,
    and the metric that selects on its dev data."""
    s = dict(resolved.tasks[name])
    for role in ("train", "dev"):
        data = resolved.data_slice(name, role)
        source = get_task(data.task or name)
        where = ({"reader": source.reader, "files": list(source.files.get(data.split, ()))}
                 if resolved.config.data_source == "files" and source.has(data.split, "en") else
                 {"hub": str(source.hub), "split": data.split} if source.has(data.split, "en") else None)
        s[role] = {**s[role], "task": where}
    s["selection_metric"] = finetune.dev_scorer(name, resolved.data_slice(name, "dev")).metric
    return s
