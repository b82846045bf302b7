"""Malformed inputs raise DataError naming the file, the line or record id, and the field.

Each case writes a small file in the reader's real layout, breaks one thing, and checks both the
error's attributes and its message (which is what a researcher reads).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from xstilts.data import readers
from xstilts.data.loading import load_examples
from xstilts.errors import DataError
from xstilts.tasks import get_task

NLI = get_task("xnli").labels
UPOS = get_task("udpos").labels


def read(name, path, *, gold=None, split="dev", language="de", labels=None):
    paths = path if isinstance(path, list) else [path]
    return readers.read(name, paths, gold=gold, language=language, split=split, labels=labels)


def expect(fn, path: Path, *, field: str | None, line: int | None = None, record: str | None = None,
           says: str = "") -> DataError:
    """Run ``fn``; it must raise a DataError at exactly this file/line/record/field."""
    with pytest.raises(DataError) as info:
        fn()
    err, msg = info.value, str(info.value)
    assert err.path == str(path) and msg.startswith(str(path)), msg
    assert line is not None or record is not None, "a test must pin a line or a record"
    if line is not None:
        assert err.line == line and f"{path}:{line}" in msg, msg
    if record is not None:
        assert err.record == record and repr(record) in msg, msg
    assert err.field == field, msg
    if field is not None:
        assert f"field {field!r}" in msg, msg
    assert says in msg, msg
    return err


# ---------------------------------------------------------------- bad JSON


def test_bad_json_names_line_and_nearest_key(tmp_path):
    path = tmp_path / "squad_badjson.json"
    path.write_text('{"version": "1.1", "data": [{"title": "T", "paragraphs": [\n'
                    '  {"context": "abc", "qas": [{"id": "q1", "question": "?",\n'
                    '   "answers": [{"text": "a", "answer_start": 0,}]}]}]}]}\n')
    expect(lambda: read("squad_json", path), path, line=3, field="answer_start", says="invalid JSON")


def test_bad_jsonl_line(tmp_path):
    path = tmp_path / "anli_badline.jsonl"
    good = {"uid": "u1", "context": "A man.", "hypothesis": "A person.", "label": "e"}
    path.write_text(json.dumps(good) + '\n{"uid": "u2", "context": "x", "hypothesis": \n')
    expect(lambda: read("anli_jsonl", path, labels=NLI), path, line=2, field="hypothesis", says="invalid JSON")


def test_json_record_missing_field(tmp_path):
    path = tmp_path / "csqa_nostem.jsonl"
    path.write_text(json.dumps({"id": "q9", "answerKey": "A", "question": {"choices": []}}) + "\n")
    expect(lambda: read("commonsenseqa_jsonl", path), path, line=1, record="q9", field="question.stem",
           says="missing required field")


# ---------------------------------------------------------------- wrong column count


def test_pair_tsv_missing_label_column(tmp_path):
    path = tmp_path / "dev-xx-columns.tsv"
    path.write_text("Ein Satz.\tNoch einer.\tneutral\nNur zwei\tSpalten\n")
    expect(lambda: read("xtreme_pair_tsv", path, labels=NLI), path, line=2, field="label",
           says="expected 3 tab-separated column(s)")


def test_pair_tsv_broken_csv_quoting(tmp_path):
    path = tmp_path / "dev-xx-quoting.tsv"
    path.write_text('A.\t"Ein ""Zitat"" mit."\tneutral\nB.\t"Zu "früh" zu.\tneutral\n')
    expect(lambda: read("xtreme_pair_tsv", path, labels=NLI), path, line=2, field="sentence2",
           says="malformed CSV quoting")


def test_conll_tsv_extra_column(tmp_path):
    path = tmp_path / "train-xx-columns.tsv"
    path.write_text("Das\tDET\nHaus\tNOUN\textra\n")
    expect(lambda: read("xtreme_conll_tsv", path, split="train", labels=UPOS), path, line=2,
           field="column 3", says="found 3")


def test_bucc_line_without_id(tmp_path):
    prefix = tmp_path / "de-en.dev"
    Path(f"{prefix}.de").write_text("de-000001\tEin Satz.\nKein Tab hier\n")
    Path(f"{prefix}.en").write_text("en-000001\tA sentence.\n")
    expect(lambda: read("bucc", prefix), Path(f"{prefix}.de"), line=2, field="sentence")


def test_glue_tsv_short_row(tmp_path):
    path = tmp_path / "qqp_short.tsv"
    path.write_text("id\tqid1\tqid2\tquestion1\tquestion2\tis_duplicate\n7\t1\t2\tHow?\tWhy?\n")
    expect(lambda: read("glue_qqp_tsv", path, labels=("0", "1")), path, line=2, field="is_duplicate")


def test_glue_tsv_header_lacks_column(tmp_path):
    path = tmp_path / "mnli_header.tsv"
    path.write_text("index\tpairID\tsentence1\tgold_label\n0\t1n\tA.\tneutral\n")
    expect(lambda: read("glue_mnli_tsv", path, labels=NLI), path, line=1, field="sentence2",
           says="header lacks column")


def test_cosmos_csv_row_with_missing_column_names_its_first_line(tmp_path):
    path = tmp_path / "cosmos_short.csv"
    path.write_text('id,context,question,answer0,answer1,answer2,answer3,label\n'
                    'a1,"Line one\nline two",Why?,x,y,z,w,1\n'
                    'a2,ctx,Why?,x,y,z,2\n')
    expect(lambda: read("cosmosqa_csv", path), path, line=4, record="a2", field="label")


def test_ccg_token_needs_three_fields(tmp_path):
    path = tmp_path / "bad_tokens.stagged"
    path.write_text("Pierre|NNP|N/N Vinken|NNP|N\nMr.|NNP|N/N Vinken|N .|.|.\n")
    expect(lambda: read("ccg_stagged", path, language="en"), path, line=2, field="token 2",
           says="expected word|POS|supertag")


# ---------------------------------------------------------------- unknown labels


def test_unknown_pair_label(tmp_path):
    path = tmp_path / "dev-xx-label.tsv"
    path.write_text("A.\tB.\tentailment\nC.\tD.\tmaybe\n")
    expect(lambda: read("xtreme_pair_tsv", path, labels=NLI), path, line=2, field="label",
           says="unknown label 'maybe'")


def test_unknown_label_through_the_loader(tmp_path):
    # The loader passes Task.labels to the reader: PAWS-X accepts only 0/1.
    folder = tmp_path / "xtreme/download/pawsx"
    folder.mkdir(parents=True)
    (folder / "dev-de.tsv").write_text("A.\tB.\t1\nC.\tD.\t2\n")
    expect(lambda: load_examples("pawsx", "dev", "de", data_dir=tmp_path), folder / "dev-de.tsv",
           line=2, field="label", says="expected one of 0, 1")


def test_class_index_where_names_are_expected(tmp_path):
    # A model's argmax written as is: XNLI's labels are names, so 0/1/2 is refused, with a hint,
    # in a data file and in a gold file alike (loaded with the task's own label set).
    data = tmp_path / "xtreme/download/xnli/test-de.tsv"
    gold = tmp_path / "xtreme/labels/xnli/test-de.tsv"
    for path in (data, gold):
        path.parent.mkdir(parents=True)
    data.write_text("A.\tB.\tneutral\nC.\tD.\t2\n")
    expect(lambda: load_examples("xnli", "test", "de", data_dir=tmp_path), data, line=2, field="label",
           says="unknown label '2' (expected one of entailment, neutral, contradiction); this looks like "
                "a class index")
    data.write_text("A.\tB.\nC.\tD.\n")
    gold.write_text("1\n0\n")
    expect(lambda: load_examples("xnli", "test", "de", data_dir=tmp_path), gold, line=1, field="label",
           says="looks like a class index")
    # PAWS-X's labels ARE 0/1: the same digits read there, and a wrong digit gets no such hint.
    path = tmp_path / "xtreme/download/pawsx/dev-de.tsv"
    path.parent.mkdir(parents=True)
    path.write_text("A.\tB.\t1\nC.\tD.\t0\n")
    assert [ex.label for ex in load_examples("pawsx", "dev", "de", data_dir=tmp_path)] == ["1", "0"]
    path.write_text("A.\tB.\t1\nC.\tD.\t2\n")
    err = expect(lambda: load_examples("pawsx", "dev", "de", data_dir=tmp_path), path, line=2, field="label",
                 says="unknown label '2' (expected one of 0, 1)")
    assert "class index" not in str(err)


def test_unknown_tag(tmp_path):
    path = tmp_path / "dev-xx-tag.tsv"
    path.write_text("Das\tDET\nHaus\tNOUNX\n")
    expect(lambda: read("xtreme_conll_tsv", path, labels=UPOS), path, line=2, field="tag",
           says="unknown label 'NOUNX'")


def test_unknown_anli_code_and_qqp_label(tmp_path):
    anli = tmp_path / "anli_code.jsonl"
    anli.write_text(json.dumps({"uid": "u7", "context": "A.", "hypothesis": "B.", "label": "x"}) + "\n")
    expect(lambda: read("anli_jsonl", anli, labels=NLI), anli, line=1, record="u7", field="label")
    qqp = tmp_path / "qqp_label.tsv"
    qqp.write_text("id\tqid1\tqid2\tquestion1\tquestion2\tis_duplicate\n5\t1\t2\tHow?\tWhy?\t2\n")
    expect(lambda: read("glue_qqp_tsv", qqp, labels=("0", "1")), qqp, line=2, record="5",
           field="is_duplicate")


def test_commonsenseqa_bad_answer_key(tmp_path):
    path = tmp_path / "csqa_key.jsonl"
    choices = [{"label": k, "text": t} for k, t in zip("ABCDE", ["a", "b", "c", "d", "e"])]
    path.write_text(json.dumps({"id": "q1", "answerKey": "F", "question": {"stem": "?", "choices": choices}}) + "\n")
    expect(lambda: read("commonsenseqa_jsonl", path), path, line=1, record="q1", field="answerKey")


def test_hellaswag_needs_four_endings(tmp_path):
    path = tmp_path / "hs_endings.jsonl"
    row = {"ind": 4, "ctx_a": "A man", "ctx_b": "he", "ctx": "A man he", "endings": ["a", "b", "c"], "label": 0}
    path.write_text(json.dumps(row) + "\n")
    expect(lambda: read("hellaswag_jsonl", path), path, line=1, record="4", field="endings")


# ---------------------------------------------------------------- answers outside their context


def _squad(path: Path, answers, **qa):
    doc = {"version": "v2.0", "data": [{"title": "T", "paragraphs": [
        {"context": "Normandy is a region in France.", "qas": [
            {"id": "q-1", "question": "Where?", "answers": answers, **qa}]}]}]}
    path.write_text(json.dumps(doc))


def test_answer_start_outside_context(tmp_path):
    path = tmp_path / "squad_offset.json"
    _squad(path, [{"text": "France", "answer_start": 24}, {"text": "France", "answer_start": 500}])
    expect(lambda: read("squad_json", path), path, record="q-1", field="answers[1].answer_start",
           says="outside the context")


def test_answer_text_not_at_its_offset(tmp_path):
    path = tmp_path / "squad_mismatch.json"
    _squad(path, [{"text": "France", "answer_start": 3}])
    expect(lambda: read("squad_json", path), path, record="q-1", field="answers[0].answer_start",
           says="not the answer text 'France'")


def test_impossible_question_with_answers(tmp_path):
    path = tmp_path / "squad_impossible.json"
    _squad(path, [{"text": "France", "answer_start": 24}], is_impossible=True)
    expect(lambda: read("squad_json", path), path, record="q-1", field="answers", says="is_impossible")


def test_answerable_question_without_answers(tmp_path):
    path = tmp_path / "squad_noanswer.json"
    _squad(path, [])
    expect(lambda: read("squad_json", path), path, record="q-1", field="answers")


# ---------------------------------------------------------------- undecodable bytes, empty files


def test_undecodable_byte_names_line_and_column_field(tmp_path):
    path = tmp_path / "dev-xx-bytes.tsv"
    path.write_bytes("A.\tB.\tneutral\nC.\tD.\tneutral\nE.\tF\xe4lsch\tneutral\n".encode("utf-8")
                     .replace("ä".encode("utf-8"), b"\xe4"))
    expect(lambda: read("xtreme_pair_tsv", path, labels=NLI), path, line=3, field="sentence2",
           says="not valid UTF-8")


def test_undecodable_byte_in_json_names_the_key(tmp_path):
    path = tmp_path / "squad_bytes.json"
    path.write_bytes(b'{"version": "1.1",\n "data": [{"title": "Caf\xe9", "paragraphs": []}]}')
    expect(lambda: read("squad_json", path), path, line=2, field="title", says="byte(s) e9")


@pytest.mark.parametrize("reader,name,field", [
    ("xtreme_pair_tsv", "dev-xx-empty.tsv", "sentence1"),
    ("xtreme_conll_tsv", "train-xx-empty.tsv", "token"),
    ("tatoeba", None, "sentence"),
    ("text_lines", "corpus_empty.txt", "text"),
    ("squad_json", "squad_empty.json", None),
])
def test_empty_file(tmp_path, reader, name, field):
    if reader == "tatoeba":
        prefix = tmp_path / "xx-en"
        path = tmp_path / "xx-en.xx"
        path.write_text("\n")
        target = prefix
    else:
        path = target = tmp_path / name
        path.write_text("")
    expect(lambda: read(reader, target, language="xx", split="train"), path, line=1, field=field,
           says="file is empty")


# ---------------------------------------------------------------- gold and data files that do not pair


def test_pair_gold_count_mismatch(tmp_path):
    data, gold = tmp_path / "test-xx-pairs.tsv", tmp_path / "test-xx-gold.tsv"
    data.write_text("A.\tB.\nC.\tD.\nE.\tF.\n")
    gold.write_text("neutral\nentailment\n")
    err = expect(lambda: read("xtreme_pair_tsv", data, gold=gold, split="test", labels=NLI), gold,
                 line=3, field="label", says="2 labels in the gold file but 3")
    assert str(data) in str(err)


def test_pair_gold_unknown_label(tmp_path):
    data, gold = tmp_path / "test-xx-pairs2.tsv", tmp_path / "test-xx-gold2.tsv"
    data.write_text("A.\tB.\nC.\tD.\n")
    gold.write_text("neutral\ncontradictory\n")
    expect(lambda: read("xtreme_pair_tsv", data, gold=gold, split="test", labels=NLI), gold,
           line=2, field="label")


def test_tag_gold_misaligned(tmp_path):
    data, gold = tmp_path / "test-xx-tokens.tsv", tmp_path / "test-xx-tags.tsv"
    data.write_text("Das\nHaus\n\nEs\nregnet\n")
    gold.write_text("DET\nNOUN\nPUNCT\n\nPRON\nVERB\n")
    err = expect(lambda: read("xtreme_conll_tsv", data, gold=gold, split="test", labels=UPOS), gold,
                 line=3, field="tag", says="not aligned")
    assert f"{data}:3" in str(err)


def test_tag_gold_too_short(tmp_path):
    data, gold = tmp_path / "test-xx-tokens2.tsv", tmp_path / "test-xx-tags2.tsv"
    data.write_text("Das\nHaus\n\nEs\nregnet\n")
    gold.write_text("DET\nNOUN\n\nPRON\n")
    err = expect(lambda: read("xtreme_conll_tsv", data, gold=gold, split="test", labels=UPOS), gold,
                 line=5, field="tag", says="4 lines in the gold file but 5")
    assert str(data) in str(err)


def test_tatoeba_gold_count_and_index(tmp_path):
    prefix = tmp_path / "xx-en"
    Path(f"{prefix}.xx").write_text("eins\nzwei\ndrei\n")
    Path(f"{prefix}.en").write_text("one\nthree\ntwo\n")
    gold = tmp_path / "test-xx-tatoeba.tsv"
    gold.write_text("0\n2\n")
    expect(lambda: read("tatoeba", prefix, gold=gold, split="test", language="xx"), gold, line=3,
           field="index", says="2 gold indices in the gold file but 3")
    gold.write_text("0\n2\n2\n")
    expect(lambda: read("tatoeba", prefix, gold=gold, split="test", language="xx"), gold, line=3,
           field="index", says="already given on line 2")
    gold.write_text("0\n2\n3\n")
    expect(lambda: read("tatoeba", prefix, gold=gold, split="test", language="xx"), gold, line=3,
           field="index", says="past the last line")
    # evaluate.py's layout: per sorted English line, its source sentence (one→eins, three→drei, two→zwei).
    gold.write_text("0\n2\n1\n")
    (pair,) = read("tatoeba", prefix, gold=gold, split="test", language="xx")
    assert pair.gold == (("0", "0"), ("2", "1"), ("1", "2"))


def test_bucc_gold_with_unknown_id(tmp_path):
    prefix = tmp_path / "fr-en.dev"
    Path(f"{prefix}.fr").write_text("fr-000001\tUne phrase.\n")
    Path(f"{prefix}.en").write_text("en-000001\tA sentence.\n")
    Path(f"{prefix}.gold").write_text("fr-000001\ten-000001\nfr-000009\ten-000001\n")
    expect(lambda: read("bucc", prefix, language="fr"), Path(f"{prefix}.gold"), line=2, field="src_id")


def test_xquad_gold_that_does_not_match(tmp_path):
    data, gold = tmp_path / "xquad_blank.json", tmp_path / "xquad_gold.json"
    paragraph = {"context": "Berlin ist groß.", "qas": [
        {"id": "q1", "question": "Was ist groß?", "answers": [{"text": "Berlin", "answer_start": 0}]}]}
    gold.write_text(json.dumps({"version": "1.1", "data": [{"title": "B", "paragraphs": [paragraph]}]}))
    blank = {"context": "Berlin ist groß.", "qas": [
        {"id": "q1", "question": "Was ist klein?", "answers": [{"text": "", "answer_start": 0}]}]}
    data.write_text(json.dumps({"version": "1.1", "data": [{"paragraphs": [blank]}]}))
    expect(lambda: read("squad_json", data, gold=gold, split="test"), gold, record="q1", field="question")
    blank["qas"][0].update(question="Was ist groß?", id="q2")
    data.write_text(json.dumps({"version": "1.1", "data": [{"paragraphs": [blank]}]}))
    expect(lambda: read("squad_json", data, gold=gold, split="test"), gold, record="q2", field="id",
           says="missing from the gold file")


def test_duplicate_question_id(tmp_path):
    path = tmp_path / "squad_dupe.json"
    qa = {"id": "same", "question": "?", "answers": [{"text": "a", "answer_start": 0}]}
    path.write_text(json.dumps({"version": "1.1", "data": [{"title": "T", "paragraphs": [
        {"context": "a b", "qas": [qa, qa]}]}]}))
    expect(lambda: read("squad_json", path), path, record="same", field="id", says="occurs twice")
