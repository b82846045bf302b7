"""The continued-multilingual-MLM baseline (Phang et al. 2020): an intermediate phase that mixes MLM
on multilingual corpora into its tasks, its ``mlm`` head continuing from the checkpoint's own.

On the synthetic world: the head at the start of the mixed phase equals the checkpoint's
``lm_head`` (a hub-style masked-LM directory, and a model pretrained from scratch in the same
run); a checkpoint without one fails before anything trains; MLM is logged and written as rows but
never selects the model beside a real task; the condition reaches the report; same seed, same numbers.
"""

from __future__ import annotations

import json
import shutil

import pytest
import torch
from safetensors import safe_open
from typer.testing import CliRunner

from xstilts.cli import app
from xstilts.config import load_config, resolve
from xstilts.errors import ConfigError
from xstilts.pipeline.phases import finetune
from xstilts.pipeline.results import read_rows
from xstilts.pipeline.runner import run_experiment, training_key
from xstilts.validate import check
from xstilts.world import generate

LANGUAGES = ["en", "xa", "xb", "xc"]
STEPS = {"max_steps": 4, "per_device_train_batch_size": 8, "learning_rate": 1.0e-3, "eval_steps": 2,
         "logging_steps": 2, "max_eval_examples": 16}
SCRATCH = {"seed": 0, "languages": LANGUAGES, "corpus_task": "syn_mlm", "tokenizer": {"vocab_size": 600},
           "model": {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 64},
           "max_length": 64, "training": {"max_steps": 8, "per_device_train_batch_size": 16, "eval_steps": 8}}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    out = tmp_path_factory.mktemp("mlm-world") / "tiny"
    generate(out, seed=0, size="tiny")
    return out


@pytest.fixture(scope="module")
def masked_lm_dir(tmp_path_factory, mini_encoder_dir):
    """A tiny XLMRobertaForMaskedLM (random weights, its head's biases non-zero) with the mini tokenizer."""
    from transformers import AutoTokenizer, XLMRobertaConfig, XLMRobertaForMaskedLM

    out = tmp_path_factory.mktemp("masked-lm")
    tok = AutoTokenizer.from_pretrained(str(mini_encoder_dir))
    torch.manual_seed(7)
    model = XLMRobertaForMaskedLM(XLMRobertaConfig(
        vocab_size=len(tok), hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
        max_position_embeddings=130, layer_norm_eps=1e-5, pad_token_id=tok.pad_token_id, bos_token_id=0, eos_token_id=2))
    with torch.no_grad():
        model.lm_head.bias.normal_()
        model.lm_head.layer_norm.bias.normal_()
    model.save_pretrained(out)
    tok.save_pretrained(out)
    return out


def _mixed(world, pretrained: dict, *, mlm: dict | None = None, tasks=("syn_nli", "syn_mlm"), later=True, seed=1):
    phases = [{"kind": "pretrained", **pretrained},
              {"kind": "intermediate", "tasks": list(tasks), "max_length": 64, "training": STEPS,
               "mlm": {"languages": LANGUAGES, **(mlm or {})}}]
    if later:
        phases += [{"kind": "target", "task": "syn_xnli", "training": STEPS},
                   {"kind": "zero_shot_eval", "splits": ["test"], "max_examples": 16}]
    return {"name": "mlm", "seed": seed, "data_dir": str(world), "phases": phases, "tasks": {"syn_xnli": {"max_length": 64}}}


def _spy_head(monkeypatch) -> dict:
    """What the ``mlm`` head holds when the mixed phase starts training (train is called through)."""
    seen = {}
    real = finetune.train

    def spy(model, streams, *args, **kwargs):
        if "mlm" in model.heads and "mlm" not in seen:
            seen["mlm"] = {k: v.detach().clone() for k, v in model.heads["mlm"].state_dict().items()}
            seen["tied"] = model.heads["mlm"].decoder.weight is model.encoder.get_input_embeddings().weight
            seen["streams"] = [s.head for s in streams]
        return real(model, streams, *args, **kwargs)

    monkeypatch.setattr(finetune, "train", spy)
    return seen


def _lm_head_file(directory) -> dict[str, torch.Tensor]:
    with safe_open(str(directory / "model.safetensors"), framework="pt") as f:
        return {k: f.get_tensor(k) for k in f.keys() if k.startswith(("lm_head.", "roberta.embeddings.word_"))}


def _assert_head_is_the_checkpoints(seen: dict, stored: dict) -> None:
    head = seen["mlm"]
    for ours, theirs in {"dense.weight": "lm_head.dense.weight", "dense.bias": "lm_head.dense.bias",
                         "layer_norm.weight": "lm_head.layer_norm.weight", "layer_norm.bias": "lm_head.layer_norm.bias",
                         "decoder.bias": "lm_head.bias"}.items():
        assert torch.equal(head[ours], stored[theirs]), ours
    assert seen["tied"] and torch.equal(head["decoder.weight"], stored["roberta.embeddings.word_embeddings.weight"])


# ------------------------------------------------------------------ config and validation (fast)


def test_mlm_block_is_in_the_key_and_absent_phases_keep_theirs(world):
    raw = _mixed(world, {"from_scratch": SCRATCH}, later=False)
    config = load_config(raw=raw)
    alone = {k: v for k, v in raw["phases"][1].items() if k != "mlm"} | {"tasks": ["syn_nli"]}
    plain = load_config(raw={**raw, "phases": [raw["phases"][0], alone]})
    assert "mlm" not in plain.phases[1].model_dump(mode="json")  # unset: configs and run ids as before
    fewer = load_config(raw=_mixed(world, {"from_scratch": SCRATCH}, mlm={"languages": ["en", "xa"]}, later=False))
    assert training_key(config, 1) != training_key(fewer, 1)
    # Every corpus it reads is fingerprinted (a replaced Wikipedia dump trains a new model).
    reads = resolve(config).data[1]
    assert {"syn_nli.train", "syn_nli.dev", "syn_mlm.train", "syn_mlm.dev"} <= set(reads)
    assert len(reads["syn_mlm.train"]) == 4 and all(v for v in reads["syn_mlm.train"].values())


@pytest.mark.parametrize("change, where", [
    (lambda r: r["phases"][1].pop("mlm"), "phases.1.tasks"),
    (lambda r: r["phases"][1].update(tasks=["syn_nli"]), "phases.1.mlm"),
    (lambda r: r["phases"][1]["mlm"].update(languages=["en", "zz"]), "phases.1.mlm.languages.1"),
    (lambda r: r["phases"][1].update(tasks=["syn_nli", "syn_mlm", "mlm"]), "one MLM task per phase"),
    (lambda r: r.update(tasks={"syn_mlm": {"train": {"split": "dev"}}}), "tasks.syn_mlm.train"),
    (lambda r: r["phases"].__setitem__(0, {"kind": "pretrained", "model": "x/y", "random_init": True}),
     "phases.1.mlm.head"),
])
def test_what_a_mixed_phase_needs_is_checked_up_front(world, change, where):
    raw = _mixed(world, {"from_scratch": SCRATCH}, later=False)
    change(raw)
    with pytest.raises(ConfigError) as err:
        check(load_config(raw=raw), source="c.yaml", resources=False)
    assert where in str(err.value) and "\n" not in str(err.value)


# ------------------------------------------------------------------ a hub-style masked-LM checkpoint


@pytest.mark.slow
def test_head_starts_as_the_checkpoints_lm_head_and_mlm_never_selects(world, masked_lm_dir, tmp_path, monkeypatch):
    seen = _spy_head(monkeypatch)
    run_experiment(load_config(raw=_mixed(world, {"model": str(masked_lm_dir)}, later=False)), tmp_path, progress=False)
    _assert_head_is_the_checkpoints(seen, _lm_head_file(masked_lm_dir))
    assert seen["streams"] == ["syn_nli", "mlm"]  # the phase's tasks, in order; the MLM one on the mlm head
    phase = next(p for p in tmp_path.glob("shared/intermediate-*") if p.is_dir())
    done = json.loads((phase / "done.json").read_text())
    assert done["mlm"]["head"]["from"] == "checkpoint" and done["mlm"]["head"]["checkpoint"] == str(masked_lm_dir)
    assert done["truncation"]["tasks"]["syn_mlm"]["examples_per_language"].keys() == set(LANGUAGES)
    # Selection stays on the real task: every evaluation's "selection" is syn_nli's accuracy, with the
    # MLM's dev loss and perplexity beside it in the log.
    history = json.loads((phase / "checkpoint" / "state.json").read_text())["history"]
    assert history and all(h["selection"] == h["syn_nli.accuracy"] for h in history)
    assert all(h["syn_mlm.perplexity"] == pytest.approx(torch.tensor(h["syn_mlm.loss"]).exp().item()) for h in history)
    rows = [r for r in read_rows(tmp_path / "results.jsonl") if r["task"] == "syn_mlm"]
    dev = {(r["language"], r["metric"]) for r in rows if r["split"] == "dev"}
    assert dev == {(lang, m) for lang in LANGUAGES for m in ("loss", "perplexity")}
    assert all(not r["higher_is_better"] for r in rows if r["split"] == "dev")


@pytest.mark.slow
def test_mlm_alone_selects_on_its_dev_loss(world, masked_lm_dir, tmp_path):
    run_experiment(load_config(raw=_mixed(world, {"model": str(masked_lm_dir)}, tasks=["syn_mlm"], later=False)),
                   tmp_path, progress=False)
    phase = next(p for p in tmp_path.glob("shared/intermediate-*") if p.is_dir())
    history = json.loads((phase / "checkpoint" / "state.json").read_text())["history"]
    assert all(h["selection"] == -h["syn_mlm.loss"] for h in history)


@pytest.mark.slow
def test_a_checkpoint_without_an_lm_head_fails_before_training_unless_fresh_is_asked(world, tiny_model_dir, tmp_path):
    raw = _mixed(world, {"model": str(tiny_model_dir)}, later=False)
    with pytest.raises(ConfigError) as err:
        run_experiment(load_config(raw=raw), tmp_path / "a", progress=False)
    assert "\n" not in str(err.value) and str(tiny_model_dir) in str(err.value) and "no MLM head" in str(err.value)
    assert not list((tmp_path / "a").glob("shared/intermediate-*/checkpoint"))  # nothing trained
    run_experiment(load_config(raw=_mixed(world, {"model": str(tiny_model_dir)}, mlm={"head": "fresh"}, later=False)),
                   tmp_path / "b", progress=False)
    done = json.loads(next((tmp_path / "b").glob("shared/intermediate-*/done.json")).read_text())
    assert done["mlm"]["head"]["from"] == "fresh"
    assert "a new, randomly initialised MLM head" in next((tmp_path / "b").glob("runs/*/log.txt")).read_text()


# ------------------------------------------------------------------ end to end from scratch, in the report


@pytest.mark.slow
def test_world_baseline_runs_reports_its_condition_and_repeats_exactly(world, tmp_path, monkeypatch):
    seen = _spy_head(monkeypatch)
    raw = _mixed(world, {"from_scratch": SCRATCH})
    runs = [run_experiment(load_config(raw=raw), tmp_path / out, progress=False) for out in ("a", "b")]
    # From scratch, the head continues the one pretrained in the same run (saved as its lm_head).
    pretrained = next(p for p in (tmp_path / "a").glob("shared/pretrained-*") if p.is_dir()) / "model"
    _assert_head_is_the_checkpoints(seen, _lm_head_file(pretrained))

    def numbers(out):
        return sorted((r["phase"], r["task"], r["language"], r["split"], r["bucket"], r["metric"], r["value"])
                      for r in read_rows(tmp_path / out / "results.jsonl"))

    assert numbers("a") == numbers("b")  # same seed, same masking, same numbers
    zero_shot = [r for r in read_rows(tmp_path / "a" / "results.jsonl") if r["phase"] == "zero_shot_eval"]
    assert {r["language"] for r in zero_shot} == set(LANGUAGES)
    assert {tuple(r["intermediate"]) for r in zero_shot} == {("syn_nli", "syn_mlm")}
    assert all(r["run_id"] == runs[0].name for r in zero_shot)

    # Beside the no-intermediate baseline, the report shows the condition as its own.
    baseline = {**raw, "name": "baseline", "phases": [raw["phases"][0], *raw["phases"][2:]]}
    run_experiment(load_config(raw=baseline), tmp_path / "a", progress=False)
    shutil.rmtree(tmp_path / "b")
    result = CliRunner().invoke(app, ["report", str(tmp_path / "a"), "--resamples", "50"])
    assert result.exit_code == 0, result.output
    html = (tmp_path / "a" / "report" / "index.html").read_text()
    assert "syn_nli+syn_mlm" in html
