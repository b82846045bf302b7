"""Round-trip and fuzz properties of the file readers.

Round trips: arbitrary valid records, written in each file format exactly as the format's writer
does (XTREME's ``csv.writer(delimiter='\\t')`` for pair TSVs, ``json.dump`` for SQuAD, plain lines
elsewhere), read back with the reader, give exactly what was written (ids, text, labels), for
arbitrary unicode (combining marks, CJK, emoji, RTL, zero-width, NUL and other controls, U+2028 and
U+0085, which ``str.splitlines`` would break on, ...).

What a format cannot hold, and how the property treats it:

* a line break (``\\n``) inside a field: impossible in line formats; the pair TSV writer quotes it,
  and the reader rejects the torn record with a DataError naming the line;
* a tab inside a tab-separated field: the pair TSV writer quotes it (read back exactly); in a
  CoNLL file, which has no quoting, it adds a column: a DataError naming file, line and the
  extra column (BUCC's ``id<TAB>sentence`` lines alike, covered by the fuzz test);
* a ``\\r`` ending the last field of a line: indistinguishable from a CRLF line end, which every
  reader accepts; excluded by construction in the unquoted formats (the pair writer quotes it);
* U+FEFF at the very start of a file: read as a byte-order mark and dropped, so the writer puts a
  BOM in front of such a file (the one unambiguous way to write it);
* a whitespace-only token or sentence: a separator (CoNLL, text lines) or an error (Tatoeba); a
  blank tag in a label-folder gold file is a sentence break; a file of whitespace only is "empty"
  (an error), even when it is one pair TSV record of two empty sentences;
* whitespace in a CCG ``word|POS|supertag`` field: C&C files separate tokens by spaces and the
  reader strips each line, so fields are drawn without whitespace.

Fuzz: arbitrary bytes and arbitrary lines in each format either read or raise a DataError whose
path is the file read and which names a line (or, in JSON, a record id or field) — never another
exception type.
"""

from __future__ import annotations

import csv
import io
import json
import tempfile
from pathlib import Path

from hypothesis import example, given
from hypothesis import strategies as st

from prop_text import FRAGMENTS, property_settings, printable_field
from xstilts.data import readers
from xstilts.data.examples import (Answer, ClassificationExample, QAExample, RetrievalExample,
                                   Sentence, TaggingExample, TextExample)
from xstilts.errors import DataError

SETTINGS = property_settings(150)
BOM = "\ufeff"


def read(name, paths, *, gold=None, split="dev", language="de", labels=None):
    paths = paths if isinstance(paths, list) else [paths]
    return readers.read(name, paths, gold=gold, language=language, split=split, labels=labels)


def write(path: Path, text: str, newline: str = "\n") -> Path:
    """``text`` as UTF-8, with a BOM in front when it starts with U+FEFF (else that is eaten)."""
    if text.startswith(BOM):
        text = BOM + text
    path.write_bytes(text.replace("\n", newline).encode("utf-8") if newline != "\n" else text.encode("utf-8"))
    return path


def field(exclude="\t\n", min_size=0, max_size=12):
    """A field of a line format: arbitrary text but the separators, and no final ``\\r``."""
    return printable_field(exclude, min_size, max_size).filter(lambda s: not s.endswith("\r"))


# A character that is never whitespace (no separators, no controls): makes a field non-blank.
visible = st.characters(exclude_categories=("Cs", "Zs", "Zl", "Zp", "Cc"))


def nonblank(exclude="\t\n", max_size=12):
    """A field of a line format with at least one visible character, built (not filtered) so."""
    part = field(exclude, 0, max_size // 2)
    return st.tuples(part, visible.filter(lambda c: c not in exclude), part).map("".join)


def expect_data_error(fn, path: Path, line: int | None = None):
    try:
        fn()
    except DataError as e:
        assert e.path == str(path) and str(e).startswith(str(path)), str(e)
        if line is not None:
            assert e.line == line and f"{path}:{line}" in str(e), str(e)
        return e
    raise AssertionError("no DataError")


# ------------------------------------------------------------------ CoNLL tsv (UD-POS, PAN-X)

token = nonblank()
tag = field(exclude="\t\n")
conll_sentences = st.lists(st.lists(st.tuples(token, tag), min_size=1, max_size=6), min_size=1, max_size=5)


def conll_text(sentences, blank="") -> str:
    return "".join("".join(f"{w}\t{t}\n" for w, t in s) + blank + "\n" for s in sentences)


@SETTINGS
@given(sentences=conll_sentences, newline=st.sampled_from(["\n", "\r\n"]),
       blank=st.sampled_from(["", " ", "\t", "  \t "]))
def test_conll_round_trip(sentences, newline, blank):
    with tempfile.TemporaryDirectory() as d:
        path = write(Path(d) / "train-de.tsv", conll_text(sentences, blank), newline)
        got = read("xtreme_conll_tsv", path, split="train")
    assert got == [TaggingExample(f"train-de-{i}", tuple(w for w, _ in s), tuple(t for _, t in s))
                   for i, s in enumerate(sentences)]


@SETTINGS
@given(sentences=st.lists(st.lists(st.tuples(token, nonblank()), min_size=1, max_size=6),
                          min_size=1, max_size=5))
@example(sentences=[[("the", "O"), ("the", "")]]).xfail(raises=DataError, reason="blank tag = break")
def test_conll_test_file_with_gold_round_trip(sentences):
    """Tokens-only test file + label-folder gold file: the same examples.

    A gold tag cannot be blank: in the label-folder layout a blank line is a sentence break (the
    data file's ``token<TAB>`` line reads as tag ``""``; the gold file cannot say that).
    """
    with tempfile.TemporaryDirectory() as d:
        data = write(Path(d) / "test-de.tsv", "".join("".join(f"{w}\n" for w, _ in s) + "\n" for s in sentences))
        gold = write(Path(d) / "gold.tsv", "".join("".join(f"{t}\n" for _, t in s) + "\n" for s in sentences))
        got = read("xtreme_conll_tsv", data, gold=gold, split="test")
        bare = read("xtreme_conll_tsv", data, split="test")
    tokens = [tuple(w for w, _ in s) for s in sentences]
    assert got == [TaggingExample(f"test-de-{i}", t, tuple(g for _, g in s))
                   for i, (t, s) in enumerate(zip(tokens, sentences))]
    assert bare == [TaggingExample(f"test-de-{i}", t, None) for i, t in enumerate(tokens)]


@SETTINGS
@given(sentences=conll_sentences, data=st.data())
def test_conll_tab_inside_a_token_is_an_error_at_its_line(sentences, data):
    s = data.draw(st.integers(0, len(sentences) - 1))
    k = data.draw(st.integers(0, len(sentences[s]) - 1))
    w, t = sentences[s][k]
    cut = data.draw(st.integers(0, len(w)))
    sentences = [list(x) for x in sentences]
    sentences[s][k] = (w[:cut] + "\t" + w[cut:], t)
    line = sum(len(x) + 1 for x in sentences[:s]) + k + 1
    with tempfile.TemporaryDirectory() as d:
        path = write(Path(d) / "train-de.tsv", conll_text(sentences))
        err = expect_data_error(lambda: read("xtreme_conll_tsv", path, split="train"), path, line)
    assert err.field in ("column 3", "token")  # an extra column, or an empty token before the tab


# ------------------------------------------------------------------ pair tsv (XNLI, PAWS-X)

sentence = printable_field(exclude="\n")  # tabs, quotes and \r are quoted by the csv writer
label = st.one_of(st.sampled_from(["entailment", "neutral", "contradiction"]),
                  printable_field(exclude="\n", min_size=1))


def pair_text(rows) -> str:
    out = io.StringIO()
    csv.writer(out, delimiter="\t").writerows(rows)  # XTREME's utils_preprocess: \r\n line ends
    return out.getvalue()


@SETTINGS
@given(rows=st.lists(st.tuples(sentence, sentence, label), min_size=1, max_size=6))
def test_pair_tsv_round_trip(rows):
    with tempfile.TemporaryDirectory() as d:
        path = write(Path(d) / "dev-de.tsv", pair_text(rows))
        got = read("xtreme_pair_tsv", path, split="dev")
    assert got == [ClassificationExample(f"dev-de-{i}", a, b, c) for i, (a, b, c) in enumerate(rows)]


@SETTINGS
@given(rows=st.lists(st.tuples(sentence, sentence, st.sampled_from(["0", "1"])), min_size=1, max_size=6)
       .filter(lambda rows: any((a + b).strip() for a, b, _ in rows)))
@example(rows=[("", "", "0")]).xfail(raises=DataError, reason="a whitespace-only file is empty")
def test_pair_tsv_test_file_with_gold_round_trip(rows):
    """Label-less test file + gold labels. A file holding only whitespace (here: one record of two
    empty sentences, ``\t\r\n``) is rejected as empty, by design: that is a truncated download
    far more often than data."""
    with tempfile.TemporaryDirectory() as d:
        data = write(Path(d) / "test-de.tsv", pair_text([(a, b) for a, b, _ in rows]))
        gold = write(Path(d) / "gold.tsv", "".join(f"{c}\n" for _, _, c in rows))
        got = read("xtreme_pair_tsv", data, gold=gold, split="test", labels=("0", "1"))
    assert got == [ClassificationExample(f"test-de-{i}", a, b, c) for i, (a, b, c) in enumerate(rows)]


@SETTINGS
@given(rows=st.lists(st.tuples(sentence, sentence, label), min_size=1, max_size=4), data=st.data())
def test_pair_tsv_newline_inside_a_sentence_is_an_error_at_its_line(rows, data):
    r = data.draw(st.integers(0, len(rows) - 1))
    col = data.draw(st.integers(0, 1))
    text = rows[r][col]
    cut = data.draw(st.integers(0, len(text)))
    rows = [list(x) for x in rows]
    rows[r][col] = text[:cut] + "\n" + text[cut:]
    before = pair_text(rows[:r])
    line = before.count("\n") + 1
    with tempfile.TemporaryDirectory() as d:
        path = write(Path(d) / "dev-de.tsv", pair_text(rows))
        expect_data_error(lambda: read("xtreme_pair_tsv", path, split="dev"), path, line)


# ------------------------------------------------------------------ SQuAD json


any_text = printable_field(exclude="", max_size=15)


@st.composite
def squad_documents(draw):
    """A SQuAD-layout document and the examples it must read back as."""
    examples, data = [], []
    n = 0
    for _ in range(draw(st.integers(1, 3))):
        title = draw(st.one_of(st.none(), any_text))
        paragraphs = []
        for _ in range(draw(st.integers(1, 3))):
            context = draw(any_text)
            qas = []
            for _ in range(draw(st.integers(0, 3))):
                qid = f"{draw(any_text)}#{n}"  # unique
                n += 1
                question = draw(any_text)
                answers = []
                impossible = not context or draw(st.integers(0, 4)) == 0
                if not impossible:
                    for _ in range(draw(st.integers(1, 3))):
                        start = draw(st.integers(0, len(context) - 1))
                        end = draw(st.integers(start + 1, len(context)))
                        answers.append(Answer(context[start:end], start))
                qa = {"id": qid, "question": question,
                      "answers": [{"text": a.text, "answer_start": a.start} for a in answers]}
                if impossible or draw(st.booleans()):
                    qa["is_impossible"] = impossible
                qas.append(qa)
                examples.append(QAExample(qid, question, context, tuple(answers), impossible, title or ""))
            paragraphs.append({"context": context, "qas": qas})
        article = {"paragraphs": paragraphs}
        if title is not None:
            article["title"] = title
        data.append(article)
    return {"version": "v2.0", "data": data}, examples


@SETTINGS
@given(doc=squad_documents(), ascii_only=st.booleans(), indent=st.sampled_from([None, 1]))
def test_squad_json_round_trip(doc, ascii_only, indent):
    document, examples = doc
    with tempfile.TemporaryDirectory() as d:
        path = write(Path(d) / "dev.json", json.dumps(document, ensure_ascii=ascii_only, indent=indent))
        got = read("squad_json", path)
    assert got == examples


@SETTINGS
@given(doc=squad_documents())
def test_squad_blanked_test_file_with_gold_round_trip(doc):
    """XTREME's remove_qa_test_annotations layout + the original file as gold: the original."""
    document, examples = doc
    blanked = {"data": [{"paragraphs": [{"context": ex.context, "qas": [
        {"id": ex.id, "question": ex.question, "answers": [{"answer_start": 0, "text": ""}]}]}]}
        for ex in examples]}
    with tempfile.TemporaryDirectory() as d:
        data = write(Path(d) / "test.json", json.dumps(blanked, ensure_ascii=False))
        gold = write(Path(d) / "gold.json", json.dumps(document, ensure_ascii=False))
        if not examples:
            return
        bare = read("squad_json", data, split="test")
        assert bare == [QAExample(ex.id, ex.question, ex.context, ()) for ex in examples]
        if any(ex.is_impossible for ex in examples):
            return  # a blanked question reads as answerable-but-unlabelled; gold may say impossible
        got = read("squad_json", data, gold=gold, split="test")
    assert got == examples


# ------------------------------------------------------------------ text lines


@SETTINGS
@given(lines=st.lists(st.one_of(nonblank("\n"), st.sampled_from(["", " ", "\t", "\u3000"])),
                      min_size=1, max_size=8).filter(lambda ls: any(x.strip() for x in ls)),
       newline=st.sampled_from(["\n", "\r\n"]))
def test_text_lines_round_trip(lines, newline):
    with tempfile.TemporaryDirectory() as d:
        path = write(Path(d) / "train.txt", "".join(f"{x}\n" for x in lines), newline)
        got = read("text_lines", path, split="train")
    kept = [x for x in lines if x.strip()]
    assert got == [TextExample(f"train-de-{i}", x) for i, x in enumerate(kept)]


# ------------------------------------------------------------------ Tatoeba / BUCC


@SETTINGS
@given(pairs=st.lists(st.tuples(nonblank("\n"), nonblank("\n")), min_size=1, max_size=8),
       data=st.data())
def test_tatoeba_round_trip(pairs, data):
    n = len(pairs)
    # The English side is written in a shuffled order; gold line j = index of its source sentence.
    order = data.draw(st.permutations(range(n)))
    with tempfile.TemporaryDirectory() as d:
        prefix = Path(d) / "de-en"
        write(Path(d) / "de-en.de", "".join(f"{s}\n" for s, _ in pairs))
        write(Path(d) / "de-en.en", "".join(f"{pairs[i][1]}\n" for i in order))
        gold = write(Path(d) / "gold.tsv", "".join(f"{i}\n" for i in order))
        got = read("tatoeba", prefix, gold=gold, split="test")
    assert got == [RetrievalExample(
        "test-de-en", tuple(Sentence(str(i), s) for i, (s, _) in enumerate(pairs)),
        tuple(Sentence(str(j), pairs[i][1]) for j, i in enumerate(order)),
        tuple((str(i), str(j)) for j, i in enumerate(order)))]


sentence_id = nonblank()


@SETTINGS
@given(src=st.dictionaries(sentence_id, field("\n\t"), min_size=1, max_size=6),
       trg=st.dictionaries(sentence_id, field("\n\t"), min_size=1, max_size=6), data=st.data())
def test_bucc_round_trip(src, trg, data):
    gold = data.draw(st.lists(st.tuples(st.sampled_from(sorted(src)), st.sampled_from(sorted(trg))),
                              max_size=5))
    with tempfile.TemporaryDirectory() as d:
        prefix = Path(d) / "de-en.dev"
        write(Path(d) / "de-en.dev.de", "".join(f"{k}\t{v}\n" for k, v in src.items()))
        write(Path(d) / "de-en.dev.en", "".join(f"{k}\t{v}\n" for k, v in trg.items()))
        if gold:
            write(Path(d) / "de-en.dev.gold", "".join(f"{a}\t{b}\n" for a, b in gold))
        got = read("bucc", prefix, split="dev")
    assert got == [RetrievalExample("dev-de-en", tuple(Sentence(k, v) for k, v in src.items()),
                                    tuple(Sentence(k, v) for k, v in trg.items()), tuple(gold))]


# ------------------------------------------------------------------ CCG .stagged


# C&C fields hold no whitespace (tokens are separated by single spaces, lines are stripped) and
# no "|"; anything else goes.
ccg_field = st.lists(st.one_of(visible.filter(lambda c: c != "|"),
                               st.sampled_from([f for f in FRAGMENTS
                                                if "|" not in f and not any(c.isspace() for c in f)])),
                     min_size=1, max_size=5).map("".join)
ccg_sentences = st.lists(st.lists(st.tuples(ccg_field, ccg_field, ccg_field), min_size=1, max_size=6),
                         min_size=1, max_size=5)


def ccg_text(sentences, comment=True) -> str:
    head = "# this file was generated by the following command(s):\n" if comment else ""
    return head + "".join(" ".join("|".join(t) for t in s) + "\n" for s in sentences)


@SETTINGS
@given(sentences=ccg_sentences, comment=st.booleans(), newline=st.sampled_from(["\n", "\r\n"]))
def test_ccg_round_trip(sentences, comment, newline):
    with tempfile.TemporaryDirectory() as d:
        path = write(Path(d) / "train.stagged", ccg_text(sentences, comment), newline)
        got = read("ccg_stagged", path, split="train")
    assert got == [TaggingExample(f"train-de-{i}", tuple(w for w, _, _ in s), tuple(t for _, _, t in s))
                   for i, s in enumerate(sentences)]


# ------------------------------------------------------------------ fuzz: malformed input


junk_line = st.one_of(
    printable_field(exclude="\n", max_size=8),
    st.lists(st.sampled_from(["a", "B-PER", "O", "\t", '"', "|", " ", "0", "1", "-1", "9", "x|y|z",
                              "entailment", "{", "}", "\r", "\ufeff", "#", "# "]), max_size=8).map("".join),
)
junk_text = st.lists(junk_line, max_size=8).map(lambda ls: "".join(f"{x}\n" for x in ls))
junk_bytes = st.one_of(st.binary(max_size=40), junk_text.map(lambda s: s.encode("utf-8")),
                       st.tuples(junk_text, st.binary(max_size=4), junk_text).map(
                           lambda t: t[0].encode() + t[1] + t[2].encode()))

LINE_READERS = {  # name -> (split, labels)
    "xtreme_conll_tsv": ("train", None), "xtreme_pair_tsv": ("test", ("0", "1")),
    "text_lines": ("train", None), "ccg_stagged": ("train", None),
}


def _lines(data: bytes) -> int:
    return data.count(b"\n") + (0 if not data or data.endswith(b"\n") else 1)


def _fails_well(fn, paths, *, json=False):
    """``fn()`` succeeds or raises a DataError naming one of ``paths`` and a line in it (JSON: a
    line, a record id, or — for the document's top level — the field)."""
    try:
        fn()
    except DataError as e:
        assert e.path in {str(p) for p in paths}, (e.path, paths)
        if json:
            assert e.line is not None or e.record is not None or e.field is not None, str(e)
        else:
            assert e.line is not None and str(e).startswith(f"{e.path}:{e.line}: "), str(e)
            assert 1 <= e.line <= _lines(Path(e.path).read_bytes()) + 1, str(e)  # + 1: "missing at the end"
        assert str(e).startswith(e.path)


@SETTINGS
@given(name=st.sampled_from(sorted(LINE_READERS)), content=junk_bytes, gold=st.one_of(st.none(), junk_bytes))
def test_line_readers_fail_only_with_data_errors(name, content, gold):
    split, labels = LINE_READERS[name]
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "data.tsv"
        path.write_bytes(content)
        gold_path = None
        if gold is not None and name.startswith("xtreme"):
            gold_path = Path(d) / "gold.tsv"
            gold_path.write_bytes(gold)
        _fails_well(lambda: read(name, path, gold=gold_path, split=split, labels=labels),
                    [path] + ([gold_path] if gold_path else []))
        if name.startswith("xtreme"):
            _fails_well(lambda: read(name, path, split="dev", labels=labels), [path])


@st.composite
def mutated(draw, text: str) -> bytes:
    """A valid file with 1–3 local faults: a line inserted, replaced, deleted or cut short, a tab,
    quote, "|" or "\\r" inserted, or an invalid UTF-8 byte."""
    lines = text.split("\n")
    raw = None
    for _ in range(draw(st.integers(1, 3))):
        i = draw(st.integers(0, len(lines) - 1))
        op = draw(st.sampled_from(["insert", "replace", "delete", "cut", "char", "byte"]))
        if op == "insert":
            lines.insert(i, draw(junk_line))
        elif op == "replace":
            lines[i] = draw(junk_line)
        elif op == "delete" and len(lines) > 1:
            del lines[i]
        elif op == "cut":
            lines[i] = lines[i][:draw(st.integers(0, len(lines[i])))]
        elif op == "char":
            k = draw(st.integers(0, len(lines[i])))
            lines[i] = lines[i][:k] + draw(st.sampled_from(["\t", '"', "|", "\r", " ", "\ufeff"])) + lines[i][k:]
        else:
            raw = draw(st.sampled_from([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\x80"]))
    data = "\n".join(lines).encode("utf-8")
    if raw is not None:
        k = draw(st.integers(0, len(data)))
        data = data[:k] + raw + data[k:]
    return data


VALID_FILES = {  # reader -> (strategy of valid file text, split, labels)
    "xtreme_conll_tsv": (conll_sentences.map(conll_text), "train", None),
    "xtreme_pair_tsv": (st.lists(st.tuples(sentence, sentence, st.sampled_from(["0", "1"])), min_size=1,
                                 max_size=4).map(pair_text), "dev", ("0", "1")),
    "text_lines": (st.lists(nonblank("\n"), min_size=1, max_size=5).map(lambda ls: "\n".join(ls) + "\n"),
                   "train", None),
    "ccg_stagged": (ccg_sentences.map(ccg_text), "train", None),
}


@SETTINGS
@given(name=st.sampled_from(sorted(VALID_FILES)), data=st.data())
def test_damaged_files_fail_only_with_data_errors_at_a_line_of_the_file(name, data):
    valid, split, labels = VALID_FILES[name]
    content = data.draw(mutated(data.draw(valid)))
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "data.txt"
        path.write_bytes(content)
        try:
            read(name, path, split=split, labels=labels)
        except DataError as e:
            assert e.path == str(path) and str(e).startswith(f"{path}:{e.line}: "), str(e)
            assert 1 <= e.line <= _lines(content) + 1, (e.line, content)


@SETTINGS
@given(src=junk_bytes, trg=junk_bytes, gold=st.one_of(st.none(), junk_bytes))
def test_retrieval_readers_fail_only_with_data_errors(src, trg, gold):
    with tempfile.TemporaryDirectory() as d:
        for name, prefix in (("tatoeba", Path(d) / "de-en"), ("bucc", Path(d) / "de-en.dev")):
            files = [prefix.with_name(prefix.name + ".de"), prefix.with_name(prefix.name + ".en")]
            files[0].write_bytes(src)
            files[1].write_bytes(trg)
            gold_path = None
            if gold is not None:
                gold_path = Path(d) / f"{name}-gold.tsv"
                gold_path.write_bytes(gold)
                files.append(gold_path)
            _fails_well(lambda: read(name, prefix, gold=gold_path, split="test"), files)


json_value = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-3, 50), st.floats(allow_nan=True), any_text),
    lambda children: st.one_of(st.lists(children, max_size=3),
                               st.dictionaries(st.sampled_from(
                                   ["data", "paragraphs", "context", "qas", "id", "question", "answers",
                                    "text", "answer_start", "is_impossible", "title", "x"]), children,
                                   max_size=4)),
    max_leaves=12)


@st.composite
def broken_squad(draw):
    """A valid document with one value replaced by an arbitrary JSON value, or its text cut."""
    document, _ = draw(squad_documents())

    def paths(obj, prefix=()):
        yield prefix
        if isinstance(obj, dict):
            for k, v in obj.items():
                yield from paths(v, prefix + (k,))
        elif isinstance(obj, list):
            for i, v in enumerate(obj):
                yield from paths(v, prefix + (i,))

    where = draw(st.sampled_from(list(paths(document))))
    replacement = draw(json_value)
    if not where:
        document = replacement
    else:
        parent = document
        for k in where[:-1]:
            parent = parent[k]
        if draw(st.booleans()) and isinstance(parent, dict):
            del parent[where[-1]]
        else:
            parent[where[-1]] = replacement
    text = json.dumps(document, ensure_ascii=draw(st.booleans()))
    if draw(st.integers(0, 4)) == 0:
        cut = draw(st.integers(0, len(text)))
        text = text[:cut] + draw(junk_line) + text[cut + draw(st.integers(0, 3)):]
    return text


@SETTINGS
@given(text=broken_squad())
# Bug found here: nesting deeper than the JSON parser's recursion limit raised RecursionError.
@example(text='{"data": [\n' + "[" * 100_000 + "\n]}")
def test_squad_json_fails_only_with_data_errors(text):
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "dev.json"
        path.write_bytes(text.encode("utf-8", errors="surrogatepass"))
        _fails_well(lambda: read("squad_json", path), [path], json=True)


def test_deep_json_nesting_is_a_data_error_at_its_line():
    """The RecursionError regression, pinned: the error names the line of the deepest nesting."""
    with tempfile.TemporaryDirectory() as d:
        path = write(Path(d) / "dev.json", '{"data": [\n"[[[ in a string",\n' + "[" * 100_000 + "\n]}")
        expect_data_error(lambda: read("squad_json", path), path, line=3)
        good = '{"uid": "a", "context": "A man.", "hypothesis": "A person.", "label": "e"}\n'
        jsonl = write(Path(d) / "train.jsonl", good + "[" * 100_000 + "\n")
        expect_data_error(lambda: read("anli_jsonl", jsonl), jsonl, line=2)
