"""Training faults: a non-finite loss stops with the step and the batch's examples; out of memory
retries at a smaller per-device batch with the same effective batch; a checkpoint that cannot be
written (here: the OS's file-size limit, as a full disk) stops with one line and keeps the
previous checkpoint whole."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest
import torch

from xstilts.config import TrainingArgs
from xstilts.data.loading import load_examples
from xstilts.formats import classification
from xstilts.modeling import MultiTaskModel, head_spec_for
from xstilts.tasks import get_task
from xstilts.training.loop import TrainingError, TrainStream, train


def _setup(model_dir, tokenizer, data_dir, transform=None):
    torch.manual_seed(0)
    model = MultiTaskModel.from_pretrained(str(model_dir), dropout=0.0)
    anli = get_task("anli")
    model.add_head("anli", head_spec_for(anli, dropout=0.0))
    examples = load_examples(anli, "dev", "en", data_dir=data_dir)[:48]
    feats = classification.featurize(examples, tokenizer, max_length=32, label_list=anli.labels)
    return model, [TrainStream("anli", feats, transform=transform, example_ids=[ex.id for ex in examples])]


def test_non_finite_loss_stops_with_step_and_examples(tiny_model_dir, mini_tokenizer, data_dir, tmp_path):
    model, streams = _setup(tiny_model_dir, mini_tokenizer, data_dir)
    # A learning rate no one should use, without clipping: the weights overflow within a few steps.
    args = TrainingArgs(per_device_train_batch_size=4, max_steps=40, learning_rate=1e12, max_grad_norm=0,
                        logging_steps=100, save_steps=1)
    with pytest.raises(TrainingError) as err:
        train(model, streams, args, out_dir=tmp_path, seed=0, pad_token_id=1, log=lambda s: None, progress=False)
    message = str(err.value)
    assert "training loss is" in message and " at step " in message and "examples " in message
    step = int(message.split(" at step ")[1].split()[0])
    assert f"checkpoint of step {step - 1} is kept" in message  # the last good one
    assert json.loads((tmp_path / "checkpoint" / "state.json").read_text())["step"] == step - 1
    anli_ids = {ex.id for ex in load_examples(get_task("anli"), "dev", "en", data_dir=data_dir)[:48]}
    named = message.split("examples ")[1].split(";")[0].replace(" and", ",").split(", ")
    assert any(n.strip() in anli_ids for n in named)  # real example ids, not row numbers


def _oom_above(rows: int):
    def transform(batch, rng):
        if len(batch["input_ids"]) > rows:  # as a GPU would at a batch this large
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return batch
    return transform


def test_out_of_memory_retries_with_the_same_effective_batch(tiny_model_dir, mini_tokenizer, data_dir, tmp_path):
    model, streams = _setup(tiny_model_dir, mini_tokenizer, data_dir, transform=_oom_above(2))
    args = TrainingArgs(per_device_train_batch_size=8, gradient_accumulation_steps=1, max_steps=4,
                        learning_rate=1e-3, logging_steps=100)
    seen: list[str] = []
    result = train(model, streams, args, out_dir=tmp_path / "oom", seed=0, pad_token_id=1, log=seen.append,
                   progress=False)
    assert (result.per_device_train_batch_size, result.gradient_accumulation_steps, result.oom_retries) == (2, 4, 2)
    assert sum("out of memory at per_device_train_batch_size" in s for s in seen) == 2
    # Started again from the initial weights: exactly a run asked for 2 × 4 from the start.
    direct, streams2 = _setup(tiny_model_dir, mini_tokenizer, data_dir)
    train(direct, streams2, args.model_copy(update={"per_device_train_batch_size": 2, "gradient_accumulation_steps": 4}),
          out_dir=tmp_path / "direct", seed=0, pad_token_id=1, log=lambda s: None, progress=False)
    for k, v in direct.state_dict().items():
        assert torch.equal(v, model.state_dict()[k]), k


def test_out_of_memory_at_batch_one_is_a_clear_error(tiny_model_dir, mini_tokenizer, data_dir, tmp_path):
    model, streams = _setup(tiny_model_dir, mini_tokenizer, data_dir, transform=_oom_above(0))
    args = TrainingArgs(per_device_train_batch_size=2, max_steps=2, logging_steps=100)
    with pytest.raises(TrainingError, match="out of memory at per_device_train_batch_size 1"):
        train(model, streams, args, out_dir=tmp_path, seed=0, pad_token_id=1, log=lambda s: None, progress=False)


SCRIPT = textwrap.dedent("""
    import resource, signal, sys
    sys.path.insert(0, {tests!r})
    from test_faults import _setup
    from transformers import AutoTokenizer
    from xstilts.config import TrainingArgs
    from xstilts.training.loop import TrainingError, train

    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG instead
    model, streams = _setup({model!r}, AutoTokenizer.from_pretrained({model!r}), {data!r})
    args = TrainingArgs(per_device_train_batch_size=4, max_steps=6, save_steps=2, learning_rate=1e-3, logging_steps=1)

    def log(line):
        if line.startswith("step 3/"):  # after the checkpoint of step 2: the disk is full from now on
            resource.setrlimit(resource.RLIMIT_FSIZE, (1024, 1024))

    try:
        train(model, streams, args, out_dir={out!r}, seed=0, pad_token_id=1, log=log, progress=False)
    except TrainingError as err:
        print("ERROR", err)
""")


def test_a_checkpoint_that_cannot_be_written_keeps_the_previous_one(tiny_model_dir, data_dir, tmp_path):
    from pathlib import Path

    out = tmp_path / "phase"
    script = SCRIPT.format(tests=str(Path(__file__).parent), model=str(tiny_model_dir), data=str(data_dir), out=str(out))
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    errors = [line for line in proc.stdout.splitlines() if line.startswith("ERROR")]
    assert len(errors) == 1, proc.stdout + proc.stderr
    assert "could not write step 4" in errors[0] and "checkpoint of step 2 is kept" in errors[0]
    assert json.loads((out / "checkpoint" / "state.json").read_text())["step"] == 2  # whole, loadable
    assert not (out / "checkpoint.tmp").exists()
