"""The train/test contamination guard: fingerprints, overlaps and disjoint slices on real data."""

from __future__ import annotations

from xstilts.data.examples import Answer, ClassificationExample, QAExample, TaggingExample
from xstilts.data.loading import load_examples
from xstilts.pipeline.overlap import MIN_TEXT_CHARS, find_overlaps, fingerprints, normalise, without

LONG = "The Normans were the people who in the 10th and 11th centuries gave their name to Normandy."


def test_squad_dev_head_overlaps_xquad_in_every_language(data_dir):
    # The old mini config trained on SQuAD dev[:800] and scored XQuAD[:300]: 74 shared questions,
    # found by id in translations (their contexts differ) and by id and context in English.
    squad = load_examples("squad_v1", "dev", "en", data_dir=data_dir)[:800]
    for lang in ("en", "de", "zh"):
        xquad = load_examples("xquad", "test", lang, data_dir=data_dir)[:300]
        (o,) = find_overlaps([("squad", squad)], [(f"xquad-{lang}", xquad)])
        assert (o.count, o.total) == (74, 300)
        assert o.first_ids[0] == "56beb4343aeaaa14008c925b"
        assert "share 74 of 300 examples" in o.describe()


def test_without_xquad_squad_dev_is_disjoint_and_keeps_the_rest(data_dir):
    squad = load_examples("squad_v1", "dev", "en", data_dir=data_dir)
    xquad = load_examples("xquad", "test", "en", data_dir=data_dir)
    rest = without(squad, xquad)
    assert len(rest) == len(squad) - len(xquad) == 9380  # XQuAD's 1,190 questions, nothing else
    assert find_overlaps([("rest", rest)], [("xquad", load_examples("xquad", "test", "de", data_dir=data_dir))]) == []


def test_same_text_under_another_id_is_found():
    train = [QAExample("a1", "Who?", LONG, (Answer("Normans", 4),))]
    test = [QAExample("zz-9", "Who were they?", "  " + LONG.upper().replace(" ", "\n"), ())]
    (o,) = find_overlaps([("train", train)], [("test", test)])
    assert o.first_ids == ("zz-9",)
    assert normalise("ＡＢ  c\td") == "ab c d"  # NFKC, case-folded, whitespace collapsed


def test_positional_ids_and_short_texts_are_no_evidence():
    # Reader-made ids ("dev-en-3") and short sentences recur without a shared source.
    a = [ClassificationExample("dev-en-3", "Thanks .", "x", "entailment"),
         TaggingExample("7", ("Thank", "you", "."), ("VERB", "PRON", "PUNCT"))]
    b = [ClassificationExample("dev-en-3", "Thanks .", "y", "neutral"),
         TaggingExample("7", ("Thank", "you", "."), ("VERB", "PRON", "PUNCT"))]
    assert fingerprints(a) == {} and find_overlaps([("a", a)], [("b", b)]) == []
    # A source id counts whatever the text; a long premise counts whatever the id.
    assert find_overlaps([("a", [ClassificationExample("uid-17a", "x", "y", "neutral")])],
                         [("b", [ClassificationExample("uid-17a", "z", "w", "neutral")])])
    premise = "p" * MIN_TEXT_CHARS
    assert find_overlaps([("a", [ClassificationExample("test-de-1", premise, "h1", "neutral")])],
                         [("b", [ClassificationExample("dev-en-2", premise, "h2", "neutral")])])


def test_udpos_english_train_and_test_share_no_long_sentence(data_dir):
    # EWT repeats "Thanks ." in train and test; the guard must not refuse every English UD-POS run.
    train = load_examples("udpos", "train", "en", data_dir=data_dir)
    test = load_examples("udpos", "test", "en", data_dir=data_dir)
    assert find_overlaps([("train", train)], [("test", test)]) == []


# ---------------------------------------------------------------- the guard in the runner

import json  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402
from typer.testing import CliRunner  # noqa: E402

from xstilts.cli import app  # noqa: E402

MINI_QA = Path(__file__).resolve().parents[2] / "configs" / "mini_qa_xquad.yaml"
QUICK = ["phases.1.training.max_steps=2", "phases.1.training.eval_steps=2", "phases.1.training.max_eval_examples=4",
         "phases.2.languages=[de]", "phases.2.max_examples=4", "tasks.xquad.max_length=96", "tasks.xquad.doc_stride=32",
         "tasks.xquad.max_query_length=24"]


def _run(tmp_path, model_dir, *overrides):
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["run", str(MINI_QA), "--out", str(out), "--no-progress",
                                      "--set", f"phases.0.model={model_dir}", *[a for o in (*QUICK, *overrides)
                                                                              for a in ("--set", o)]])
    return result, out


@pytest.mark.slow
def test_guard_refuses_the_old_mini_qa_slices(tmp_path, data_dir, tiny_model_dir, monkeypatch):
    # configs/mini_qa_xquad.yaml before the fix: SQuAD dev[:800] as training data, XQuAD scored.
    monkeypatch.setenv("XSTILTS_DATA_DIR", str(data_dir))
    result, out = _run(tmp_path, tiny_model_dir, "tasks.xquad.train.exclude=[]",
                       "phases.2.max_examples=300")
    assert result.exit_code == 2, result.output
    (line,) = result.output.strip().splitlines()
    assert "train/test overlap" in line and "squad_v1/dev[0:800] (xquad train)" in line
    assert "xquad/test-de share 74 of 300 examples" in line and "56beb4343aeaaa14008c925b" in line
    assert not list(out.glob("shared/target-*/done.json"))  # nothing was trained


@pytest.mark.slow
def test_guard_accepts_the_shipped_config_and_records_allowed_overlap(tmp_path, data_dir, tiny_model_dir, monkeypatch):
    monkeypatch.setenv("XSTILTS_DATA_DIR", str(data_dir))
    result, out = _run(tmp_path, tiny_model_dir)
    assert result.exit_code == 0, result.output
    assert "no training or dev example is among the evaluated ones" in next(out.glob("runs/*/log.txt")).read_text()
    assert not list(out.glob("runs/*/overlap.json"))

    result, out = _run(tmp_path / "allowed", tiny_model_dir, "tasks.xquad.train.exclude=[]", "allow_overlap=true")
    assert result.exit_code == 0, result.output
    (record,) = json.loads(next(out.glob("runs/*/overlap.json")).read_text())
    assert (record["kind"], record["evaluated"], record["total"]) == ("target", "xquad/test-de", 4)
    done = json.loads(next(out.glob("shared/target-*/done.json")).read_text())
    assert done["overlap"] == [{k: v for k, v in record.items() if k not in ("phase", "kind")}]
    from xstilts.report import build_report

    page = build_report(out).read_text()
    assert "Train/test overlap in run" in page and "xquad/test-de" in page


def test_excluded_data_is_part_of_the_training_key(data_dir):
    # What `exclude` leaves out decides what is trained on: its files are fingerprinted with the phase.
    from xstilts.config import load_config, resolve

    cfg = load_config(MINI_QA, ["phases.0.model=unused", f"data_dir={data_dir}"])
    reads = resolve(cfg).data[1]
    assert set(reads["xquad.train.exclude"]) == {"xtreme/download/xquad/xquad.en.json", "xtreme/labels/xquad/test-en.json"}
    assert all(reads["xquad.train.exclude"].values())
