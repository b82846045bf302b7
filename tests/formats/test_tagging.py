import numpy as np
import pytest
import torch
import torch.nn.functional as F

from xstilts.data.examples import TaggingExample
from xstilts.data.loading import load_examples
from xstilts.formats import get_format, tagging
from xstilts.formats.base import collate
from xstilts.tasks import get_task

UDPOS_FILES = [("train", "en"), ("dev", "en"), ("dev", "de"), ("dev", "zh"),
               ("test", "en"), ("test", "de"), ("test", "zh")]


def _one_hot_from_gold(examples, feats, label_list, scale=5.0):
    """Logits that put the gold tag of each word at its first subword (built from the tags, not
    from the ``labels`` column), random noise elsewhere, so decode has to pick the right positions."""
    index = {t: i for i, t in enumerate(label_list)}
    rng = np.random.default_rng(0)
    out = []
    for row in range(len(feats)):
        words = feats["word_index"][row]
        tags = examples[feats.example_index[row]].tags
        logits = rng.normal(size=(len(words), len(label_list))).astype(np.float32)
        for pos in np.flatnonzero(words >= 0):
            logits[pos, index[tags[words[pos]]]] += 2 * scale + 10
        out.append(logits)
    return out


@pytest.mark.parametrize("max_length", [32, 128])
@pytest.mark.parametrize("split,lang", UDPOS_FILES)
def test_udpos_round_trip_every_token_one_tag(data_dir, mini_tokenizer, split, lang, max_length):
    task = get_task("udpos")
    examples = load_examples(task, split, lang, data_dir=data_dir, require_labels=True)
    # Every token line of the file is in some example (the reader drops nothing).
    path = data_dir / f"xtreme/download/udpos/{split}-{lang}.tsv"
    n_lines = sum(1 for line in open(path, encoding="utf-8") if line.strip("\n"))
    assert sum(len(ex.tokens) for ex in examples) == n_lines

    fmt = get_format(task.format)
    feats = fmt.featurize(examples, mini_tokenizer, max_length=max_length, label_list=task.labels)
    assert all(len(ids) <= max_length for ids in feats["input_ids"])
    n_windows = np.bincount(feats.example_index, minlength=len(examples))
    assert (n_windows >= 1).all()
    if max_length == 32:
        assert (n_windows > 1).sum() > len(examples) // 10  # long sentences really are split
    # Labels: the gold tag id at exactly the positions word_index marks, -100 elsewhere.
    index = {t: i for i, t in enumerate(task.labels)}
    for row in range(len(feats)):
        words, labels = feats["word_index"][row], feats["labels"][row]
        tags = examples[feats.example_index[row]].tags
        assert len(words) == len(labels) == len(feats["input_ids"][row])
        assert ((words >= 0) == (labels != -100)).all()
        assert [index[tags[w]] for w in words[words >= 0]] == labels[words >= 0].tolist()

    logits = _one_hot_from_gold(examples, feats, task.labels)
    # Shuffled rows: decode must follow example_index/word_index, not row order.
    perm = np.random.default_rng(1).permutation(len(feats))
    preds = fmt.decode(examples, feats.select(perm), {"logits": [logits[i] for i in perm]}, task.labels)
    assert preds == [list(ex.tags) for ex in examples]


def test_decode_accepts_padded_logits(mini_tokenizer):
    ex = [TaggingExample("a", ("Der", "Hund", "bellt", "laut", "."), ("DET", "NOUN", "VERB", "ADV", "PUNCT")),
          TaggingExample("b", ("Ja",), ("INTJ",))]
    labels = ("ADV", "DET", "INTJ", "NOUN", "PUNCT", "VERB")
    feats = tagging.featurize(ex, mini_tokenizer, max_length=5, label_list=labels)
    assert len(feats) > 2
    batch = collate([feats.row(i) for i in range(len(feats))], pad_token_id=mini_tokenizer.pad_token_id)
    one_hot = np.eye(len(labels))[np.maximum(batch["labels"], 0)]  # padding rows read as label 0
    assert tagging.decode(ex, feats, {"logits": one_hot}, labels) == [list(e.tags) for e in ex]


def test_word_with_zero_subwords_gets_the_unk_token(mini_tokenizer):
    tokens = ("Hallo", " ", "\u200b", "▁", "", "Welt")
    assert [len(mini_tokenizer(w, add_special_tokens=False)["input_ids"]) for w in tokens[1:5]] == [0] * 4
    ex = [TaggingExample("z", tokens, ("A", "B", "C", "D", "E", "F"))]
    labels = ("A", "B", "C", "D", "E", "F")
    for max_length in (3, 4, 64):  # 3: one subword per window
        feats = tagging.featurize(ex, mini_tokenizer, max_length=max_length, label_list=labels)
        ids = np.concatenate(feats["input_ids"])
        words = np.concatenate(feats["word_index"])
        assert sorted(words[words >= 0].tolist()) == list(range(6))
        for w in (1, 2, 3, 4):
            assert ids[words == w].tolist() == [mini_tokenizer.unk_token_id]
        logits = [np.eye(6)[np.maximum(lab, 0)] for lab in feats["labels"]]
        assert tagging.decode(ex, feats, {"logits": logits}, labels) == [list(labels)]


def _pieces(tokenizer, words):
    return [len(tokenizer(w, add_special_tokens=False)["input_ids"]) for w in words]


def test_sentence_exactly_filling_a_window(mini_tokenizer):
    words = ("Die", "Bundesregierung", "verabschiedete", "heute", "ein", "Gesetz", ".")
    n = sum(_pieces(mini_tokenizer, words))
    ex = [TaggingExample("w", words, None)]
    exact = tagging.featurize(ex, mini_tokenizer, max_length=n + 2)  # + <s> and </s>
    assert len(exact) == 1 and len(exact["input_ids"][0]) == n + 2
    assert exact["input_ids"][0][0] == mini_tokenizer.cls_token_id
    assert exact["input_ids"][0][-1] == mini_tokenizer.sep_token_id
    assert "labels" not in exact
    short = tagging.featurize(ex, mini_tokenizer, max_length=n + 1)
    assert len(short) == 2
    assert (short["word_index"][1][short["word_index"][1] >= 0] == [len(words) - 1]).all()
    assert sum(len(x) for x in short["input_ids"]) == n + 4  # nothing lost, specials twice


def test_word_longer_than_the_window_keeps_its_first_subwords(mini_tokenizer):
    url = "http://www.example.com/search?q=gunther+uecker+biography&gs_sm=c&um=1&ie=UTF-8"
    words = ("Siehe", url, "bitte", ".")
    n_url = _pieces(mini_tokenizer, [url])[0]
    max_length = 10
    assert n_url > max_length
    ex = [TaggingExample("long", words, ("VERB", "X", "ADV", "PUNCT"))]
    labels = ("ADV", "PUNCT", "VERB", "X")
    feats = tagging.featurize(ex, mini_tokenizer, max_length=max_length, label_list=labels)
    assert all(len(ids) <= max_length for ids in feats["input_ids"])
    url_row = next(r for r in range(len(feats)) if 1 in feats["word_index"][r].tolist())
    full = mini_tokenizer(url, add_special_tokens=False)["input_ids"]
    # The url fills one window alone, truncated to its first max_length - 2 subwords.
    assert feats["input_ids"][url_row][1:-1].tolist() == full[:max_length - 2]
    assert feats["word_index"][url_row].tolist() == [-1, 1] + [-1] * (max_length - 2)
    logits = [np.eye(4)[np.maximum(lab, 0)] for lab in feats["labels"]]
    assert tagging.decode(ex, feats, {"logits": logits}, labels) == [list(ex[0].tags)]


def test_unknown_tags_raise_or_are_ignored(mini_tokenizer):
    ex = [TaggingExample("s-3", ("a", "b"), ("N", "(S\\NP)/NP"))]
    with pytest.raises(ValueError, match="s-3"):
        tagging.featurize(ex, mini_tokenizer, max_length=16, label_list=("N",))
    feats = tagging.featurize(ex, mini_tokenizer, max_length=16, label_list=("N",), unknown_tags="ignore")
    lab = feats["labels"][0]
    assert lab[feats["word_index"][0] == 0].tolist() == [0]
    assert lab[feats["word_index"][0] == 1].tolist() == [-100]
    with pytest.raises(ValueError, match="label_list"):
        tagging.featurize(ex, mini_tokenizer, max_length=16)
    assert tagging.label_list_from(ex) == ("(S\\NP)/NP", "N")


def test_mixed_labelled_and_empty_examples(mini_tokenizer):
    ex = [TaggingExample("0", ("x",), ("N",)), TaggingExample("1", ("y", "z"), None),
          TaggingExample("2", (), ())]
    feats = tagging.featurize(ex, mini_tokenizer, max_length=16, label_list=("N",))
    assert feats.example_index.tolist() == [0, 1]  # an empty sentence has no window
    assert (feats["labels"][1] == -100).all()
    logits = [np.zeros((len(w), 1)) for w in feats["word_index"]]
    assert tagging.decode(ex, feats, {"logits": logits}, ("N",)) == [["N"], ["N", "N"], []]


def test_decode_rejects_missing_or_double_predictions(mini_tokenizer):
    ex = [TaggingExample("q", ("eins", "zwei", "drei"), None)]
    feats = tagging.featurize(ex, mini_tokenizer, max_length=4)
    assert len(feats) >= 2
    logits = [np.zeros((len(w), 2)) for w in feats["word_index"]]
    with pytest.raises(ValueError, match="no prediction"):
        tagging.decode(ex, feats.select([0]), {"logits": logits[:1]}, ("A", "B"))
    with pytest.raises(ValueError, match="two windows"):
        tagging.decode(ex, feats.select([0, 0, 1]), {"logits": [logits[0], logits[0], logits[1]]}, ("A", "B"))


def test_head_and_loss():
    torch.manual_seed(0)
    head = tagging.Head(hidden_size=8, num_labels=5)
    hidden = torch.randn(2, 6, 8, requires_grad=True)
    out = head(hidden, {})
    assert out["logits"].shape == (2, 6, 5)
    labels = torch.tensor([[-100, 1, -100, 4, 0, -100], [-100, 2, -100, -100, -100, -100]])
    loss = tagging.loss(out, {"labels": labels})
    ref = F.cross_entropy(out["logits"].reshape(-1, 5), labels.reshape(-1), ignore_index=-100)
    assert torch.allclose(loss, ref)
    loss.backward()
    assert hidden.grad is not None
    # A batch with no labelled position: zero, not NaN (numpy labels accepted as well).
    empty = tagging.loss(head(hidden, {}), {"labels": np.full((2, 6), -100)})
    assert empty.item() == 0.0
