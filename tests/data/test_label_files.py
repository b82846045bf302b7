"""Label-folder readers: evaluate.py's parsing, and a precise DataError for every malformed input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from xstilts.data.label_files import (
    LabelFile,
    check_labels,
    read_bucc_candidates,
    read_bucc_sentences,
    read_labels,
    read_pairs,
    read_squad_gold,
    read_squad_predictions,
    read_tags,
)
from xstilts.errors import DataError
from xstilts.tasks import get_task


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(content, str):
        content = content.encode("utf-8")
    path.write_bytes(content)
    return path


def raises_at(path: Path, line: int | None = None, *, field: str | None = None, record: str | None = None,
              match: str | None = None):
    """A ``pytest.raises`` that also checks the file, and the line/field/record that are given."""

    class Check:
        def __enter__(self):
            self.ctx = pytest.raises(DataError, match=match)
            self.info = self.ctx.__enter__()
            return self.info

        def __exit__(self, *exc):
            handled = self.ctx.__exit__(*exc)
            err = self.info.value
            assert err.path == str(path)
            for name, wanted in (("line", line), ("field", field), ("record", record)):
                assert wanted is None or getattr(err, name) == wanted, (name, getattr(err, name), wanted)
            prefix = f"{path}:{line}:" if line is not None else f"{path}"
            assert str(err).startswith(prefix), str(err)
            for shown in (field, record):
                assert shown is None or repr(shown) in str(err), str(err)
            return handled

    return Check()


# ---------------------------------------------------------------- one label per line


def test_labels_are_stripped_lines(tmp_path: Path) -> None:
    f = read_labels(write(tmp_path, "l.tsv", " entailment \r\nneutral\n0"))
    assert f.items == ["entailment", "neutral", "0"] and f.lines == [1, 2, 3]


def test_blank_label_line(tmp_path: Path) -> None:
    path = write(tmp_path, "l.tsv", "a\n \nb\n")
    with raises_at(path, 2, match="blank line"):
        read_labels(path)


def test_label_line_with_several_columns(tmp_path: Path) -> None:
    path = write(tmp_path, "l.tsv", "a\nentailment\tThe cat sat.\tA cat sat.\n")
    with raises_at(path, 2, field="column 2", match="expected 1 tab-separated column"):
        read_labels(path)


def test_undecodable_bytes_name_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, "l.tsv", b"a\nb\n\xffc\n")
    with raises_at(path, 3, match="not valid UTF-8"):
        read_labels(path)


@pytest.mark.parametrize("content", ["", "\n\n  \n"])
def test_empty_file(tmp_path: Path, content: str) -> None:
    path = write(tmp_path, "l.tsv", content)
    with raises_at(path, match="empty"):
        read_labels(path)


def test_missing_file(tmp_path: Path) -> None:
    with raises_at(tmp_path / "nope.tsv", match="not found"):
        read_labels(tmp_path / "nope.tsv")


# ---------------------------------------------------------------- tags


def test_tags_split_into_sentences(tmp_path: Path) -> None:
    f = read_tags(write(tmp_path, "t.tsv", "B-PER\nI-PER\n\nO\n\nNOUN \nVERB"))
    assert f.items == [["B-PER", "I-PER"], ["O"], ["NOUN", "VERB"]]
    assert f.lines == [1, 4, 6] and f.n_lines == 7


def test_trailing_blank_line_ends_the_last_sentence(tmp_path: Path) -> None:
    assert read_tags(write(tmp_path, "t.tsv", "O\n\n")).items == [["O"]]


@pytest.mark.parametrize("content, line", [("O\n\n\nO\n", 3), ("\nO\n", 1), ("O\n\n\n", 3)])
def test_empty_sentence(tmp_path: Path, content: str, line: int) -> None:
    path = write(tmp_path, "t.tsv", content)
    with raises_at(path, line, match="empty sentence"):
        read_tags(path)


def test_token_and_tag_on_one_line(tmp_path: Path) -> None:
    path = write(tmp_path, "t.tsv", "O\nBerlin\tB-LOC\n")
    with raises_at(path, 2, field="tag", match="one tag per line"):
        read_tags(path)


# ---------------------------------------------------------------- the task's label set


def test_label_outside_the_label_set_names_its_line(tmp_path: Path) -> None:
    nli = get_task("xnli").labels
    path = write(tmp_path, "l.tsv", "entailment\nneutral\nperhaps\n")
    with raises_at(path, 3, field="label", match="unknown label 'perhaps'"):
        check_labels(read_labels(path), nli)
    path = write(tmp_path, "ids.tsv", "entailment\n2\n")
    with raises_at(path, 2, field="label", match="'2'.*looks like a class index"):
        check_labels(read_labels(path), nli)
    check_labels(read_labels(write(tmp_path, "p.tsv", "0\n1\n")), get_task("pawsx").labels)
    check_labels(read_labels(write(tmp_path, "t.tsv", "17\n3\n")), get_task("tatoeba").labels)  # no closed set


def test_tag_outside_the_tag_set_names_its_line(tmp_path: Path) -> None:
    # The line of tag j of sentence i is the sentence's first line + j: blank lines are counted.
    path = write(tmp_path, "t.tsv", "B-PER\nI-PER\n\nO\nB-LOC\nB-MISC\n\nO\n")
    with raises_at(path, 6, field="tag", match="unknown label 'B-MISC'"):
        check_labels(read_tags(path), get_task("panx").labels, "tag")
    path = write(tmp_path, "u.tsv", "DET\nNOUN\n\nPROPN\nB-PER\n")
    with raises_at(path, 5, field="tag", match="unknown label 'B-PER'"):
        check_labels(read_tags(path), get_task("udpos").labels, "tag")


def test_in_memory_labels_name_the_item() -> None:
    with pytest.raises(DataError,
                       match="<input>: record 'sentence 2, tag 1': field 'tag': unknown label 'MISC'"):
        check_labels(LabelFile(None, [["O"], ["MISC", "O"]]), get_task("panx").labels, "tag")
    with pytest.raises(DataError, match="record 'label 2': field 'label': unknown label 1"):
        check_labels(LabelFile(None, ["entailment", 1]), get_task("xnli").labels)


# ---------------------------------------------------------------- BUCC pairs and mining files


def test_pairs(tmp_path: Path) -> None:
    assert read_pairs(write(tmp_path, "p.tsv", "de-1\ten-2\t\nde-3\ten-4\n")).items == ["de-1\ten-2", "de-3\ten-4"]


@pytest.mark.parametrize("content, field", [("de-1\ten-2\nde-3\n", "trg_id"), ("de-1\ten-2\nde-3\ten-4\tx\n", "column 3")])
def test_pair_columns(tmp_path: Path, content: str, field: str) -> None:
    path = write(tmp_path, "p.tsv", content)
    with raises_at(path, 2, field=field, match="expected 2 tab-separated column"):
        read_pairs(path)


def test_bucc_candidates(tmp_path: Path) -> None:
    rows = read_bucc_candidates(write(tmp_path, "c.tsv", "1.25\tHallo Welt\tHello world\n0.5\ta\tb\n"))
    assert rows == [(1.25, "Hallo Welt", "Hello world"), (0.5, "a", "b")]


def test_bucc_candidate_errors(tmp_path: Path) -> None:
    path = write(tmp_path, "c.tsv", "1.25\ta\tb\nhigh\ta\tb\n")
    with raises_at(path, 2, field="score", match="expected a number"):
        read_bucc_candidates(path)
    path = write(tmp_path, "c2.tsv", "1.25\ta\n")
    with raises_at(path, 1, field="trg_sentence"):
        read_bucc_candidates(path)


def test_bucc_sentences(tmp_path: Path) -> None:
    text, ids = write(tmp_path, "de.txt", "Hallo\nWelt\n"), write(tmp_path, "de.id", "de-1\nde-2\n")
    assert read_bucc_sentences(text, ids) == [("de-1", "Hallo"), ("de-2", "Welt")]
    short = write(tmp_path, "short.id", "de-1\n")
    with raises_at(short, 2, match="1 ids but 2 sentences"):
        read_bucc_sentences(text, short)


# ---------------------------------------------------------------- SQuAD JSON


def squad(*qas: dict) -> str:
    return json.dumps({"version": "1.1", "data": [{"title": "t", "paragraphs": [{"context": "c", "qas": list(qas)}]}]})


def test_squad_gold(tmp_path: Path) -> None:
    f = read_squad_gold(write(tmp_path, "g.json", squad({"id": "q1", "answers": [{"text": "x", "answer_start": 0}]},
                                                        {"id": "q2", "answers": []})))
    assert [qa["id"] for qa in f.items[0]["paragraphs"][0]["qas"]] == ["q1", "q2"]


def test_bad_json_names_line(tmp_path: Path) -> None:
    path = write(tmp_path, "g.json", '{"data": [\n  {"paragraphs": [}\n]}')
    with raises_at(path, 2, match="invalid JSON"):
        read_squad_gold(path)


@pytest.mark.parametrize("content, record, field", [
    ('{"q1": "x"}', None, "data"),                                   # a prediction file as gold
    (squad({"id": "q1"}), "q1", "answers"),
    (squad({"id": "q1", "answers": [{"answer_start": 0}]}), "q1", "answers[0].text"),
    (squad({"id": "q1", "answers": [{"text": 3}]}), "q1", "answers[0].text"),
    (squad({"answers": []}), "data[0].paragraphs[0].qas[0]", "id"),
    (squad({"id": "q1", "answers": []}, {"id": "q1", "answers": []}), "q1", "id"),
    (json.dumps({"data": [{"title": "t"}]}), "data[0]", "paragraphs"),
    (json.dumps({"data": []}), None, "data"),
])
def test_squad_gold_errors(tmp_path: Path, content: str, record: str | None, field: str) -> None:
    path = write(tmp_path, "g.json", content)
    with raises_at(path, record=record, field=field):
        read_squad_gold(path)


def test_squad_predictions(tmp_path: Path) -> None:
    assert read_squad_predictions(write(tmp_path, "p.json", '{"q1": "x", "q2": ""}')).items == {"q1": "x", "q2": ""}


@pytest.mark.parametrize("content, record, field, match", [
    ('{"q1": "x", "q2": 7}', "q2", "answer", "expected the answer text"),
    ('{"q1": ["x"]}', "q1", "answer", "expected the answer text"),
    ('["x"]', None, None, "expected a JSON object"),
    (squad({"id": "q1", "answers": []}), None, "data", "gold file"),
])
def test_squad_prediction_errors(tmp_path: Path, content: str, record: str | None, field: str | None,
                                 match: str) -> None:
    path = write(tmp_path, "p.json", content)
    with raises_at(path, record=record, field=field, match=match):
        read_squad_predictions(path)


def test_real_label_folder_files_read(data_dir: Path) -> None:
    labels = data_dir / "xtreme" / "labels"
    assert len(read_labels(labels / "xnli" / "test-de.tsv").items) == 5010
    tags = read_tags(labels / "udpos" / "test-de.tsv").items
    assert all(tags) and sum(map(len, tags)) + len(tags) - 1 == 17200
    gold = read_squad_gold(labels / "xquad" / "test-de.json").items
    assert sum(len(p["qas"]) for a in gold for p in a["paragraphs"]) == 1190
