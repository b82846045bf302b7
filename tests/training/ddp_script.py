"""Train and evaluate a tiny real encoder, as one plain process or as one of several under
``torchrun`` (gloo on CPU); ``test_ddp.py`` runs it both ways and compares.

The GLOBAL batch is 8 rows either way. Dropout is 0 in encoder and heads, so the only difference
between the two runs is float reduction order (padding widths, the gradient all-reduce).
49 training rows leave a last batch of one row (a process without rows of its own); 13
classification and 7 tagging dev rows split unevenly over 2 processes.

Usage: ddp_script.py OUT_DIR. The main process writes OUT_DIR/result.json (exclusive create).
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from transformers import XLMRobertaConfig, XLMRobertaModel

from xstilts.config import TrainingArgs
from xstilts.data.examples import ClassificationExample, TaggingExample
from xstilts.formats import get_format
from xstilts.formats.base import Features
from xstilts.modeling import HeadSpec, MultiTaskModel
from xstilts.pipeline import evaluation
from xstilts.tasks import get_task
from xstilts.training import loop
from xstilts.training.loop import TrainStream, train

VOCAB, PAD, GLOBAL_BATCH = 40, 1, 8


def token_rows(rng: np.random.Generator, n: int, low: int, high: int) -> list[np.ndarray]:
    return [np.concatenate([[0], rng.integers(5, VOCAB, k), [2]]).astype(np.int64) for k in rng.integers(low, high, n)]


def classification(n: int, seed: int, labels) -> tuple[list, Features]:
    """Class k draws most of its tokens from its own band of the vocabulary: learnable in a few steps."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, len(labels), n)
    band = (VOCAB - 5) // len(labels)
    ids = [np.where(rng.random(len(r)) < 0.6, 5 + k * band + r % band, r) for r, k in zip(token_rows(rng, n, 2, 18), y)]
    ids = [np.concatenate([[0], r[1:-1], [2]]) for r in ids]
    feats = Features({"input_ids": ids, "attention_mask": [np.ones_like(r) for r in ids], "labels": y,
                      "example_index": np.arange(n, dtype=np.int64)})
    return [ClassificationExample(f"c{i}", "-", None, labels[k]) for i, k in enumerate(y)], feats


def tagging(n: int, seed: int, labels) -> tuple[list, Features]:
    """One token per word, so each row's length is its word count + 2 (ragged outputs)."""
    rng = np.random.default_rng(seed)
    ids = token_rows(rng, n, 1, 12)
    words = [np.concatenate([[-1], np.arange(len(r) - 2), [-1]]).astype(np.int64) for r in ids]
    examples = [TaggingExample(f"t{i}", tuple("w" * (len(r) - 2)), tuple(labels[int(t) % len(labels)] for t in r[1:-1]))
                for i, r in enumerate(ids)]
    feats = Features({"input_ids": ids, "attention_mask": [np.ones_like(r) for r in ids], "word_index": words,
                      "example_index": np.arange(n, dtype=np.int64)})
    return examples, feats


def main(out: Path) -> None:
    processes = int(os.environ.get("WORLD_SIZE", "1"))
    xnli, udpos = get_task("xnli"), get_task("udpos")
    torch.manual_seed(0)
    config = XLMRobertaConfig(vocab_size=VOCAB, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                              intermediate_size=64, max_position_embeddings=40, pad_token_id=PAD, bos_token_id=0,
                              eos_token_id=2, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    model = MultiTaskModel(XLMRobertaModel(config, add_pooling_layer=False))
    model.add_head("xnli", HeadSpec("classification", {"num_labels": 3, "dropout": 0.0}, xnli.labels))
    # Never trained here: DDP must be told about parameters without gradients (find_unused_parameters).
    model.add_head("udpos", HeadSpec("tagging", {"num_labels": len(udpos.labels), "dropout": 0.0}, udpos.labels))

    _, train_feats = classification(49, 1, xnli.labels)
    dev_ex, dev_feats = classification(13, 2, xnli.labels)
    tag_ex, tag_feats = tagging(7, 3, udpos.labels)

    losses: list[float] = []  # this process's loss of each micro-batch (its share of the global batch)
    plain_loss = model.loss

    def recording_loss(head, outputs, batch):
        value = plain_loss(head, outputs, batch)
        losses.append(float(value.detach()))
        return value

    model.loss = recording_loss

    writes = []  # prediction files this process wrote
    for fmt in map(get_format, ("classification", "tagging")):  # each format's adapter writes its files
        adapter = fmt.ADAPTER
        fmt.ADAPTER = dataclasses.replace(
            adapter, write=lambda preds, path, write=adapter.write: (writes.append(path.name.replace(f".{os.getpid()}.", ".PID.")), write(preds, path)))

    def dev_eval(m) -> dict[str, float]:
        r = evaluation.evaluate(m, "xnli", xnli, dev_ex, dev_feats, settings={}, language="en", batch_size=3,
                                pad_token_id=PAD)
        return r.metrics

    checkpoint_files: list[str] = []  # what the last checkpoint before the end held (the final one keeps no optimizer)
    save = loop._save_checkpoint

    def recording_save(model, optimizer, scheduler, state, target, rng_states):
        save(model, optimizer, scheduler, state, target, rng_states)
        if not state["finished"]:
            checkpoint_files[:] = sorted(p.name for p in target.iterdir())

    loop._save_checkpoint = recording_save

    args = TrainingArgs(per_device_train_batch_size=GLOBAL_BATCH // processes, num_train_epochs=6.0, eval_steps=3,
                        early_stopping_patience=4, learning_rate=5e-3, warmup_ratio=0.0, logging_steps=1, mixed_precision="no")
    log: list[str] = []
    result = train(model, [TrainStream("xnli", train_feats)], args, out_dir=out / "train", seed=0, pad_token_id=PAD,
                   evaluate=dev_eval, selection_metric="accuracy", log=log.append, progress=False)

    cls = evaluation.evaluate(model, "xnli", xnli, dev_ex, dev_feats, settings={}, language="en", batch_size=3,
                              pad_token_id=PAD, predictions_path=out / "pred" / "xnli.tsv")
    tag = evaluation.evaluate(model, "udpos", udpos, tag_ex, tag_feats, settings={"labels": udpos.labels},
                              language="en", batch_size=2, pad_token_id=PAD, predictions_path=out / "pred" / "udpos.tsv")
    logits = evaluation.predict(model, "xnli", dev_feats, batch_size=3, pad_token_id=PAD)["logits"]
    tag_logits = evaluation.predict(model, "udpos", tag_feats, batch_size=2, pad_token_id=PAD)["logits"]

    mine = {"losses": losses, "log": log, "writes": writes, "checkpoint_files": checkpoint_files, "tokens_seen": result.tokens_seen,
            "history": result.history, "best_step": result.best_step, "steps": result.steps,
            "metrics": cls.metrics, "tag_metrics": tag.metrics}
    everyone = [mine]
    if dist.is_initialized():
        everyone = [None] * processes
        dist.all_gather_object(everyone, mine)
    if not dist.is_initialized() or dist.get_rank() == 0:
        summary = {
            "processes": processes,
            # The global batch's loss: the mean over processes of equal shares (4 + 4 rows; the
            # one-row last batch is the same row on both), as DDP averages gradients.
            "losses": np.mean([p["losses"] for p in everyone], axis=0).tolist(),
            "per_process": everyone,
            "predictions": cls.predictions, "n_predicted": len(logits), "logits": np.asarray(logits).tolist(),
            "tag_predictions": tag.predictions, "tag_logits": [np.asarray(x).tolist() for x in tag_logits],
        }
        with open(out / "result.json", "x") as f:
            json.dump(summary, f)
    if dist.is_initialized():
        dist.destroy_process_group()


if __name__ == "__main__":
    main(Path(sys.argv[1]))
