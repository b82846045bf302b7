import numpy as np
import pytest
import torch

from xstilts.data.examples import ClassificationExample
from xstilts.data.loading import load_examples
from xstilts.formats import classification, get_format
from xstilts.tasks import get_task


@pytest.mark.parametrize("task,split,lang", [("xnli", "dev", "de"), ("pawsx", "dev", "de"), ("anli", "dev", "en")])
def test_featurize_decode_round_trip_on_real_data(data_dir, mini_tokenizer, task, split, lang):
    t = get_task(task)
    examples = load_examples(t, split, lang, data_dir=data_dir)[:300]
    fmt = get_format(t.format)
    feats = fmt.featurize(examples, mini_tokenizer, max_length=t.max_length, label_list=t.labels)
    assert len(feats) == len(examples)
    assert all(len(x) <= t.max_length for x in feats["input_ids"])
    gold = [ex.label for ex in examples]
    one_hot = np.eye(len(t.labels))[feats["labels"]] * 10.0
    # Shuffle rows: decode must follow example_index, not row order.
    perm = np.random.default_rng(0).permutation(len(feats))
    preds = fmt.decode(examples, feats.select(perm), {"logits": one_hot[perm]}, t.labels)
    assert preds == gold


def test_unknown_label_names_the_example():
    ex = [ClassificationExample("ex-7", "a", "b", "maybe")]
    with pytest.raises(ValueError, match="ex-7"):
        classification.label_ids(ex, ("entailment", "neutral", "contradiction"))


def test_unlabelled_examples_get_ignore_index(mini_tokenizer):
    ex = [ClassificationExample("0", "Hallo Welt", "Hi", None)]
    feats = classification.featurize(ex, mini_tokenizer, max_length=16, label_list=("0", "1"))
    assert feats["labels"].tolist() == [-100]


def test_head_and_loss_backward():
    torch.manual_seed(0)
    head = classification.Head(hidden_size=8, num_labels=3)
    hidden = torch.randn(4, 5, 8, requires_grad=True)
    out = head(hidden, {})
    assert out["logits"].shape == (4, 3)
    loss = classification.loss(out, {"labels": torch.tensor([0, 1, 2, -100])})
    loss.backward()
    assert hidden.grad is not None and torch.isfinite(loss)
