"""The report's layer × pooling section (:mod:`xstilts.report.retrieval_sweep`) from hand-made sweep rows:
the pretrained encoder and the model after intermediate training side by side, averaged over
languages, per-language tables folded away, and a note when no sweep was run."""

from __future__ import annotations

import json

from xstilts.pipeline.results import make_row
from xstilts.report.data import load
from xstilts.report.retrieval_sweep import retrieval_sweep
from xstilts.report.sections import Details, Note, make_context
from xstilts.report.tables import Table


def _row(phase, intermediate, language, metric, value, **extra):
    row = make_row(run_id="r1", config_hash="h", phase=phase, intermediate=intermediate,
                   intermediate_max_len=128 if intermediate else None, target=None, task="tatoeba", language=language,
                   split="test", metric=metric, value=value, n=10, seed=1)
    return {**row, **extra}


def _value(layer, pooling, language, after):
    return 10.0 * layer + (5 if pooling == "mean" else 0) + (1 if language == "es" else 0) - (3 if after else 0)


def _folder(tmp_path, *, sweep: bool):
    rows = []
    for after in (False, True):
        inter = ["squad_v1"] if after else []
        for lang in ("de", "es"):
            rows.append(_row("retrieval_eval", inter, lang, "accuracy", _value(2, "mean", lang, after)))
            if sweep:
                rows += [_row("retrieval_sweep", inter, lang, "accuracy", _value(layer, q, lang, after), layer=layer,
                              pooling=q, max_length=64, source_prefix="query: ", target_prefix="query: ")
                         for layer in range(3) for q in ("mean", "cls")]
    # A re-run of one sweep cell: the last row of its key wins, the other cells stay.
    if sweep:
        rows.append(_row("retrieval_sweep", [], "de", "accuracy", 99.0, layer=0, pooling="cls", max_length=64,
                         source_prefix="query: ", target_prefix="query: "))
    (tmp_path / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return make_context(load(tmp_path), tmp_path / "figures", n_resamples=10, seed=0)


def test_layer_by_pooling_table_before_and_after(tmp_path):
    sec = retrieval_sweep(_folder(tmp_path, sweep=True))
    (table,) = [b for b in sec.blocks if isinstance(b, Table)]
    assert table.name == "retrieval_sweep_tatoeba"
    assert table.columns == ["layer", "pretrained (no intermediate): mean", "pretrained (no intermediate): cls",
                             "squad_v1 @ 128: mean", "squad_v1 @ 128: cls"]
    assert [r[0] for r in table.rows] == ["0", "1", "2"]  # no done.json: no default marked
    # Mean over de and es: value + 0.5; after intermediate training 3 lower; the re-run replaced de's cls at 0.
    assert table.rows[1][1:] == [15.5, 10.5, 12.5, 7.5]
    assert table.rows[0][2] == (99.0 + 1.0) / 2
    assert (2, 1) in table.bold and (2, 3) in table.bold  # best layer of each column
    assert "max length 64, prefixes source 'query: ', target 'query: '" in table.caption
    (details,) = [b for b in sec.blocks if isinstance(b, Details)]
    assert [t.columns for t in details.blocks][0] == ["layer", "de mean", "de cls", "es mean", "es cls"]
    assert details.blocks[1].rows[2][1:] == [22.0, 17.0, 23.0, 18.0]


def test_no_sweep_is_a_note(tmp_path):
    sec = retrieval_sweep(_folder(tmp_path, sweep=False))
    assert len(sec.blocks) == 1 and isinstance(sec.blocks[0], Note) and "sweep: true" in sec.blocks[0].text
