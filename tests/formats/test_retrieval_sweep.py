"""All layers at once (:func:`embed_layers`), the text prefix, quick-look subsets and scoring many
settings from one embedding run, on the shared mini encoder and real Tatoeba."""

import numpy as np
import pytest
import torch

from xstilts.data.examples import RetrievalExample, Sentence
from xstilts.data.loading import load_examples
from xstilts.formats import retrieval
from xstilts.tasks import get_task

SENTENCES = ["Ein kurzer Satz.", "Hi", "The quick brown fox jumps over the lazy dog near the river bank.",
             "", "Tom a dit qu'il viendrait demain matin.", "我们明天见。"]


@pytest.fixture(scope="module")
def encoder(mini_encoder_dir):
    from transformers import AutoModel

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield AutoModel.from_pretrained(str(mini_encoder_dir))
    torch.set_num_threads(threads)


def test_all_layers_at_once_equal_one_sentence_forward_and_embed(encoder, mini_tokenizer):
    kw = dict(max_length=12, batch_size=4)
    every = retrieval.embed_layers(encoder, mini_tokenizer, SENTENCES, **kw)
    assert sorted(every) == [(layer, q) for layer in range(13) for q in ("cls", "mean")]
    encoder.eval()
    for i, s in enumerate(SENTENCES):  # independent reference: each sentence alone, no padding
        enc = mini_tokenizer(s, truncation=True, max_length=12, return_tensors="pt")
        with torch.no_grad():
            states = encoder(**enc, output_hidden_states=True).hidden_states
        for layer in range(13):
            np.testing.assert_allclose(every[(layer, "mean")][i], states[layer][0].mean(0).numpy(), atol=3e-5)
            np.testing.assert_allclose(every[(layer, "cls")][i], states[layer][0][0].numpy(), atol=3e-5)
    for layer in range(13):
        for q in ("mean", "cls"):
            one = retrieval.embed(encoder, mini_tokenizer, SENTENCES, layer=layer, pooling=q, **kw)
            np.testing.assert_allclose(one, every[(layer, q)], atol=1e-6)
    # Negative layers come back under their non-negative index; only what is asked is computed.
    some = retrieval.embed_layers(encoder, mini_tokenizer, SENTENCES, layers=[-1, 8, 12], poolings=["cls"], **kw)
    assert sorted(some) == [(8, "cls"), (12, "cls")]
    np.testing.assert_array_equal(some[(12, "cls")], every[(12, "cls")])
    with pytest.raises(ValueError, match="out of range"):
        retrieval.embed_layers(encoder, mini_tokenizer, SENTENCES, layers=[13], **kw)
    with pytest.raises(ValueError, match="pooling"):
        retrieval.embed_layers(encoder, mini_tokenizer, SENTENCES, poolings=["max"], **kw)


def test_prefix_is_text_before_each_sentence(encoder, mini_tokenizer):
    kw = dict(layer=12, pooling="mean", max_length=24, batch_size=8)
    plain = retrieval.embed(encoder, mini_tokenizer, SENTENCES, **kw)
    prefixed = retrieval.embed(encoder, mini_tokenizer, SENTENCES, prefix="query: ", **kw)
    by_hand = retrieval.embed(encoder, mini_tokenizer, ["query: " + s for s in SENTENCES], **kw)
    np.testing.assert_array_equal(prefixed, by_hand)
    cos = (retrieval.normalize(plain) * retrieval.normalize(prefixed)).sum(1)
    assert (cos < 0.999).all(), cos  # every embedding moves


def _example(source, target, gold):
    return RetrievalExample("x", tuple(Sentence(i, i) for i in source), tuple(Sentence(i, i) for i in target),
                            tuple(gold))


def test_head_keeps_the_first_sources_and_their_partners():
    # Tatoeba-like: every English sentence has a source partner; English sorted, so order differs.
    ex = _example(["s0", "s1", "s2", "s3"], ["t3", "t0", "t2", "t1"], [("s0", "t0"), ("s1", "t1"), ("s2", "t2"),
                                                                     ("s3", "t3")])
    two = retrieval.head(ex, 2)
    assert [s.id for s in two.source] == ["s0", "s1"]
    assert [t.id for t in two.target] == ["t0", "t1"]  # file order kept
    assert two.gold == (("s0", "t0"), ("s1", "t1"))
    # BUCC-like: unaligned sentences on both sides stay candidates, at most n per side.
    bucc = _example(["s0", "s1", "s2", "s3"], ["u0", "t2", "u1", "t0", "u2"], [("s0", "t0"), ("s2", "t2")])
    cut = retrieval.head(bucc, 2)
    assert [s.id for s in cut.source] == ["s0", "s1"]
    assert [t.id for t in cut.target] == ["u0", "u1"]  # t2's partner is gone; t0 beyond the first two
    assert cut.gold == ()
    assert retrieval.head(bucc, 10) == bucc


def test_score_settings_equals_one_setting_at_a_time_on_real_tatoeba(data_dir, encoder, mini_tokenizer):
    task = get_task("tatoeba")
    (ex,) = load_examples(task, "test", "de", data_dir=data_dir)
    ex = retrieval.head(ex, 120)
    assert len(ex.source) == len(ex.target) == len(ex.gold) == 120
    cells = [(8, "mean"), (-1, "cls"), (3, "cls")]
    scored = retrieval.score_settings(encoder, mini_tokenizer, task, ex, cells, max_length=48, batch_size=16)
    assert list(scored) == [(8, "mean"), (12, "cls"), (3, "cls")]
    for (layer, q), s in scored.items():
        emb = [retrieval.embed(encoder, mini_tokenizer, [x.text for x in side], layer=layer, pooling=q,
                               max_length=48, batch_size=16) for side in (ex.source, ex.target)]
        gold = {t: s_ for s_, t in ex.gold}
        pred = retrieval.tatoeba_predict(*emb)
        accuracy = 100 * np.mean([ex.source[p].id == gold[t.id] for p, t in zip(pred, ex.target)])
        assert s.metrics == {"accuracy": pytest.approx(accuracy, abs=1e-9)} and s.n == 120
    # Layers differ: the sweep is worth running (measured 92.5 at layer 8 mean, 26.7 at layer 3 cls).
    assert scored[(8, "mean")].metrics["accuracy"] > 90 > 40 > scored[(3, "cls")].metrics["accuracy"]


def test_score_settings_mines_bucc_style_pools(data_dir, encoder, mini_tokenizer):
    """BUCC's branch (margin mining, F1 at the best threshold on gold) on pools built from real
    Tatoeba pairs: 60 aligned pairs, 20 sentences on each side without a partner."""
    (ex,) = load_examples(get_task("tatoeba"), "test", "de", data_dir=data_dir)
    partner = {s: t for s, t in ex.gold}
    target = {t.id: t for t in ex.target}
    aligned, src_only = ex.source[:60], ex.source[60:80]
    trg_only = [target[partner[s.id]] for s in ex.source[80:100]]
    pool = RetrievalExample("de", tuple(aligned) + tuple(src_only),
                            tuple(trg_only) + tuple(target[partner[s.id]] for s in aligned),
                            tuple((s.id, partner[s.id]) for s in aligned))
    task = get_task("bucc2018")
    scored = retrieval.score_settings(encoder, mini_tokenizer, task, pool, [(12, "mean"), (0, "cls")],
                                      max_length=64, batch_size=32)
    best, worst = scored[(12, "mean")], scored[(0, "cls")]
    assert set(best.metrics) == {"f1", "precision", "recall", "threshold"} and best.n == 60
    assert best.metrics["f1"] > 90 > 30 > worst.metrics["f1"]  # measured 98.3 and 0.0
    # The prediction lines are the extracted pairs; F1 is theirs against the gold (evaluate.py's bucc_f1).
    from xstilts.metrics.bucc import bucc_f1

    gold = [f"{s}\t{t}" for s, t in pool.gold]
    assert bucc_f1(gold, best.predictions)["f1"] == pytest.approx(best.metrics["f1"])
