"""`xstilts score` never turns bad input into a plausible number: one case per kind of bad file.

Every case corrupts a copy of a real gold file (``$XSTILTS_DATA_DIR/xtreme/labels``; PAN-X and
BUCC, which have no label file there, come from the golden vectors) into a prediction (or gold)
file in ``tmp_path``, runs ``xstilts score`` through typer's runner and expects exit code 2 with
one line on stderr that names the file, and the line and field where the format has them.

The cases cover every label-file format: labels (xnli, pawsx), tags (udpos, panx), SQuAD JSON
(xquad, mlqa, tydiqa), pairs (bucc2018) and sentence indices (tatoeba). Then ``--allow-missing``:
a missing QA prediction scores 0 (exact match and F1), as XTREME's script does when it warns.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pytest
from typer.testing import CliRunner

from xstilts.cli import app
from xstilts.errors import DataError
from xstilts.scoring import score, score_files

# ---------------------------------------------------------------- gold sources


def _golden(golden_dir: Path, name: str) -> dict:
    return json.loads((golden_dir / name).read_text(encoding="utf-8"))


def _tag_file(sentences: list[list[str]]) -> str:
    return "".join("".join(f"{tag}\n" for tag in sentence) + "\n" for sentence in sentences)


def gold_text(source: str, data_dir: Path, golden_dir: Path) -> tuple[str, str]:
    """(suffix, text) of a gold file: ``labels:<task>/<file>`` is a real label file, ``panx``/``bucc``
    the gold of a golden case written in the label-folder format."""
    if source.startswith("labels:"):
        path = data_dir / "xtreme" / "labels" / source.removeprefix("labels:")
        return path.suffix.lstrip("."), path.read_text(encoding="utf-8")
    if source == "panx":
        return "tsv", _tag_file(_golden(golden_dir, "panx_style_synthetic_bio_zh_s44.json")["gold"]["tags"])
    if source == "bucc":
        gold = _golden(golden_dir, "bucc_de_en_from_tatoeba_s71.json")["gold"]["gold_pairs"]
        return "tsv", "".join(f"{p}\n" for p in gold)
    raise AssertionError(source)


def golden_predictions(source: str, golden_dir: Path) -> str:
    """The golden case's own prediction file for ``panx``/``bucc`` (what the official scorer scored)."""
    if source == "panx":
        return _tag_file(_golden(golden_dir, "panx_style_synthetic_bio_zh_s44.json")["predictions"])
    case = _golden(golden_dir, "bucc_de_en_from_tatoeba_s71.json")
    return "".join(f"{p}\n" for p in case["expected"]["extracted_pairs"])


def qa_answers(gold: str) -> dict[str, str]:
    """A perfect prediction file for a SQuAD gold file: every question → its first gold answer."""
    return {qa["id"]: qa["answers"][0]["text"]
            for article in json.loads(gold)["data"] for paragraph in article["paragraphs"] for qa in paragraph["qas"]}


# ---------------------------------------------------------------- corruptions (gold text → bad text)


def cut_last_line(keep: int) -> Callable[[str], str]:
    """The file cut inside its last line: no final newline, ``keep`` characters of that line left."""
    def cut(text: str) -> str:
        body, _, last = text.rstrip("\n").rpartition("\n")
        assert 0 < keep < len(last)
        return f"{body}\n{last[:keep]}"
    return cut


def replace_line(number: int, value: str) -> Callable[[str], str]:
    def replace(text: str) -> str:
        lines = text.split("\n")
        lines[number - 1] = value
        return "\n".join(lines)
    return replace


def last_tag_cut(text: str) -> str:
    """The last predicted tag set to B-PER, then the file cut inside it (``B-P``, no newline)."""
    body = text.rstrip("\n").rpartition("\n")[0]
    return f"{body}\nB-P"


def qa(edit: Callable[[dict], object], indent: int | None = None) -> Callable[[str], str]:
    """Predictions built from the gold answers, edited, written as JSON."""
    return lambda gold: json.dumps(edit(qa_answers(gold)), ensure_ascii=False, indent=indent)


def drop(k: int) -> Callable[[dict], dict]:
    """Every 7th question's prediction left out, ``k`` in all."""
    def edit(predictions: dict) -> dict:
        gone = list(predictions)[::7][:k]
        return {qid: a for qid, a in predictions.items() if qid not in gone}
    return edit


def add(*ids: str) -> Callable[[dict], dict]:
    return lambda predictions: predictions | {qid: "x" for qid in ids}


def cut_json_at(fraction: float) -> Callable[[str], str]:
    """A perfect prediction file (one key per line) cut after ``fraction`` of its characters."""
    def cut(gold: str) -> str:
        text = json.dumps(qa_answers(gold), ensure_ascii=False, indent=1)
        return text[: int(len(text) * fraction)]
    return cut


def cut_inside_string(gold: str) -> str:
    """A perfect prediction file cut in the middle of an answer text."""
    text = json.dumps(qa_answers(gold), ensure_ascii=False, indent=1)
    end = text.rfind('": "') + 6
    return text[:end]


def pairs(edit: Callable[[list[str]], list[str]]) -> Callable[[str], str]:
    """The golden BUCC prediction lines, edited (``src_id<TAB>trg_id`` each)."""
    def apply(predictions: str) -> str:
        return "".join(f"{line}\n" for line in edit(predictions.splitlines()))
    return apply


def json_error_line(text: str) -> int:
    try:
        json.loads(text)
    except json.JSONDecodeError as e:
        return e.lineno
    raise AssertionError("the corrupted JSON parses")


# ---------------------------------------------------------------- the cases


@dataclass(frozen=True)
class Case:
    """``corrupt`` turns the gold text (or, with ``from_golden``, the golden predictions) into the
    bad file; ``where`` is what the error line starts with after ``error: `` (``{pred}``/``{gold}``
    are the paths, ``{line}`` the JSON parser's line, ``{last}`` the bad file's last line); ``says``
    are fragments it must contain. ``before`` records what ``xstilts score`` did with the file
    before these checks existed: "number" is exit 0 with a plausible score."""

    id: str
    task: str
    language: str
    source: str
    corrupt: Callable[[str], str]
    where: str
    says: tuple[str, ...]
    side: str = "pred"  # which file is corrupted; the other one is the intact gold
    from_golden: bool = False
    args: tuple[str, ...] = ()
    before: str = "number"


XNLI, PAWSX, UDPOS = "labels:xnli/test-de.tsv", "labels:pawsx/test-de.tsv", "labels:udpos/test-de.tsv"
XQUAD_DE, XQUAD_AR, TATOEBA = "labels:xquad/test-de.json", "labels:xquad/test-ar.json", "labels:tatoeba/test-de.tsv"

CASES = [
    # labels -------------------------------------------------------------------------------
    Case("xnli-last-line-cut", "xnli", "de", XNLI, cut_last_line(6), "{pred}:{last}: field 'label': ",
         ("has no newline", "cut off"), before="exit 2, 'unknown label', no word of a cut"),
    Case("xnli-empty-file", "xnli", "de", XNLI, lambda _: "", "{pred}:", ("no predictions in {pred}",),
         before="exit 2, 'file is empty'"),
    Case("pawsx-blank-lines-only", "pawsx", "de", PAWSX, lambda _: "\n\n\n", "{pred}:", ("no predictions in {pred}",),
         before="exit 2, 'file is empty'"),
    Case("pawsx-bom-only", "pawsx", "de", PAWSX, lambda _: "\ufeff", "{pred}:", ("no predictions in {pred}",),
         before="exit 2, '0 labels, but the gold file has 2000'"),
    # tags ---------------------------------------------------------------------------------
    Case("udpos-last-tag-cut", "udpos", "de", UDPOS, cut_last_line(2), "{pred}:{last}: field 'tag': ",
         ("has no newline", "cut off"), before="exit 2, 'unknown label', no word of a cut"),
    Case("udpos-blank-lines-only", "udpos", "de", UDPOS, lambda _: "\n\n", "{pred}:", ("no predictions in {pred}",),
         before="exit 2, 'file is empty'"),
    Case("panx-last-tag-cut", "panx", "zh", "panx", last_tag_cut, "{pred}:{last}: field 'tag': ",
         ("has no newline", "cut off"),
         from_golden=True, before="exit 2, 'unknown label', no word of a cut"),
    Case("panx-empty-file", "panx", "zh", "panx", lambda _: "", "{pred}:", ("no predictions in {pred}",),
         before="exit 2, 'file is empty'"),
    # SQuAD JSON ---------------------------------------------------------------------------
    Case("xquad-100-of-1190-missing", "xquad", "de", XQUAD_DE, qa(drop(100)), "{pred}: ",
         ("no prediction for 100 of the 1190 questions", "first: ", "--allow-missing")),
    Case("xquad-extra-id", "xquad", "de", XQUAD_DE, qa(add("not-a-question")), "{pred}: ",
         ("1 prediction id is not a question of the gold file", "'not-a-question'")),
    Case("xquad-extra-id-with-allow-missing", "xquad", "de", XQUAD_DE, qa(add("nope-1", "nope-2")), "{pred}: ",
         ("2 prediction ids are not questions of the gold file", "'nope-1', 'nope-2'"), args=("--allow-missing",),
         before="exit 2, typer's usage error: no such option"),
    Case("xquad-empty-object", "xquad", "de", XQUAD_DE, lambda _: "{}", "{pred}:", ("no predictions in {pred}",)),
    Case("xquad-empty-array", "xquad", "de", XQUAD_DE, lambda _: "[]", "{pred}:", ("no predictions in {pred}",),
         before="exit 2, 'expected a JSON object'"),
    Case("xquad-json-cut-mid-way", "xquad", "de", XQUAD_DE, cut_json_at(0.5), "{pred}:{line}: ",
         ("invalid JSON", "cut off"), before="exit 2, 'invalid JSON', no word of a cut"),
    Case("xquad-gold-json-cut", "xquad", "de", XQUAD_DE, lambda gold: gold[: len(gold) * 2 // 3], "{gold}:{line}: ",
         ("invalid JSON", "cut off"), side="gold", before="exit 2, 'invalid JSON', no word of a cut"),
    Case("mlqa-10-missing", "mlqa", "de", XQUAD_DE, qa(drop(10)), "{pred}: ",
         ("no prediction for 10 of the 1190 questions", "--allow-missing")),
    Case("mlqa-extra-ids", "mlqa", "de", XQUAD_DE, qa(add("a", "b", "c", "d", "e")), "{pred}: ",
         ("5 prediction ids are not questions of the gold file", "'a', 'b', 'c'")),
    Case("tydiqa-1-missing", "tydiqa", "ar", XQUAD_AR, qa(drop(1)), "{pred}: ",
         ("no prediction for 1 of the 1190 questions",)),
    Case("tydiqa-empty-object", "tydiqa", "ar", XQUAD_AR, lambda _: "{ }\n", "{pred}:", ("no predictions in {pred}",)),
    Case("tydiqa-json-cut-inside-an-answer", "tydiqa", "ar", XQUAD_AR, cut_inside_string, "{pred}:{line}: ",
         ("invalid JSON", "cut off"), before="exit 2, 'invalid JSON', no word of a cut"),
    # pairs --------------------------------------------------------------------------------
    Case("bucc-last-line-cut", "bucc2018", "de", "bucc", lambda t: t.rstrip("\n")[:-5],
         "{pred}:{last}: field 'trg_id': ",
         ("has no newline", "cut off"), from_golden=True),
    Case("bucc-columns-swapped", "bucc2018", "de", "bucc",
         pairs(lambda ls: ["\t".join(line.split("\t")[::-1]) for line in ls]),
         "{pred}:1: field 'src_id': ", ("98 pairs", "cannot be in the sentence pools", "'de-' and 9 digits"),
         from_golden=True),
    Case("bucc-ids-of-another-language", "bucc2018", "de", "bucc",
         pairs(lambda ls: ls + ["fr-000000001\ten-000000002"]),
         "{pred}:99: field 'src_id': ", ("1 pair", "cannot be in the sentence pools", "'fr-000000001'"),
         from_golden=True),
    Case("bucc-not-ids", "bucc2018", "de", "bucc", pairs(lambda ls: ls[:3] + ["src\ttrg"] + ls[3:]),
         "{pred}:4: field 'src_id': ", ("cannot be in the sentence pools",), from_golden=True),
    Case("bucc-space-before-tab", "bucc2018", "de", "bucc", pairs(lambda ls: [ls[0].replace("\t", " \t")] + ls[1:]),
         "{pred}:1: field 'src_id': ", ("whitespace",), from_golden=True),
    Case("bucc-empty-file", "bucc2018", "de", "bucc", lambda _: "", "{pred}:", ("no predictions in {pred}",),
         from_golden=True, before="exit 2, 'file is empty'"),
    # sentence indices ---------------------------------------------------------------------
    Case("tatoeba-not-an-integer", "tatoeba", "de", TATOEBA, replace_line(3, "abc"), "{pred}:3: field 'index': ",
         ("'abc'", "sentence index")),
    Case("tatoeba-negative", "tatoeba", "de", TATOEBA, replace_line(7, "-5"), "{pred}:7: field 'index': ", ("'-5'",)),
    Case("tatoeba-out-of-range", "tatoeba", "de", TATOEBA, replace_line(10, "1000"), "{pred}:10: field 'index': ",
         ("1000", "out of range", "0-999")),
    Case("tatoeba-leading-zero", "tatoeba", "de", TATOEBA, replace_line(2, "0258"), "{pred}:2: field 'index': ",
         ("'0258'", "leading zero")),
    Case("tatoeba-decimal", "tatoeba", "de", TATOEBA, replace_line(5, "528.0"), "{pred}:5: field 'index': ",
         ("'528.0'",)),
    Case("tatoeba-last-line-cut", "tatoeba", "de", TATOEBA, cut_last_line(2), "{pred}:{last}: field 'index': ",
         ("'85'", "has no newline")),
    Case("tatoeba-empty-file", "tatoeba", "de", TATOEBA, lambda _: "", "{pred}:", ("no predictions in {pred}",),
         before="exit 2, 'file is empty'"),
    Case("tatoeba-gold-not-an-integer", "tatoeba", "de", TATOEBA, replace_line(12, "x"), "{gold}:12: field 'index': ",
         ("'x'",), side="gold"),
]


def test_every_format_and_task_has_cases() -> None:
    assert len(CASES) >= 20 and len({c.id for c in CASES}) == len(CASES)
    assert {c.task for c in CASES} == {"xnli", "pawsx", "udpos", "panx", "xquad", "mlqa", "tydiqa", "bucc2018",
                                       "tatoeba"}


def run_score(task: str, language: str, gold: Path, pred: Path, *args: str):
    return CliRunner().invoke(app, ["score", "--task", task, "--language", language, "--gold", str(gold),
                                    "--predictions", str(pred), *args])


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_bad_input_is_one_line_and_exit_2(tmp_path: Path, data_dir: Path, golden_dir: Path, case: Case) -> None:
    suffix, gold_source = gold_text(case.source, data_dir, golden_dir)
    intact = golden_predictions(case.source, golden_dir) if case.from_golden else gold_source
    bad = case.corrupt(intact)
    gold, pred = tmp_path / f"gold.{suffix}", tmp_path / f"pred.{suffix}"
    gold.write_text(bad if case.side == "gold" else gold_source, encoding="utf-8")
    pred.write_text(intact if case.side == "gold" else bad, encoding="utf-8")

    run = run_score(case.task, case.language, gold, pred, *case.args)

    assert run.exit_code == 2, (run.exit_code, run.output)
    assert run.stdout == ""
    lines = run.stderr.splitlines()
    assert len(lines) == 1 and "Traceback" not in run.stderr, run.stderr
    line = json_error_line(bad) if "{line}" in case.where else None
    where = case.where.format(pred=pred, gold=gold, line=line, last=bad.rstrip("\n").count("\n") + 1)
    assert lines[0].startswith(f"error: {where}"), (lines[0], where)
    for fragment in case.says:
        assert fragment.format(pred=pred, gold=gold) in lines[0], (fragment, lines[0])


@pytest.mark.parametrize("task, language, source, from_golden", [
    ("xnli", "de", XNLI, False), ("pawsx", "de", PAWSX, False), ("udpos", "de", UDPOS, False),
    ("panx", "zh", "panx", True), ("bucc2018", "de", "bucc", True)], ids=["xnli", "pawsx", "udpos", "panx", "bucc2018"])
def test_a_whole_last_line_without_newline_is_not_a_cut(tmp_path: Path, data_dir: Path, golden_dir: Path,
                                                       task: str, language: str, source: str,
                                                       from_golden: bool) -> None:
    """Hand-written files often lack the final newline: where the content shows the last value is
    whole (a label of the task, a BUCC id of the gold's shape) the file scores as it is."""
    suffix, gold_source = gold_text(source, data_dir, golden_dir)
    predictions = golden_predictions(source, golden_dir) if from_golden else gold_source
    gold, pred = tmp_path / f"gold.{suffix}", tmp_path / f"pred.{suffix}"
    gold.write_text(gold_source.rstrip("\n"), encoding="utf-8")
    pred.write_text(predictions.rstrip("\n"), encoding="utf-8")
    run = run_score(task, language, gold, pred)
    assert run.exit_code == 0, run.output
    pred.write_text(predictions, encoding="utf-8")
    assert json.loads(run.stdout) == json.loads(run_score(task, language, gold, pred).stdout)


# ---------------------------------------------------------------- --allow-missing


@pytest.fixture()
def xquad_with_100_missing(tmp_path: Path, data_dir: Path) -> tuple[Path, Path, dict]:
    gold = data_dir / "xtreme" / "labels" / "xquad" / "test-de.json"
    predictions = drop(100)(qa_answers(gold.read_text(encoding="utf-8")))
    pred = tmp_path / "pred.json"
    pred.write_text(json.dumps(predictions, ensure_ascii=False), encoding="utf-8")
    return gold, pred, predictions


def test_allow_missing_scores_a_missing_question_0(xquad_with_100_missing) -> None:
    gold, pred, predictions = xquad_with_100_missing
    assert len(predictions) == 1090
    run = run_score("xquad", "de", gold, pred, "--allow-missing")
    assert run.exit_code == 0, run.output
    result = json.loads(run.stdout)
    # Each of the 1090 predictions is a gold answer (EM 1, F1 1); the 100 missing ones count 0
    # and stay in the denominator, as in XTREME's evaluate_squad.py.
    expected = 100.0 * 1090 / 1190
    assert result["n"] == 1190 and result["missing"] == 100
    assert result["metrics"] == {"exact_match": pytest.approx(expected, abs=1e-9),
                                 "f1": pytest.approx(expected, abs=1e-9)}
    (note,) = run.stderr.splitlines()
    assert str(pred) in note and "100 of the 1190 questions" in note and "scored 0" in note
    # The Python API says the same.
    assert score_files("xquad", "de", gold, pred, allow_missing=True) == result
    with pytest.raises(DataError, match="no prediction for 100 of the 1190 questions"):
        score_files("xquad", "de", gold, pred)


def test_allow_missing_in_memory() -> None:
    data = [{"paragraphs": [{"qas": [{"id": "a", "answers": [{"text": "x"}]},
                                     {"id": "b", "answers": [{"text": "y"}]}]}]}]
    with pytest.raises(DataError, match=r"<input>: no prediction for 1 of the 2 questions \(first: 'b'\)"):
        score("tydiqa", "fi", data, {"a": "x"})
    assert score("tydiqa", "fi", data, {"a": "x"}, allow_missing=True) == {
        "task": "tydiqa", "language": "fi", "n": 2, "missing": 1, "metrics": {"exact_match": 50.0, "f1": 50.0}}
    with pytest.raises(DataError, match="1 prediction id is not a question of the gold file"):
        score("tydiqa", "fi", data, {"a": "x", "b": "y", "c": "z"}, allow_missing=True)
    # SQuAD v2.0's official script has no rule for a missing question: no --allow-missing there.
    with pytest.raises(DataError, match="SQuAD v2.0 scores every question"):
        score("squad_v2", "en", data, {"a": "x"}, allow_missing=True)
