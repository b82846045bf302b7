"""BUCC-style mining data built from Tatoeba, for machines without the BUCC 2018 release.

BUCC 2018 asks an encoder to *mine* translation pairs from two pools in which most sentences have no
translation, and scores F1 over the mined pairs; Tatoeba only asks for the nearest neighbour of
every sentence. The BUCC files are not redistributable here, so :func:`write` makes the same kind
of problem from a Tatoeba language pair: of its translation pairs, ``aligned`` keep both sides,
``unaligned`` keep only the source side and ``unaligned`` more only the English side (no pair has
one side in the pools without the other being gold), shuffled, in the layout XTREME's download
script leaves for BUCC (``bucc2018/<l>-en.<split>.{<l>,en}``: ``<l>-000001<TAB>sentence``; gold
``labels/bucc2018/test-<l>.tsv`` and ``<l>-en.dev.gold``). The ``bucc`` reader and the BUCC metric
then run unchanged. The numbers are BUCC-*style*: Tatoeba's short sentences, not BUCC's news.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np

from xstilts.data.loading import load_examples
from xstilts.errors import ConfigError


def write(data_dir: str | Path, out_dir: str | Path, languages: Sequence[str], *, aligned: int = 600,
          unaligned: int = 200, seed: int = 0, splits: Sequence[str] = ("test",)) -> dict[str, dict[str, int]]:
    """Write BUCC-style files for ``languages`` under ``out_dir/xtreme`` from Tatoeba in ``data_dir``.

    Every split gets its own draw from the same 1,000 Tatoeba pairs (seeded by ``seed`` and the split).
    Returns the pool sizes per language. Files are written to a temp name and renamed.
    """
    from xstilts.tasks import get_task

    bucc = get_task("bucc2018")
    if other := [lang for lang in languages if not all(bucc.has(split, lang) for split in splits)]:
        # The bucc2018 task would never read them: its languages are XTREME's (de, fr, ru, zh).
        raise ConfigError(f"BUCC-style pools for {', '.join(other)}: bucc2018 covers "
                          f"{', '.join(bucc.splits.get(splits[0], ()))} only")
    out = Path(out_dir)
    sizes = {}
    for lang in languages:
        (pair,) = load_examples("tatoeba", "test", lang, data_dir=data_dir, require_labels=True)
        need = aligned + 2 * unaligned
        if len(pair.gold) < need:
            raise ConfigError(f"BUCC-style {lang}: Tatoeba {lang}-en has {len(pair.gold)} pairs, "
                              f"{need} needed ({aligned} aligned + 2 × {unaligned} unaligned)")
        src = {s.id: s.text for s in pair.source}
        trg = {t.id: t.text for t in pair.target}
        for split in splits:
            rng = np.random.default_rng([seed, sum(map(ord, f"{lang}/{split}"))])
            gold = [pair.gold[i] for i in rng.permutation(len(pair.gold))[:need]]
            both, src_only, trg_only = gold[:aligned], gold[aligned:aligned + unaligned], gold[aligned + unaligned:]
            src_pool = [s for s, _ in both + src_only]
            trg_pool = [t for _, t in both + trg_only]
            src_ids = {src_pool[k]: f"{lang}-{rank + 1:06d}" for rank, k in enumerate(rng.permutation(len(src_pool)))}
            trg_ids = {trg_pool[k]: f"en-{rank + 1:06d}" for rank, k in enumerate(rng.permutation(len(trg_pool)))}
            prefix = out / "xtreme" / "download" / "bucc2018" / f"{lang}-en.{split}"
            _write(prefix.with_name(f"{prefix.name}.{lang}"),
                   [f"{i}\t{src[s]}" for s, i in sorted(src_ids.items(), key=lambda kv: kv[1])])
            _write(prefix.with_name(f"{prefix.name}.en"),
                   [f"{i}\t{trg[t]}" for t, i in sorted(trg_ids.items(), key=lambda kv: kv[1])])
            pairs = sorted(f"{src_ids[s]}\t{trg_ids[t]}" for s, t in both)
            if split == "test":  # XTREME's download script deletes test gold; evaluate.py reads it here
                _write(out / "xtreme" / "labels" / "bucc2018" / f"test-{lang}.tsv", pairs)
            else:
                _write(prefix.with_name(f"{prefix.name}.gold"), pairs)
        sizes[lang] = {"source": aligned + unaligned, "english": aligned + unaligned, "gold_pairs": aligned}
    return sizes


def overlay(data_dir: str | Path, out_dir: str | Path) -> Path:
    """``out_dir`` as a data folder: links to every file and folder of ``data_dir`` (two levels
    into ``xtreme/``), so files written into it — the BUCC-style ones — add to the real data
    without copying or touching it. Existing links are kept; returns ``out_dir``."""
    src, out = Path(data_dir).resolve(), Path(out_dir)
    if not src.is_dir():
        raise ConfigError(f"data folder {src} does not exist (set XSTILTS_DATA_DIR)")
    for entry in sorted(src.iterdir()):
        if entry.name == "xtreme" and entry.is_dir():
            for part in sorted(p for p in entry.iterdir() if p.is_dir()):  # download/, labels/
                for item in sorted(part.iterdir()):
                    _link(item, out / "xtreme" / part.name / item.name)
        else:
            _link(entry, out / entry.name)
    return out


def _link(target: Path, link: Path) -> None:
    if link.is_symlink() or link.exists():
        return
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(target, target_is_directory=target.is_dir())


def _write(path: Path, lines: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    tmp.replace(path)
