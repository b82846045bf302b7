"""The training loop: AdamW + linear warm-up/decay, gradient accumulation, clipping, mixed precision
(through ``accelerate``), evaluation every N steps, early stopping, best-checkpoint selection, and
checkpoints that resume to the same numbers.

A checkpoint holds the model (safetensors), optimizer, scheduler, torch RNG state and the data-order
position of every task (:class:`~xstilts.training.sampling.TaskCursor`). Batch order and task
choice are pure functions of the seed and the position, so after a kill the resumed run replays
exactly what the uninterrupted run would have done.
"""

from __future__ import annotations

import errno
import json
import math
import os
import random
import shutil
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch
from safetensors.torch import load_model, save_model

from xstilts.config import TrainingArgs
from xstilts.errors import XstiltsError
from xstilts.formats.base import MODEL_INPUTS, Features, collate
from xstilts.training import distributed, dropout
from xstilts.training.optim import (build_optimizer, clip_grad_norm_, dense_embeddings, input_embeddings,
                                   sparse_embeddings_apply)
from xstilts.training.sampling import TaskCursor, choose_task, task_probabilities


def seed_everything(seed: int) -> None:
    """Seed Python's, numpy's and torch's global generators (head init, dropout) before a phase
    builds heads or trains; batch order and masking have generators of their own."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


@dataclass
class TrainStream:
    """One task's training features and which columns its head/loss read (besides model inputs)."""

    head: str
    features: Features
    target_columns: tuple[str, ...] = ("labels",)
    # Applied to each collated numpy batch with a generator seeded by the batch position (MLM masking).
    transform: Callable[[dict, np.random.Generator], dict] | None = None
    # Example ids by ``example_index``: a batch that breaks training is reported by its examples.
    example_ids: Sequence[str] | None = None

    def describe_rows(self, rows: Sequence[int], most: int = 8) -> str:
        index = np.asarray(self.features["example_index"])[np.asarray(rows, dtype=np.int64)] \
            if "example_index" in self.features else np.asarray(rows)
        names = [str(self.example_ids[int(i)]) if self.example_ids is not None else f"#{int(i)}"
                 for i in dict.fromkeys(index.tolist())]
        return ", ".join(names[:most]) + (f" and {len(names) - most} more" if len(names) > most else "")

    def lengths(self) -> np.ndarray:
        if "full_length" in self.features:
            return np.minimum(np.asarray(self.features["full_length"]), 10**9)
        return np.array([np.asarray(r).shape[-1] for r in self.features["input_ids"]])


class TrainingError(XstiltsError):
    """Training cannot go on (non-finite loss, no memory at batch 1, a checkpoint that cannot be
    written): one line saying where, and what is kept."""


@dataclass
class TrainResult:
    steps: int
    best_step: int | None
    best_metric: float | None
    history: list[dict] = field(default_factory=list)
    stopped_early: bool = False
    resumed_from_step: int | None = None
    wall_seconds: float = 0.0
    tokens_seen: int = 0  # non-padding input tokens of every micro-batch trained on (all processes)
    # What it trained with: smaller than asked (same effective batch) after running out of memory.
    per_device_train_batch_size: int | None = None
    gradient_accumulation_steps: int | None = None
    oom_retries: int = 0


def resolve_mixed_precision(setting: str) -> str:
    """``auto`` means bf16 on a GPU that supports it, otherwise full precision."""
    if setting != "auto":
        return setting
    return "bf16" if torch.cuda.is_available() and torch.cuda.is_bf16_supported() else "no"


def total_steps(args: TrainingArgs, streams: Sequence[TrainStream], num_processes: int = 1) -> int:
    """Optimizer steps; an epoch takes fewer of them under more processes (the global batch is
    ``per_device_train_batch_size * num_processes`` rows), as in HF ``Trainer``."""
    if args.max_steps > 0:
        return args.max_steps
    batch = args.per_device_train_batch_size * num_processes
    batches = sum(math.ceil(len(s.features) / batch) for s in streams)
    return max(1, math.ceil(args.num_train_epochs * batches / args.gradient_accumulation_steps))


def set_embeddings_trainable(model: torch.nn.Module, trainable: bool) -> None:
    """(Un)freeze the input word embeddings of ``model``'s encoder (every phase sets it anew)."""
    for p in input_embeddings(model).parameters():
        p.requires_grad_(trainable)


def _linear_schedule(optimizer, warmup: int, total: int):
    def factor(step: int) -> float:
        if step < warmup:
            return step / max(1, warmup)
        return max(0.0, (total - step) / max(1, total - warmup))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def _to_batch(stream: TrainStream, rows: np.ndarray, pad_token_id: int, device,
              rng: np.random.Generator) -> tuple[dict, int]:
    """The micro-batch on ``device`` and its real (non-padding) tokens, counted on the host: reading
    them back from the device would make every micro-batch wait for the one before."""
    cols = [c for c in (*MODEL_INPUTS, *stream.target_columns) if c in stream.features]
    batch = collate([{c: stream.features[c][int(i)] for c in cols} for i in rows], pad_token_id)
    if stream.transform is not None:
        batch = stream.transform(batch, rng)
    tokens = int(np.asarray(batch["attention_mask"]).sum())
    return {k: torch.as_tensor(np.asarray(v)).to(device, non_blocking=True) for k, v in batch.items()}, tokens


def train(model, streams: Sequence[TrainStream], args: TrainingArgs, *, out_dir: str | Path,
          log: Callable[[str], None] = print, **kwargs) -> TrainResult:
    """Train ``model`` (a :class:`~xstilts.modeling.MultiTaskModel`) on ``streams``; resumes from
    ``out_dir/checkpoint`` if present. Leaves the best (or last) weights loaded in ``model``.

    Out of memory (accelerate's ``should_reduce_batch_size``: CUDA, XPU, CPU allocators), training
    starts again from the initial weights with the next smaller per-device batch that divides the
    asked one, and as much more gradient accumulation: the same effective batch. The sizes used
    are logged, kept in the checkpoint (a resumed run starts with them) and returned."""
    from accelerate.utils.memory import clear_device_cache, should_reduce_batch_size

    out_dir = Path(out_dir)
    asked, accumulation = args.per_device_train_batch_size, args.gradient_accumulation_steps
    sizes = [b for b in range(asked, 0, -1) if asked % b == 0]
    saved = _complete(out_dir / "checkpoint")
    if saved is not None:  # resume with the batch an earlier attempt settled on
        size = json.loads((saved / "state.json").read_text()).get("per_device_train_batch_size", asked)
        if size in sizes and size != asked:
            args = args.model_copy(update={"per_device_train_batch_size": size,
                                           "gradient_accumulation_steps": accumulation * asked // size})
    initial = {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}
    retries = 0
    encoder = getattr(model, "encoder", model)
    while True:
        attended = dropout.use_for_training(encoder)  # CPU dropout without bernoulli_ or SDPA's math path
        try:
            result = _train_once(model, streams, args, out_dir=out_dir, log=log, **kwargs)
            result.oom_retries = retries
            return result
        except Exception as err:  # noqa: BLE001 - only out-of-memory errors are retried
            if not should_reduce_batch_size(err):
                raise
            now = args.per_device_train_batch_size
            smaller = next((b for b in sizes if b <= now // 2), None)
            if smaller is None:
                raise TrainingError(f"{out_dir}: out of memory at per_device_train_batch_size {now}: lower "
                                    f"max_length or use a larger device") from None
            clear_device_cache(garbage_collection=True)
            model.load_state_dict(initial)
            for name in ("checkpoint", "checkpoint.old", "best", "best.old"):
                shutil.rmtree(out_dir / name, ignore_errors=True)
            args = args.model_copy(update={"per_device_train_batch_size": smaller,
                                           "gradient_accumulation_steps": accumulation * asked // smaller})
            retries += 1
            log(f"out of memory at per_device_train_batch_size {now}: starting again with {smaller} × "
                f"gradient_accumulation_steps {args.gradient_accumulation_steps} (same effective batch)")
        finally:  # neither the sparse flag nor the training-only dropout outlives an attempt
            dense_embeddings(model)
            dropout.restore(encoder, attended)


def _train_once(
    model,
    streams: Sequence[TrainStream],
    args: TrainingArgs,
    *,
    out_dir: str | Path,
    seed: int,
    pad_token_id: int,
    evaluate: Callable[[object], dict[str, float]] | None = None,
    selection_metric: str | None = None,
    greater_is_better: bool = True,
    sampler: str = "proportional",
    temperature: float = 2.0,
    examples_cap: int | None = None,
    log: Callable[[str], None] = print,
    progress: bool = True,
    accelerator=None,
) -> TrainResult:
    """One attempt of :func:`train` at ``args``' batch size."""
    from accelerate import Accelerator, DistributedDataParallelKwargs
    from accelerate.utils import broadcast_object_list
    from tqdm.auto import tqdm

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    trackers = list(args.report_to)
    # Under DDP: a micro-batch runs one head, so the other heads (and heads kept from earlier phases)
    # get no gradient; DDP must be told, or its second step fails waiting for their gradients.
    accelerator = accelerator or Accelerator(mixed_precision=resolve_mixed_precision(args.mixed_precision),
                                             log_with=trackers or None, project_dir=str(out_dir),
                                             kwargs_handlers=[DistributedDataParallelKwargs(find_unused_parameters=True)])
    processes, rank = accelerator.num_processes, accelerator.process_index
    if distributed.world()[1] != processes:
        # accelerate on a CPU-only torchrun without ``cpu`` initialises the process group yet reports
        # one process: every process would then write the same checkpoints as "main".
        raise RuntimeError(f"{distributed.world()[1]} processes launched but accelerate sees {processes}; on CPU "
                           "use `accelerate launch --cpu` or set ACCELERATE_USE_CPU=1 under torchrun")
    if not accelerator.is_main_process:
        log = _silent  # every process takes the same steps; one of them tells
    if trackers:
        accelerator.init_trackers(out_dir.name, config=args.model_dump(mode="json"))
    started = time.perf_counter()
    probs = task_probabilities({s.head: len(s.features) for s in streams}, sampler,
                               temperature=temperature, examples_cap=examples_cap)
    lengths = {s.head: s.lengths() for s in streams}
    by_head = {s.head: s for s in streams}
    steps = total_steps(args, streams, processes)
    eval_every = args.eval_steps or max(1, total_steps(args.model_copy(update={"num_train_epochs": 1.0, "max_steps": -1}),
                                                       streams, processes))
    save_every = args.save_steps or eval_every
    warmup = int(args.warmup_ratio * steps)

    set_embeddings_trainable(model, not args.freeze_embeddings)
    sparse_rows = sparse_embeddings_apply(model, processes=processes, mixed_precision=accelerator.mixed_precision)
    optimizer = build_optimizer(model, args)
    scheduler = _linear_schedule(optimizer, warmup, steps)
    wrapped, optimizer, scheduler = accelerator.prepare(model, optimizer, scheduler)
    # ``steps`` already counts global optimizer steps; otherwise accelerate steps the schedule once
    # per process per step (its dataloaders would have made a process's epoch N times shorter).
    scheduler.split_batches = True
    core = accelerator.unwrap_model(wrapped)

    state = {"step": 0, "micro_batch": 0, "tokens_seen": 0, "best_metric": None, "best_step": None, "bad_evals": 0,
             "history": [], "cursors": {s.head: TaskCursor(i).state() for i, s in enumerate(streams)},
             "finished": False, "per_device_train_batch_size": args.per_device_train_batch_size,
             "gradient_accumulation_steps": args.gradient_accumulation_steps}
    ckpt = out_dir / "checkpoint"
    resumed_from = None
    found = _complete(ckpt)
    if found is not None:
        state = json.loads((found / "state.json").read_text())
        load_model(core, str(found / "model.safetensors"))
        resumed_from = state["step"]
        if state["finished"]:  # the final checkpoint has no optimizer state: nothing is left to train
            _load_best(core, out_dir)
            return _result(state, resumed_from, started, args)
        optimizer.load_state_dict(torch.load(found / "optimizer.pt", weights_only=True))
        scheduler.load_state_dict(torch.load(found / "scheduler.pt", weights_only=True))
        torch.set_rng_state(torch.load(_rng_file(found, rank), weights_only=True))
        log(f"resumed from step {resumed_from} ({found})")
    cursors = {h: TaskCursor(**c) for h, c in state["cursors"].items()}

    saved_step = state["step"] if found is not None else None

    log(f"training {', '.join(by_head)}: {steps} steps, warm-up {warmup}, eval every {eval_every}, "
        f"probabilities {json.dumps({k: round(v, 4) for k, v in probs.items()})}")
    bar = tqdm(total=steps, initial=state["step"], desc="train", disable=not progress or not accelerator.is_main_process,
               dynamic_ncols=True)
    running, n_running = 0.0, 0
    wrapped.train()
    while state["step"] < steps:
        step_tokens, micro = 0, []  # micro: (loss on the device, head, micro-batch, rows) of this step
        for _ in range(args.gradient_accumulation_steps):
            head = choose_task(probs, seed, state["micro_batch"])
            stream = by_head[head]
            rows = cursors[head].next_batch(lengths[head], args.per_device_train_batch_size * processes, seed)
            mine = rows[rank::processes]
            # A short last batch can leave a process without rows, but DDP needs every process in
            # every backward: it trains a copy of a row that another process has, uncounted.
            copy = len(mine) == 0
            rng = np.random.default_rng([seed, state["micro_batch"], rank])
            batch, tokens = _to_batch(stream, rows[:1] if copy else mine, pad_token_id, accelerator.device, rng)
            with accelerator.autocast():
                outputs = wrapped(head, batch)
                loss = core.loss(head, outputs, batch) / args.gradient_accumulation_steps
            accelerator.backward(loss)
            micro.append((loss.detach(), head, state["micro_batch"], mine if len(mine) else rows[:1]))
            step_tokens += 0 if copy else tokens
            state["micro_batch"] += 1
        # One read-back per optimizer step (not per micro-batch): the losses, for the log and for
        # the check below.
        values = (torch.stack([m[0] for m in micro]).float() * args.gradient_accumulation_steps).tolist()
        running += sum(values)
        n_running += len(values)
        bad = next(((v, m[1], m[2], by_head[m[1]].describe_rows(m[3])) for v, m in zip(values, micro)
                    if not math.isfinite(v)), None)
        # Before the update: a non-finite loss would poison the weights, and every later number.
        if (bad is not None) if processes == 1 else _sum(accelerator, float(bad is not None)) > 0:
            where = (f"{bad[1]} micro-batch {bad[2]}, examples {bad[3]}" if bad is not None
                     else "on another process")
            kept = f"the checkpoint of step {saved_step} is kept" if saved_step is not None else "no checkpoint yet"
            raise TrainingError(f"{out_dir}: training loss is {bad[0] if bad else 'not finite'} at step {state['step'] + 1} "
                                f"({where}); {kept} — lower learning_rate, set max_grad_norm, or check these examples")
        if args.max_grad_norm and args.max_grad_norm > 0:
            if sparse_rows:  # accelerate's (torch's) clipping has no sparse gradients
                clip_grad_norm_(wrapped.parameters(), args.max_grad_norm)
            else:
                accelerator.clip_grad_norm_(wrapped.parameters(), args.max_grad_norm)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        state["tokens_seen"] += step_tokens if processes == 1 else int(_sum(accelerator, step_tokens))
        state["step"] += 1
        bar.update(1)
        step = state["step"]
        if step % args.logging_steps == 0 or step == steps:
            mean = running / max(1, n_running)
            if processes > 1:  # the loss of the global batch, not of this process's share
                mean = _sum(accelerator, mean) / processes
            bar.set_postfix(loss=f"{mean:.4f}")
            log(f"step {step}/{steps} loss {mean:.4f} lr {scheduler.get_last_lr()[0]:.3g}")
            if trackers:
                accelerator.log({"train/loss": mean, "train/lr": scheduler.get_last_lr()[0]}, step=step)
            running, n_running = 0.0, 0
        stop = False
        if evaluate is not None and (step % eval_every == 0 or step == steps):
            wrapped.eval()
            with torch.no_grad():
                metrics = evaluate(core)
            if processes > 1:
                # Selection, best checkpoint and early stopping must be one decision: take the main
                # process's numbers even if ``evaluate`` was not gathered (each process on its own rows).
                metrics = broadcast_object_list([metrics], from_process=0)[0]
            wrapped.train()
            state["history"].append({"step": step, **metrics})
            log(f"eval step {step}: {json.dumps(metrics)}")
            if trackers:
                accelerator.log({f"eval/{k}": v for k, v in metrics.items()}, step=step)
            value = metrics[selection_metric] if selection_metric else None
            best = state["best_metric"]
            if value is not None and (best is None or (value > best if greater_is_better else value < best)):
                state["best_metric"], state["best_step"], state["bad_evals"] = value, step, 0
                if accelerator.is_main_process:
                    with _disk_guard(out_dir / "best", step, saved_step):
                        _atomic_save_weights(core, out_dir / "best")
            else:
                state["bad_evals"] += 1
                stop = args.early_stopping_patience is not None and state["bad_evals"] >= args.early_stopping_patience
        if stop or step == steps:
            state["finished"] = True
        state["cursors"] = {h: c.state() for h, c in cursors.items()}
        if step % save_every == 0 or state["finished"]:
            rng_states = _rng_states(processes)
            accelerator.wait_for_everyone()
            if accelerator.is_main_process:
                with _disk_guard(ckpt, step, saved_step):
                    _save_checkpoint(core, optimizer, scheduler, state, ckpt, rng_states)
            saved_step = step
            accelerator.wait_for_everyone()  # no process goes on (or returns) before the files are whole
        if stop:
            log(f"early stopping at step {step} (best step {state['best_step']})")
            break
    bar.close()
    if trackers:
        accelerator.end_training()
    _load_best(core, out_dir)
    return _result(state, resumed_from, started, args, stopped_early=state["step"] < steps)


def _result(state: dict, resumed_from, started: float, args: TrainingArgs, stopped_early: bool = False) -> TrainResult:
    return TrainResult(steps=state["step"], best_step=state["best_step"], best_metric=state["best_metric"],
                       history=state["history"], stopped_early=stopped_early, resumed_from_step=resumed_from,
                       wall_seconds=time.perf_counter() - started, tokens_seen=state.get("tokens_seen", 0),
                       per_device_train_batch_size=args.per_device_train_batch_size,
                       gradient_accumulation_steps=args.gradient_accumulation_steps)


@contextmanager
def _disk_guard(target: Path, step: int, saved_step: int | None):
    """A checkpoint that cannot be written (disk full, quota, file size limit) stops training with
    one line; :func:`_atomic_dir` leaves the previous checkpoint whole, and a re-run resumes from it."""
    try:
        yield
    except Exception as err:  # noqa: BLE001 - safetensors and torch.save do not raise OSError
        if not _out_of_space(err):
            raise
        shutil.rmtree(target.with_name(target.name + ".tmp"), ignore_errors=True)
        kept = (f"the checkpoint of step {saved_step} is kept and a re-run resumes from it" if saved_step is not None
                else "no earlier checkpoint")
        raise TrainingError(f"{target}: could not write step {step} ({_first_line(err)}); {kept}") from None


_NO_SPACE = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}


def _out_of_space(err: Exception) -> bool:
    """A full disk, a quota or a file-size limit, as raised by open/write (OSError), safetensors
    (``... (os error 28)``) or torch.save (``file write failed``)."""
    if isinstance(err, OSError):
        return err.errno in _NO_SPACE
    text = str(err)
    return (any(f"(os error {code})" in text for code in _NO_SPACE)
            or any(s in text for s in ("No space left", "File too large", "Disk quota", "file write failed")))


def _first_line(err: Exception) -> str:
    return (getattr(err, "strerror", None) or str(err)).strip().splitlines()[0]


def _atomic_dir(target: Path, write: Callable[[Path], None]) -> None:
    """Write a folder next to ``target`` and swap it in, so a kill never leaves half a checkpoint."""
    tmp = target.with_name(target.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    write(tmp)
    old = target.with_name(target.name + ".old")
    shutil.rmtree(old, ignore_errors=True)  # left by a kill between the two renames below
    if target.exists():
        os.replace(target, old)
    os.replace(tmp, target)
    shutil.rmtree(old, ignore_errors=True)


def _complete(target: Path) -> Path | None:
    """``target``, or its previous version if a kill fell between the renames of :func:`_atomic_dir`."""
    for candidate in (target, target.with_name(target.name + ".old")):
        if (candidate / "state.json").exists() or (candidate / "model.safetensors").exists():
            return candidate
    return None


def _atomic_save_weights(model, target: Path) -> None:
    # save_model/load_model store a weight shared by two modules once (a tied MLM decoder).
    _atomic_dir(target, lambda d: save_model(model, str(d / "model.safetensors")))


def _rng_states(processes: int) -> list[torch.Tensor]:
    """Each process's torch RNG state, in rank order: their dropout masks differ, so a resumed
    process must continue its own stream, not the main process's."""
    if processes == 1:
        return [torch.get_rng_state()]
    states: list = [None] * processes
    torch.distributed.all_gather_object(states, torch.get_rng_state())
    return states


def _rng_file(checkpoint: Path, rank: int) -> Path:
    # rng.pt is rank 0's (and a single-process run's); a checkpoint from fewer processes has no file
    # for this rank, and rank 0's stream is as good a start as any.
    own = checkpoint / f"rng.{rank}.pt"
    return own if rank and own.exists() else checkpoint / "rng.pt"


def _save_checkpoint(model, optimizer, scheduler, state: dict, target: Path, rng_states: list[torch.Tensor]) -> None:
    """The state to resume from. A finished phase's checkpoint keeps only its weights and state: the
    optimizer's moments (twice the model's size) serve no resume once every step is taken."""
    def write(d: Path) -> None:
        save_model(model, str(d / "model.safetensors"))
        if not state["finished"]:
            torch.save(optimizer.state_dict(), d / "optimizer.pt")
            torch.save(scheduler.state_dict(), d / "scheduler.pt")
            for rank, rng in enumerate(rng_states):
                torch.save(rng, d / ("rng.pt" if rank == 0 else f"rng.{rank}.pt"))
        (d / "state.json").write_text(json.dumps(state, indent=1))

    _atomic_dir(target, write)


def _silent(message: str) -> None:
    pass


def _sum(accelerator, value: float) -> float:
    """``value`` summed over the processes (float64, so token counts stay exact)."""
    total = accelerator.reduce(torch.tensor([value], dtype=torch.float64, device=accelerator.device), "sum")
    return float(total[0])


def _load_best(model, out_dir: Path) -> None:
    best = _complete(out_dir / "best")
    if best is not None:
        load_model(model, str(best / "model.safetensors"))
