"""CPU dropout: attention computing SDPA's function, nn.Dropout's masks, exact gradients, torch's own elsewhere."""

import math

import pytest
import torch
import torch.nn.functional as F

from xstilts.training import dropout as cpu_dropout
from xstilts.training.dropout import Dropout, dropout_attention


def _qkv(b=3, h=2, lq=7, lk=7, d=5, dtype=torch.float32, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(b, h, n, d, generator=g, dtype=dtype, requires_grad=True) for n in (lq, lk, lk)]


def _padding_mask(b, lk):
    mask = torch.ones(b, 1, 1, lk, dtype=torch.bool)
    mask[0, ..., lk - 2:] = False  # the first row's last two keys are padding
    return mask


@pytest.fixture(params=[1 << 22, 50], ids=["one-chunk", "chunk-per-row"])
def chunk(request, monkeypatch):
    monkeypatch.setattr(cpu_dropout, "_CHUNK_ELEMENTS", request.param)


def test_without_dropout_it_is_sdpa_forward_and_backward(chunk):
    q, k, v = _qkv()
    mask = _padding_mask(3, 7)
    ours = dropout_attention(q, k, v, mask, 0.0)
    grads = torch.autograd.grad(ours.square().sum(), (q, k, v))
    ref = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    ref_grads = torch.autograd.grad(ref.square().sum(), (q, k, v))
    torch.testing.assert_close(ours, ref)
    for a, b in zip(grads, ref_grads):
        torch.testing.assert_close(a, b)


def test_each_probability_is_dropped_with_p_or_kept_and_scaled(chunk):
    # With v the identity, the output is the dropped, rescaled probability matrix itself.
    b, h, n, p = 4, 3, 16, 0.25
    q, k, _ = _qkv(b, h, n, n, n)
    v = torch.eye(n).expand(b, h, n, n)
    mask = _padding_mask(b, n)
    torch.manual_seed(0)
    out = dropout_attention(q, k, v, mask, p).detach()
    probs = torch.softmax((q @ k.transpose(-1, -2)) / math.sqrt(n) + torch.where(mask, 0.0, -math.inf), -1).detach()
    kept = out != 0
    torch.testing.assert_close(out[kept], probs[kept] / (1 - p))
    assert not out[0, ..., -2:].any()  # padding keys get nothing
    live = mask.expand(b, h, n, n)
    dropped = (~kept[live]).double().mean().item()
    sd = math.sqrt(p * (1 - p) / live.sum().item())
    assert abs(dropped - p) < 4 * sd, (dropped, p)


def test_the_gradient_is_the_gradient_of_the_function_computed(chunk):
    q, k, v = _qkv(2, 2, 5, 6, 3, dtype=torch.float64)
    mask = torch.ones(2, 1, 5, 6, dtype=torch.bool)
    mask[1, ..., :2] = False

    def f(q, k, v):  # the same mask on every call: a generator seeded alike
        return dropout_attention(q, k, v, mask, 0.3, generator=torch.Generator().manual_seed(7))

    assert torch.autograd.gradcheck(f, (q, k, v))
    undropped = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    assert not torch.allclose(f(q, k, v), undropped)  # something was dropped: the check covered the mask


def test_the_masks_follow_torch_seed():
    q, k, v = _qkv()
    draw = lambda seed: (torch.manual_seed(seed), dropout_attention(q, k, v, None, 0.5))[1]  # noqa: E731
    assert torch.equal(draw(1), draw(1))
    assert not torch.equal(draw(1), draw(2))


def _bert(dropout: float, hidden: float = 0.0):
    from transformers import BertConfig, BertModel

    torch.manual_seed(0)
    config = BertConfig(vocab_size=50, hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=32, attention_probs_dropout_prob=dropout, hidden_dropout_prob=hidden)
    model = BertModel(config)
    model.set_attn_implementation("sdpa")
    return model


def test_an_encoder_switched_for_training_is_sdpa_in_eval_and_switches_back():
    model = _bert(0.5, hidden=0.2)
    ids = torch.randint(0, 50, (2, 9), generator=torch.Generator().manual_seed(0))
    am = torch.ones(2, 9, dtype=torch.long)
    am[1, 6:] = 0
    model.eval()
    before = model(input_ids=ids, attention_mask=am).last_hidden_state
    assert cpu_dropout.use_for_training(model) == "sdpa"
    assert model.config._attn_implementation == cpu_dropout.NAME
    assert torch.equal(model(input_ids=ids, attention_mask=am).last_hidden_state, before)
    model.train()
    torch.manual_seed(3)
    first = model(input_ids=ids, attention_mask=am).last_hidden_state
    first.sum().backward()  # the dropout path runs in a real encoder, padding mask included
    torch.manual_seed(3)
    assert torch.equal(model(input_ids=ids, attention_mask=am).last_hidden_state, first)
    assert not torch.equal(first, before)
    cpu_dropout.restore(model, "sdpa")
    assert model.config._attn_implementation == "sdpa"


def test_other_implementations_are_left_alone():
    model = _bert(0.1)
    model.set_attn_implementation("eager")
    assert cpu_dropout.use_for_training(model) is None
    assert model.config._attn_implementation == "eager"


def test_dropout_drops_with_p_scales_the_rest_and_its_gradient_is_the_mask():
    p, x = 0.3, torch.rand(200, 300) + 0.5
    layer = Dropout(p).train()
    torch.manual_seed(0)
    y = layer(x.requires_grad_())
    kept = y != 0
    torch.testing.assert_close(y[kept], x[kept] / (1 - p))
    assert abs((~kept).double().mean().item() - p) < 4 * math.sqrt(p * (1 - p) / x.numel())
    (grad,) = torch.autograd.grad(y.sum(), x)
    torch.testing.assert_close(grad, kept / (1 - p))
    torch.manual_seed(0)
    assert torch.equal(layer(x), y)  # torch's seed decides the mask
    assert torch.equal(layer.eval()(x), x)


def test_dropout_is_torchs_own_where_it_does_not_apply():
    x = torch.rand(50, 40, dtype=torch.float64)
    torch.manual_seed(0)
    expected = torch.nn.Dropout(0.5).train()(x)
    torch.manual_seed(0)
    assert torch.equal(Dropout(0.5).train()(x), expected)  # float64: torch's bernoulli path, same draws
