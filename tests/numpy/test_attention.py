"""Scaled dot-product and multi-head attention against torch in float64."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings, strategies as st

from companion.numpy.attention import (MultiheadAttention, causal_mask,
                                       scaled_dot_product_attention,
                                       scaled_dot_product_attention_backward)
from tests.parity import assert_close, assert_param_grads_match, random_array, to_torch


def torch_mha(E, h, bias=True, batch_first=True, seed=0):
    """A float64 torch MHA with random non-zero biases (torch initialises them to zero)."""
    torch.manual_seed(seed)
    module = torch.nn.MultiheadAttention(E, h, bias=bias, batch_first=batch_first).double()
    if bias:
        with torch.no_grad():
            module.in_proj_bias.normal_()
            module.out_proj.bias.normal_()
    return module


def run_mha(N, L, S, E=6, h=2, bias=True, batch_first=True, self_attention=False, seed=0,
            **kwargs):
    """Run both layers on the same inputs and random upstream gradient; return both results."""
    theirs = torch_mha(E, h, bias, batch_first, seed)
    ours = MultiheadAttention.from_torch(theirs)
    shape = lambda T: (N, T, E) if batch_first else (T, N, E)  # noqa: E731
    if N is None:
        shape = lambda T: (T, E)  # noqa: E731
    q = random_array(shape(L), seed + 1)
    k = q if self_attention else random_array(shape(S), seed + 2)
    v = q if self_attention else random_array(shape(S), seed + 3)
    q_t = to_torch(q, requires_grad=True)
    k_t = q_t if self_attention else to_torch(k, requires_grad=True)
    v_t = q_t if self_attention else to_torch(v, requires_grad=True)
    t_kwargs = {name: (torch.tensor(value) if isinstance(value, np.ndarray) else value)
                for name, value in kwargs.items()}
    out_t, w_t = theirs(q_t, k_t, v_t, **t_kwargs)
    out, w = ours.forward(q, k, v, **kwargs)
    grad_out = random_array(out.shape, seed + 4)
    out_t.backward(to_torch(grad_out))
    ours.zero_grad()
    grads = ours.backward(grad_out)
    return ours, theirs, (out, w, grads), (out_t, w_t, (q_t, k_t, v_t)), self_attention


def assert_mha_match(result):
    ours, theirs, (out, w, grads), (out_t, w_t, inputs_t), self_attention = result
    assert_close(out, out_t, "output")
    if w_t is None:
        assert w is None
    else:
        assert_close(w, w_t, "attention weights")
    if self_attention:
        assert_close(sum(grads), inputs_t[0].grad, "gradient of x (sum of the three roles)")
    else:
        for name, grad, tensor in zip(("query", "key", "value"), grads, inputs_t):
            assert_close(grad, tensor.grad, f"gradient of {name}")
    assert_param_grads_match(ours, theirs)


@pytest.mark.parametrize("batch_first", [True, False])
@pytest.mark.parametrize("self_attention", [True, False])
def test_mha_self_and_cross(batch_first, self_attention):
    L, S = (5, 5) if self_attention else (5, 7)
    assert_mha_match(run_mha(3, L, S, batch_first=batch_first, self_attention=self_attention))


@pytest.mark.parametrize("N, L, S", [(1, 1, 1), (1, 4, 3), (2, 1, 6), (3, 6, 1)])
def test_mha_edge_shapes(N, L, S):
    assert_mha_match(run_mha(N, L, S, E=12, h=3))


def test_mha_unbatched_and_no_bias():
    assert_mha_match(run_mha(None, 4, 3))
    assert_mha_match(run_mha(2, 4, 3, bias=False, batch_first=False))


def test_mha_per_head_weights():
    assert_mha_match(run_mha(2, 4, 5, E=8, h=4, average_attn_weights=False))


def test_mha_need_weights_false():
    assert_mha_match(run_mha(2, 4, 5, need_weights=False))


@pytest.mark.parametrize("batch_first", [True, False])
def test_mha_bool_and_float_attn_mask(batch_first):
    rng = np.random.default_rng(5)
    blocked = rng.random((4, 6)) < 0.4
    blocked[:, 0] = False  # every query keeps at least one key
    assert_mha_match(run_mha(2, 4, 6, batch_first=batch_first, attn_mask=blocked))
    assert_mha_match(run_mha(2, 4, 6, batch_first=batch_first,
                             attn_mask=random_array((4, 6), 6)))
    per_head = random_array((2 * 2, 4, 6), 7)  # (N*h, L, S)
    assert_mha_match(run_mha(2, 4, 6, batch_first=batch_first, attn_mask=per_head))


def test_mha_causal_masks():
    mask = causal_mask(5)
    assert_mha_match(run_mha(3, 5, 5, self_attention=True, attn_mask=mask))
    assert_mha_match(run_mha(3, 5, 5, self_attention=True, attn_mask=mask, is_causal=True))
    assert_mha_match(run_mha(3, 5, 5, self_attention=True, attn_mask=np.isinf(mask)))


def test_mha_key_padding_mask_bool_and_float():
    padding = np.array([[False] * 6, [False] * 4 + [True] * 2, [False] + [True] * 5])
    assert_mha_match(run_mha(3, 4, 6, key_padding_mask=padding))
    assert_mha_match(run_mha(3, 4, 6, key_padding_mask=np.where(padding, -1e9, 0.0)))
    blocked = np.isinf(causal_mask(4, 6))  # bool with bool: torch warns on mixed mask types
    assert_mha_match(run_mha(3, 4, 6, key_padding_mask=padding, attn_mask=blocked,
                             batch_first=False))


def test_mha_fully_blocked_row_gives_zeros_not_nan():
    blocked = np.zeros((4, 5), dtype=bool)
    blocked[2] = True  # query 2 may attend to nothing
    ours, theirs, (out, w, grads), (out_t, w_t, _), _ = run_mha(2, 4, 5, attn_mask=blocked)
    assert torch.isnan(out_t[:, 2]).all()  # torch's need_weights=True path gives nan here
    assert np.isfinite(out).all() and all(np.isfinite(g).all() for g in grads)
    np.testing.assert_array_equal(w[:, 2], 0.0)
    np.testing.assert_allclose(out[:, 2], np.broadcast_to(ours.params["out_proj.bias"], (2, 6)))
    assert all(np.isfinite(g).all() for g in ours.grads.values())
    # torch's need_weights=False path (SDPA) gives zeros too: then everything matches
    assert_mha_match(run_mha(2, 4, 5, attn_mask=blocked, need_weights=False))


def test_mha_init_follows_torch_distributions():
    layer = MultiheadAttention(64, 4, rng=0)
    assert set(layer.params) == {"in_proj_weight", "in_proj_bias", "out_proj.weight",
                                 "out_proj.bias"}
    assert layer.params["in_proj_weight"].shape == (192, 64)
    assert np.abs(layer.params["in_proj_weight"]).max() <= np.sqrt(6 / (64 + 192))
    assert np.abs(layer.params["in_proj_weight"]).max() > 0.9 * np.sqrt(6 / (64 + 192))
    assert np.abs(layer.params["out_proj.weight"]).max() <= 1 / 8
    assert not layer.params["in_proj_bias"].any() and not layer.params["out_proj.bias"].any()
    assert set(MultiheadAttention(8, 2, bias=False).params) == {"in_proj_weight",
                                                                "out_proj.weight"}


@pytest.mark.parametrize("kwargs, message", [
    (dict(embed_dim=6, num_heads=4), "divisible by num_heads"),
    (dict(embed_dim=6, num_heads=2, dropout=0.1), "dropout must be 0.0"),
    (dict(embed_dim=6, num_heads=2, add_bias_kv=True), "add_bias_kv"),
    (dict(embed_dim=6, num_heads=2, kdim=4), "kdim must be None"),
])
def test_mha_unsupported_options(kwargs, message):
    with pytest.raises(ValueError, match=message):
        MultiheadAttention(**kwargs)


def test_mha_bad_inputs():
    layer = MultiheadAttention(6, 2, batch_first=True)
    x = np.zeros((2, 3, 6))
    with pytest.raises(ValueError, match="query must have E = 6"):
        layer.forward(np.zeros((2, 3, 5)), x, x)
    with pytest.raises(ValueError, match=r"attn_mask must have shape \(3, 3\)"):
        layer.forward(x, x, x, attn_mask=np.zeros((3, 4), dtype=bool))
    with pytest.raises(ValueError, match=r"key_padding_mask must have shape \(2, 3\)"):
        layer.forward(x, x, x, key_padding_mask=np.zeros((3, 2), dtype=bool))
    with pytest.raises(ValueError, match="is_causal=True needs attn_mask"):
        layer.forward(x, x, x, is_causal=True)
    with pytest.raises(TypeError, match="attn_mask must be a bool or float"):
        layer.forward(x, x, x, attn_mask=np.zeros((3, 3), dtype=int))


# -- scaled dot-product attention --------------------------------------------------------------

def check_sdpa(q, k, v, mask=None, is_causal=False, scale=None, seed=9):
    q_t, k_t, v_t = (to_torch(a, requires_grad=True) for a in (q, k, v))
    mask_t = None if mask is None else torch.tensor(mask)
    out_t = F.scaled_dot_product_attention(q_t, k_t, v_t, attn_mask=mask_t, is_causal=is_causal,
                                           scale=scale)
    out, weights = scaled_dot_product_attention(q, k, v, mask, is_causal=is_causal, scale=scale)
    assert_close(out, out_t, "output")
    grad_out = random_array(out.shape, seed)
    out_t.backward(to_torch(grad_out))
    grads = scaled_dot_product_attention_backward(grad_out, q, k, v, weights, scale)
    for name, grad, tensor in zip(("query", "key", "value"), grads, (q_t, k_t, v_t)):
        assert_close(grad, tensor.grad, f"gradient of {name}")
    return out, weights, grads


@settings(max_examples=15, deadline=None)
@given(batch=st.lists(st.integers(1, 3), max_size=2), L=st.integers(1, 5),
       S=st.integers(1, 5), E=st.integers(1, 4), Ev=st.integers(1, 4))
def test_sdpa_matches_torch_for_any_shape(batch, L, S, E, Ev):
    q = random_array((*batch, L, E), 1)
    k = random_array((*batch, S, E), 2)
    v = random_array((*batch, S, Ev), 3)
    out, weights, _ = check_sdpa(q, k, v)
    assert out.shape == (*batch, L, Ev) and weights.shape == (*batch, L, S)
    np.testing.assert_allclose(weights.sum(-1), 1.0)


def test_sdpa_masks_causal_and_scale():
    q, k = random_array((2, 3, 4, 5), 1), random_array((2, 3, 6, 5), 2)
    v = random_array((2, 3, 6, 2), 3)
    keep = np.random.default_rng(0).random((4, 6)) < 0.6
    keep[:, 0] = True
    check_sdpa(q, k, v, mask=keep)
    check_sdpa(q, k, v, mask=random_array((3, 4, 6), 4))
    check_sdpa(q, k, v, is_causal=True)
    check_sdpa(q, k, v, scale=0.3)


def test_sdpa_fully_blocked_row_is_zero_with_zero_gradient():
    q, k, v = random_array((2, 4, 3), 1), random_array((2, 5, 3), 2), random_array((2, 5, 3), 3)
    keep = np.ones((4, 5), dtype=bool)
    keep[1] = False
    out, weights, grads = check_sdpa(q, k, v, mask=keep)
    np.testing.assert_array_equal(out[:, 1], 0.0)
    np.testing.assert_array_equal(weights[:, 1], 0.0)
    np.testing.assert_array_equal(grads[0][:, 1], 0.0)


def test_sdpa_large_scores_stay_finite():
    q = random_array((3, 4), 1, scale=1e4)
    out, weights = scaled_dot_product_attention(q, q, q)
    assert np.isfinite(out).all() and np.isfinite(weights).all()


def test_sdpa_bad_inputs():
    q = np.zeros((2, 3, 4))
    with pytest.raises(ValueError, match="key must have E = 4"):
        scaled_dot_product_attention(q, np.zeros((2, 3, 5)), q)
    with pytest.raises(ValueError, match="share their leading dimensions"):
        scaled_dot_product_attention(q, np.zeros((1, 3, 4)), q)
    with pytest.raises(ValueError, match="attn_mask must broadcast"):
        scaled_dot_product_attention(q, q, q, np.ones((3, 2), dtype=bool))
    with pytest.raises(ValueError, match="not both"):
        scaled_dot_product_attention(q, q, q, np.ones((3, 3), dtype=bool), is_causal=True)


def test_causal_mask_matches_torch():
    expected = torch.nn.Transformer.generate_square_subsequent_mask(4, dtype=torch.float64)
    np.testing.assert_array_equal(causal_mask(4), expected.numpy())
    assert causal_mask(2, 3).tolist() == [[0.0, -np.inf, -np.inf], [0.0, 0.0, -np.inf]]
