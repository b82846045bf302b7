"""End-to-end tests of the CLI verbs that need no model (score has its own golden tests)."""

import json
import subprocess
import sys

from typer.testing import CliRunner

from xstilts.cli import app
from xstilts.tasks import all_tasks

runner = CliRunner()


def test_tasks_table_lists_every_task():
    result = runner.invoke(app, ["tasks"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split()[:4] == ["task", "role", "format", "metric"]
    listed = {line.split()[0] for line in lines[2:]}
    assert listed == {t.name for t in all_tasks()}


def test_tasks_json_round_trips_declarations():
    result = runner.invoke(app, ["tasks", "--role", "target", "--json"])
    rows = [r for r in json.loads(result.output) if not r["name"].startswith("syn_")]
    assert {r["name"] for r in rows} == {"xnli", "pawsx", "udpos", "panx", "xquad", "mlqa", "tydiqa", "bucc2018", "tatoeba"}
    xquad = next(r for r in rows if r["name"] == "xquad")
    assert xquad["splits"]["test"] == ["en", "es", "de", "el", "ru", "tr", "ar", "vi", "th", "zh", "hi"]
    assert xquad["max_length"] == 384 and xquad["doc_stride"] == 128


def test_unknown_task_is_one_line_exit_2(tmp_path):
    gold = tmp_path / "g.tsv"
    gold.write_text("a\n")
    proc = subprocess.run(
        [sys.executable, "-m", "xstilts.cli", "score", "--task", "xnlii", "--language", "de",
         "--gold", str(gold), "--predictions", str(gold)],
        capture_output=True, text=True,
    )
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "did you mean 'xnli'" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_data_lengths_prints_distribution_per_language(data_dir, mini_encoder_dir):
    result = runner.invoke(app, ["data", "lengths", "--task", "xnli", "--split", "dev", "--tokenizer",
                                 str(mini_encoder_dir), "--data-dir", str(data_dir)])
    assert result.exit_code == 0, result.output
    lines = [l for l in result.output.splitlines() if l.strip()]
    assert lines[0].split()[:2] == ["lang", "n"]
    de = next(l.split() for l in lines if l.startswith("de "))
    assert de[1] == "2489" and de[-1].endswith("%")
