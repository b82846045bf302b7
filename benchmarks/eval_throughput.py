"""Evaluation throughput: xstilts' evaluation path vs Hugging Face's on identical work.

    python benchmarks/eval_throughput.py [--workloads squad,xquad,xnli,udpos] [--repeats 3]
                                         [--questions 400] [--examples 1000] [--batch 32] [--json FILE]

Each side runs the whole path from examples to predicted answer texts / labels — featurize, batched
forward, decode — on the same examples, with the same weights and the same batch size, on the CPU;
the two alternate rep by rep, and the script prints throughput, the xstilts / HF throughput ratio
(min / median / max over the paired repetitions), the forward's share of each side's time, and how
often the two sides' predictions agree.

Model: the shared mini encoder (multilingual-e5-small shape, XLM-R vocabulary) with the task's head,
initialised at random from seed 0 and saved once as a Hugging Face ``AutoModelFor...`` directory.
Both sides load that directory: HF its ``AutoModelFor...``; xstilts its encoder through
``MultiTaskModel.from_pretrained`` and its head from the same tensors (BERT's pooler + classifier is
xstilts' classification head, its ``qa_outputs`` / token ``classifier`` are the span / tagging heads).
A few rows' logits are compared before timing, so "the same weights" is checked, not assumed.

Workloads (real data from $XSTILTS_DATA_DIR; task settings are the registry's):

* ``squad`` — SQuAD v1.1 dev, the first ``--questions`` questions; ``xquad`` — XQuAD en test.
  max_length 384, doc_stride 128, max_query_length 64, max_answer_length 30, n-best 20.
  xstilts: ``span_qa.featurize`` → ``evaluation.predict`` → the format's decode (what ``evaluate``
  runs). HF: the ``QuestionAnsweringPipeline`` path. transformers 5 no longer ships the extractive
  "question-answering" pipeline, so its steps (as transformers 4.x ran them) are reassembled here
  around the span decoding transformers still packages (``select_starts_ends`` / ``decode_spans``): one
  tokenizer call per question with overflowing windows (``truncation="only_second"``, ``stride``);
  windows batched in order, padded to the batch's longest; forward under ``inference_mode``; per
  window a softmax and the best ``top_k=20`` spans of the full start × end matrix; offsets → text;
  the answers of all windows sorted by score. It skips the pipeline's per-window tensors and
  DataLoader, so if anything it is faster than the pipeline itself. Answers are read off token
  offsets (``align_to_words=False``), the convention xstilts and run_qa share, so that agreement
  compares span choices, not word snapping. Windows/s counts xstilts' windows on both sides.
  The two decoders differ by design, so QA agreement is below 100% (more so with a random head):
  xstilts follows run_qa's ``utils_qa`` (spans from the top-20 starts × top-20 ends, ranked by
  start + end *logit* across windows), the pipeline searches the full start × end matrix and ranks
  by start × end *probability*, softmaxed per window. Single-window questions differ only when the
  best valid span starts or ends outside the top 20; multi-window ones whenever the per-window
  softmax moves the winner to another window. Both are reported separately.
* ``xnli`` — XNLI test (de: the data folder has no English test), the first ``--examples`` pairs;
  ``udpos`` — UD-POS en test. max_length 128. HF: ``tokenizer(..., truncation=True)`` (run_xnli /
  run_ner's tokenization; is_split_into_words for tagging) → ``Trainer.predict`` with dynamic padding
  (``DataCollatorWithPadding``) → argmax → label (tagging: at each word's first subword, as run_ner).
  ``Trainer.predict`` rather than the text/token-classification pipelines: it is what the example
  scripts and most papers run over a whole test set (batched, no per-input Python), and the token
  pipeline cannot take pre-split words and return one tag per word. run_ner truncates sentences
  longer than max_length (their last words get no tag); xstilts windows them — agreement is over
  the words both tag.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from _common import build_mini_encoder, ratio_summary

# name: (task, split, language, format, HF class)
WORKLOADS = {
    "squad": ("squad_v1", "dev", "en", "span_qa", "AutoModelForQuestionAnswering"),
    "xquad": ("xquad", "test", "en", "span_qa", "AutoModelForQuestionAnswering"),
    "xnli": ("xnli", "test", "de", "classification", "AutoModelForSequenceClassification"),
    "udpos": ("udpos", "test", "en", "tagging", "AutoModelForTokenClassification"),
}
N_BEST = 20  # xstilts' decode default; HF's top_k is set to match


# --------------------------------------------------------------------------------------------
# The shared weights
# --------------------------------------------------------------------------------------------


def model_dir(hf_class: str, num_labels: int | None, cache: Path) -> Path:
    """The mini encoder with a seeded random head, saved once as an HF ``hf_class`` directory."""
    import transformers

    mini = build_mini_encoder(cache)
    out = cache / f"mini-e5-{hf_class.removeprefix('AutoModelFor').lower()}-{num_labels or 0}"
    if (out / "model.safetensors").exists():
        return out
    torch.manual_seed(0)
    kwargs = {"num_labels": num_labels} if num_labels else {}
    model = getattr(transformers, hf_class).from_pretrained(str(mini), **kwargs)
    tmp = Path(tempfile.mkdtemp(dir=cache, prefix=out.name + "-"))
    model.save_pretrained(tmp)
    transformers.AutoTokenizer.from_pretrained(str(mini)).save_pretrained(tmp)
    try:
        tmp.rename(out)  # whole or absent: a half-written directory never looks built
    except OSError:  # another run built it meanwhile
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def head_state(fmt: str, state: dict) -> dict:
    """xstilts' head tensors from the HF checkpoint's (the same layers under other names)."""
    if fmt == "span_qa":
        names = {"qa_outputs.weight": "qa_outputs.weight", "qa_outputs.bias": "qa_outputs.bias"}
    elif fmt == "classification":  # BERT: pooler (dense + tanh on token 0), dropout, classifier
        names = {"dense.weight": "pooler.dense.weight", "dense.bias": "pooler.dense.bias",
                 "out_proj.weight": "classifier.weight", "out_proj.bias": "classifier.bias"}
    else:
        names = {"classifier.weight": "classifier.weight", "classifier.bias": "classifier.bias"}
    # The encoder's tensors carry its base-model prefix (``bert.``) in the checkpoint.
    find = lambda k: state[k] if k in state else next(v for n, v in state.items() if n.endswith("." + k))  # noqa: E731
    return {ours: find(theirs) for ours, theirs in names.items()}


def load_models(workload: str, cache: Path):
    """(task, xstilts model, HF model, tokenizer), both models read from the same directory."""
    import transformers
    from safetensors.torch import load_file

    from xstilts.modeling import MultiTaskModel, head_spec_for
    from xstilts.tasks import get_task

    name, _, _, fmt, hf_class = WORKLOADS[workload]
    task = get_task(name)
    directory = model_dir(hf_class, len(task.labels) if task.labels else None, cache)
    quiet = logging.getLogger("xstilts.modeling")
    level = quiet.level
    quiet.setLevel(logging.ERROR)  # it would list the head tensors the bare encoder leaves unused
    try:
        ours = MultiTaskModel.from_pretrained(str(directory))
    finally:
        quiet.setLevel(level)
    state = head_state(fmt, load_file(str(directory / "model.safetensors")))
    ours.add_head(task.name, head_spec_for(task), state=state)
    theirs = getattr(transformers, hf_class).from_pretrained(str(directory))
    tok = transformers.AutoTokenizer.from_pretrained(str(directory))
    return task, ours.eval(), theirs.eval(), tok


def settings_of(task) -> dict:
    """The registry's featurization/decoding settings, as the pipeline resolves them."""
    s = {"max_length": task.max_length}
    if task.format == "span_qa":
        s |= {"doc_stride": task.doc_stride, "max_query_length": task.max_query_length,
              "max_answer_length": task.max_answer_length}
    if task.labels:
        s["labels"] = tuple(task.labels)
    return s


def check_same_weights(task, ours, theirs, tok, examples, settings) -> float:
    """Largest |logit difference| of the two models on a few featurized rows; raises past 1e-3."""
    from xstilts.formats import get_format
    from xstilts.formats.base import collate

    fmt = get_format(task.format)
    feats = fmt.featurize(examples[:4], tok, **fmt.featurize_kwargs(settings, "test"))
    batch = collate([{c: feats[c][i] for c in ("input_ids", "attention_mask")} for i in range(len(feats))],
                    tok.pad_token_id)
    batch = {k: torch.as_tensor(v) for k, v in batch.items()}
    with torch.inference_mode():
        a, b = ours(task.name, batch), theirs(**batch)
    mask = batch["attention_mask"].bool()
    pairs = ([(a["start_logits"][mask], b.start_logits[mask]), (a["end_logits"][mask], b.end_logits[mask])]
             if task.format == "span_qa" else
             [(a["logits"][mask], b.logits[mask])] if task.format == "tagging" else [(a["logits"], b.logits)])
    worst = max(float((x - y).abs().max()) for x, y in pairs)
    if worst > 1e-3:
        raise SystemExit(f"{task.name}: xstilts and HF logits differ by {worst:.2e}: not the same weights")
    return worst


# --------------------------------------------------------------------------------------------
# xstilts: what evaluation.evaluate runs, less the scoring
# --------------------------------------------------------------------------------------------


def xstilts_side(task, model, tok, examples, settings, batch: int):
    """Predictions (answer texts by id, or labels per example), stage seconds, feature rows."""
    from xstilts.formats import get_format
    from xstilts.pipeline import evaluation

    fmt = get_format(task.format)
    t0 = time.perf_counter()
    feats = fmt.featurize(examples, tok, **fmt.featurize_kwargs(settings, "test"))
    t1 = time.perf_counter()
    outputs = evaluation.predict(model, task.name, feats, batch_size=batch, pad_token_id=tok.pad_token_id)
    t2 = time.perf_counter()
    predictions = evaluation.adapter(task).decode(task, examples, feats, outputs, settings)
    t3 = time.perf_counter()
    return predictions, {"featurize": t1 - t0, "forward": t2 - t1, "decode": t3 - t2}, feats


# --------------------------------------------------------------------------------------------
# HF: the question-answering pipeline's steps
# --------------------------------------------------------------------------------------------


def hf_qa_side(model, tok, examples, settings, batch: int, top_k: int = N_BEST, align_to_words: bool = False):
    """transformers 4.x's ``QuestionAnsweringPipeline`` (preprocess, batched _forward, postprocess),
    with the span search transformers 5 still packages."""
    from transformers.pipelines.document_question_answering import select_starts_ends

    t0 = time.perf_counter()
    spans = []  # (example index, encoding, input ids, attention mask, p_mask) per window
    for x, ex in enumerate(examples):
        enc = tok(text=ex.question, text_pair=ex.context, padding="do_not_pad", truncation="only_second",
                  max_length=settings["max_length"], stride=settings["doc_stride"], return_token_type_ids=True,
                  return_overflowing_tokens=True, return_offsets_mapping=True, return_special_tokens_mask=True)
        for i in range(len(enc["input_ids"])):
            ids = np.asarray(enc["input_ids"][i])
            # 1 = cannot be in the answer: question and special tokens; CLS stays open (the null answer).
            p_mask = np.array([s != 1 for s in enc.sequence_ids(i)])
            p_mask[ids == tok.cls_token_id] = False
            spans.append((x, enc[i], ids, np.asarray(enc["attention_mask"][i]), p_mask))
    t1 = time.perf_counter()
    logits = []
    with torch.inference_mode():  # the pipeline's inference context
        for b in range(0, len(spans), batch):
            rows = spans[b:b + batch]
            width = max(len(r[2]) for r in rows)
            ids = np.full((len(rows), width), tok.pad_token_id, dtype=np.int64)
            mask = np.zeros((len(rows), width), dtype=np.int64)
            for j, r in enumerate(rows):
                ids[j, :len(r[2])], mask[j, :len(r[2])] = r[2], r[3]
            out = model(input_ids=torch.from_numpy(ids), attention_mask=torch.from_numpy(mask))
            start, end = out.start_logits.numpy(), out.end_logits.numpy()
            logits += [(start[j:j + 1], end[j:j + 1]) for j in range(len(rows))]
    t2 = time.perf_counter()
    answers: list[list[dict]] = [[] for _ in examples]
    min_null_score = 1000000  # the pipeline's running null score (unused without impossible answers)
    for (x, enc, ids, mask, p_mask), (start, end) in zip(spans, logits):
        width = start.shape[1]
        padded_p = np.ones((1, width), dtype=bool)  # pad_collate pads p_mask with 1
        padded_p[0, :len(ids)] = p_mask
        padded_mask = np.zeros((1, width), dtype=np.int64)
        padded_mask[0, :len(ids)] = mask
        starts, ends, scores, min_null_score = select_starts_ends(
            start, end, padded_p, padded_mask, min_null_score, top_k, False, settings["max_answer_length"])
        context = examples[x].context
        for s, e, score in zip(starts, ends, scores):
            c0, c1 = _indices(enc, int(s), int(e), align_to_words)
            answers[x].append({"score": score.item(), "start": c0, "end": c1, "answer": context[c0:c1]})
    predictions = {}
    for ex, found in zip(examples, answers):
        found = sorted(found, key=lambda a: a["score"], reverse=True)[:top_k]
        predictions[ex.id] = found[0]["answer"] if found else ""
    t3 = time.perf_counter()
    return predictions, {"featurize": t1 - t0, "forward": t2 - t1, "decode": t3 - t2}, len(spans)


def _indices(enc, s: int, e: int, align_to_words: bool) -> tuple[int, int]:
    """The pipeline's ``get_indices``: character span of tokens ``s..e`` (snapped to words if asked)."""
    if align_to_words:
        try:
            return (enc.word_to_chars(enc.token_to_word(s), sequence_index=1)[0],
                    enc.word_to_chars(enc.token_to_word(e), sequence_index=1)[1])
        except Exception:  # noqa: BLE001 - the pipeline falls back to offsets for any failure
            pass
    return enc.offsets[s][0], enc.offsets[e][1]


# --------------------------------------------------------------------------------------------
# HF: tokenizer + Trainer.predict (classification, tagging)
# --------------------------------------------------------------------------------------------


def make_trainer(model, tok, batch: int, out: Path):
    from transformers import DataCollatorWithPadding, Trainer, TrainingArguments

    args = TrainingArguments(str(out), per_device_eval_batch_size=batch, report_to=[], disable_tqdm=True,
                             use_cpu=True, dataloader_pin_memory=False)
    return Trainer(model=model, args=args, data_collator=DataCollatorWithPadding(tok))


def hf_trainer_side(task, trainer, tok, examples, settings, batch: int):
    """Labels per example via tokenizer → ``Trainer.predict`` → argmax, as run_xnli / run_ner."""
    t0 = time.perf_counter()
    labels = settings["labels"]
    if task.format == "classification":
        pair = examples[0].text_b is not None
        enc = tok([ex.text_a for ex in examples], [ex.text_b for ex in examples] if pair else None,
                  truncation=True, max_length=settings["max_length"])
    else:
        enc = tok([list(ex.tokens) for ex in examples], is_split_into_words=True, truncation=True,
                  max_length=settings["max_length"])
    rows = [{"input_ids": enc["input_ids"][i], "attention_mask": enc["attention_mask"][i]}
            for i in range(len(examples))]
    t1 = time.perf_counter()
    logits = trainer.predict(rows).predictions
    t2 = time.perf_counter()
    best = logits.argmax(-1)
    if task.format == "classification":
        predictions = [labels[int(k)] for k in best]
    else:  # run_ner: the label of each word's first subword
        predictions = []
        for i in range(len(examples)):
            tags, previous = [], None
            for pos, word in enumerate(enc.word_ids(i)):
                if word is not None and word != previous:
                    tags.append(labels[int(best[i, pos])])
                previous = word
            predictions.append(tags)
    t3 = time.perf_counter()
    return predictions, {"featurize": t1 - t0, "forward": t2 - t1, "decode": t3 - t2}, len(rows)


# --------------------------------------------------------------------------------------------
# Measure
# --------------------------------------------------------------------------------------------


def agreement(examples, ours, theirs, windows: np.ndarray | None) -> dict[str, float]:
    """Share of predictions equal on both sides (QA: answer text, also by single/multi-window
    questions; tagging: per word, over the words both tagged)."""
    if isinstance(ours, dict):
        same = np.array([ours[ex.id] == theirs[ex.id] for ex in examples])
        out = {"agreement": float(same.mean())}
        for name, m in (("single_window", windows == 1), ("multi_window", windows > 1)):
            out[f"agreement_{name}"] = float(same[m].mean()) if m.any() else float("nan")
            out[f"questions_{name}"] = int(m.sum())
        return out
    if ours and isinstance(ours[0], list):
        pairs = [(a, b) for o, t in zip(ours, theirs) for a, b in zip(o, t)]
        return {"agreement": float(np.mean([a == b for a, b in pairs])),
                "words_untagged_by_hf": int(sum(len(o) - len(t) for o, t in zip(ours, theirs)))}
    return {"agreement": float(np.mean([a == b for a, b in zip(ours, theirs)]))}


def padding_share(lengths: np.ndarray, batch: int, sort: bool) -> float:
    """Share of a side's forward tokens that are padding: xstilts batches rows sorted by length,
    the pipeline and ``Trainer.predict`` in data order (each batch padded to its longest row)."""
    rows = np.sort(lengths)[::-1] if sort else lengths
    padded = sum(len(b) * int(b.max()) for b in (rows[i:i + batch] for i in range(0, len(rows), batch)))
    return 1 - float(lengths.sum()) / padded


def measure(workload: str, n: int, repeats: int, batch: int, cache: Path) -> dict:
    from xstilts.data.loading import load_examples
    from xstilts.formats.span_qa import example_stats

    task, ours, theirs, tok = load_models(workload, cache)
    _, split, lang, fmt, _ = WORKLOADS[workload]
    examples = load_examples(task, split, lang)[:n]
    settings = settings_of(task)
    logit_diff = check_same_weights(task, ours, theirs, tok, examples, settings)
    out = Path(tempfile.mkdtemp(dir=cache, prefix="eval-trainer-"))
    try:
        trainer = make_trainer(theirs, tok, batch, out) if fmt != "span_qa" else None

        def hf(exs):
            if fmt == "span_qa":
                return hf_qa_side(theirs, tok, exs, settings, batch)
            return hf_trainer_side(task, trainer, tok, exs, settings, batch)

        xstilts = lambda exs: xstilts_side(task, ours, tok, exs, settings, batch)  # noqa: E731
        xstilts(examples[:4]), hf(examples[:4])  # warm-up: lazy imports, thread pools, allocator
        runs = {"xstilts": [], "hf": []}
        for rep in range(repeats):
            for side in (("xstilts", "hf") if rep % 2 == 0 else ("hf", "xstilts")):
                runs[side].append((xstilts if side == "xstilts" else hf)(examples))
    finally:
        shutil.rmtree(out, ignore_errors=True)
    feats = runs["xstilts"][0][2]
    windows = len(feats)
    lengths = np.array([len(r) for r in feats["input_ids"]])  # HF's rows too, where it cut as many
    per_example = example_stats(examples, feats).windows if fmt == "span_qa" else None
    total = lambda r: sum(r[1].values())  # noqa: E731
    ours_rate = [len(examples) / total(r) for r in runs["xstilts"]]
    theirs_rate = [len(examples) / total(r) for r in runs["hf"]]
    share = lambda rs: statistics.median(r[1]["forward"] / total(r) for r in rs)  # noqa: E731
    row = {"benchmark": "eval_throughput", "case": workload, "task": f"{task.name} {split}-{lang}",
           "peer": "QA pipeline steps" if fmt == "span_qa" else "Trainer.predict",
           "examples": len(examples), "windows": windows, "hf_windows": runs["hf"][0][2], "batch": batch,
           "repeats": repeats, "threads": torch.get_num_threads(),
           "xstilts_s": statistics.median(map(total, runs["xstilts"])),
           "hf_s": statistics.median(map(total, runs["hf"])),
           "xstilts_examples_per_s": statistics.median(ours_rate),
           "hf_examples_per_s": statistics.median(theirs_rate),
           "xstilts_windows_per_s": windows * statistics.median(ours_rate) / len(examples),
           "hf_windows_per_s": windows * statistics.median(theirs_rate) / len(examples),
           **ratio_summary(ours_rate, theirs_rate),
           "xstilts_forward_share": share(runs["xstilts"]), "hf_forward_share": share(runs["hf"]),
           **{f"{side}_{k}_s": statistics.median(r[1][k] for r in runs[side])
              for side in ("xstilts", "hf") for k in ("featurize", "forward", "decode")},
           "xstilts_padding_share": padding_share(lengths, batch, sort=True),
           "hf_padding_share": (padding_share(lengths, batch, sort=False) if runs["hf"][0][2] == windows
                                else float("nan")),
           "max_logit_diff": logit_diff,
           **agreement(examples, runs["xstilts"][0][0], runs["hf"][0][0], per_example)}
    return row


def cache_dir() -> Path:
    cache = Path(os.environ.get("XSTILTS_BENCH_CACHE", Path(tempfile.gettempdir()) / "xstilts-bench"))
    cache.mkdir(parents=True, exist_ok=True)
    return cache


def measure_all(workloads, questions: int, examples: int, repeats: int, batch: int, log=None) -> list[dict]:
    from transformers.utils import logging as hf_logging

    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", os.cpu_count() or 1)))
    hf_logging.set_verbosity_error()  # load reports of the fresh heads, expected
    hf_logging.disable_progress_bar()
    rows = []
    for w in workloads:
        rows.append(measure(w, questions if WORKLOADS[w][3] == "span_qa" else examples, repeats, batch, cache_dir()))
        if log:
            log(rows[-1])
    return rows


def run(quick: bool = False) -> list[dict]:
    """Result rows; ``quick``: a handful of examples per workload, one repetition (CI smoke test)."""
    if quick:
        return measure_all(WORKLOADS, questions=6, examples=16, repeats=1, batch=8)
    return measure_all(WORKLOADS, questions=400, examples=1000, repeats=3, batch=32)


HEADER = (f"{'case':<6} {'examples':>8} {'windows':>7} {'xstilts ex/s':>12} {'HF ex/s':>9} "
          f"{'ratio min/med/max':>18} {'fwd share x/HF':>14} {'agree':>6}  peer")


def format_row(r: dict) -> str:
    return (f"{r['case']:<6} {r['examples']:>8} {r['windows']:>7} {r['xstilts_examples_per_s']:>12.1f} "
            f"{r['hf_examples_per_s']:>9.1f} {r['ratio_min']:>8.2f}/{r['ratio_median']:.2f}/{r['ratio_max']:.2f} "
            f"{r['xstilts_forward_share']:>8.0%}/{r['hf_forward_share']:.0%} {r['agreement']:>6.1%}  {r['peer']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workloads", default=",".join(WORKLOADS))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--questions", type=int, default=400, help="QA questions per QA workload")
    parser.add_argument("--examples", type=int, default=1000, help="examples per classification/tagging workload")
    parser.add_argument("--batch", type=int, default=32, help="evaluation batch size, both sides (xstilts' default)")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    workloads = args.workloads.split(",")
    unknown = sorted(set(workloads) - set(WORKLOADS))
    if unknown:
        parser.error(f"unknown workloads {unknown}; choose from {sorted(WORKLOADS)}")
    print(HEADER, flush=True)
    rows = measure_all(workloads, args.questions, args.examples, args.repeats, args.batch,
                       log=lambda r: print(format_row(r), flush=True))
    for r in rows:
        print(f"{r['case']}: padding share of forward tokens xstilts {r['xstilts_padding_share']:.1%}, "
              f"HF {r['hf_padding_share']:.1%}")
        if "agreement_single_window" in r:
            print(f"{r['case']}: windows/s xstilts {r['xstilts_windows_per_s']:.1f}, HF {r['hf_windows_per_s']:.1f} "
                  f"(HF cut {r['hf_windows']} windows); agreement single-window "
                  f"{r['agreement_single_window']:.1%} of {r['questions_single_window']}, multi-window "
                  f"{r['agreement_multi_window']:.1%} of {r['questions_multi_window']}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
