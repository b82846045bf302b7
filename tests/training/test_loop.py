"""The training loop on a tiny real model: multi-task sampling, accumulation, early stopping."""

import numpy as np
import pytest
import torch

from xstilts.config import TrainingArgs
from xstilts.data.loading import load_examples
from xstilts.formats import classification, tagging
from xstilts.modeling import MultiTaskModel, head_spec_for
from xstilts.tasks import get_task
from xstilts.training.loop import TrainStream, total_steps, train


@pytest.fixture
def two_task_setup(tiny_model_dir, mini_tokenizer, data_dir):
    torch.manual_seed(0)
    model = MultiTaskModel.from_pretrained(str(tiny_model_dir))
    anli, udpos = get_task("anli"), get_task("udpos")
    model.add_head("anli", head_spec_for(anli))
    model.add_head("udpos", head_spec_for(udpos))
    a = load_examples(anli, "dev", "en", data_dir=data_dir)[:48]
    u = load_examples(udpos, "train", "en", data_dir=data_dir)[:16]
    streams = [
        TrainStream("anli", classification.featurize(a, mini_tokenizer, max_length=32, label_list=anli.labels)),
        TrainStream("udpos", tagging.featurize(u, mini_tokenizer, max_length=32, label_list=udpos.labels)),
    ]
    return model, streams


def test_multitask_training_updates_both_heads(two_task_setup, tmp_path):
    model, streams = two_task_setup
    before = {h: {k: v.clone() for k, v in model.heads[h].state_dict().items()} for h in ("anli", "udpos")}
    args = TrainingArgs(per_device_train_batch_size=4, max_steps=12, learning_rate=1e-3, logging_steps=100)
    seen = []
    result = train(model, streams, args, out_dir=tmp_path, seed=0, pad_token_id=1, sampler="uniform",
                   log=seen.append, progress=False)
    assert result.steps == 12
    for h in before:
        assert any(not torch.equal(v, model.heads[h].state_dict()[k]) for k, v in before[h].items()), h
    assert '"anli": 0.5' in seen[0] and '"udpos": 0.5' in seen[0]


def test_early_stopping_and_best_checkpoint(two_task_setup, tmp_path):
    model, streams = two_task_setup
    scores = iter([50.0, 60.0, 55.0, 54.0, 53.0, 52.0])
    args = TrainingArgs(per_device_train_batch_size=4, max_steps=30, eval_steps=2, early_stopping_patience=2,
                        learning_rate=1e-3, logging_steps=100)
    result = train(model, streams[:1], args, out_dir=tmp_path, seed=0, pad_token_id=1,
                   evaluate=lambda m: {"selection": next(scores)}, selection_metric="selection",
                   log=lambda s: None, progress=False)
    assert result.stopped_early and result.steps == 8
    assert result.best_step == 4 and result.best_metric == 60.0
    assert (tmp_path / "best" / "model.safetensors").exists()


def test_total_steps_counts_accumulation():
    feats = type("F", (), {"__len__": lambda self: 100})()
    s = TrainStream("x", feats)
    assert total_steps(TrainingArgs(per_device_train_batch_size=10, num_train_epochs=2, gradient_accumulation_steps=4), [s]) == 5
    assert total_steps(TrainingArgs(max_steps=7), [s]) == 7


def test_freeze_embeddings_keeps_word_embeddings_and_is_undone_by_the_next_phase(two_task_setup, tmp_path):
    model, streams = two_task_setup
    words = model.encoder.get_input_embeddings().weight
    frozen_before, layer_before = words.detach().clone(), model.encoder.encoder.layer[0].output.dense.weight.detach().clone()
    args = TrainingArgs(per_device_train_batch_size=4, max_steps=3, learning_rate=1e-2, logging_steps=100,
                        freeze_embeddings=True)
    train(model, streams[:1], args, out_dir=tmp_path / "a", seed=0, pad_token_id=1, log=lambda s: None, progress=False)
    assert torch.equal(words, frozen_before)
    assert not torch.equal(model.encoder.encoder.layer[0].output.dense.weight, layer_before)
    train(model, streams[:1], args.model_copy(update={"freeze_embeddings": False}), out_dir=tmp_path / "b", seed=0,
          pad_token_id=1, log=lambda s: None, progress=False)
    assert not torch.equal(words, frozen_before)
