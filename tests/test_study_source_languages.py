"""Study sweeps of the source language: ``source_languages`` (the target phase's, every run) and
``intermediate_source_languages`` (the intermediate phase's, every intermediate condition)."""

from __future__ import annotations

import pytest
import yaml

from xstilts.config import source_languages
from xstilts.errors import ConfigError
from xstilts.pipeline.runner import training_key
from xstilts.study import expand, load_preset


def real_study(tmp_path, **extra) -> str:
    """A study over the shared data: SQuAD intermediate → UD-POS, trained on dev slices."""
    raw = {"study": "seqlen", "name": "s", "seeds": [0], "pretrained": {"model": "unused"},
           "intermediate_tasks": ["squad_v1"], "max_lengths": [128], "targets": ["udpos"],
           "tasks": {"udpos": {"train": {"split": "dev", "stop": 200}, "dev": {"split": "dev", "start": 200}}},
           **extra}
    path = tmp_path / "study.yaml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    return str(path)


def _target(cfg):
    return next(p for p in cfg.phases if p.kind == "target")


def _intermediate(cfg):
    return next((p for p in cfg.phases if p.kind == "intermediate"), None)


def test_source_languages_expand_every_run_per_target_language(tmp_path):
    english = expand(load_preset(real_study(tmp_path)))
    both = expand(load_preset(real_study(tmp_path, source_languages=["en", "de"])))
    assert len(both) == 2 * len(english) == 4
    names = sorted(c.name for c in both)
    assert names == ["s-baseline-udpos-in_de-s0", "s-baseline-udpos-s0", "s-squad_v1-L128-equal_steps-udpos-in_de-s0",
                     "s-squad_v1-L128-equal_steps-udpos-s0"]
    by_name = {c.name: c for c in both}
    assert source_languages(_target(by_name["s-baseline-udpos-in_de-s0"])) == ("de",)
    assert source_languages(_target(by_name["s-baseline-udpos-s0"])) == ("en",)
    # The English runs are the runs of the study without the axis (same ids: nothing re-runs).
    assert {c.run_id for c in english} <= {c.run_id for c in both}
    # One SQuAD intermediate model serves both target languages; the targets are two models.
    inter = [c for c in both if _intermediate(c)]
    assert len({training_key(c, 1) for c in inter}) == 1 and len({training_key(c, 2) for c in inter}) == 2


def test_intermediate_source_languages_expand_intermediate_conditions_only():
    study = load_preset("demo", ["intermediate_tasks=[syn_nli]", "max_lengths=[64]",
                                 "intermediate_source_languages=[en, [en, xa, xb, xc], xb]"])
    configs = expand(study)
    assert len(configs) == 1 + 3  # one baseline, not one per intermediate language
    by_languages = {source_languages(_intermediate(c)): c for c in configs if _intermediate(c)}
    assert set(by_languages) == {("en",), ("en", "xa", "xb", "xc"), ("xb",)}
    assert by_languages[("en", "xa", "xb", "xc")].name == "demo-syn_nli-in_en_xa_xb_xc-L64-equal_steps-syn_qa-s0"
    assert by_languages[("xb",)].name == "demo-syn_nli-in_xb-L64-equal_steps-syn_qa-s0"
    assert all(source_languages(_target(c)) == ("en",) for c in configs)  # the target stays English
    # Every condition trains its own intermediate model on one shared pretrained encoder.
    assert len({training_key(c, 0) for c in configs}) == 1
    assert len({training_key(c, 1) for c in by_languages.values()}) == 3


@pytest.mark.parametrize("setting,needle", [
    ("source_languages=[de, de]", "source_languages: 'de' is listed twice"),
    ("source_languages=[]", "source_languages: must not be empty"),
    ("source_languages=[dee]", "source_languages: in run s-baseline-udpos-in_dee-s0: phases.1.source_language: no task "
                               "has the language 'dee'"),
    ("intermediate_source_languages=[[en, en]]", "intermediate_source_languages"),
])
def test_a_bad_source_language_sweep_is_a_one_line_error(tmp_path, setting, needle):
    with pytest.raises(ConfigError) as err:
        load_preset(real_study(tmp_path), [setting])
    assert needle in str(err.value) and "\n" not in str(err.value)
