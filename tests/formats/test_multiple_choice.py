import numpy as np
import pytest
import torch

from xstilts.data.examples import MultipleChoiceExample
from xstilts.data.loading import load_examples
from xstilts.formats import multiple_choice
from xstilts.tasks import get_task


@pytest.mark.parametrize("task,n_choices", [("hellaswag", 4), ("commonsenseqa", 5), ("cosmosqa", 4)])
def test_real_data_round_trip(data_dir, mini_tokenizer, task, n_choices):
    t = get_task(task)
    examples = load_examples(t, "dev", "en", data_dir=data_dir)[:200]
    feats = multiple_choice.featurize(examples, mini_tokenizer, max_length=t.max_length)
    assert len(feats) == len(examples)
    for ids, mask in zip(feats["input_ids"], feats["attention_mask"]):
        assert ids.shape[0] == n_choices and ids.shape == mask.shape and ids.shape[1] <= t.max_length
    logits = np.eye(n_choices)[feats["labels"]]
    assert multiple_choice.decode(examples, feats, {"logits": logits}) == [ex.label for ex in examples]


def test_question_joins_context(mini_tokenizer):
    ex = MultipleChoiceExample("q1", "Tom went home.", "Why?", ("tired", "hungry"), 0)
    feats = multiple_choice.featurize([ex], mini_tokenizer, max_length=32)
    text = mini_tokenizer.decode(feats["input_ids"][0][1])
    assert "Tom went home. Why?" in text and "hungry" in text


def test_mixed_choice_counts_rejected(mini_tokenizer):
    exs = [MultipleChoiceExample("a", "c", "", ("x", "y"), 0), MultipleChoiceExample("b", "c", "", ("x",), 0)]
    with pytest.raises(ValueError, match="number of choices"):
        multiple_choice.featurize(exs, mini_tokenizer, max_length=16)


def test_head_scores_each_choice():
    head = multiple_choice.Head(hidden_size=8)
    batch = {"input_ids": torch.zeros(2, 3, 5, dtype=torch.long), "labels": torch.tensor([2, 0])}
    out = head(torch.randn(6, 5, 8), batch)
    assert out["logits"].shape == (2, 3)
    multiple_choice.loss(out, batch).backward()
