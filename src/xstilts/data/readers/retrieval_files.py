"""Bitext retrieval files as XTREME's ``download/`` leaves them: Tatoeba and BUCC 2018.

Both readers take a path *prefix* and return one :class:`RetrievalExample` per language pair.

``tatoeba`` — prefix ``…/tatoeba/<xx>-en``: ``<prefix>.<xx>`` holds the source sentences and
``<prefix>.en`` their English translations, one per line, the English side **sorted**
(XTREME's ``tatoeba_preprocess`` hides the alignment). The gold file
``labels/tatoeba/test-<xx>.tsv`` follows XTREME's ``evaluate.py``: one line per line of the sorted
English file, the 0-based index of its source sentence — the layout of ``run_retrieval.py``'s
predictions, whose ``similarity_search`` indexes the source embeddings and queries them with the
English ones. It must be a permutation of 0..n−1. Sentence ids are the 0-based line indices as
strings.

``bucc`` — prefix ``…/bucc2018/<xx>-en.<split>`` (BUCC 2018 after XTREME's download script):
``<prefix>.<xx>`` and ``<prefix>.en`` hold ``id<TAB>sentence`` lines (ids like ``de-000001``);
the gold pairs ``src_id<TAB>trg_id`` are in ``<prefix>.gold`` for dev, and for test (whose gold file
the download script deletes) in the label-folder file ``labels/bucc2018/test-<xx>.tsv``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from xstilts.data.examples import RetrievalExample, Sentence
from xstilts.data.readers import reader
from xstilts.data.readers._io import Where, count_mismatch, read_lines, split_tsv
from xstilts.errors import DataError


@reader("tatoeba")
def read_tatoeba(paths: Sequence[Path], *, gold: Path | None = None, language: str, split: str,
                 labels: Sequence[str] | None = None) -> list[RetrievalExample]:
    """One example per prefix: source sentences, sorted English sentences, gold pairs if given."""
    return [_tatoeba_pair(Path(prefix), gold, language, split) for prefix in _one_prefix(paths, gold)]


def _tatoeba_pair(prefix: Path, gold: Path | None, language: str, split: str) -> RetrievalExample:
    src_path, trg_path = _side(prefix, language), _side(prefix, "en")
    source = _plain_sentences(src_path)
    target = _plain_sentences(trg_path)
    if len(source) != len(target):
        # Tatoeba is a 1:1 bitext: a length difference means a truncated or mismatched file.
        raise DataError(trg_path, f"{len(target)} English sentences but {len(source)} in {src_path}",
                        line=min(len(source), len(target)) + 1)
    pairs: tuple[tuple[str, str], ...] = ()
    if gold is not None:
        pairs = tuple((str(i), str(j)) for j, i in enumerate(_tatoeba_gold(gold, src_path, trg_path, len(source))))
    return RetrievalExample(f"{split}-{language}-en", source, target, pairs)


def _tatoeba_gold(gold: Path, src_path: Path, trg_path: Path, n: int) -> list[int]:
    """Per sorted English line, the index of its source sentence; a permutation of 0..n−1."""
    lines = read_lines(gold, ("index",))
    if len(lines) != n:
        raise count_mismatch(trg_path, n, gold, len(lines), "gold indices", field="index")
    seen: dict[int, int] = {}
    for number, line in enumerate(lines, start=1):
        where = Where(gold, number)
        if not (line.strip().isascii() and line.strip().isdigit()):
            raise where.error(f"expected a 0-based line index of {src_path}, found {line!r}", "index")
        i = int(line)
        if i >= n:
            raise where.error(f"index {i} is past the last line of {src_path} ({n} sentences)", "index")
        if i in seen:
            # Tatoeba is 1:1: each source sentence is the translation of exactly one English line.
            raise where.error(f"index {i} already given on line {seen[i]}: the gold is not a permutation "
                              f"of 0..{n - 1}", "index")
        seen[i] = number
    return [int(line) for line in lines]


def _plain_sentences(path: Path) -> tuple[Sentence, ...]:
    out = []
    for number, line in enumerate(read_lines(path, ("sentence",)), start=1):
        if not line.strip():
            raise Where(path, number).error("empty sentence", "sentence")
        out.append(Sentence(str(number - 1), line))
    return tuple(out)


@reader("bucc")
def read_bucc(paths: Sequence[Path], *, gold: Path | None = None, language: str, split: str,
              labels: Sequence[str] | None = None) -> list[RetrievalExample]:
    """One example per prefix: the two sentence pools with their BUCC ids and the gold id pairs."""
    out = []
    for prefix in _one_prefix(paths, gold):
        prefix = Path(prefix)
        source = _id_sentences(_side(prefix, language))
        target = _id_sentences(_side(prefix, "en"))
        gold_path = gold if gold is not None else _side(prefix, "gold")
        pairs: tuple[tuple[str, str], ...] = ()
        if gold is not None or gold_path.exists():
            pairs = _bucc_gold(gold_path, source, target)
        out.append(RetrievalExample(f"{split}-{language}-en", source, target, pairs))
    return out


def _id_sentences(path: Path) -> tuple[Sentence, ...]:
    out, seen = [], {}
    for number, line in enumerate(read_lines(path, ("id", "sentence")), start=1):
        where = Where(path, number)
        sid, text = split_tsv(line, ("id", "sentence"), where)
        if not sid:
            raise where.error("empty sentence id", "id")
        if sid in seen:
            raise where.error(f"sentence id {sid!r} already used on line {seen[sid]}", "id")
        seen[sid] = number
        out.append(Sentence(sid, text))
    return tuple(out)


def _bucc_gold(path: Path, source: tuple[Sentence, ...], target: tuple[Sentence, ...]):
    src_ids, trg_ids = {s.id for s in source}, {s.id for s in target}
    pairs = []
    for number, line in enumerate(read_lines(path, ("src_id", "trg_id")), start=1):
        where = Where(path, number)
        src, trg = split_tsv(line, ("src_id", "trg_id"), where)
        if src not in src_ids:
            raise where.error(f"source id {src!r} is not in the source file", "src_id")
        if trg not in trg_ids:
            raise where.error(f"target id {trg!r} is not in the English file", "trg_id")
        pairs.append((src, trg))
    return tuple(pairs)


def _side(prefix: Path, suffix: str) -> Path:
    return prefix.with_name(f"{prefix.name}.{suffix}")


def _one_prefix(paths: Sequence[Path], gold: Path | None) -> Sequence[Path]:
    # One gold file describes one language pair: pairing it with several prefixes is ambiguous.
    if gold is not None and len(paths) != 1:
        raise DataError(gold, f"a retrieval gold file pairs with exactly one path prefix, got {len(paths)}")
    return paths
