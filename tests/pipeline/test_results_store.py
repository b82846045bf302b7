"""The results store: concurrent appends that lose nothing, strict reading, the DataFrame API and
``xstilts results``."""

from __future__ import annotations

import errno
import io
import json
import os
import subprocess
import sys
import textwrap
import threading
import time
import warnings
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from xstilts.cli import app
from xstilts.errors import ConfigError, DataError
from xstilts.pipeline import results
from xstilts.pipeline.results import (ROW_FIELDS, TornLineWarning, append_rows, latest_rows, load_results, make_row,
                                      read_rows)

REPO = Path(__file__).resolve().parents[2]
runner = CliRunner()

# ------------------------------------------------------------------------------------- concurrency

WRITER = textwrap.dedent("""
    import os, random, sys, time
    from xstilts.pipeline.results import append_rows

    path, worker, batches, go = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    rng = random.Random(worker)
    while not os.path.exists(go):  # start together
        time.sleep(0.001)
    t0 = time.time()
    for b in range(batches):
        rows = []
        for i in range(rng.randint(1, 6)):
            pad = "" if rng.random() < 0.7 else "é" * rng.randint(2100, 6000)  # 4.2-12 KB rows (> PIPE_BUF)
            rows.append({"run_id": f"w{worker}", "id": f"w{worker}-b{b}-r{i}", "metric": "m",
                         "value": float(b), "pad": pad})
        append_rows(path, rows)
    print(t0, time.time(), flush=True)
""")


def _expected_ids(worker: int, batches: int) -> list[str]:
    """The ids WRITER appends (it draws from the same seeded generator)."""
    import random

    rng, ids = random.Random(worker), []
    for b in range(batches):
        for i in range(rng.randint(1, 6)):
            if rng.random() >= 0.7:
                rng.randint(2100, 6000)
            ids.append(f"w{worker}-b{b}-r{i}")
    return ids


def test_concurrent_appends_lose_nothing(tmp_path):
    """Several processes append batches (many over PIPE_BUF) to one file at once: every line parses,
    none is lost or duplicated, and each writer's rows keep their order."""
    path, go = tmp_path / "results.jsonl", tmp_path / "go"
    n_workers, batches = 4, 300
    started = time.perf_counter()
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(path), str(w), str(batches), str(go)],
                              stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(REPO / "src")})
             for w in range(n_workers)]
    time.sleep(0.5)  # let every interpreter import and wait at the gate
    go.touch()
    windows = []
    for p in procs:
        out, _ = p.communicate(timeout=120)
        assert p.returncode == 0
        windows.append(tuple(map(float, out.split())))
    elapsed = time.perf_counter() - started

    raw = path.read_bytes()
    assert raw.endswith(b"\n")
    lines = raw.split(b"\n")[:-1]
    rows = [json.loads(line) for line in lines]  # every line is one whole row
    assert [r["id"] for r in read_rows(path)] == [r["id"] for r in rows]
    ids = [r["id"] for r in rows]
    assert len(ids) == len(set(ids))
    big = sum(len(line) > 4096 for line in lines)
    expected = {w: _expected_ids(w, batches) for w in range(n_workers)}
    assert len(rows) == sum(len(e) for e in expected.values())
    for w, mine in expected.items():  # exactly the rows each writer wrote, in its order
        assert [i for i in ids if i.startswith(f"w{w}-")] == mine
    # the writers really overlapped: their time windows intersect and their batches interleave
    assert max(s for s, _ in windows) < min(e for _, e in windows)
    switches = sum(a["run_id"] != b["run_id"] for a, b in zip(rows, rows[1:]))
    assert switches > 50
    print(f"\n{n_workers} processes x {batches} batches: {len(rows)} rows ({big} over 4 KiB), "
          f"{len(raw) / 2**20:.1f} MiB, {switches} writer switches, {elapsed:.1f} s wall")


def test_threads_of_one_process_do_not_interleave(tmp_path):
    """POSIX record locks do not exclude threads of one process; the in-process lock does."""
    path = tmp_path / "r.jsonl"

    def write(t):
        for b in range(40):
            append_rows(path, [{"run_id": f"t{t}", "id": f"{t}-{b}-{i}", "metric": "m", "value": 1,
                                "pad": "x" * (5000 * (i % 2))} for i in range(3)])

    threads = [threading.Thread(target=write, args=(t,)) for t in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ids = [r["id"] for r in read_rows(path)]
    assert len(ids) == len(set(ids)) == 6 * 40 * 3


# ------------------------------------------------------------------------------------- write faults

def _row(i, **extra):
    return {"run_id": "r", "id": i, "metric": "m", "value": float(i), **extra}


def test_short_write_is_completed_under_the_lock(tmp_path, monkeypatch):
    path = tmp_path / "r.jsonl"
    append_rows(path, [_row(0)])
    real_write, calls = os.write, []

    def short_write(fd, data):  # the kernel may write less than asked
        calls.append(len(data))
        return real_write(fd, bytes(data[: max(1, len(data) // 3)]))

    monkeypatch.setattr(results.os, "write", short_write)
    append_rows(path, [_row(1, pad="y" * 9000), _row(2)])
    monkeypatch.undo()
    assert len(calls) > 2
    assert [r["id"] for r in read_rows(path)] == [0, 1, 2]


def test_failed_write_leaves_no_half_line(tmp_path, monkeypatch):
    path = tmp_path / "r.jsonl"
    append_rows(path, [_row(0)])
    before = path.read_bytes()
    real_write = os.write
    state = {"n": 0}

    def failing_write(fd, data):
        state["n"] += 1
        if state["n"] > 1:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, bytes(data[: len(data) // 2]))

    monkeypatch.setattr(results.os, "write", failing_write)
    with pytest.raises(OSError, match="No space"):
        append_rows(path, [_row(1, pad="z" * 5000)])
    monkeypatch.undo()
    assert path.read_bytes() == before
    append_rows(path, [_row(2)])
    assert [r["id"] for r in read_rows(path)] == [0, 2]


def test_torn_tail_is_cut_before_the_next_append(tmp_path):
    path = tmp_path / "r.jsonl"
    path.write_text(json.dumps(_row(0)) + "\n" + '{"run_id": "r", "id": 1, "met')  # writer killed mid-append
    with pytest.warns(TornLineWarning, match=r"r\.jsonl:2: cut off a torn last line"):
        append_rows(path, [_row(2)])
    assert [r["id"] for r in read_rows(path)] == [0, 2]
    # a complete last line that only lacks its newline (edited by hand) is kept
    path.write_text(path.read_text() + json.dumps(_row(3)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        append_rows(path, [_row(4)])
    assert [r["id"] for r in read_rows(path)] == [0, 2, 3, 4]


def test_append_goes_ahead_where_locks_are_refused(tmp_path, monkeypatch):
    def no_locks(fd, cmd, *args):
        raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setattr(results.fcntl, "lockf", no_locks)
    path = tmp_path / "r.jsonl"
    with pytest.warns(results.LockWarning, match="refused a lock"):
        append_rows(path, [_row(0), _row(1)])
    monkeypatch.undo()
    assert [r["id"] for r in read_rows(path)] == [0, 1]


# ------------------------------------------------------------------------------------- reading

GOOD = json.dumps({"run_id": "a", "metric": "accuracy", "value": 1.5})


@pytest.mark.parametrize("bad, message", [
    ('{"run_id": "a", "metric": ', "not valid JSON"),
    ("[1, 2]", "not a JSON object (a JSON array)"),
    ('{"run_id": "a", "metric": "f1"}', "field 'value': missing"),
    ('{"metric": "f1", "value": 1}', "field 'run_id': missing"),
    ('{"run_id": "a", "value": 1}', "field 'metric': missing"),
    ('{"run_id": "a", "metric": "f1", "value": "72.1"}', "record 'a': field 'value': not a number: '72.1'"),
    ('{"run_id": "a", "metric": "f1", "value": true}', "field 'value': not a number: True"),
    ('{"run_id": "a", "metric": "f1", "value": null}', "field 'value': not a number: None"),
])
def test_bad_line_names_file_line_and_problem(tmp_path, bad, message):
    path = tmp_path / "results.jsonl"
    path.write_text(f"{GOOD}\n\n{bad}\n{GOOD}\n")
    with pytest.raises(DataError) as info:
        list(read_rows(path))
    assert info.value.line == 3 and info.value.path == str(path)
    assert str(info.value).startswith(f"{path}:3: ") and message in str(info.value)


def test_bad_last_line_with_newline_is_an_error_not_a_torn_line(tmp_path):
    path = tmp_path / "results.jsonl"
    path.write_text(f'{GOOD}\n{{"run_id": "a", "met\n')
    with pytest.raises(DataError, match=r"results\.jsonl:2: not valid JSON"):
        latest_rows(path)


def test_torn_last_line_is_skipped_with_a_warning(tmp_path):
    path = tmp_path / "results.jsonl"
    torn = '{"run_id": "b", "metric": "f1", "value": 7'.encode() + "é".encode()[:1]  # cut inside a character
    path.write_bytes(f"{GOOD}\n{GOOD}\n".encode() + torn)
    with pytest.warns(TornLineWarning, match=r"results\.jsonl:3: skipped a torn last line"):
        rows = list(read_rows(path))
    assert len(rows) == 2


def test_example_scores_rows_need_no_value(tmp_path):
    path = tmp_path / "example_scores.jsonl"
    row = {"run_id": "a", "metric": "accuracy", "example_id": "1", "stats": {"correct": 1}}
    path.write_text(json.dumps(row) + "\n")
    assert list(read_rows(path)) == [row]
    path.write_text(json.dumps({**row, "stats": 1}) + "\n")
    with pytest.raises(DataError, match="field 'stats'"):
        list(read_rows(path))
    assert list(read_rows(tmp_path / "absent.jsonl")) == []


def test_latest_rows_last_row_of_a_key_wins(tmp_path):
    path = tmp_path / "results.jsonl"
    append_rows(path, [_results_row(value=1.0), _results_row(value=2.0, language="fr")])
    append_rows(path, [_results_row(value=3.0)])
    assert sorted(r["value"] for r in latest_rows(path)) == [2.0, 3.0]


# ------------------------------------------------------------------------------------- DataFrame API

def _results_row(**fields):
    base = dict(run_id="xnli-squad-128-s1", config_hash="c" * 64, phase="zero_shot_eval", intermediate=["squad"],
                intermediate_max_len=128, target="xnli", task="xnli", language="de", split="test", metric="accuracy",
                value=70.0, n=100, seed=1)
    return make_row(**{**base, **fields})


@pytest.fixture()
def run_dir(tmp_path):
    rows = []
    for seed in (1, 2):
        for inter, max_len in ((["squad"], 128), (["squad", "hellaswag"], 512), ([], None)):
            run_id = f"xnli-{'+'.join(inter) or 'none'}-{max_len}-s{seed}"
            for lang, value in (("de", 70.0 + seed), ("fr", 60.5)):
                rows.append(_results_row(run_id=run_id, intermediate=inter, intermediate_max_len=max_len, seed=seed,
                                         language=lang, value=value + len(inter)))
    append_rows(tmp_path / "results.jsonl", rows)
    append_rows(tmp_path / "results.jsonl", [{**rows[0], "value": 99.0}])  # a re-run of the first result
    return tmp_path


def test_load_results_columns_and_latest(run_dir):
    df = load_results(run_dir)
    assert list(df.columns) == list(ROW_FIELDS)
    assert len(df) == 12
    assert set(df["intermediate"]) == {"squad", "squad+hellaswag", ""}
    assert df.loc[df["run_id"] == "xnli-squad-128-s1"].set_index("language").loc["de", "value"] == 99.0
    assert str(df["intermediate_max_len"].dtype) == "Int64"  # whole numbers, not 128.0
    every = load_results(run_dir / "results.jsonl", latest=False)
    assert len(every) == 13
    means = df.groupby("intermediate")["value"].mean()
    assert means[""] == pytest.approx((71 + 72 + 60.5 * 2) / 4)


def test_load_results_where(run_dir):
    assert len(load_results(run_dir, where={"seed": 1})) == 6
    assert len(load_results(run_dir, where={"seed": "1", "language": "de"})) == 3
    assert set(load_results(run_dir, where={"intermediate_max_len": "128"})["run_id"]) == {
        "xnli-squad-128-s1", "xnli-squad-128-s2"}
    assert len(load_results(run_dir, where={"intermediate_max_len": 512.0})) == 4
    baseline = load_results(run_dir, where={"intermediate": ""})
    assert set(baseline["run_id"]) == {"xnli-none-None-s1", "xnli-none-None-s2"}
    assert len(load_results(run_dir, where={"intermediate_max_len": None})) == 4
    assert len(load_results(run_dir, where={"intermediate": ["squad", "squad+hellaswag"], "language": "fr"})) == 4
    assert len(load_results(run_dir, where={"higher_is_better": "True"})) == 12
    assert len(load_results(run_dir, where={"higher_is_better": "false"})) == 0
    empty = load_results(run_dir, where={"language": "xx"})
    assert empty.empty and list(empty.columns) == list(ROW_FIELDS)


def test_load_results_errors(run_dir, tmp_path_factory):
    with pytest.raises(ConfigError, match=r"unknown column 'lang' \(valid: run_id, config_hash, .*language"):
        load_results(run_dir, where={"lang": "de"})
    with pytest.raises(DataError, match="no results.jsonl"):
        load_results(tmp_path_factory.mktemp("empty"))
    with pytest.raises(DataError, match="no such file"):
        load_results(run_dir / "nope")


# ------------------------------------------------------------------------------------- CLI

def test_cli_markdown_default(run_dir):
    result = runner.invoke(app, ["results", str(run_dir), "--where", "language=de", "--where", "seed=2"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith("| run_id ") and lines[1].startswith("|---")
    assert len(lines) == 2 + 3
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    cells = [dict(zip(header, (c.strip() for c in line.strip("|").split("|")))) for line in lines[2:]]
    assert header == list(ROW_FIELDS)
    assert {c["intermediate"]: c["value"] for c in cells} == {"squad": "73", "squad+hellaswag": "74", "": "72"}
    assert {c["config_hash"] for c in cells} == {"c" * 12}  # hashes shortened in the markdown table
    assert lines[1].split("|")[header.index("value") + 1].endswith(":")  # numbers right-aligned


def test_cli_csv_json_and_all(run_dir, tmp_path):
    result = runner.invoke(app, ["results", str(run_dir), "--format", "csv", "--where", "intermediate="])
    assert result.exit_code == 0, result.output
    df = pd.read_csv(io.StringIO(result.stdout))
    assert list(df.columns) == list(ROW_FIELDS) and len(df) == 4
    result = runner.invoke(app, ["results", str(run_dir / "results.jsonl"), "--format", "json", "--all",
                                 "--where", "run_id=xnli-squad-128-s1"])
    records = json.loads(result.stdout)
    assert [r["value"] for r in records] == [71.0 + 1, 61.5, 99.0]  # the re-run is kept with --all
    assert records[0]["intermediate"] == "squad" and records[0]["intermediate_max_len"] == 128
    out = tmp_path / "sub" / "table.csv"
    result = runner.invoke(app, ["results", str(run_dir), "--format", "csv", "--output", str(out)])
    assert result.exit_code == 0 and result.stdout.strip() == str(out)
    assert len(pd.read_csv(out)) == 12


def test_cli_parquet_round_trip(run_dir, tmp_path):
    out = tmp_path / "t.parquet"
    result = runner.invoke(app, ["results", str(run_dir), "--format", "parquet", "--output", str(out)])
    assert result.exit_code == 0, result.output
    back = pd.read_parquet(out)
    pd.testing.assert_frame_equal(back, load_results(run_dir))
    result = runner.invoke(app, ["results", str(run_dir), "--format", "parquet"])
    assert result.exit_code == 2 and "--output" in result.stderr and len(result.stderr.splitlines()) == 1


def test_cli_errors_are_one_line(run_dir, tmp_path):
    cases = [(["--where", "language"], "expected KEY=VALUE"), (["--where", "lang=de"], "unknown column 'lang'"),
             (["--format", "xlsx"], "expected one of md, csv, json, parquet")]
    for extra, message in cases:
        result = runner.invoke(app, ["results", str(run_dir), *extra])
        assert result.exit_code == 2, result.output
        assert len(result.stderr.splitlines()) == 1 and message in result.stderr
    result = runner.invoke(app, ["results", str(tmp_path / "missing")])
    assert result.exit_code == 2 and "no such file or directory" in result.stderr
    assert len(result.stderr.splitlines()) == 1


def test_cli_no_match_is_an_empty_table(run_dir):
    result = runner.invoke(app, ["results", str(run_dir), "--where", "language=xx"])
    assert result.exit_code == 0
    assert "no rows match language=xx" in result.stderr
    assert len(result.stdout.splitlines()) == 2  # header and rule
    result = runner.invoke(app, ["results", str(run_dir), "--where", "language=xx", "--format", "json"])
    assert json.loads(result.stdout) == []


def test_cli_warns_on_a_torn_line(run_dir):
    with open(run_dir / "results.jsonl", "a") as f:
        f.write('{"run_id": "x", "met')
    result = runner.invoke(app, ["results", str(run_dir), "--format", "csv"])
    assert result.exit_code == 0
    assert result.stderr.startswith("warning: ") and "skipped a torn last line" in result.stderr
    assert len(pd.read_csv(io.StringIO(result.stdout))) == 12
