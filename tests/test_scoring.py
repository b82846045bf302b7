"""File-level scoring: every golden case that is one prediction file goes through ``xstilts score``.

Each case is written to disk in the label-folder format evaluate.py reads, scored by the CLI (in
process with typer's runner, and once as a real subprocess), and compared with the official
output to 1e-9; the in-memory :func:`xstilts.scoring.score` must agree. Bad files exit with code 2
and a one-line error naming the file and line (one case per kind in tests/test_score_bad_input.py).

The QA cases leave questions unanswered and add an id that is not in the gold: the official
scorer scores the first 0 and ignores the second; ``xstilts score`` refuses both unless told
``--allow-missing`` (which scores them 0, as the official scorer), and always refuses the second,
so these cases are scored without their extra id and with ``--allow-missing``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from xstilts.cli import app
from xstilts.errors import ConfigError, DataError, UnknownNameError
from xstilts.metrics.qa import iter_questions
from xstilts.scoring import score, score_files
from xstilts.tasks import get_task

TOL = 1e-9
_DEFAULT_GOLDEN = Path(__file__).resolve().parents[2] / "shared" / "golden"
GOLDEN = Path(os.environ.get("XSTILTS_GOLDEN_DIR", _DEFAULT_GOLDEN))


@dataclass(frozen=True)
class FileCase:
    """One gold file + one prediction file, in memory, with the official scores."""

    id: str
    task: str
    language: str
    gold: Any          # as the label-file reader returns it
    predictions: Any
    expected: dict
    n: int
    gold_document: Any = None  # the whole gold JSON where it has more than ``gold`` (SQuAD)


# ---------------------------------------------------------------- golden case → file cases


def _squad_data(gold: dict) -> list[dict]:
    qas = [{"id": qid, "question": "", "answers": gold["answers"][qid]} for qid in gold["question_ids"]]
    return [{"title": "golden", "paragraphs": [{"context": "", "qas": qas}]}]


def _from_case(case: dict) -> list[FileCase]:
    cid, task = case["case_id"], case["task"]
    if cid.startswith("xtreme_mock_"):
        out = []
        for lang in case["language"]:
            gold = case["gold"][lang]
            expected = {m: by_lang[lang] for m, by_lang in case["expected"].items() if isinstance(by_lang, dict)}
            if isinstance(gold, dict):  # SQuAD gold file
                data = gold["data"]
                n = sum(len(p["qas"]) for a in data for p in a["paragraphs"])
                out.append(FileCase(f"{cid}-{lang}", task, lang, data, case["predictions"][lang], expected, n, gold))
            else:
                n = len(set(gold)) if task == "bucc2018" else len(gold)
                out.append(FileCase(f"{cid}-{lang}", task, lang, gold, case["predictions"][lang], expected, n))
        return out
    if task in ("xquad", "mlqa"):
        language = case.get("scorer_language_argument") or case["language"]
        data = _squad_data(case["gold"])
        return [FileCase(cid, task, language, data, case["predictions"], case["expected"],
                         len(case["gold"]["question_ids"]), {"version": "1.1", "data": data})]
    if task in ("udpos", "panx"):
        tags = case["gold"]["tags"]
        return [FileCase(cid, task, case["language"], tags, case["predictions"], case["expected"], len(tags))]
    if task in ("xnli", "pawsx", "tatoeba"):
        gold = [str(x) for x in case["gold"]]
        return [FileCase(cid, task, case["language"], gold, [str(x) for x in case["predictions"]],
                         case["expected"], len(gold))]
    if task == "bucc2018":
        gold = case["gold"]["gold_pairs"]
        return [FileCase(cid, task, case["language"], gold, case["expected"]["extracted_pairs"],
                         case["expected"]["evaluate_bucc2018_on_extracted"], len(set(gold)))]
    if task == "udpos/panx":
        return [FileCase(f"{cid}-{sub['name']}", sub["task"], "en", sub["gold"], sub["predictions"],
                         sub["expected"], len(sub["gold"])) for sub in case["subcases"]]
    return []  # string-level (qa_normalisation) and score-level (aggregate) cases have no files


def _all_file_cases() -> list[FileCase]:
    cases: list[FileCase] = []
    for path in sorted(GOLDEN.glob("*.json")):
        cases.extend(_from_case(json.loads(path.read_text(encoding="utf-8"))))
    return cases


def _outside_label_set(case: FileCase) -> tuple[str, int, str] | None:
    """(side, line, value) of the first gold, then predicted, label outside the task's label set.

    ``line`` is where it lands in the file :func:`write_case` writes (a blank line after each sentence).
    """
    labels = get_task(case.task).labels
    if labels is None:
        return None
    for side, items in (("gold", case.gold), ("pred", case.predictions)):
        line = 0
        for item in items:
            for value in item if isinstance(item, list) else [item]:
                line += 1
                if value not in labels:
                    return side, line, value
            line += isinstance(item, list)
    return None


ALL_FILE_CASES = _all_file_cases()
# A golden case outside its task's label set (CoNLL-style B-MISC scored as "panx") is refused by
# `xstilts score`; the metric itself is checked on it in tests/metrics/test_golden.py.
FILE_CASES = [c for c in ALL_FILE_CASES if _outside_label_set(c) is None]
OUTSIDE_CASES = [c for c in ALL_FILE_CASES if _outside_label_set(c) is not None]


# ---------------------------------------------------------------- writing evaluate.py's formats


def _serialise(items: Any, document: Any = None) -> tuple[str, str]:
    """(suffix, text) of a label file holding ``items``."""
    if document is not None or isinstance(items, dict):
        return "json", json.dumps(document if document is not None else items, ensure_ascii=False)
    if items and isinstance(items[0], list):  # sentences of tags, a blank line after each
        return "tsv", "".join("".join(f"{tag}\n" for tag in sentence) + "\n" for sentence in items)
    return "tsv", "".join(f"{item}\n" for item in items)


def write_case(tmp_path: Path, case: FileCase) -> tuple[Path, Path]:
    paths = []
    for name, items, document in (("gold", case.gold, case.gold_document), ("pred", case.predictions, None)):
        suffix, text = _serialise(items, document)
        path = tmp_path / name / f"test-{case.language}.{suffix}"
        path.parent.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
        paths.append(path)
    return paths[0], paths[1]


def cli_args(case: FileCase, gold: Path, pred: Path, allow_missing: bool = False) -> list[str]:
    return ["score", "--task", case.task, "--language", case.language, "--gold", str(gold), "--predictions", str(pred),
            *(["--allow-missing"] if allow_missing else [])]


def as_scored(case: FileCase) -> tuple[FileCase, int, int]:
    """(the case without its QA prediction ids that are not gold questions, how many questions have
    no prediction, how many ids were dropped); other cases are returned as they are."""
    if not isinstance(case.predictions, dict):
        return case, 0, 0
    ids = [q.id for q in iter_questions(case.gold)]
    kept = {qid: answer for qid, answer in case.predictions.items() if qid in set(ids)}
    return replace(case, predictions=kept), sum(qid not in kept for qid in ids), len(case.predictions) - len(kept)


def assert_result(result: dict, case: FileCase) -> None:
    assert (result["task"], result["language"], result["n"]) == (case.task, case.language, case.n)
    assert set(result["metrics"]) == set(case.expected)
    for key, value in case.expected.items():
        assert abs(result["metrics"][key] - value) <= TOL, (key, result["metrics"][key], value)


# ---------------------------------------------------------------- golden cases through the CLI


def test_every_single_file_golden_case_is_collected(golden_dir: Path) -> None:
    assert golden_dir == GOLDEN
    tasks = {c.task for c in FILE_CASES}
    assert tasks == {"xquad", "mlqa", "tydiqa", "udpos", "panx", "xnli", "pawsx", "tatoeba", "bucc2018"}
    assert len(FILE_CASES) >= 150
    assert [c.id for c in OUTSIDE_CASES] == ["panx_style_ner_de_iob1_s43"]


@pytest.mark.parametrize("case", FILE_CASES, ids=lambda c: c.id)
def test_golden_case_through_cli(tmp_path: Path, case: FileCase) -> None:
    scored, missing, extra = as_scored(case)
    gold, pred = write_case(tmp_path, scored)
    run = CliRunner().invoke(app, cli_args(case, gold, pred, allow_missing=missing > 0))
    assert run.exit_code == 0, run.output
    result = json.loads(run.stdout)
    assert_result(result, case)
    assert result.get("missing", 0) == missing
    assert_result(score(case.task, case.language, case.gold, scored.predictions, allow_missing=missing > 0), case)
    if missing or extra:  # as the official scorer had them: refused, naming the prediction file
        gold, pred = write_case(tmp_path, case)
        refused = CliRunner().invoke(app, cli_args(case, gold, pred))
        assert_clean_error(refused, f"{pred}: ", "not a question" if extra else "no prediction for")


@pytest.mark.parametrize("case", OUTSIDE_CASES, ids=lambda c: c.id)
def test_golden_case_outside_the_label_set_is_refused(tmp_path: Path, case: FileCase) -> None:
    gold, pred = write_case(tmp_path, case)
    side, line, value = _outside_label_set(case)
    path = gold if side == "gold" else pred
    assert_clean_error(CliRunner().invoke(app, cli_args(case, gold, pred)), f"{path}:{line}:",
                       f"unknown label {value!r}")
    with pytest.raises(DataError, match=f"unknown label {value!r}"):
        score(case.task, case.language, case.gold, case.predictions)


def test_console_entry_point_in_a_subprocess(tmp_path: Path, golden_dir: Path) -> None:  # skips without golden
    case = next(c for c in FILE_CASES if c.id == "mlqa_scorer_on_xquad_zh_s25")
    scored, missing, _ = as_scored(case)
    gold, pred = write_case(tmp_path, scored)
    done = subprocess.run([sys.executable, "-m", "xstilts.cli", *cli_args(case, gold, pred, allow_missing=True)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert_result(json.loads(done.stdout), case)
    assert missing == 3 and f"no prediction for 3 of the {case.n} questions" in done.stderr


# ---------------------------------------------------------------- bad input


def run_cli(task: str, language: str, gold: Path, pred: Path):
    return CliRunner().invoke(app, ["score", "--task", task, "--language", language,
                                    "--gold", str(gold), "--predictions", str(pred)])


def assert_clean_error(run, *fragments: str) -> None:
    assert run.exit_code == 2
    assert run.stdout == ""
    lines = run.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), run.stderr
    assert "Traceback" not in run.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def test_cli_bad_prediction_file(tmp_path: Path) -> None:
    gold = tmp_path / "gold.tsv"
    gold.write_text("entailment\nneutral\ncontradiction\n")
    pred = tmp_path / "pred.tsv"
    pred.write_bytes(b"entailment\nneu\xe9tral\ncontradiction\n")
    assert_clean_error(run_cli("xnli", "de", gold, pred), f"{pred}:2:", "UTF-8")
    pred.write_text("entailment\n\ncontradiction\n")
    assert_clean_error(run_cli("xnli", "de", gold, pred), f"{pred}:2:", "blank line")


def test_cli_bad_json(tmp_path: Path) -> None:
    gold = tmp_path / "gold.json"
    gold.write_text('{"version": "1.1",\n "data": [\n')
    pred = tmp_path / "pred.json"
    pred.write_text("{}")
    assert_clean_error(run_cli("xquad", "de", gold, pred), f"{gold}:3:", "invalid JSON")


def test_prediction_count_must_match_gold(tmp_path: Path) -> None:
    gold = tmp_path / "gold.tsv"
    gold.write_text("0\n1\n1\n")
    pred = tmp_path / "pred.tsv"
    pred.write_text("0\n1\n")
    assert_clean_error(run_cli("pawsx", "de", gold, pred), f"{pred}:3:", "2 labels, but the gold file")
    pred.write_text("0\n1\n1\n0\n")
    assert_clean_error(run_cli("pawsx", "de", gold, pred), f"{pred}:4:", "4 labels")


def test_sentence_count_and_lengths_must_match_gold(tmp_path: Path) -> None:
    gold = tmp_path / "gold.tsv"
    gold.write_text("B-PER\nI-PER\n\nO\nB-LOC\n")
    pred = tmp_path / "pred.tsv"
    pred.write_text("B-PER\nI-PER\n")
    assert_clean_error(run_cli("panx", "de", gold, pred), f"{pred}:3:", "1 sentence, but the gold file")
    pred.write_text("B-PER\nI-PER\n\nO\n")
    assert_clean_error(run_cli("panx", "de", gold, pred), f"{pred}:4:", "sentence 2 of the gold file")


def test_labels_outside_the_task_label_set(tmp_path: Path) -> None:
    # evaluate.py would score each of these as a plain wrong answer; here the line and value are named.
    gold = tmp_path / "gold.tsv"
    pred = tmp_path / "pred.tsv"
    gold.write_text("entailment\nperhaps\ncontradiction\n")
    pred.write_text("entailment\nneutral\ncontradiction\n")
    assert_clean_error(run_cli("xnli", "de", gold, pred), f"{gold}:2:", "field 'label'", "unknown label 'perhaps'")
    gold.write_text("entailment\nneutral\ncontradiction\n")
    pred.write_text("entailment\nneutral\n2\n")  # class ids where XNLI expects names
    assert_clean_error(run_cli("xnli", "de", gold, pred), f"{pred}:3:", "unknown label '2'", "class index")
    gold.write_text("B-PER\nI-PER\n\nO\nB-LOC\n")
    pred.write_text("B-PER\nI-PER\n\nO\nB-MISC\n")
    assert_clean_error(run_cli("panx", "de", gold, pred), f"{pred}:5:", "field 'tag'", "unknown label 'B-MISC'")
    gold.write_text("DET\nNOUN\n\nPROPN\nNOUNS\n")
    assert_clean_error(run_cli("udpos", "de", gold, gold), f"{gold}:5:", "unknown label 'NOUNS'")
    with pytest.raises(DataError, match="record 'label 1': field 'label': unknown label 'maybe'"):
        score("xnli", "de", ["neutral"], ["maybe"])
    # PAWS-X's labels are 0/1 themselves; Tatoeba's lines are indices, not a closed set.
    gold.write_text("0\n1\n")
    assert score_files("pawsx", "de", gold, gold)["metrics"] == {"accuracy": 100.0}
    gold.write_text("17\n3\n")
    assert score_files("tatoeba", "de", gold, gold)["metrics"] == {"accuracy": 100.0}


def test_qa_predictions_cover_every_question_unless_allow_missing(tmp_path: Path) -> None:
    data = [{"paragraphs": [{"qas": [{"id": "a", "answers": [{"text": "x"}]},
                                     {"id": "b", "answers": [{"text": "y"}]}]}]}]
    gold = tmp_path / "gold.json"
    gold.write_text(json.dumps({"data": data}))
    pred = tmp_path / "pred.json"
    pred.write_text('{"a": "x", "zzz": "y"}')  # evaluate.py: 50.0, ignoring 'zzz' and scoring 'b' 0
    assert_clean_error(run_cli("tydiqa", "fi", gold, pred), f"{pred}: ", "1 prediction id is not a question",
                       "'zzz'")
    pred.write_text('{"a": "x"}')
    assert_clean_error(run_cli("tydiqa", "fi", gold, pred), f"{pred}: ", "no prediction for 1 of the 2 questions",
                       "'b'", "--allow-missing")
    assert score_files("tydiqa", "fi", gold, pred, allow_missing=True) == {
        "task": "tydiqa", "language": "fi", "n": 2, "missing": 1, "metrics": {"exact_match": 50.0, "f1": 50.0}}


def test_unknown_names(tmp_path: Path) -> None:
    gold = tmp_path / "g.tsv"
    gold.write_text("0\n")
    assert_clean_error(run_cli("paws-x", "de", gold, gold), "unknown task 'paws-x'", "did you mean 'pawsx'")
    assert_clean_error(run_cli("xnli", "deu", gold, gold), "language of task 'xnli'", "did you mean 'de'")
    with pytest.raises(UnknownNameError, match="'mlm'.*perplexity"):
        score("mlm", "en", [], [])


def test_mlqa_needs_a_language_its_scorer_knows() -> None:
    data = [{"paragraphs": [{"qas": [{"id": "a", "answers": [{"text": "x"}]}]}]}]
    assert score("mlqa", "de", data, {"a": "x"})["metrics"] == {"exact_match": 100.0, "f1": 100.0}
    with pytest.raises(ConfigError, match="needs the answer language"):
        score("mlqa", None, data, {"a": "x"})
    with pytest.raises(UnknownNameError, match="language of task 'mlqa'.*'fr'"):
        score("mlqa", "fr", data, {"a": "x"})


def test_in_memory_mismatch_names_the_item() -> None:
    with pytest.raises(DataError, match="<input>: record 'sentence 1'.*1 tag, but sentence 1"):
        score("udpos", "de", [["NOUN", "VERB"]], [["NOUN"]])


def test_real_gold_file_scores_itself(data_dir: Path) -> None:
    gold = data_dir / "xtreme" / "labels" / "udpos" / "test-zh.tsv"
    result = score_files("udpos", "zh", gold, gold)
    assert result["metrics"] == {"f1": 100.0, "precision": 100.0, "recall": 100.0}
    assert result["n"] == gold.read_text(encoding="utf-8").count("\n\n") + 1
