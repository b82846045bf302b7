"""``xstilts world`` end to end through typer's CliRunner."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from xstilts.cli import app

runner = CliRunner()


def test_world_command_writes_and_summarises(tmp_path):
    out = tmp_path / "world"
    result = runner.invoke(app, ["world", "--out", str(out), "--seed", "3", "--size", "tiny",
                                 "--set", "anchor_share=0.5", "--set", 'sizes={"syn_qa": {"train": 4}}'])
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["seed"] == 3 and manifest["size"] == "tiny"
    assert manifest["config"]["anchor_share"] == 0.5 and manifest["counts"]["syn_qa"]["train"]["en"] == 4
    lines = result.output.splitlines()
    assert lines[0].startswith("synthetic world: seed 3, size tiny:") and f"{len(manifest['files'])} files" in lines[0]
    assert any(line.split()[:3] == ["syn_xnli", "test", "en=20"] for line in lines)
    assert lines[-1] == str(out.resolve())


def test_world_command_errors_are_one_line_exit_2(tmp_path):
    for args in (["--size", "huge"], ["--set", "anchorshare=0.5"], ["--set", "anchor_share=2"], ["--set", "novalue"],
                 ["--set", "city_concentration=0"], ["--set", "tatoeba_variants=2"]):
        result = runner.invoke(app, ["world", "--out", str(tmp_path / "w"), *args])
        assert result.exit_code == 2, (args, result.output)
        assert result.output.startswith("error: ") and len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "w").exists()
