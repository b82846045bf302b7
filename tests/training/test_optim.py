"""Row-sparse AdamW: the same weights as torch's dense AdamW, on a model whose batches touch few rows."""

import copy

import torch

from xstilts.training.optim import RowSparseAdamW, clip_grad_norm_, sparse_embeddings_apply


class _Bag(torch.nn.Module):
    def __init__(self, vocab: int = 50, hidden: int = 8):
        super().__init__()
        self.emb, self.lin = torch.nn.Embedding(vocab, hidden), torch.nn.Linear(hidden, 3)

    def get_input_embeddings(self):
        return self.emb

    def forward(self, ids):
        return self.lin(self.emb(ids).mean(1))


def test_row_sparse_adamw_matches_dense_adamw_with_decay_clipping_and_rows_left_behind():
    torch.manual_seed(0)
    sparse = _Bag()
    dense = copy.deepcopy(sparse)
    assert sparse_embeddings_apply(sparse, processes=1, mixed_precision="no")
    opt_s = RowSparseAdamW([{"params": list(sparse.parameters()), "weight_decay": 0.1}], lr=1e-2)
    opt_d = torch.optim.AdamW([{"params": list(dense.parameters()), "weight_decay": 0.1}], lr=1e-2, foreach=False)
    g = torch.Generator().manual_seed(1)
    for step in range(20):
        # Rows 0-9 only, then all 50: rows touched early keep moving (their moments) while untouched.
        ids = torch.randint(0, 10 if step < 5 else 50, (4, 6), generator=g)
        y = torch.randint(0, 3, (4,), generator=g)
        for model, opt in ((sparse, opt_s), (dense, opt_d)):
            torch.nn.functional.cross_entropy(model(ids), y).backward()
            if model is sparse:
                assert model.emb.weight.grad.is_sparse
                clip_grad_norm_(model.parameters(), 0.5)
            else:
                torch.nn.utils.clip_grad_norm_(model.parameters(), 0.5)
            opt.step()
            opt.zero_grad(set_to_none=True)
        if step == 4:  # rows never looked up only decayed: exactly what dense AdamW did to them
            untouched = ~opt_s.state[sparse.emb.weight]["active"]
            assert untouched.sum() == 40
    for a, b in zip(sparse.parameters(), dense.parameters()):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-6)


def test_sparse_rows_only_where_exact():
    model = _Bag()
    assert not sparse_embeddings_apply(model, processes=2, mixed_precision="no")  # DDP reduces dense gradients
    assert not sparse_embeddings_apply(model, processes=1, mixed_precision="fp16")
    tied = _Bag()
    tied.head = torch.nn.Linear(8, 50, bias=False)
    tied.head.weight = tied.emb.weight  # a vocabulary projection tied to the embeddings: dense gradient
    assert not sparse_embeddings_apply(tied, processes=1, mixed_precision="no") and not tied.emb.sparse
    model.emb.weight.requires_grad_(False)
    assert not sparse_embeddings_apply(model, processes=1, mixed_precision="no")
