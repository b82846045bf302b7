"""Every file of the shared real data loads, and yields the example count MANIFEST.md states.

Counts are parsed from MANIFEST.md (its #examples column), never hard-coded. Files go through
``load_examples`` where a task template covers them, else (XQuAD label files of languages without
a ``download/`` file, ANLI rounds one by one) through the reader directly. The end of the file
covers formats with no shared data (BUCC, CCG, SNLI, GLUE TSVs, raw text) on small files written
in the exact release layout.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

import pytest

from xstilts.data import readers
from xstilts.data.examples import RetrievalExample, Sentence
from xstilts.data.loading import load_examples
from xstilts.tasks import get_task

SHARED_DATA = Path(__file__).resolve().parents[3] / "shared" / "data"


def _manifest_rows() -> list[tuple[str, int]]:
    """``(path, #examples)`` for each file row of MANIFEST.md (empty if the data is absent)."""
    import os

    root = Path(os.environ.get("XSTILTS_DATA_DIR", SHARED_DATA))
    manifest = root / "MANIFEST.md"
    if not manifest.exists():
        return []
    rows = []
    header = None
    for line in manifest.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if header is None and "#examples" in cells:
            header = cells
            continue
        if header and len(cells) == len(header) and not set(cells[0]) <= {"-"}:
            rows.append((cells[header.index("path")], int(cells[header.index("#examples")])))
    return rows


ROWS = _manifest_rows()


@functools.lru_cache(maxsize=None)
def _load(data_dir: Path, task: str, split: str, language: str = "en", require_labels: bool = False):
    return load_examples(task, split, language, data_dir=data_dir, require_labels=require_labels)


def _read(data_dir: Path, reader: str, rel: str, **kw):
    return readers.read(reader, [data_dir / rel], gold=None, language=kw.get("language", "en"),
                        split=kw.get("split", "dev"), labels=kw.get("labels"))


def _count(data_dir: Path, path: str) -> int:
    """How many examples our readers find in ``path``, in MANIFEST.md's unit for that file."""
    if re.fullmatch(r"english/anli/anli_v1\.0/R\d/dev\.jsonl", path):
        return len(_read(data_dir, "anli_jsonl", path, labels=get_task("anli").labels))
    english = {
        "english/commonsenseqa/dev_rand_split.jsonl": "commonsenseqa",
        "english/cosmosqa/valid.csv": "cosmosqa",
        "english/hellaswag/hellaswag_val.jsonl": "hellaswag",
        "english/squad/dev-v1.1.json": "squad_v1",
        "english/squad/dev-v2.0.json": "squad_v2",
    }
    if path in english:
        return len(_load(data_dir, english[path], "dev"))
    if m := re.fullmatch(r"xtreme/download/(xnli|pawsx|udpos)/(train|dev|test)-(\w+)\.tsv", path):
        return len(_load(data_dir, *m.groups()))
    if m := re.fullmatch(r"xtreme/labels/(xnli|pawsx)/test-(\w+)\.tsv", path):
        examples = _load(data_dir, m[1], "test", m[2], require_labels=True)
        return sum(ex.label is not None for ex in examples)
    if m := re.fullmatch(r"xtreme/labels/udpos/test-(\w+)\.tsv", path):
        examples = _load(data_dir, "udpos", "test", m[1], require_labels=True)
        return sum(ex.tags is not None for ex in examples)
    if m := re.fullmatch(r"xtreme/download/tatoeba/(\w+)-en\.(\w+)", path):
        (pair,) = _load(data_dir, "tatoeba", "test", m[1])
        return len(pair.target if m[2] == "en" else pair.source)
    if m := re.fullmatch(r"xtreme/labels/tatoeba/test-(\w+)\.tsv", path):
        (pair,) = _load(data_dir, "tatoeba", "test", m[1], require_labels=True)
        return len(pair.gold)
    if m := re.fullmatch(r"xtreme/download/xquad/xquad\.(\w+)\.json", path):
        return len(_load(data_dir, "xquad", "test", m[1]))
    if m := re.fullmatch(r"xtreme/labels/xquad/test-(\w+)\.json", path):
        if (data_dir / f"xtreme/download/xquad/xquad.{m[1]}.json").exists():
            examples = _load(data_dir, "xquad", "test", m[1], require_labels=True)
        else:  # no blanked download file for this language: read the original file itself
            examples = _read(data_dir, "squad_json", path, split="test", language=m[1])
        return sum(bool(ex.answers) for ex in examples)
    raise AssertionError(f"MANIFEST.md lists {path}, which this test does not know how to load")


@pytest.mark.skipif(not ROWS, reason="shared data (MANIFEST.md) not found")
@pytest.mark.parametrize("path,expected", ROWS, ids=[p for p, _ in ROWS])
def test_every_manifest_file_loads_with_its_count(data_dir, path, expected):
    assert (data_dir / path).is_file()
    assert _count(data_dir, path) == expected


def test_manifest_is_parsed(data_dir):
    # The counts above only mean something if every row was found (149 files in this release).
    total = re.search(r"(\d+) files, \d+ bytes in total", (data_dir / "MANIFEST.md").read_text())
    assert total and len(ROWS) == int(total[1])


def test_anli_dev_concatenates_the_three_rounds(data_dir):
    counts = dict(ROWS)
    rounds = [counts[f"english/anli/anli_v1.0/R{r}/dev.jsonl"] for r in (1, 2, 3)]
    examples = _load(data_dir, "anli", "dev")
    assert len(examples) == sum(rounds)
    assert {ex.label for ex in examples} == set(get_task("anli").labels)


@pytest.mark.parametrize("task,split,language", [
    ("xnli", "dev", "de"), ("xnli", "test", "de"), ("pawsx", "dev", "de"), ("pawsx", "test", "de"),
    ("udpos", "train", "en"), ("udpos", "test", "en"), ("hellaswag", "dev", "en"),
    ("commonsenseqa", "dev", "en"), ("cosmosqa", "dev", "en"), ("squad_v1", "dev", "en"),
    ("xquad", "test", "de"),
])
def test_labelled_splits_are_fully_labelled(data_dir, task, split, language):
    examples = _load(data_dir, task, split, language, require_labels=(split == "test"))
    t = get_task(task)
    for ex in examples:
        if t.format == "tagging":
            assert ex.tags is not None and len(ex.tags) == len(ex.tokens) and set(ex.tags) <= set(t.labels)
        elif t.format == "span_qa":
            assert ex.answers and all(ex.context[a.start:a.start + len(a.text)] == a.text for a in ex.answers)
        elif t.format == "multiple_choice":
            assert ex.label is not None and 0 <= ex.label < len(ex.choices)
        else:
            assert ex.label in t.labels


def test_test_splits_without_gold_are_unlabelled(data_dir):
    # Read the stripped download files alone: nothing may invent labels.
    xnli = readers.read("xtreme_pair_tsv", [data_dir / "xtreme/download/xnli/test-de.tsv"], gold=None,
                        language="de", split="test", labels=get_task("xnli").labels)
    assert {ex.label for ex in xnli} == {None}
    pos = readers.read("xtreme_conll_tsv", [data_dir / "xtreme/download/udpos/test-de.tsv"], gold=None,
                       language="de", split="test")
    assert {ex.tags for ex in pos} == {None}
    xquad = readers.read("squad_json", [data_dir / "xtreme/download/xquad/xquad.de.json"], gold=None,
                         language="de", split="test")
    assert all(ex.answers == () and not ex.is_impossible for ex in xquad)


def test_csv_quoting_of_xtreme_tsv_is_undone(data_dir):
    # utils_preprocess wrote this PAWS-X row with csv.writer: "Die ""IPA"" besteht …".
    examples = _load(data_dir, "pawsx", "dev", "de")
    texts = {ex.text_a for ex in examples}
    assert 'Die "IPA" besteht aus 500 ergänzenden, 300 Basis-Symbolen und 200 zusätzlichen Symbolen.' in texts
    assert not any(t.startswith('"') and t.endswith('"') and '""' in t for t in texts)


def test_squad_v2_has_impossible_questions(data_dir):
    examples = _load(data_dir, "squad_v2", "dev")
    impossible = [ex for ex in examples if ex.is_impossible]
    assert impossible and all(ex.answers == () for ex in impossible)
    assert all(ex.answers for ex in examples if not ex.is_impossible)


def test_xquad_gold_merge_keeps_the_download_order(data_dir):
    blank = readers.read("squad_json", [data_dir / "xtreme/download/xquad/xquad.en.json"], gold=None,
                         language="en", split="test")
    merged = _load(data_dir, "xquad", "test", "en", require_labels=True)
    assert [ex.id for ex in merged] == [ex.id for ex in blank]
    assert all(ex.title for ex in merged)  # titles come back from the original file


def test_tatoeba_gold_pairs_translations(data_dir):
    (pair,) = _load(data_dir, "tatoeba", "test", "de", require_labels=True)
    target = {s.id: s.text for s in pair.target}
    assert [s.text for s in pair.target] == sorted(s.text for s in pair.target)  # XTREME sorted it
    assert len({t for _, t in pair.gold}) == len(pair.gold) == len(pair.source)
    source = {s.id: s.text for s in pair.source}
    # Spot check: a sentence about Tom pairs with an English sentence about Tom.
    tom = [(source[s], target[t]) for s, t in pair.gold if "Tom" in source[s]]
    assert tom and sum("Tom" in en for _, en in tom) / len(tom) > 0.9


# ---------------------------------------------------------------- formats with no shared data


def test_bucc_reads_the_xtreme_download_layout(data_dir, tmp_path):
    # BUCC is not in the shared data: build de-en.dev/test files in its layout from Tatoeba lines.
    (pair,) = _load(data_dir, "tatoeba", "test", "de", require_labels=True)
    src = {s.id: s.text for s in pair.source}
    trg = {s.id: s.text for s in pair.target}
    gold = list(pair.gold)[:20]
    folder = tmp_path / "xtreme/download/bucc2018"
    folder.mkdir(parents=True)
    sid = lambda lang, k: f"{lang}-{int(k) + 1:06d}"  # noqa: E731  BUCC ids: de-000001
    for split in ("dev", "test"):
        (folder / f"de-en.{split}.de").write_text("".join(f"{sid('de', k)}\t{v}\n" for k, v in src.items()))
        (folder / f"de-en.{split}.en").write_text("".join(f"{sid('en', k)}\t{v}\n" for k, v in trg.items()))
    pairs = "".join(f"{sid('de', s)}\t{sid('en', t)}\n" for s, t in gold)
    (folder / "de-en.dev.gold").write_text(pairs)
    labels = tmp_path / "xtreme/labels/bucc2018"
    labels.mkdir(parents=True)
    (labels / "test-de.tsv").write_text(pairs)

    for split in ("dev", "test"):
        (ex,) = load_examples("bucc2018", split, "de", data_dir=tmp_path, require_labels=True)
        assert isinstance(ex, RetrievalExample)
        assert len(ex.source) == len(src) and len(ex.target) == len(trg)
        assert ex.source[0] == Sentence("de-000001", src["0"])
        assert ex.gold == tuple((sid("de", s), sid("en", t)) for s, t in gold)
    (labels / "test-de.tsv").unlink()
    (unlabelled,) = load_examples("bucc2018", "test", "de", data_dir=tmp_path)
    assert unlabelled.gold == ()


def test_ccg_stagged(tmp_path):
    path = tmp_path / "wsj00_sample.stagged"
    path.write_text(
        "# this file was generated by the following command(s):\n"
        "#   pipe/generate stagged\n"
        "\n"
        "Pierre|NNP|N/N Vinken|NNP|N ,|,|, 61|CD|N/N years|NNS|N old|JJ|(S[adj]\\NP)\\NP ,|,|, "
        "will|MD|(S[dcl]\\NP)/(S[b]\\NP) join|VB|((S[b]\\NP)/PP)/NP the|DT|NP[nb]/N board|NN|N "
        "as|IN|PP/NP a|DT|NP[nb]/N nonexecutive|JJ|N/N director|NN|N Nov.|NNP|((S\\NP)\\(S\\NP))/N[num] "
        "29|CD|N[num] .|.|.\n"
        "Mr.|NNP|N/N Vinken|NNP|N is|VBZ|(S[dcl]\\NP)/NP chairman|NN|N .|.|.\n"
    )
    a, b = readers.read("ccg_stagged", [path], gold=None, language="en", split="dev")
    assert a.tokens[:3] == ("Pierre", "Vinken", ",") and a.tags[5] == "(S[adj]\\NP)\\NP"
    assert len(a.tokens) == len(a.tags) == 18
    assert b.tags == ("N/N", "N", "(S[dcl]\\NP)/NP", "N", ".")


def test_snli_excludes_and_counts_no_consensus_pairs(tmp_path):
    path = tmp_path / "snli_1.0_dev.jsonl"
    rows = [
        '{"annotator_labels": ["neutral"], "captionID": "1.jpg#0", "gold_label": "neutral", "pairID": "1.jpg#0r1n", '
        '"sentence1": "A person on a horse.", "sentence2": "A person is training.", "sentence1_binary_parse": "( A person )"}',
        '{"annotator_labels": ["neutral", "contradiction", "entailment"], "gold_label": "-", "pairID": "2.jpg#0r1c", '
        '"sentence1": "Two men.", "sentence2": "Nobody."}',
        '{"annotator_labels": ["entailment"], "gold_label": "entailment", "pairID": "3.jpg#0r1e", '
        '"sentence1": "Children smiling.", "sentence2": "Kids are happy."}',
    ]
    path.write_text("\n".join(rows) + "\n")
    out = readers.read("snli_jsonl", [path], gold=None, language="en", split="dev",
                       labels=get_task("snli").labels)
    assert [ex.id for ex in out] == ["1.jpg#0r1n", "3.jpg#0r1e"]
    assert out.excluded == {"gold_label '-' (no annotator majority)": 1}


def test_glue_tsvs_find_columns_by_header(tmp_path):
    mnli = tmp_path / "dev_matched.tsv"
    header = ("index promptID pairID genre sentence1_binary_parse sentence2_binary_parse sentence1_parse "
              "sentence2_parse sentence1 sentence2 label1 label2 label3 label4 label5 gold_label").split()
    row = ["0", "63735", "63735n", "slate", "( ( The ... ) )", "( ( The ... ) )", "(ROOT ...)", "(ROOT ...)",
           'The new rights are nice enough', 'Everyone really likes the "newest" benefits',
           "neutral", "entailment", "neutral", "neutral", "neutral", "neutral"]
    mnli.write_text("\t".join(header) + "\n" + "\t".join(row) + "\n")
    (ex,) = load_examples("mnli", "dev", data_dir=_english_root(tmp_path, "glue/MNLI/dev_matched.tsv", mnli))
    assert (ex.id, ex.text_b, ex.label) == ("63735n", 'Everyone really likes the "newest" benefits', "neutral")

    qqp = tmp_path / "dev.tsv"
    qqp.write_text("id\tqid1\tqid2\tquestion1\tquestion2\tis_duplicate\n"
                   "201359\t303345\t303346\tWhy are African-Americans so beautiful?\t"
                   "Why are hispanics so beautiful?\t0\n")
    (ex,) = load_examples("qqp", "dev", data_dir=_english_root(tmp_path, "glue/QQP/dev.tsv", qqp))
    assert (ex.id, ex.label) == ("201359", "0")
    test = tmp_path / "qqp_test.tsv"
    test.write_text("id\tquestion1\tquestion2\n0\tHow?\tWhy?\n")
    (ex,) = readers.read("glue_qqp_tsv", [test], gold=None, language="en", split="test", labels=("0", "1"))
    assert ex.label is None


def _english_root(tmp_path: Path, rel: str, source: Path) -> Path:
    root = tmp_path / "root"
    target = root / "english" / rel
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(source.read_bytes())
    return root


def test_text_lines_skip_blank_separators(tmp_path):
    path = tmp_path / "corpus_sample.de.txt"
    path.write_text("Erster Satz.\n\n   \nZweiter Satz.\n")
    out = readers.read("text_lines", [path], gold=None, language="de", split="train")
    assert [(ex.id, ex.text) for ex in out] == [("train-de-0", "Erster Satz."), ("train-de-1", "Zweiter Satz.")]
