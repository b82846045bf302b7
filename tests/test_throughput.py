"""Measured throughput profiles: the a + b·L + c·L² fit, the profile file, and the plan's hours from it."""

import json
import math

import pytest
from typer.testing import CliRunner

from xstilts.cli import app
from xstilts.errors import ConfigError
from xstilts.pipeline import graph as graphs
from xstilts.study import describe_estimate, estimate, grid_runs, load_preset
from xstilts.throughput import RowFit, fit_rows, flops_per_token, load_profile, write_profile

A, B, C = 0.5, 1e-3, 1e-5  # synthetic: seconds per row = 0.5 + 0.001·L + 0.00001·L²


def t(length: int) -> float:
    return A + B * length + C * length ** 2


def test_fit_recovers_a_quadratic_exactly():
    lengths = [128, 256, 384, 512, 768, 1024]
    fit = fit_rows(lengths, [t(L) for L in lengths])
    assert (fit.a, fit.b, fit.c) == pytest.approx((A, B, C), rel=1e-9)
    assert fit.r2 == pytest.approx(1.0)
    assert fit.seconds_per_row(1024) == pytest.approx(0.5 + 1.024 + 10.48576)
    assert fit.quadratic_share(1024) == pytest.approx(10.48576 / 12.00976)
    assert fit.quadratic_share(128) == pytest.approx(0.16384 / (0.5 + 0.128 + 0.16384))


def test_fit_weighs_relative_errors_and_reports_plain_r2():
    lengths = [128, 256, 512, 1024]
    times = [t(L) * (1.1 if L == 128 else 1.0) for L in lengths]  # 10% off at the shortest length
    fit = fit_rows(lengths, times)
    assert 0 < fit.r2 < 1
    # every point within 10% of the fit, the short one included
    assert all(abs(fit.seconds_per_row(L) / y - 1) < 0.1 for L, y in zip(lengths, times))


def test_fit_needs_three_lengths_and_positive_times():
    with pytest.raises(ValueError, match="3 or more distinct lengths"):
        fit_rows([128, 128, 256], [1.0, 1.0, 2.0])
    with pytest.raises(ValueError, match="positive"):
        fit_rows([128, 256, 512], [1.0, 0.0, 2.0])


def test_flops_per_token_is_six_n_plus_attention():
    # XLM-R large's shape at 512: 6·N + 6·24·512·1024·2
    assert flops_per_token(3.0e8, 24, 1024, 512) == 6 * 3.0e8 + 6 * 24 * 512 * 1024 * 2


def _profile(path, models=None):
    models = models or {"mini": {"shape": {"hidden_size": 384}, "fit": RowFit(A, B, C, 1.0), "points": []}}
    write_profile(path, device="test device", batch=4, measured_at="2026-12-03T00:00:00+00:00", models=models)
    return path


def test_profile_round_trip_and_errors(tmp_path):
    path = _profile(tmp_path / "p.json")
    p = load_profile(path)
    assert (p.fit.a, p.fit.b, p.fit.c, p.batch, p.device, p.model) == (A, B, C, 4, "test device", "mini")
    assert "test device" in p.describe() and "batch 4" in p.describe()
    with pytest.raises(ConfigError, match="cost.profile: no such file .*scaling.py"):
        load_profile(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("{\n  oops")
    with pytest.raises(ConfigError, match=r"bad.json:2: not JSON"):
        load_profile(tmp_path / "bad.json")
    with pytest.raises(ConfigError, match="no model 'large'"):
        load_profile(path, "large")
    two = _profile(tmp_path / "two.json", {m: {"fit": {"a": 1, "b": 0, "c": 0}} for m in ("tiny", "mini")})
    with pytest.raises(ConfigError, match="holds 2 models .*profile_model"):
        load_profile(two)
    assert load_profile(two, "tiny").fit == RowFit(1.0, 0.0, 0.0)
    broken = _profile(tmp_path / "broken.json", {"mini": {"fit": {"a": 1, "b": "x"}}})
    with pytest.raises(ConfigError, match=r"models.mini.fit: expected numbers a, b, c"):
        load_profile(broken)


def _demo_graph():
    study = load_preset("demo")
    return graphs.build(grid_runs(study, "/tmp/unused"), require_data=False)


def _demo_hours() -> float:
    """The demo grid by hand: rows × t(L) per training node (batch 16 throughout)."""
    pretrain = 1800 * 16 * t(256)  # from scratch at its max length 256, shared by every run
    intermediate = sum(2 * 150 * 16 * t(L) for L in (64, 128, 256))  # syn_longqa and syn_nli at each length
    targets = 7 * 150 * 16 * t(128)  # syn_qa at 128: after the baseline and each of the 6 intermediate models
    return (pretrain + intermediate + targets) / 3600


def test_estimate_prices_each_phase_at_its_max_length(tmp_path, monkeypatch):
    graph = _demo_graph()
    assert sorted(graphs.max_length(n) for n in graph if n.training) == [64, 64, 128, 128] + [128] * 7 + [256] * 3
    path = _profile(tmp_path / "p.json")
    monkeypatch.chdir(tmp_path)  # a relative profile path is read from the working directory
    study = load_preset("demo", ["cost.profile=p.json"])
    cost = estimate(study, graph)
    assert cost["hours"] == pytest.approx(_demo_hours(), rel=1e-12)
    assert "measured s/row = 0.5 + 0.001·L + 1e-05·L²" in cost["how"] and str(path.name) in cost["how"]
    # the same numbers inline
    inline = load_preset("demo", [f"cost.profile={json.dumps({'a': A, 'b': B, 'c': C, 'batch': 4})}"])
    assert estimate(inline, graph)["hours"] == pytest.approx(_demo_hours(), rel=1e-12)
    lines = describe_estimate(cost)
    assert any("CPU-hours (measured s/row" in line for line in lines)
    by_length = {64: 2 * 150 * 16 * t(64) / 3600, 128: (2 + 7) * 150 * 16 * t(128) / 3600,
                 256: (1800 + 2 * 150) * 16 * t(256) / 3600}
    assert cost["device_hours_by_length"] == pytest.approx(by_length, rel=1e-12)
    assert "  by max length: 64: {:,.2f}, 128: {:,.2f}, 256: {:,.2f} CPU-hours".format(*by_length.values()) in lines


def test_old_cost_fields_still_work():
    graph = _demo_graph()
    study = load_preset("demo", ["cost.profile=null", "cost.tokens_per_second=1000"])
    cost = estimate(study, graph)
    assert cost["hours"] == pytest.approx(cost["training_tokens"] / 1000 / 3600)
    assert "1,000 training tokens/s" in cost["how"]
    flops = load_preset("demo", ["cost.profile=null", "cost.tokens_per_second=null", "cost.params=1e6",
                                 "cost.peak_flops=1e12", "cost.mfu=0.5"])
    assert estimate(flops, graph)["hours"] == pytest.approx(cost["training_tokens"] * 6e6 / 0.5e12 / 3600)


def test_a_fit_negative_at_a_phase_length_is_a_clear_error():
    study = load_preset("demo", ['cost.profile={"a": -1.0, "b": 0.001, "c": 0.0}'])
    # the pretraining node comes first: 256 tokens, -1 + 0.256
    with pytest.raises(ConfigError, match="cost.profile: inline: the fit gives -0.744 s per row at max length 256: "
                                          "measure the profile down"):
        estimate(study, _demo_graph())


def test_dry_run_prints_an_estimate(tmp_path):
    result = CliRunner().invoke(app, ["study", "seqlen", "--preset", "demo", "--dry-run", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "estimated compute:" in result.output and "CPU-hours" in result.output
    assert not math.isnan(float(result.output.split("≈ ")[1].split()[0].replace(",", "")))
    profile = _profile(tmp_path / "p.json")
    result = CliRunner().invoke(app, ["study", "seqlen", "--preset", "demo", "--dry-run", "--out", str(tmp_path),
                                      "--set", f"cost.profile={profile}"])
    assert result.exit_code == 0, result.output
    assert f"≈ {_demo_hours():,.1f} CPU-hours (measured s/row" in result.output
