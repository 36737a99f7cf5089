"""The attention-only transformer: shapes, causality, the periodic data, and in-context copying."""

import numpy as np
import pytest
import torch

from companion.torch.heads import attention_maps, head_scores, induction_targets
from companion.torch.models.attention_only import (
    AttentionOnlyTransformer,
    periodic_random_tokens,
    train_attention_only,
)


def test_periodic_tokens_repeat_with_their_period():
    x, p = periodic_random_tokens(50, 30, 7, 3, 9, rng=0)
    assert x.shape == (50, 30) and p.shape == (50,)
    assert p.min() >= 3 and p.max() <= 9 and x.min() >= 0 and x.max() < 7
    for row, period in zip(x, p):
        assert np.array_equal(row[period:], row[:-period])
    again, _ = periodic_random_tokens(50, 30, 7, 3, 9, rng=0)
    assert np.array_equal(x, again)


def test_periodic_tokens_reject_bad_periods():
    with pytest.raises(ValueError, match="max_period"):
        periodic_random_tokens(4, 10, 5, 3, 10)
    with pytest.raises(ValueError, match="min_period"):
        periodic_random_tokens(4, 10, 5, 6, 4)


def test_forward_shapes_causality_and_weights():
    torch.manual_seed(0)
    model = AttentionOnlyTransformer(11, 12, n_layer=2, n_head=2, n_embd=16).eval()
    idx = torch.randint(0, 11, (3, 12))
    logits = model(idx)
    assert logits.shape == (3, 12, 11)
    weights = model.attention_weights()
    assert weights.shape == (2, 3, 2, 12, 12)
    assert torch.allclose(weights.sum(-1), torch.ones(2, 3, 2, 12))
    assert torch.equal(attention_maps(model, idx), weights)
    changed = idx.clone()
    changed[:, 7:] = (changed[:, 7:] + 1) % 11
    assert torch.allclose(model(changed)[:, :7], logits[:, :7], atol=1e-6)  # causal
    assert not torch.allclose(model(changed)[:, 7:], logits[:, 7:])
    assert model.token_losses(idx).shape == (3, 11)


def test_bad_input_is_refused():
    model = AttentionOnlyTransformer(5, 8, n_head=2, n_embd=8)
    with pytest.raises(ValueError, match="idx"):
        model(torch.zeros(2, 4))
    with pytest.raises(ValueError, match="block_size"):
        model(torch.zeros(1, 9, dtype=torch.long))
    with pytest.raises(RuntimeError, match="forward"):
        AttentionOnlyTransformer(5, 8, n_head=2, n_embd=8).attention_weights()


def test_two_layers_learn_to_copy_and_grow_an_induction_head():
    """After short training the repeats are predicted far better than the first copy."""
    V, T, lo, hi = 32, 40, 6, 16
    torch.manual_seed(0)
    model = AttentionOnlyTransformer(V, T, n_layer=2, n_head=4, n_embd=64)
    history = train_attention_only(model, steps=400, batch_size=32, min_period=lo,
                                   max_period=hi, lr=5e-3, seed=0)
    assert history.step_loss[-1] < history.step_loss[0]
    x, p = periodic_random_tokens(200, T, V, lo, hi, rng=1)
    x = torch.from_numpy(x)
    losses = model.token_losses(x).numpy()  # (N, T-1): targets 1..T-1
    later = np.arange(1, T)[None, :] >= p[:, None]
    assert losses[later].mean() < 0.25 * losses[~later].mean()  # an in-context unigram: > 0.6
    scores = head_scores(attention_maps(model, x), induction_targets(p, T))
    assert scores[1].max() > 0.15 > scores[0].max()
