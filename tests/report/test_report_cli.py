"""`xstilts report DIR`: prints the path of index.html; bad folders are one-line errors (exit 2)."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from report_synth import minimal_examples, synthetic_examples, write_synthetic_dir
from xstilts.cli import app

runner = CliRunner()


def test_report_command_builds_and_prints_index(tmp_path) -> None:
    ex = synthetic_examples(targets=("xnli",), languages=("de", "fr"), seeds=(1,), n=60,
                            intermediates={("squad",): 2.0}, max_lens=(128, 256))
    root = write_synthetic_dir(tmp_path / "out", examples=ex, retrieval=False, pretraining=False)
    result = runner.invoke(app, ["report", str(root), "--resamples", "50"])
    assert result.exit_code == 0, result.output
    index = Path(result.output.strip().splitlines()[-1])
    assert index == root / "report" / "index.html" and index.exists()
    page = index.read_text()
    assert "50 paired-bootstrap resamples" in page and '<section id="answer">' in page
    assert (root / "report" / "figures" / "gain_vs_max_len.svg").exists()
    assert (root / "report" / "tables" / "main_results.tex").exists()


def test_report_command_on_a_minimal_folder(tmp_path) -> None:
    root = write_synthetic_dir(tmp_path / "out", examples=minimal_examples(), retrieval=False, pretraining=False)
    result = runner.invoke(app, ["report", str(root), "--resamples", "10"])
    assert result.exit_code == 0, result.output
    assert result.output.strip().endswith("index.html")


def test_report_command_errors_are_one_line(tmp_path) -> None:
    for args in (["report", str(tmp_path / "missing")], ["report", str(tmp_path)],
                 ["report", str(tmp_path), "--resamples", "0"]):
        result = runner.invoke(app, args)
        assert result.exit_code == 2, (args, result.output)
        assert result.output.startswith("error: ") and "Traceback" not in result.output
