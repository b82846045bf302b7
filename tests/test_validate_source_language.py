"""``source_language`` is checked before anything runs (:mod:`xstilts.validate`): codes the registry
knows, slices that have the language (or English to translate), the hub (no translations there) and,
when the run starts, the translated files themselves — one line naming the file expected."""

from __future__ import annotations

import shutil

import pytest
import yaml
from typer.testing import CliRunner

from xstilts.cli import app
from xstilts.config import load_config
from xstilts.errors import ConfigError
from xstilts.validate import check
from xstilts.world import generate

FAST = {"per_device_train_batch_size": 8, "max_steps": 2, "eval_steps": 2, "logging_steps": 1}


@pytest.fixture(scope="module")
def worlds(tmp_path_factory):
    """The tiny world without translations (its preset) and with them."""
    root = tmp_path_factory.mktemp("worlds")
    generate(root / "plain", seed=0, size="tiny")
    generate(root / "translated", seed=0, size="tiny", translations=True)
    return root / "plain", root / "translated"


def world_config(data_dir, source=("en", "xa")) -> dict:
    return {"name": "tt", "seed": 0, "data_dir": str(data_dir),
            "phases": [{"kind": "pretrained", "from_scratch": {"languages": ["en", "xa"], "corpus_task": "syn_mlm",
                                                               "max_length": 64}},
                       {"kind": "intermediate", "tasks": ["syn_nli"], "source_language": list(source),
                        "max_length": 64, "training": dict(FAST)}]}


def run_cli(tmp_path, raw):
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    out = tmp_path / "out"
    return CliRunner().invoke(app, ["run", str(path), "--out", str(out), "--no-progress"]), out


def one_line(result) -> str:
    assert result.exit_code == 2, (result.exit_code, result.output, result.exception)
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in result.output
    return lines[0]


def test_a_missing_translated_file_is_one_line_naming_it(tmp_path, worlds):
    plain, _ = worlds
    result, out = run_cli(tmp_path, world_config(plain))
    line = one_line(result)
    expected = plain / "english/syn_nli/translated/train.xa.jsonl"
    assert f"phases.1.source_language: no syn_nli train data in 'xa'" in line and str(expected) in line
    assert "translated/<its name>.xa.<extension>" in line
    assert not out.exists()  # nothing written


def test_a_missing_translated_dev_file_is_named_too(tmp_path, worlds):
    _, translated = worlds
    copy = tmp_path / "world"
    shutil.copytree(translated, copy)
    (copy / "english/syn_nli/translated/dev.xa.jsonl").unlink()
    line = one_line(run_cli(tmp_path, world_config(copy))[0])
    assert "no syn_nli dev data in 'xa'" in line and str(copy / "english/syn_nli/translated/dev.xa.jsonl") in line


def test_present_translations_pass(worlds):
    _, translated = worlds
    check(load_config(raw=world_config(translated, ("en", "xa", "xb", "xc"))), source=None)


def test_an_unknown_language_is_a_typo_with_a_suggestion(worlds):
    _, translated = worlds
    with pytest.raises(ConfigError, match=r"phases\.1\.source_language: no task has the language 'xd' \(did you mean"):
        check(load_config(raw=world_config(translated, ("en", "xd"))), source=None, resources=False)


def test_translations_are_not_on_the_hub(data_dir):
    raw = {"name": "h", "data_source": "hub",
           "phases": [{"kind": "pretrained", "model": "unused"},
                      {"kind": "target", "task": "xnli", "source_language": "de"}]}
    with pytest.raises(ConfigError, match=r"tasks\.xnli\.train: xnli's 'train' split has no 'de' examples on the hub"):
        check(load_config(raw=raw), source=None, resources=False)


def test_a_language_a_split_has_needs_no_translation(data_dir, tiny_model_dir):
    """German UD-POS dev exists: training on it needs nothing translated. UD-POS train is English
    only: training on it in German needs its translation, named where it is expected."""
    raw = {"name": "p", "data_dir": str(data_dir),
           "phases": [{"kind": "pretrained", "model": str(tiny_model_dir)},
                      {"kind": "target", "task": "udpos", "source_language": "de"}],
           "tasks": {"udpos": {"train": {"split": "dev", "stop": 100}, "dev": {"split": "dev", "start": 100}}}}
    check(load_config(raw=raw), source=None)
    raw["tasks"]["udpos"]["train"] = {"split": "train"}
    with pytest.raises(ConfigError) as err:
        check(load_config(raw=raw), source=None)
    assert str(err.value).startswith("phases.1.source_language: no udpos train data in 'de' (tasks.udpos.train: "
                                     "udpos/train): ")
    assert str(data_dir / "xtreme/download/udpos/translated/train-en.de.tsv") in str(err.value)
