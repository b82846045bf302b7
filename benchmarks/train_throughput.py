"""Training throughput: xstilts' loop vs. the Hugging Face Trainer on identical work.

    python benchmarks/train_throughput.py [--workloads pairs,choice,qa] [--models tiny,mini] [--repeats 3]
                                          [--steps 30] [--json FILE]

Both sides train the same encoder weights on the same featurized rows (xstilts' featurization of
real English data from $XSTILTS_DATA_DIR): the same number of optimizer steps, effective batch, max
length, learning-rate schedule and precision. The Trainer runs at its best practice: dynamic
padding (``DataCollatorWithPadding``), fused AdamW (its default), SDPA attention, bf16 where the device has it, no checkpoints
(``save_strategy="no"``). Both train on the very same batches: the Trainer reads the rows in the
order xstilts' length-grouped sampler draws them (``train_sampling_strategy="sequential"`` over that
order), so both see the same real tokens (checked) and differ only in the loop around the model.
xstilts runs its whole ``train()``, including the checkpoint a phase keeps for resuming. The two
alternate, one repetition at a time, and the script prints tokens/s (real, non-padding tokens), the
final loss and the xstilts / Trainer ratio (min / median / max).

Workloads: (a) ``pairs``: ANLI R1-R3 dev pairs at 128; (b) ``choice``: HellaSwag val at 128 (4 choices);
(c) ``qa``: SQuAD v1.1 dev windows at 384, stride 128. Models: ``tiny``, a 2-layer XLM-R config (hidden
128, XLM-R's 250k vocabulary) with random weights; ``mini``, the shared multilingual-e5-small.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from _common import build_mini_encoder, ratio_summary

WORKLOADS = {  # name: (task, split, max_length, format, rows to featurize)
    "pairs": ("anli", "dev", 128, "classification", 3000),
    "choice": ("hellaswag", "dev", 128, "multiple_choice", 1500),
    "qa": ("squad_v1", "dev", 384, "span_qa", 600),
}


def encoder_dir(name: str, cache: Path) -> Path:
    mini = build_mini_encoder(cache)
    if name == "mini":
        return mini
    out = cache / "tiny-xlmr-250k"
    if not (out / "config.json").exists():
        from transformers import AutoTokenizer, XLMRobertaConfig, XLMRobertaModel

        torch.manual_seed(0)
        tok = AutoTokenizer.from_pretrained(str(mini))
        config = XLMRobertaConfig(vocab_size=len(tok), hidden_size=128, num_hidden_layers=2, num_attention_heads=2,
                                  intermediate_size=512, max_position_embeddings=514, pad_token_id=tok.pad_token_id,
                                  bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id)
        XLMRobertaModel(config, add_pooling_layer=False).save_pretrained(out)
        tok.save_pretrained(out)
    return out


def features(workload: str, model_dir: Path):
    """xstilts' features of the workload's rows: the one input both sides train on."""
    from transformers import AutoTokenizer

    from xstilts.data.loading import load_examples
    from xstilts.formats import get_format
    from xstilts.tasks import get_task

    name, split, max_length, fmt_name, n = WORKLOADS[workload]
    task = get_task(name)
    examples = load_examples(task, split, "en")[:n]
    tok = AutoTokenizer.from_pretrained(str(model_dir))
    fmt = get_format(fmt_name)
    kwargs = {"max_length": max_length}
    if fmt_name == "classification":
        kwargs["label_list"] = task.labels
    if fmt_name == "span_qa":
        kwargs |= {"doc_stride": 128, "max_query_length": 64}
    return task, fmt, fmt.featurize(examples, tok, **kwargs), tok


def _rows(feats, columns) -> list[dict]:
    return [{c: np.asarray(feats[c][i]).tolist() for c in columns} for i in range(len(feats))]


def run_xstilts(model_dir: Path, task, fmt, feats, tok, steps: int, batch: int, out: Path,
                precision: str = "auto") -> dict:
    from xstilts.config import TrainingArgs
    from xstilts.modeling import MultiTaskModel, head_spec_for
    from xstilts.training.loop import TrainStream, seed_everything, train

    seed_everything(0)
    model = MultiTaskModel.from_pretrained(str(model_dir))
    model.add_head(task.name, head_spec_for(task, task.labels))
    args = TrainingArgs(learning_rate=5e-5, per_device_train_batch_size=batch, max_steps=steps, warmup_ratio=0.1,
                        logging_steps=steps, mixed_precision="bf16" if precision == "bf16" else "auto")
    losses = []
    result = train(model, [TrainStream(task.name, feats, fmt.TARGET_COLUMNS)], args, out_dir=out, seed=0,
                   pad_token_id=tok.pad_token_id, log=lambda m: losses.append(m), progress=False)
    final = next((float(m.split(" loss ")[1].split()[0]) for m in reversed(losses) if " loss " in m), float("nan"))
    return {"seconds": result.wall_seconds, "tokens": result.tokens_seen, "loss": final}


def xstilts_order(feats, target_columns, steps: int, batch: int) -> list[int]:
    """The rows of xstilts' first ``steps`` batches, in order (its sampler at seed 0, one task)."""
    from xstilts.training.loop import TrainStream
    from xstilts.training.sampling import TaskCursor

    lengths, cursor = TrainStream("t", feats, target_columns).lengths(), TaskCursor(0)
    return [int(i) for _ in range(steps) for i in cursor.next_batch(lengths, batch, 0)]


def run_trainer(model_dir: Path, task, fmt_name: str, feats, tok, steps: int, batch: int, out: Path,
                order: list[int], precision: str = "auto") -> dict:
    from transformers import (AutoModelForMultipleChoice, AutoModelForQuestionAnswering,
                              AutoModelForSequenceClassification, DataCollatorForMultipleChoice,
                              DataCollatorWithPadding, Trainer, TrainingArguments)

    torch.manual_seed(0)
    if fmt_name == "classification":
        model = AutoModelForSequenceClassification.from_pretrained(str(model_dir), num_labels=len(task.labels),
                                                                   attn_implementation="sdpa")
        rows, collator = _rows(feats, ("input_ids", "attention_mask", "labels")), DataCollatorWithPadding(tok)
    elif fmt_name == "multiple_choice":
        model = AutoModelForMultipleChoice.from_pretrained(str(model_dir), attn_implementation="sdpa")
        rows, collator = _rows(feats, ("input_ids", "attention_mask", "labels")), DataCollatorForMultipleChoice(tok)
    else:
        model = AutoModelForQuestionAnswering.from_pretrained(str(model_dir), attn_implementation="sdpa")
        rows = _rows(feats, ("input_ids", "attention_mask", "start_positions", "end_positions"))
        collator = DataCollatorWithPadding(tok)
    bf16 = precision == "bf16" or (torch.cuda.is_available() and torch.cuda.is_bf16_supported())
    args = TrainingArguments(str(out), per_device_train_batch_size=batch, max_steps=steps, learning_rate=5e-5,
                             warmup_steps=int(0.1 * steps), weight_decay=0.01, logging_steps=steps, save_strategy="no",
                             report_to=[], bf16=bf16, train_sampling_strategy="sequential",
                             disable_tqdm=True, seed=0, data_seed=0, dataloader_pin_memory=torch.cuda.is_available(),
                             use_cpu=not torch.cuda.is_available())
    rows = [rows[i] for i in order]  # xstilts' batches, one after the other
    tokens = {"n": 0}  # real tokens of every batch, as xstilts counts them
    trainer = Trainer(model=model, args=args, train_dataset=rows, data_collator=_counting(collator, tokens))
    started = time.perf_counter()
    out_state = trainer.train()
    seconds = time.perf_counter() - started
    loss = next((h["loss"] for h in reversed(trainer.state.log_history) if "loss" in h), out_state.training_loss)
    return {"seconds": seconds, "tokens": tokens["n"], "loss": float(loss)}


def _counting(collator, tokens: dict):
    def collate(features):
        batch = collator(features)
        tokens["n"] += int(batch["attention_mask"].sum())
        return batch

    return collate


def run(quick: bool = False, *, workloads: str = "pairs,choice,qa", models: str = "tiny,mini", repeats: int = 3,
        steps: int = 30, batch: int = 16, precision: str = "auto", echo=print) -> list[dict]:
    """The table's rows; ``quick``: the tiny model, pairs only, 3 steps, one repetition (a smoke test)."""
    if quick:
        workloads, models, repeats, steps, batch = "pairs", "tiny", 1, 3, 4
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", os.cpu_count() or 1)))
    cache = Path(os.environ.get("XSTILTS_BENCH_CACHE", Path(tempfile.gettempdir()) / "xstilts-bench"))
    cache.mkdir(parents=True, exist_ok=True)
    results = []
    echo(f"{'workload':<8} {'model':<5} {'xstilts tok/s':>13} {'Trainer tok/s':>13} {'ratio min/med/max':>20} "
         f"{'loss xstilts':>12} {'loss Trainer':>12}")
    for model_name in models.split(","):
        model_dir = encoder_dir(model_name, cache)
        for workload in workloads.split(","):
            task, fmt, feats, tok = features(workload, model_dir)
            order = xstilts_order(feats, fmt.TARGET_COLUMNS, steps, batch)
            ours, theirs = [], []
            for rep in range(repeats):
                for side in (("xstilts", "trainer") if rep % 2 == 0 else ("trainer", "xstilts")):
                    out = Path(tempfile.mkdtemp(dir=cache, prefix=f"{side}-"))
                    try:
                        if side == "xstilts":
                            ours.append(run_xstilts(model_dir, task, fmt, feats, tok, steps, batch, out, precision))
                        else:
                            theirs.append(run_trainer(model_dir, task, WORKLOADS[workload][3], feats, tok, steps,
                                                      batch, out, order, precision))
                    finally:
                        shutil.rmtree(out, ignore_errors=True)
            if {r["tokens"] for r in ours + theirs} != {ours[0]["tokens"]}:
                raise SystemExit(f"{workload}/{model_name}: the two sides trained on different tokens "
                                 f"({ours[0]['tokens']} vs {theirs[0]['tokens']}): not the same work")
            rate = lambda r: r["tokens"] / r["seconds"]  # noqa: E731
            row = {"benchmark": "train_throughput", "case": f"{workload}/{model_name}", "workload": workload,
                   "model": model_name, "steps": steps, "batch": batch, "precision": precision,
                   "xstilts_tokens_per_s": statistics.median(map(rate, ours)),
                   "trainer_tokens_per_s": statistics.median(map(rate, theirs)),
                   **ratio_summary([rate(r) for r in ours], [rate(r) for r in theirs]),
                   "xstilts_loss": statistics.median(r["loss"] for r in ours),
                   "trainer_loss": statistics.median(r["loss"] for r in theirs),
                   "xstilts_tokens": ours[0]["tokens"], "trainer_tokens": theirs[0]["tokens"]}
            results.append(row)
            echo(f"{workload:<8} {model_name:<5} {row['xstilts_tokens_per_s']:>13,.0f} {row['trainer_tokens_per_s']:>13,.0f} "
                 f"{row['ratio_min']:>10.2f}/{row['ratio_median']:.2f}/{row['ratio_max']:.2f} "
                 f"{row['xstilts_loss']:>12.4f} {row['trainer_loss']:>12.4f}")
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workloads", default="pairs,choice,qa")
    parser.add_argument("--models", default="tiny,mini")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--precision", choices=("auto", "bf16"), default="auto",
                        help="auto: bf16 on a GPU that has it, else fp32; bf16: both sides autocast to bf16 (CPUs too)")
    args = parser.parse_args()
    results = run(workloads=args.workloads, models=args.models, repeats=args.repeats, steps=args.steps,
                  batch=args.batch, precision=args.precision, echo=lambda line: print(line, flush=True))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
