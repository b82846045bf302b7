import numpy as np

from xstilts.data.examples import TextExample
from xstilts.formats import mlm


def test_blocks_cover_every_token_once(mini_tokenizer):
    texts = ["Ein kurzer Satz.", "Another sentence that is a little longer than the first one.", "短い文。"] * 5
    feats = mlm.featurize([TextExample(str(i), t) for i, t in enumerate(texts)], mini_tokenizer, max_length=16)
    specials = set(mini_tokenizer.all_special_ids)
    body = [int(t) for row in feats["input_ids"] for t in row[1:-1]]
    expected = []
    for ids in mini_tokenizer(texts, add_special_tokens=False)["input_ids"]:
        expected += ids + [mini_tokenizer.sep_token_id]
    assert body == expected
    assert all(len(r) <= 16 for r in feats["input_ids"])
    assert all(r[0] == mini_tokenizer.cls_token_id and r[-1] == mini_tokenizer.sep_token_id for r in feats["input_ids"])
    assert not specials.isdisjoint({mini_tokenizer.cls_token_id})


def test_masking_is_seeded_and_spares_special_tokens():
    ids = np.tile(np.arange(10, 60), (8, 1))
    ids[:, 0], ids[:, -1] = 0, 2
    kw = dict(mask_token_id=99, vocab_size=100, special_ids=[0, 1, 2], mlm_probability=0.3)
    a, la = mlm.mask_tokens(ids, rng=np.random.default_rng(3), **kw)
    b, lb = mlm.mask_tokens(ids, rng=np.random.default_rng(3), **kw)
    assert (a == b).all() and (la == lb).all()
    assert (la[:, 0] == -100).all() and (la[:, -1] == -100).all()
    chosen = la != -100
    assert 0.2 < chosen.mean() < 0.4
    assert (la[chosen] == ids[chosen]).all()
    assert (a[chosen] == 99).mean() > 0.6
    assert (a[~chosen] == ids[~chosen]).all()


def test_head_scores_only_masked_positions_with_the_same_loss():
    import torch
    import torch.nn.functional as F

    from xstilts.formats.mlm import Head, loss

    torch.manual_seed(0)
    head = Head(hidden_size=8, vocab_size=11)
    hidden = torch.randn(3, 5, 8)
    labels = torch.full((3, 5), -100)
    labels[0, 1], labels[1, 4], labels[2, 0] = 3, 7, 10
    out = head(hidden, {"labels": labels})
    assert out["logits"].shape == (3, 11)
    full = head(hidden, {})["logits"]
    assert full.shape == (3, 5, 11)
    expected = F.cross_entropy(full.reshape(-1, 11), labels.reshape(-1), ignore_index=-100)
    assert torch.allclose(loss(out, {"labels": labels}), expected)
    assert torch.allclose(loss({"logits": full}, {"labels": labels}), expected)


def test_one_tokenization_cut_at_any_length_equals_featurize(mini_tokenizer):
    examples = [TextExample(str(i), t) for i, t in enumerate(["Ein kurzer Satz.", "Another, longer sentence here.",
                                                               "短い文。"] * 7)]
    tokens = mlm.tokenize(examples, mini_tokenizer)
    for length in (8, 16, 64):
        cut, whole = mlm.blocks(tokens, mini_tokenizer, max_length=length), mlm.featurize(examples, mini_tokenizer,
                                                                                          max_length=length)
        assert set(cut.columns) == set(whole.columns)
        for column in whole.columns:
            assert [np.asarray(r).tolist() for r in cut[column]] == [np.asarray(r).tolist() for r in whole[column]]
