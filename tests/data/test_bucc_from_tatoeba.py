"""BUCC-style pools from real Tatoeba pairs: layout, gold consistency, no half-pairs, determinism."""

from __future__ import annotations

from xstilts.data import bucc_from_tatoeba
from xstilts.data.loading import load_examples


def test_bucc_style_pools_from_tatoeba(tmp_path, data_dir):
    root = bucc_from_tatoeba.overlay(data_dir, tmp_path / "data")
    sizes = bucc_from_tatoeba.write(root, root, ["de"], aligned=50, unaligned=20, seed=3, splits=("dev", "test"))
    assert sizes == {"de": {"source": 70, "english": 70, "gold_pairs": 50}}
    (tatoeba,) = load_examples("tatoeba", "test", "de", data_dir=data_dir, require_labels=True)
    true_pairs = {(tatoeba.source[int(s)].text, tatoeba.target[int(t)].text) for s, t in tatoeba.gold}
    english_of = {s: t for s, t in true_pairs}
    for split in ("dev", "test"):
        (ex,) = load_examples("bucc2018", split, "de", data_dir=root, require_labels=True)
        src = {s.id: s.text for s in ex.source}
        trg = {t.id: t.text for t in ex.target}
        assert len(src) == len(trg) == 70 and len(ex.gold) == 50
        # Every gold pair is a real Tatoeba translation pair ...
        assert all((src[s], trg[t]) in true_pairs for s, t in ex.gold)
        # ... and no sentence outside the gold has its translation in the other pool.
        paired = {src[s] for s, _ in ex.gold}
        assert not {english_of[s] for s in src.values() if s not in paired} & set(trg.values())
    again = bucc_from_tatoeba.write(root, tmp_path / "again", ["de"], aligned=50, unaligned=20, seed=3)
    assert again == sizes
    assert ((tmp_path / "again/xtreme/labels/bucc2018/test-de.tsv").read_text()
            == (root / "xtreme/labels/bucc2018/test-de.tsv").read_text())
    assert (data_dir / "xtreme/download/tatoeba/de-en.de").exists()  # the real folder is untouched
    assert not (data_dir / "xtreme/download/bucc2018").exists()


def test_languages_bucc_does_not_cover_are_refused(tmp_path, data_dir):
    import pytest

    from xstilts.errors import ConfigError

    with pytest.raises(ConfigError, match="BUCC-style pools for hi: bucc2018 covers de, fr, ru, zh only"):
        bucc_from_tatoeba.write(data_dir, tmp_path, ["de", "hi"])
