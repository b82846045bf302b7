"""The seqlen study: preset loading, grid expansion, shared training phases, the dry run."""

import pytest
from typer.testing import CliRunner

from xstilts.cli import app
from xstilts.errors import ConfigError
from xstilts.pipeline.runner import training_key
from xstilts.study import expand, load_preset


def test_demo_preset_expands_baseline_and_every_condition():
    study = load_preset("demo")
    configs = expand(study, data_dir="/tmp/world")
    n_conditions = 1 + len(study.intermediate_tasks) * len(study.compute_policies) * len(study.max_lengths)
    assert len(configs) == len(study.seeds) * len(study.targets) * n_conditions
    assert len({c.run_id for c in configs}) == len(configs)
    baseline = [c for c in configs if c.phase("intermediate") is None]
    assert len(baseline) == len(study.seeds) * len(study.targets)
    lengths = sorted({c.phase("intermediate").max_length for c in configs if c.phase("intermediate")})
    assert lengths == sorted(study.max_lengths) and len(lengths) >= 3
    assert all(c.data_dir == "/tmp/world" for c in configs)


def test_qa_stride_scales_with_length_and_pretraining_is_shared():
    study = load_preset("demo")
    configs = [c for c in expand(study) if c.phase("intermediate") and c.phase("intermediate").tasks == ["syn_longqa"]]
    for c in configs:
        assert c.tasks["syn_longqa"].doc_stride == round(study.doc_stride_ratio * c.phase("intermediate").max_length)
    # One pretrained encoder for every run; one intermediate model per (task, length) shared by targets.
    assert len({training_key(c, 0) for c in expand(study)}) == 1
    keys = {(c.phase("intermediate").max_length, training_key(c, 1)) for c in configs}
    assert len(keys) == len(study.max_lengths)


def test_xtreme_preset_dry_run_lists_runs_and_gpu_hours(tmp_path):
    result = CliRunner().invoke(app, ["study", "seqlen", "--preset", "xtreme", "--out", str(tmp_path), "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "189 runs" in result.output and "GPU-hours" in result.output
    assert "xtreme-baseline-xquad-s1-" in result.output
    assert not (tmp_path / "results.jsonl").exists()


def test_unknown_preset_is_a_clear_error():
    with pytest.raises(ConfigError, match="no such file"):
        load_preset("demo2")


def test_demo_preset_pretrains_as_the_demo_config_does():
    # The demo's pretraining is written twice (the study preset ships in the package, the experiment
    # config does not); they must not drift apart.
    from pathlib import Path

    import yaml

    config = yaml.safe_load((Path(__file__).parents[1] / "configs/demo_world.yaml").read_text())
    assert load_preset("demo").pretrained["from_scratch"] == config["phases"][0]["from_scratch"]


def test_a_mixture_is_one_intermediate_phase_on_all_its_tasks():
    study = load_preset("demo", ["intermediate_tasks=[syn_nli+syn_longqa, syn_nli]",
                                 "mixture={sampler: temperature, temperature: 3}"])
    runs = [c for c in expand(study) if any(p.kind == "intermediate" for p in c.phases)]
    mixed = [c for c in runs if "syn_nli.syn_longqa" in c.name]
    single = [c for c in runs if "syn_nli.syn_longqa" not in c.name]
    assert mixed and single and len(mixed) == len(single)
    phase = next(p for p in mixed[0].phases if p.kind == "intermediate")
    assert phase.tasks == ["syn_nli", "syn_longqa"] and (phase.sampler, phase.temperature) == ("temperature", 3.0)
    alone = next(p for p in single[0].phases if p.kind == "intermediate")
    assert alone.tasks == ["syn_nli"] and alone.sampler == "proportional"  # the sampler is for mixtures only
    # Its QA member gets the study's stride; the target head starts from the member that fits it.
    assert mixed[0].tasks["syn_longqa"].doc_stride is not None
    qa_target = [c for c in mixed if c.phases[-2].task == "syn_qa"]
    assert all(c.phases[-2].head_init in ("syn_longqa", "fresh") for c in qa_target)


def test_an_mlm_corpus_joins_a_mixture_with_its_block():
    study = load_preset("demo", ["intermediate_tasks=[syn_nli+syn_mlm, syn_nli+syn_longqa]",
                                 "mixture={sampler: uniform, mlm: {languages: [en, xa], head: checkpoint}}"])
    phases = {tuple(p.tasks): p for c in expand(study) for p in c.phases if p.kind == "intermediate"}
    assert phases[("syn_nli", "syn_mlm")].mlm.languages == ["en", "xa"]
    assert phases[("syn_nli", "syn_longqa")].mlm is None  # the block only where MLM is mixed in
    assert {p.sampler for p in phases.values()} == {"uniform"}


@pytest.mark.parametrize("entry,needle", [("syn_nli+syn_nli", "twice"), ("syn_nli+nope", "nope"),
                                          ("syn_mlm", "joins a mixture")])
def test_a_bad_mixture_is_a_one_line_error(entry, needle):
    with pytest.raises(ConfigError, match=needle):
        load_preset("demo", [f"intermediate_tasks=[{entry}]"])
