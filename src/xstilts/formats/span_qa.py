"""Extractive QA (SQuAD v1.1/v2.0, XQuAD, MLQA, TyDiQA-GoldP): featurize → head → loss → decode.

The semantics are those of Hugging Face's ``run_qa.py`` / ``utils_qa.py``: the question comes first,
a long context is cut into windows that overlap by ``doc_stride`` tokens, the head predicts a start
and an end logit per token, and decoding picks the best valid span from the top ``n_best_size``
starts × ends of every window of an example (SQuAD v2: against the null score at the first token).

Featurization tokenizes each distinct context and each question once (QA datasets ask ~5 questions
per paragraph) and cuts the windows itself, exactly as the tokenizer's ``return_overflowing_tokens``
with ``truncation="only_second"`` would; a test checks the two agree token for token. Answers map to
the *minimal* token span that covers their characters; where an answer boundary falls inside a
token (1-5% of answers with XLM-R: mostly punctuation glued to a piece, "▁2014.", some zh/th
pieces spanning words) that span is a little wider than the answer.
Decoding is a pure numpy function of ``(examples, features, outputs)``.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np
import torch
from torch import nn

from xstilts.data.examples import QAExample
from xstilts.errors import ConfigError
from xstilts.formats.base import Adapter, Features, count_tokens

# What the loss reads besides the model inputs (a training stream's ``target_columns``). The other
# columns are bookkeeping for decoding and statistics; ``offsets`` ((n, 2) rows) cannot be collated.
TARGET_COLUMNS = ("start_positions", "end_positions")


# --------------------------------------------------------------------------------------------
# Featurize
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _PairTemplate:
    """Where the tokenizer puts its special tokens around a (question, context) pair."""

    prefix: np.ndarray  # ids before the question (e.g. <s>)
    middle: np.ndarray  # ids between question and context (e.g. </s></s>)
    suffix: np.ndarray  # ids after the context (e.g. </s>)
    single_prefix: int  # how many specials a single sequence gets before / after it
    single_suffix: int
    # token_type_ids of (prefix, question, middle, context, suffix); None when the model has none.
    types: tuple[np.ndarray, int, np.ndarray, int, np.ndarray] | None

    @property
    def num_specials(self) -> int:
        return len(self.prefix) + len(self.middle) + len(self.suffix)

    @staticmethod
    def probe(tokenizer: Any) -> "_PairTemplate":
        # Read the layout off one tiny pair instead of hard-coding BERT's or XLM-R's templates.
        pair = tokenizer("a", "b", return_token_type_ids=True)
        seq = pair.sequence_ids(0)
        q_pos = [i for i, s in enumerate(seq) if s == 0]
        c_pos = [i for i, s in enumerate(seq) if s == 1]
        if not q_pos or not c_pos or q_pos[-1] > c_pos[0]:
            raise ValueError("span_qa needs a tokenizer that puts the question before the context")
        q0, q1, c0, c1 = q_pos[0], q_pos[-1] + 1, c_pos[0], c_pos[-1] + 1
        if q0 == 0:
            # The null answer (SQuAD v2, and windows without the answer) is labelled at index 0.
            raise ValueError("span_qa needs a tokenizer that starts a pair with a special token "
                             "([CLS], <s>)")
        ids = np.asarray(pair["input_ids"], dtype=np.int64)
        single = tokenizer("a").sequence_ids(0)
        s_pos = [i for i, s in enumerate(single) if s == 0]
        types = None
        if "token_type_ids" in tokenizer.model_input_names:
            t = np.asarray(pair["token_type_ids"], dtype=np.int64)
            types = (t[:q0], int(t[q0]), t[q1:c0], int(t[c0]), t[c1:])
        return _PairTemplate(
            prefix=ids[:q0], middle=ids[q1:c0], suffix=ids[c1:],
            single_prefix=s_pos[0], single_suffix=len(single) - s_pos[-1] - 1, types=types,
        )


def _answer_token_span(starts: np.ndarray, ends: np.ndarray, char_start: int, char_end: int
                       ) -> tuple[int, int] | None:
    """The minimal token span (inclusive) covering characters ``[char_start, char_end)``, or None.

    ``starts``/``ends`` are the context tokens' character offsets. Like HF, the start is the last
    token beginning at or before ``char_start`` and the end the first token ending at or after
    ``char_end``; XLM-R's lone ``▁`` before CJK text shares its start with the next token, and the
    next token (the content) is the one chosen. Boundaries in whitespace move inwards.
    """
    n = len(starts)
    if n == 0 or char_end <= char_start:
        return None
    # Running maxima keep the binary searches valid should a tokenizer ever emit offsets that step
    # backwards; for monotone offsets (every tokenizer we know) they change nothing.
    starts = np.maximum.accumulate(starts)
    ends = np.maximum.accumulate(ends)
    first = int(np.searchsorted(starts, char_start, side="right")) - 1
    if first < 0 or ends[first] <= char_start:
        first += 1  # the answer begins in a gap (or before the first token)
    last = int(np.searchsorted(ends, char_end, side="left"))
    if last == n or starts[last] >= char_end:
        last -= 1  # the answer ends in a gap (or after the last token)
    if first > last:
        # Several tokens with the same offsets (one character normalised into several pieces,
        # e.g. "½" → "▁1", "⁄", "2"): the first token that overlaps the answer covers it.
        if 0 <= last < n and starts[last] < char_end and ends[last] > char_start:
            return last, last
        return None
    return first, last


def featurize(examples: Sequence[QAExample], tokenizer: Any, *, max_length: int, doc_stride: int,
              max_query_length: int) -> Features:
    """Tokenize QA examples into sliding windows over the context, with span labels.

    Each window is ``[CLS] question [SEP] context-slice [SEP]`` (the tokenizer's own specials). The
    question (left-stripped, as HF) keeps at most ``max_query_length`` tokens; the context slice
    gets what is left of ``max_length``, and consecutive slices overlap by ``doc_stride`` tokens
    (HF's ``stride``). The windows equal the tokenizer's ``return_overflowing_tokens`` output.

    Columns (one row per window): ``input_ids``, ``attention_mask`` (and ``token_type_ids`` when the
    model takes them) — ragged; ``offsets`` — ragged ``(n, 2)`` int32 character offsets into the
    *original* context for context tokens, ``(-1, -1)`` for question and special tokens;
    ``example_index``; ``window_index`` (0, 1, ... within the example); ``start_positions`` /
    ``end_positions`` — the gold token span (first answer, as HF) when it lies fully inside this
    window, else 0 (the CLS token), and 0 for unanswerable questions; ``answer_in_window`` (bool).
    See :func:`example_stats` for per-example window counts and answers lost to windowing.
    """
    if not getattr(tokenizer, "is_fast", False):
        raise ValueError("span_qa needs a fast tokenizer (character offsets)")
    if tokenizer.padding_side != "right":
        raise ValueError("span_qa puts the question first and needs tokenizer.padding_side == 'right'")
    if max_length > tokenizer.model_max_length:
        # HF's run_qa silently lowers max_length here; a recorded setting must be the one used.
        raise ValueError(f"max_length={max_length} exceeds the model's "
                         f"{tokenizer.model_max_length} positions")
    template = _PairTemplate.probe(tokenizer)
    room = max_length - max_query_length - template.num_specials
    if room <= doc_stride:
        # HF fails on this deep inside the tokenizer; say it up front, with the numbers.
        raise ConfigError(
            f"max_length={max_length} leaves {room} context tokens after a {max_query_length}-token "
            f"question and {template.num_specials} special tokens: it must exceed doc_stride={doc_stride}"
        )

    # Tokenize each distinct context and question once: HF re-tokenizes the paragraph for every
    # question. Questions lose their left whitespace (HF): it would cost tokens for nothing.
    context_ids: dict[str, int] = {}
    question_ids: dict[str, int] = {}
    for ex in examples:
        context_ids.setdefault(ex.context, len(context_ids))
        question_ids.setdefault(ex.question.lstrip(), len(question_ids))
    lo, hi = template.single_prefix, template.single_suffix

    def content(seq: list) -> list:
        # Drop the single-sequence specials: what is left is exactly what the pair encoding holds.
        return seq[lo:len(seq) - hi]

    q_enc, ctx_tokens, ctx_offsets = [], [], []
    if examples:  # the tokenizer fails on an empty batch
        q_enc = tokenizer(list(question_ids), return_attention_mask=False,
                          return_token_type_ids=False)["input_ids"]
        # verbose=False: contexts longer than the model are expected here; windows come next.
        c_enc = tokenizer(list(context_ids), return_offsets_mapping=True, return_attention_mask=False,
                          return_token_type_ids=False, verbose=False)
        ctx_tokens = [np.asarray(content(ids), dtype=np.int64) for ids in c_enc["input_ids"]]
        ctx_offsets = [np.asarray(content(off), dtype=np.int32).reshape(-1, 2)
                       for off in c_enc["offset_mapping"]]

    cols: dict[str, list] = {name: [] for name in (
        "input_ids", "attention_mask", "token_type_ids", "offsets", "example_index",
        "window_index", "start_positions", "end_positions", "answer_in_window")}
    types = template.types
    for i, ex in enumerate(examples):
        q = content(q_enc[question_ids[ex.question.lstrip()]])[:max_query_length]
        q = np.asarray(q, dtype=np.int64)
        c = context_ids[ex.context]
        tokens, offsets = ctx_tokens[c], ctx_offsets[c]
        head = np.concatenate([template.prefix, q, template.middle])
        ctx_at = len(head)
        width = max_length - ctx_at - len(template.suffix)  # context tokens per window
        step = width - doc_stride
        n_tokens = len(tokens)
        # The tokenizer's windows: starts 0, step, 2·step, ... until one reaches the context's end.
        n_windows = 1 if n_tokens <= width else 1 + -(-(n_tokens - width) // step)

        span = None
        if ex.answers and not ex.is_impossible:
            answer = ex.answers[0]
            span = _answer_token_span(offsets[:, 0], offsets[:, 1], answer.start,
                                      answer.start + len(answer.text))
        if types is not None:
            type_head = np.concatenate([types[0], np.full(len(q), types[1]), types[2]])
        for w in range(n_windows):
            lo_tok, hi_tok = w * step, min(w * step + width, n_tokens)
            ids = np.concatenate([head, tokens[lo_tok:hi_tok], template.suffix])
            off = np.full((len(ids), 2), -1, dtype=np.int32)
            off[ctx_at:ctx_at + hi_tok - lo_tok] = offsets[lo_tok:hi_tok]
            inside = span is not None and lo_tok <= span[0] and span[1] < hi_tok
            cols["input_ids"].append(ids)
            cols["attention_mask"].append(np.ones(len(ids), dtype=np.int64))
            if types is not None:
                cols["token_type_ids"].append(np.concatenate(
                    [type_head, np.full(hi_tok - lo_tok, types[3]), types[4]]))
            cols["offsets"].append(off)
            cols["example_index"].append(i)
            cols["window_index"].append(w)
            cols["start_positions"].append(ctx_at + span[0] - lo_tok if inside else 0)
            cols["end_positions"].append(ctx_at + span[1] - lo_tok if inside else 0)
            cols["answer_in_window"].append(inside)

    if types is None:
        del cols["token_type_ids"]
    for name, dtype in (("example_index", np.int64), ("window_index", np.int64),
                        ("start_positions", np.int64), ("end_positions", np.int64),
                        ("answer_in_window", bool)):
        cols[name] = np.asarray(cols[name], dtype=dtype)
    return Features(cols)


@dataclass(frozen=True)
class ExampleStats:
    """Per-example window bookkeeping: how many windows, and whether the answer fit in none."""

    windows: np.ndarray  # int, windows per example
    answer_lost: np.ndarray  # bool: answerable, but its first answer lies fully inside no window

    @property
    def num_lost(self) -> int:
        return int(self.answer_lost.sum())


def example_stats(examples: Sequence[QAExample], features: Features) -> ExampleStats:
    """Windows per example and answers lost to windowing (too long, or cut by every window)."""
    index = features.example_index
    windows = np.bincount(index, minlength=len(examples))
    found = np.bincount(index, weights=np.asarray(features["answer_in_window"], dtype=np.float64),
                        minlength=len(examples)) > 0
    answerable = np.array([bool(ex.answers) and not ex.is_impossible for ex in examples], dtype=bool)
    return ExampleStats(windows=windows, answer_lost=answerable & ~found)


# --------------------------------------------------------------------------------------------
# Head and loss
# --------------------------------------------------------------------------------------------


class Head(nn.Module):
    """A linear layer giving each token a start and an end logit (HF ``qa_outputs``).

    Padding gets the most negative logit, so neither softmax nor decoding can pick it; question and
    special tokens are left as they are, as in HF (decoding skips them, and the null answer lives at
    the first token).
    """

    def __init__(self, hidden_size: int):
        super().__init__()
        self.qa_outputs = nn.Linear(hidden_size, 2)
        # HF's initialisation for heads (initializer_range 0.02), so results stay comparable.
        nn.init.normal_(self.qa_outputs.weight, std=0.02)
        nn.init.zeros_(self.qa_outputs.bias)

    def forward(self, hidden_states: torch.Tensor, batch: Mapping[str, Any]) -> dict[str, torch.Tensor]:
        start, end = self.qa_outputs(hidden_states).unbind(dim=-1)
        mask = batch.get("attention_mask")
        if mask is not None:
            pad = torch.as_tensor(mask, device=hidden_states.device) == 0
            lowest = torch.finfo(start.dtype).min
            start, end = start.masked_fill(pad, lowest), end.masked_fill(pad, lowest)
        return {"start_logits": start.contiguous(), "end_logits": end.contiguous()}

    def loss(self, outputs: Mapping[str, torch.Tensor], batch: Mapping[str, Any]) -> torch.Tensor:
        return loss(outputs, batch)


def loss(outputs: Mapping[str, torch.Tensor], batch: Mapping[str, Any]) -> torch.Tensor:
    """Mean of the start and end cross-entropies (HF).

    Positions beyond the sequence are clamped to its length and that index is ignored, as in HF.
    """
    start_logits, end_logits = outputs["start_logits"], outputs["end_logits"]
    length = start_logits.size(1)
    total = start_logits.new_zeros(())
    for logits, name in ((start_logits, "start_positions"), (end_logits, "end_positions")):
        target = torch.as_tensor(batch[name], device=logits.device).long().view(-1).clamp(0, length)
        total = total + nn.functional.cross_entropy(logits, target, ignore_index=length)
    return total / 2


# --------------------------------------------------------------------------------------------
# Decode (pure numpy)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class QADecoded:
    """Decoded answers, keyed by example id (in example order).

    ``predictions`` is the answer text (``""`` = no answer, SQuAD v2); ``nbest`` the ranked
    candidates as dicts ``text, start_logit, end_logit, score, probability`` (v2: the null answer is
    the entry with ``text == ""``); ``null_score_diff`` (v2 only) is null score − best span score,
    what the official SQuAD v2 script's best-threshold search reads as ``na_prob``.
    """

    predictions: dict[str, str]
    nbest: dict[str, list[dict[str, Any]]]
    null_score_diff: dict[str, float] | None = None


# Features decoded at once: bounds the (features × n_best × n_best) candidate arrays' memory.
_DECODE_CHUNK = 2048


def decode(examples: Sequence[QAExample], features: Features, outputs: Mapping[str, Any], *,
           n_best_size: int = 20, max_answer_length: int = 30,
           version_2_with_negative: bool = False, null_score_diff_threshold: float = 0.0) -> QADecoded:
    """Pick each example's answer from the start/end logits of its windows (HF ``utils_qa``).

    ``outputs["start_logits"]`` / ``["end_logits"]`` hold one 1-D array per feature row (a list, or
    a 2-D array padded past each row's length: positions past ``len(offsets)`` are ignored). For
    every window, the top ``n_best_size`` starts × ends form candidates; a candidate is skipped when
    either end is outside the context, ``end < start``, or it is longer than ``max_answer_length``
    tokens. The best ``n_best_size`` by ``start + end`` logit are kept (ties keep HF's order).

    SQuAD v2: the null score is ``start[0] + end[0]`` of the window where it is *lowest* (every
    window must agree there is no answer); the prediction is ``""`` when null score − best span
    score > ``null_score_diff_threshold``. Where no valid span exists at all, the prediction is
    ``""`` (HF writes the placeholder text "empty") and the v2 null score diff is ``inf``.
    """
    start_all, end_all = outputs["start_logits"], outputs["end_logits"]
    if len(start_all) != len(features) or len(end_all) != len(features):
        raise ValueError(f"{len(start_all)} start / {len(end_all)} end logit rows for "
                         f"{len(features)} features")
    if len({ex.id for ex in examples}) != len(examples):
        # Results are keyed by id: a repeated id (XQuAD reuses SQuAD's) would silently overwrite.
        raise ValueError("example ids are not unique")
    example_index = features.example_index
    offsets = features["offsets"]
    per_example = np.bincount(example_index, minlength=len(examples))
    if len(per_example) > len(examples):
        raise ValueError("features refer to more examples than were given")
    if (per_example == 0).any():
        missing = examples[int(np.argmin(per_example))].id
        raise ValueError(f"example {missing!r} has no features")
    # Stable: within an example, windows keep their order, which fixes HF's tie-breaking.
    order = np.argsort(example_index, kind="stable")
    bounds = np.concatenate([[0], np.cumsum(per_example)])

    predictions: dict[str, str] = {}
    nbest: dict[str, list[dict[str, Any]]] = {}
    null_diff: dict[str, float] = {}
    first = 0
    while first < len(examples):
        # A block of whole examples with about _DECODE_CHUNK features.
        last = int(np.searchsorted(bounds, bounds[first] + _DECODE_CHUNK, side="right")) - 1
        last = max(last, first + 1)
        rows = order[bounds[first]:bounds[last]]
        spans, null = _candidates(rows, start_all, end_all, offsets, n_best_size, max_answer_length)
        for x in range(first, last):
            lo, hi = bounds[x] - bounds[first], bounds[x + 1] - bounds[first]
            ex = examples[x]
            best = _rank(spans, lo, hi, n_best_size, ex.context)
            if version_2_with_negative:
                j = lo + int(np.argmin(null[0][lo:hi]))  # first window with the lowest null score
                entry = {"text": "", "start_logit": float(null[1][j]), "end_logit": float(null[2][j]),
                         "score": float(null[0][j])}
                # HF sorts spans + [null] stably by score: null goes after spans that tie with it,
                # and is put back at the end if it falls off the n-best list.
                at = sum(1 for b in best if b["score"] >= entry["score"])
                best = (best[:at] + [entry] + best[at:])[:n_best_size]
                if not any(b is entry for b in best):
                    best.append(entry)
            _add_probabilities(best)
            nbest[ex.id] = best
            if not version_2_with_negative:
                predictions[ex.id] = best[0]["text"] if best else ""
                continue
            span = next((b for b in best if b is not entry and b["text"] != ""), None)
            diff = math.inf if span is None else entry["score"] - span["start_logit"] - span["end_logit"]
            null_diff[ex.id] = float(diff)
            predictions[ex.id] = "" if span is None or diff > null_score_diff_threshold else span["text"]
        first = last
    return QADecoded(predictions, nbest, null_diff if version_2_with_negative else None)


def _candidates(rows: np.ndarray, start_all: Any, end_all: Any, offsets: Sequence[np.ndarray],
                n_best_size: int, max_answer_length: int):
    """Valid spans of the feature ``rows`` (grouped by example), and each row's null score.

    Returns ``(spans, null)``: ``spans`` = (row position in ``rows``, score, start logit, end logit,
    char start, char end) as arrays in HF's loop order (window, start rank, end rank); ``null`` =
    (score, start logit, end logit) at index 0 per row.
    """
    lengths = np.array([len(offsets[r]) for r in rows])
    width = int(lengths.max())
    dtype = np.promote_types(np.asarray(start_all[rows[0]]).dtype, np.float32)
    start = np.full((len(rows), width), -np.inf, dtype=dtype)
    end = np.full((len(rows), width), -np.inf, dtype=dtype)
    char = np.full((len(rows), width, 2), -1, dtype=np.int64)
    for j, r in enumerate(rows):
        n = lengths[j]
        s, e = np.asarray(start_all[r]), np.asarray(end_all[r])
        if len(s) < n or len(e) < n:
            raise ValueError(f"feature {r}: {len(s)}/{len(e)} logits for {n} tokens")
        start[j, :n], end[j, :n], char[j, :n] = s[:n], e[:n], offsets[r]
    in_context = char[:, :, 0] >= 0
    k = min(n_best_size, width)
    # Descending, ties to the later position: np.argsort(x)[-1:-k-1:-1] as in HF.
    top_start = np.argsort(start, axis=1, kind="stable")[:, ::-1][:, :k]
    top_end = np.argsort(end, axis=1, kind="stable")[:, ::-1][:, :k]
    f = np.arange(len(rows))[:, None, None]
    si, ei = top_start[:, :, None], top_end[:, None, :]
    valid = (in_context[f, si] & in_context[f, ei] & (ei >= si)
             & (ei - si + 1 <= max_answer_length))
    fj, a, b = np.nonzero(valid)  # C order = window, start rank, end rank
    s_idx, e_idx = top_start[fj, a], top_end[fj, b]
    s_logit, e_logit = start[fj, s_idx], end[fj, e_idx]
    spans = (fj, s_logit + e_logit, s_logit, e_logit, char[fj, s_idx, 0], char[fj, e_idx, 1])
    null = (start[:, 0] + end[:, 0], start[:, 0], end[:, 0])
    return spans, null


def _rank(spans, lo: int, hi: int, n_best_size: int, context: str) -> list[dict[str, Any]]:
    """The best ``n_best_size`` spans of rows ``[lo, hi)`` (one example), as n-best entries."""
    row, score, s_logit, e_logit, c0, c1 = spans
    # Candidates are grouped by row and rows by example, so one example's are contiguous.
    a, b = np.searchsorted(row, lo, side="left"), np.searchsorted(row, hi, side="left")
    top = a + np.argsort(-score[a:b], kind="stable")[:n_best_size]
    return [{"text": context[c0[t]:c1[t]], "start_logit": float(s_logit[t]),
             "end_logit": float(e_logit[t]), "score": float(score[t])} for t in top]


def _add_probabilities(entries: list[dict[str, Any]]) -> None:
    """Softmax of the scores over the n-best list (as HF, for calibration analyses)."""
    if not entries:
        return
    scores = np.array([e["score"] for e in entries], dtype=np.float64)
    p = np.exp(scores - scores.max())
    p /= p.sum()
    for e, prob in zip(entries, p):
        e["probability"] = float(prob)


def predictions_to_json(predictions: Mapping[str, str]) -> str:
    """``{question id: answer text}`` as JSON: the prediction file XTREME's evaluate.py reads for QA."""
    return json.dumps(dict(predictions), ensure_ascii=False, indent=2) + "\n"


# --------------------------------------------------------------------------------------------
# What the pipeline asks of the format
# --------------------------------------------------------------------------------------------

TOKEN_LEVEL = True  # a start and an end logit per token: kept ragged per row
# Task settings featurization and decoding read besides max_length (registry defaults under the
# config's overrides; part of every training key).
SETTINGS = ("doc_stride", "max_query_length", "max_answer_length")
LABELS = False  # answers are spans: no label list


def featurize_kwargs(settings: dict, split: str) -> dict:
    return {"max_length": settings["max_length"], "doc_stride": settings["doc_stride"],
            "max_query_length": settings["max_query_length"]}


def text_lengths(examples: Sequence[QAExample], tokenizer) -> np.ndarray:
    """The context (the question is short, and the same at every length)."""
    return count_tokens(tokenizer, [ex.context for ex in examples])


def train_stats(examples: Sequence[QAExample], features: Features) -> dict[str, int]:
    """Reported beside every format's windows per example: answers no training window holds."""
    return {"answers_lost": example_stats(examples, features).num_lost}


def squad_dataset(examples: Sequence[QAExample]) -> list[dict]:
    """QA examples as the SQuAD ``data`` list the official scorers read (one paragraph each)."""
    return [{"title": ex.title, "paragraphs": [{"context": ex.context, "qas": [{
        "id": ex.id, "question": ex.question, "is_impossible": ex.is_impossible,
        "answers": [{"text": a.text, "answer_start": a.start} for a in ex.answers]}]}]} for ex in examples]


def _decode_predictions(task, examples, features, outputs, settings) -> dict[str, str]:
    return decode(
        examples, features, outputs, max_answer_length=settings["max_answer_length"],
        version_2_with_negative=bool(task.options.get("version_2_with_negative", False)),
        null_score_diff_threshold=float(task.options.get("null_score_diff_threshold", 0.0)),
    ).predictions


ADAPTER = Adapter(
    decode=_decode_predictions,
    gold=squad_dataset,
    labelled=lambda ex: any(e.answers or e.is_impossible for e in ex),
    # Compact JSON (predictions_to_json indents): the bytes prediction files have always had.
    write=lambda preds, path: path.write_text(json.dumps(preds, ensure_ascii=False), encoding="utf-8"),
    extension="json")
