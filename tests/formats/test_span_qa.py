"""span_qa: featurize → head → loss → decode, on real data with the real multilingual tokenizer.

The acceptance test is the round trip: for every answer of XQuAD (12 languages) and of SQuAD v1.1 /
v2.0 dev, logits that peak on the gold token span of the featurized windows must decode to the
answer — exactly where its boundaries are token boundaries, else to the minimal covering token
span — and no answer may be lost to window bookkeeping (checked against an independent count).
"""

from __future__ import annotations

import copy
import json
import math
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pytest
import torch

from xstilts.data.examples import Answer, QAExample
from xstilts.data.readers.squad_json import read_squad_file
from xstilts.formats import get_format
from xstilts.formats import span_qa
from xstilts.formats.base import collate

XQUAD_LANGS = ("ar", "de", "el", "en", "es", "hi", "ro", "ru", "th", "tr", "vi", "zh")
SETTINGS = ((128, 32), (384, 128))
MAX_QUERY = 64


def every_answer(examples: list[QAExample], tag: str) -> list[QAExample]:
    """One example per distinct answer of each question, with ids ``<tag>/<id>#<k>`` (XQuAD
    reuses SQuAD's ids in every language); unanswerable questions drop out."""
    return [replace(ex, id=f"{tag}/{ex.id}#{k}", answers=(a,))
            for ex in examples for k, a in enumerate(dict.fromkeys(ex.answers))]


@pytest.fixture(scope="module")
def corpora(data_dir: Path) -> dict[str, list[QAExample]]:
    files = {f"xquad-{lang}": f"xtreme/labels/xquad/test-{lang}.json" for lang in XQUAD_LANGS}
    files.update({"squad-v1.1": "english/squad/dev-v1.1.json", "squad-v2.0": "english/squad/dev-v2.0.json"})
    return {name: every_answer(read_squad_file(data_dir / path), name) for name, path in files.items()}


def feats(examples, tok, max_length=384, doc_stride=128, max_query_length=MAX_QUERY):
    return span_qa.featurize(examples, tok, max_length=max_length, doc_stride=doc_stride,
                             max_query_length=max_query_length)


def peaked_logits(features, high=10.0, low=-10.0):
    """Logits that peak on each window's gold span (windows without the answer stay flat)."""
    width = max(len(x) for x in features["input_ids"])
    start = np.full((len(features), width), low, dtype=np.float32)
    end = start.copy()
    rows = np.nonzero(features["answer_in_window"])[0]
    start[rows, features["start_positions"][rows]] = high
    end[rows, features["end_positions"][rows]] = high
    return {"start_logits": start, "end_logits": end}


# ---------------------------------------------------------------------------------------------
# Round trip over every answer (acceptance test)
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reference:
    """Per answer, from the tokenizer alone (no span_qa): what a round trip must give back."""

    corpus: np.ndarray  # corpus name per answer
    context_offsets: list  # (n, 2) char offsets of the context tokens
    question_tokens: np.ndarray  # question length in tokens, cut at MAX_QUERY
    aligned: np.ndarray  # (a): both answer boundaries are token boundaries
    cover: np.ndarray  # (n, 2) chars of the tokens holding the answer's first and last character
    answer_tokens: np.ndarray  # how many tokens overlap the answer


@pytest.fixture(scope="module")
def everything(corpora) -> list[QAExample]:
    return [ex for examples in corpora.values() for ex in examples]


@pytest.fixture(scope="module")
def reference(corpora, everything, mini_tokenizer) -> Reference:
    tok = mini_tokenizer
    contexts = sorted({ex.context for ex in everything})
    enc = tok(contexts, add_special_tokens=False, return_offsets_mapping=True, verbose=False)
    by_context = {c: np.asarray(o, dtype=np.int64).reshape(-1, 2)
                  for c, o in zip(contexts, enc["offset_mapping"])}
    distinct = sorted({ex.question.lstrip() for ex in everything})
    q_tokens = dict(zip(distinct, tok(distinct, add_special_tokens=False)["input_ids"]))
    offsets, aligned, cover, n_tokens = [], [], [], []
    for ex in everything:
        off = by_context[ex.context]
        s, e = ex.answers[0].start, ex.answers[0].start + len(ex.answers[0].text)
        first = off[(off[:, 0] <= s) & (s < off[:, 1]), 0]
        last = off[(off[:, 0] < e) & (e <= off[:, 1]), 1]
        assert len(first) and len(last), f"{ex.id}: answer boundary outside every token"
        offsets.append(off)
        aligned.append(bool((off[:, 0] == s).any() and (off[:, 1] == e).any()))
        cover.append((first.max(), last.min()))
        n_tokens.append(int(((off[:, 1] > s) & (off[:, 0] < e)).sum()))
    return Reference(
        corpus=np.array([name for name, exs in corpora.items() for _ in exs]), context_offsets=offsets,
        question_tokens=np.array([min(len(q_tokens[ex.question.lstrip()]), MAX_QUERY)
                                  for ex in everything]),
        aligned=np.array(aligned), cover=np.array(cover), answer_tokens=np.array(n_tokens))


def independent_lost(examples, ref: Reference, specials: int, max_length: int,
                     doc_stride: int) -> np.ndarray:
    """Answers that fit in no window, without span_qa: the tokenizer's overflow windows rebuilt by
    hand, and HF's train-time test (the window's context chars cover the answer's chars)."""
    lost = np.zeros(len(examples), dtype=bool)
    for i, ex in enumerate(examples):
        off = ref.context_offsets[i]
        s, e = ex.answers[0].start, ex.answers[0].start + len(ex.answers[0].text)
        width, start, fits = max_length - ref.question_tokens[i] - specials, 0, False
        while not fits:
            stop = min(start + width, len(off))
            fits = stop > start and off[start, 0] <= s and off[stop - 1, 1] >= e
            if stop == len(off):
                break
            start += width - doc_stride
        lost[i] = not fits
    return lost


@pytest.mark.parametrize("max_length,doc_stride", SETTINGS)
def test_round_trip_every_answer(everything, reference, mini_tokenizer, max_length, doc_stride):
    tok, ref = mini_tokenizer, reference
    features = feats(everything, tok, max_length, doc_stride)
    # max_answer_length = the window: long gold answers must come back too (the limit has its own test).
    decoded = span_qa.decode(everything, features, peaked_logits(features), n_best_size=5,
                             max_answer_length=max_length)

    # (c) windows lose only what HF's windowing loses; a span of ≤ doc_stride + 1 tokens always fits.
    lost = span_qa.example_stats(everything, features).answer_lost
    specials = tok.num_special_tokens_to_add(pair=True)
    np.testing.assert_array_equal(lost, independent_lost(everything, ref, specials, max_length, doc_stride))
    assert (ref.answer_tokens[lost] > doc_stride + 1).all()
    longer_than_window = ref.answer_tokens > max_length - ref.question_tokens - specials

    predicted = np.array([decoded.predictions[ex.id] for ex in everything], dtype=object)
    gold = np.array([ex.answers[0].text for ex in everything], dtype=object)
    covering = np.array([ex.context[p0:p1] for ex, (p0, p1) in zip(everything, ref.cover)], dtype=object)
    # (a) exact; (b) the tokens holding the first and last answer character, nothing more.
    exact = predicted == gold
    covers = (predicted == covering) & np.array([g in c for g, c in zip(gold, covering)])
    ok = np.where(ref.aligned, exact, covers)

    print(f"\nround trip at max_length={max_length} doc_stride={doc_stride}: corpus, "
          "(a) exact/aligned, (b) covering/boundary-inside-a-token (share), lost to windowing")
    for name in dict.fromkeys(ref.corpus):
        here = ref.corpus == name
        a, b = here & ~lost & ref.aligned, here & ~lost & ~ref.aligned
        print(f"  {name:12s} {ok[a].sum():6d}/{a.sum():<6d} {ok[b].sum():5d}/{b.sum():<5d} "
              f"({100 * b.sum() / here.sum():4.1f}%)  lost {(lost & here).sum()} "
              f"(longer than a window: {(longer_than_window & here).sum()})")
    failed = [(ex.id, gold[i], predicted[i])
              for i, ex in enumerate(everything) if not lost[i] and not ok[i]]
    assert not failed, failed[:10]


def test_windows_equal_tokenizer_overflow(corpora, mini_tokenizer):
    """Own windowing == the tokenizer's (question, context) overflow with truncation="only_second"."""
    tok = mini_tokenizer
    examples = corpora["xquad-th"][:300] + corpora["xquad-en"][:300]
    for max_length, doc_stride in SETTINGS:
        features = feats(examples, tok, max_length, doc_stride)
        ref = tok([ex.question.lstrip() for ex in examples], [ex.context for ex in examples],
                  truncation="only_second", max_length=max_length, stride=doc_stride,
                  return_overflowing_tokens=True, return_offsets_mapping=True)
        assert len(ref["input_ids"]) == len(features)
        np.testing.assert_array_equal(ref["overflow_to_sample_mapping"], features.example_index)
        for i in range(len(features)):
            np.testing.assert_array_equal(ref["input_ids"][i], features["input_ids"][i])
            seq = ref.sequence_ids(i)
            expected = [o if s == 1 else (-1, -1) for o, s in zip(ref["offset_mapping"][i], seq)]
            np.testing.assert_array_equal(np.asarray(expected), features["offsets"][i])


# ---------------------------------------------------------------------------------------------
# Featurize units
# ---------------------------------------------------------------------------------------------

CONTEXT = "In 1990, the Denver team won the championship after a long season of close games."


def qa(question="Who won?", context=CONTEXT, answer="Denver team", id="q", impossible=False):
    answers = () if answer is None else (Answer(answer, context.index(answer)),)
    return QAExample(id, question, context, answers, impossible)


def test_short_context_is_one_window(mini_tokenizer):
    f = feats([qa()], mini_tokenizer)
    assert len(f) == 1 and f.example_index.tolist() == [0] and f["window_index"].tolist() == [0]
    ids, off = f["input_ids"][0], f["offsets"][0]
    assert len(ids) == len(f["attention_mask"][0]) == len(off) and f["attention_mask"][0].all()
    assert ids[0] == mini_tokenizer.cls_token_id and ids[-1] == mini_tokenizer.sep_token_id
    context_rows = off[:, 0] >= 0
    assert (off[~context_rows] == -1).all()
    assert CONTEXT[off[context_rows][0, 0]:off[context_rows][-1, 1]] == CONTEXT
    s, e = f["start_positions"][0], f["end_positions"][0]
    assert CONTEXT[off[s, 0]:off[e, 1]] == "Denver team" and f["answer_in_window"][0]
    assert "token_type_ids" not in f  # XLM-R takes none


def test_question_truncated_to_max_query_length(mini_tokenizer):
    long_q = " ".join(f"word{i}" for i in range(200)) + "?"
    f = feats([qa(question=long_q)], mini_tokenizer, max_query_length=10)
    question_ids = mini_tokenizer(long_q, add_special_tokens=False)["input_ids"][:10]
    prefix = f["input_ids"][0][1:11].tolist()
    assert prefix == question_ids
    assert f["input_ids"][0][11] == mini_tokenizer.sep_token_id
    assert f["answer_in_window"][0]


@pytest.mark.parametrize("question", ["", "   ", "?"])
def test_empty_question(mini_tokenizer, question):
    f = feats([qa(question=question)], mini_tokenizer)
    s, e, off = f["start_positions"][0], f["end_positions"][0], f["offsets"][0]
    assert CONTEXT[off[s, 0]:off[e, 1]] == "Denver team"
    d = span_qa.decode([qa(question=question)], f, peaked_logits(f))
    assert d.predictions == {"q": "Denver team"}


def test_windows_overlap_by_doc_stride(mini_tokenizer):
    context = " ".join(f"w{i}" for i in range(300)) + " the answer is here."
    ex = qa(context=context, answer="answer is here")
    f = feats([ex], mini_tokenizer, max_length=64, doc_stride=16, max_query_length=8)
    assert len(f) > 3 and f["window_index"].tolist() == list(range(len(f)))
    spans = [off[off[:, 0] >= 0] for off in f["offsets"]]
    for a, b in zip(spans, spans[1:]):
        # the last 16 context tokens of a window open the next one
        np.testing.assert_array_equal(a[-16:], b[:16])
    assert spans[0][0, 0] == 0 and spans[-1][-1, 1] == len(context)
    # only the last window holds the answer; the others are labelled at CLS
    assert f["answer_in_window"].tolist() == [False] * (len(f) - 1) + [True]
    assert (f["start_positions"][:-1] == 0).all() and (f["end_positions"][:-1] == 0).all()
    stats = span_qa.example_stats([ex], f)
    assert stats.windows.tolist() == [len(f)] and stats.num_lost == 0


def test_unanswerable_and_too_long_answers(mini_tokenizer):
    long_answer = " ".join(f"w{i}" for i in range(100))
    examples = [qa(answer=None, impossible=True, id="none"),
                qa(context=long_answer + ".", answer=long_answer, id="long"), qa(id="ok")]
    f = feats(examples, mini_tokenizer, max_length=64, doc_stride=16, max_query_length=8)
    rows = f.example_index != 2
    assert (f["start_positions"][rows] == 0).all() and not f["answer_in_window"][rows].any()
    stats = span_qa.example_stats(examples, f)
    assert stats.answer_lost.tolist() == [False, True, False]  # unanswerable is not "lost"


def test_bert_style_tokenizer_token_types():
    from transformers import BertTokenizer

    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "who", "won", "in"]
    chars = "abcdefghijklmnopqrstuvwxyz0123456789"
    vocab += list(chars + ".,?") + [f"##{c}" for c in chars]
    tok = BertTokenizer(vocab={w: i for i, w in enumerate(vocab)})
    ex = qa()
    f = feats([ex], tok, max_length=24, doc_stride=4, max_query_length=8)
    ref = tok("Who won?", CONTEXT, truncation="only_second", max_length=24, stride=4,
              return_overflowing_tokens=True)
    assert [r.tolist() for r in f["input_ids"]] == ref["input_ids"]
    assert [r.tolist() for r in f["token_type_ids"]] == ref["token_type_ids"]
    d = span_qa.decode([ex], f, peaked_logits(f))
    assert d.predictions == {"q": "Denver team"}  # original casing, through the offsets


def test_no_examples(mini_tokenizer):
    f = feats([], mini_tokenizer)
    assert len(f) == 0 and "offsets" in f and "start_positions" in f
    empty = span_qa.decode([], f, {"start_logits": [], "end_logits": []}, version_2_with_negative=True)
    assert empty.predictions == {} and empty.null_score_diff == {}


def test_bad_settings_raise(mini_tokenizer):
    with pytest.raises(ValueError, match="doc_stride"):
        feats([qa()], mini_tokenizer, max_length=96, doc_stride=32, max_query_length=64)
    with pytest.raises(ValueError, match="positions"):
        feats([qa()], mini_tokenizer, max_length=1024)
    left = copy.deepcopy(mini_tokenizer)  # the fixture is shared: change a copy
    left.padding_side = "left"
    with pytest.raises(ValueError, match="padding_side"):
        feats([qa()], left)


def test_model_columns_collate(mini_tokenizer):
    f = feats([qa(), qa(question="And what did the team win after the long season?")], mini_tokenizer)
    columns = ("input_ids", "attention_mask", *span_qa.TARGET_COLUMNS)  # what the training loop collates
    rows = [{k: f[k][i] for k in columns} for i in range(len(f))]
    batch = collate(rows, pad_token_id=mini_tokenizer.pad_token_id)
    assert batch["input_ids"].shape == batch["attention_mask"].shape
    assert batch["start_positions"].shape == (2,)


# ---------------------------------------------------------------------------------------------
# Decode units (numpy only)
# ---------------------------------------------------------------------------------------------


def _span_positions(features, text, row=0):
    off = features["offsets"][row]
    c0 = CONTEXT.index(text)
    s = int(np.nonzero(off[:, 0] == c0)[0][0])
    e = int(np.nonzero(off[:, 1] == c0 + len(text))[0][0])
    return s, e


def _logits(features, picks, low=-5.0):
    """Per-row logits (plain numpy, ragged): ``picks`` = {(row, "start"|"end", position): value}."""
    start = [np.full(len(x), low, dtype=np.float32) for x in features["input_ids"]]
    end = [np.full(len(x), low, dtype=np.float32) for x in features["input_ids"]]
    for (row, which, pos), value in picks.items():
        (start if which == "start" else end)[row][pos] = value
    return {"start_logits": start, "end_logits": end}


@pytest.fixture(scope="module")
def one(mini_tokenizer):
    ex = qa()
    return [ex], feats([ex], mini_tokenizer)


@pytest.mark.parametrize("null,expected", [(2.0, "Denver team"), (3.0, "Denver team"), (3.5, "")])
def test_v2_threshold_is_strict(one, null, expected):
    examples, f = one
    s, e = _span_positions(f, "Denver team")
    # span score 1 + 1 = 2; null score = null/2 + null/2; threshold 1: "" iff null - 2 > 1
    out = _logits(f, {(0, "start", s): 1.0, (0, "end", e): 1.0,
                      (0, "start", 0): null / 2, (0, "end", 0): null / 2})
    d = span_qa.decode(examples, f, out, version_2_with_negative=True, null_score_diff_threshold=1.0)
    assert d.predictions == {"q": expected}
    assert d.null_score_diff["q"] == pytest.approx(null - 2.0)
    assert any(b["text"] == "" for b in d.nbest["q"])  # the null answer is always in the n-best
    v1 = span_qa.decode(examples, f, out)
    assert v1.predictions == {"q": "Denver team"} and v1.null_score_diff is None


def test_v2_null_score_is_the_minimum_over_windows(mini_tokenizer):
    context = " ".join(f"w{i}" for i in range(120)) + " the Denver team won."
    ex = QAExample("q", "Who?", context, (Answer("Denver team", context.index("Denver team")),))
    f = feats([ex], mini_tokenizer, max_length=64, doc_stride=16, max_query_length=8)
    assert len(f) >= 3
    last = len(f) - 1
    s, e = f["start_positions"][last], f["end_positions"][last]
    picks = {(r, w, 0): 4.0 for r in range(len(f)) for w in ("start", "end")}
    picks.update({(1, "start", 0): 0.25, (1, "end", 0): 0.25,
                  (last, "start", s): 1.0, (last, "end", e): 1.0})
    d = span_qa.decode([ex], f, _logits(f, picks), version_2_with_negative=True)
    # null = 0.5 (window 1, the lowest), best span = 2 → diff −1.5 → the span
    assert d.null_score_diff["q"] == pytest.approx(-1.5) and d.predictions["q"] == "Denver team"


def test_max_answer_length_and_invalid_spans(one):
    examples, f = one
    s, e = _span_positions(f, "Denver team won the championship after a long season")
    s2, e2 = _span_positions(f, "Denver team")
    out = _logits(f, {(0, "start", s): 9.0, (0, "end", e): 9.0, (0, "end", e2): 5.0,
                      (0, "start", 1): 20.0, (0, "end", 1): 20.0})  # question token: never a span
    assert span_qa.decode(examples, f, out, max_answer_length=e - s + 1).predictions["q"] == (
        "Denver team won the championship after a long season")
    assert span_qa.decode(examples, f, out, max_answer_length=e - s).predictions["q"] == "Denver team"
    # end before start is skipped too
    out = _logits(f, {(0, "start", e): 9.0, (0, "end", s): 9.0, (0, "end", e): 1.0})
    assert span_qa.decode(examples, f, out).predictions["q"] == CONTEXT[
        f["offsets"][0][e, 0]:f["offsets"][0][e, 1]]


def test_nbest_ordering_and_probabilities(one):
    examples, f = one
    off = f["offsets"][0]
    ctx = np.nonzero(off[:, 0] >= 0)[0]
    rng = np.random.default_rng(0)
    out = {"start_logits": [rng.normal(size=len(off))], "end_logits": [rng.normal(size=len(off))]}
    d = span_qa.decode(examples, f, out, n_best_size=7)
    best = d.nbest["q"]
    assert len(best) == 7
    scores = [b["score"] for b in best]
    assert scores == sorted(scores, reverse=True)
    assert sum(b["probability"] for b in best) == pytest.approx(1.0)
    assert d.predictions["q"] == best[0]["text"]
    # brute force over the top-7 starts × ends of HF's rule
    s, e = out["start_logits"][0], out["end_logits"][0]
    cands = sorted(((s[i] + e[j], CONTEXT[off[i, 0]:off[j, 1]])
                    for i in np.argsort(s)[::-1][:7] for j in np.argsort(e)[::-1][:7]
                    if i in ctx and j in ctx and i <= j < i + 30), key=lambda t: -t[0])
    assert [b["text"] for b in best] == [t for _, t in cands[:7]]
    for b, (score, _) in zip(best, cands):
        assert b["score"] == pytest.approx(score)
        assert b["start_logit"] + b["end_logit"] == pytest.approx(score)


def test_decode_is_pure_numpy(one):
    """Plain lists in, plain Python values out, and no torch in decode's code."""
    examples, f = one
    s, e = _span_positions(f, "Denver team")
    out = _logits(f, {(0, "start", s): 3.0, (0, "end", e): 3.0})
    plain = {k: [v.tolist() for v in vals] for k, vals in out.items()}
    d = span_qa.decode(examples, f, plain, version_2_with_negative=True)
    assert d.predictions == {"q": "Denver team"}
    json.dumps([d.predictions, d.nbest, d.null_score_diff])  # only JSON-able Python values
    for fn in (span_qa.decode, span_qa._candidates, span_qa._rank, span_qa._add_probabilities):
        assert "torch" not in fn.__code__.co_names


def test_no_valid_span_and_errors(one):
    examples, f = one
    flat = _logits(f, {})
    only_question = {k: [np.where(f["offsets"][0][:, 0] >= 0, -1e9, 0.0)] for k in flat}
    assert span_qa.decode(examples, f, only_question, n_best_size=3).predictions == {"q": ""}
    v2 = span_qa.decode(examples, f, only_question, n_best_size=3, version_2_with_negative=True)
    assert v2.predictions == {"q": ""} and math.isinf(v2.null_score_diff["q"])
    with pytest.raises(ValueError, match="features"):
        span_qa.decode(examples, f, {"start_logits": [], "end_logits": []})
    with pytest.raises(ValueError, match="no features"):
        span_qa.decode(examples + [qa(id="orphan")], f, flat)
    with pytest.raises(ValueError, match="not unique"):
        span_qa.decode(examples * 2, f.select([0, 0]), {k: v * 2 for k, v in flat.items()})


def test_predictions_json():
    text = span_qa.predictions_to_json({"a": "北京", "b": ""})
    assert json.loads(text) == {"a": "北京", "b": ""} and "北京" in text


# ---------------------------------------------------------------------------------------------
# Head and loss
# ---------------------------------------------------------------------------------------------


def test_head_masks_padding_and_loss_matches_hf():
    torch.manual_seed(0)
    head = span_qa.Head(hidden_size=8)
    hidden = torch.randn(2, 5, 8)
    batch = {"attention_mask": np.array([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]]),
             "start_positions": np.array([1, 2]), "end_positions": np.array([3, 9])}
    out = head(hidden, batch)
    assert out["start_logits"].shape == (2, 5)
    assert (out["start_logits"][1, 3:] == torch.finfo(torch.float32).min).all()
    raw = head.qa_outputs(hidden)
    torch.testing.assert_close(out["end_logits"][0], raw[0, :, 1])
    loss = head.loss(out, batch)
    # HF: positions clamped to the length (5), which is the ignored index → end of row 2 ignored
    ce = torch.nn.functional.cross_entropy
    expected = (ce(out["start_logits"], torch.tensor([1, 2]))
                + ce(out["end_logits"][:1], torch.tensor([3]))) / 2
    torch.testing.assert_close(loss, expected)
    loss.backward()
    assert head.qa_outputs.weight.grad is not None


def test_registered_as_format():
    assert get_format("span_qa") is span_qa


def test_no_room_for_the_context_is_a_config_error(mini_tokenizer):
    # A setting, not a crash: `xstilts run` prints it as one line and exits 2.
    from xstilts.errors import ConfigError

    ex = QAExample("q", "Who?", "Some context here.", ())
    with pytest.raises(ConfigError, match="must exceed doc_stride=32"):
        get_format("span_qa").featurize([ex], mini_tokenizer, max_length=64, doc_stride=32, max_query_length=64)
