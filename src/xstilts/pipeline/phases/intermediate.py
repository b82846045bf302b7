"""``intermediate``: train the model on English intermediate tasks (several at once: sampled by
``sampler``) at the phase's ``max_length``, before the target task (:mod:`.finetune`).

Reads the model of the phases before it and the English train/dev slices of ``tasks``; writes the
trained model to ``OUT/shared/intermediate-<key>``. Every later row names its tasks
(``intermediate``), its length and its compute policy.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from xstilts.pipeline.phases import PhaseKind, finetune, register
from xstilts.pipeline.run import Run
from xstilts.tasks import get_task


@register
class Intermediate(PhaseKind):
    kind = "intermediate"
    trains = True
    reads_model = True
    writes = "shared"
    reads = "English train/dev slices of its tasks"

    def trains_on(self, phase) -> list[str]:
        return list(phase.tasks)

    def training_args(self, phase):
        return phase.effective_training()  # batch size scaled under compute_policy equal_tokens

    def run(self, run: Run, phase, index: int, folder: Path, *, load_model: bool = True, ordinal: int,
            overlaps: Sequence = (), **context) -> None:
        tasks = [get_task(t) for t in phase.tasks]
        run.intermediate_max_len = phase.max_length or _common([run.settings(t)["max_length"] for t in tasks])
        run.compute_policy = phase.compute_policy
        finetune.train_or_reload(run, phase, tasks, self.training_args(phase), folder, load_model=load_model,
                                 index=ordinal, max_length=phase.max_length, overlaps=overlaps)
        run.add_intermediate(phase)  # later rows name its tasks (and source languages other than English)


def _common(values: list[int]) -> int | None:
    """The one length every task has (rows name it), or None when they differ."""
    return values[0] if len(set(values)) == 1 else None
