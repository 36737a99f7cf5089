"""Scaled dot-product and multi-head attention against torch in float64."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings, strategies as st

from companion.numpy.attention import (MultiheadAttention, causal_mask,
                                       scaled_dot_product_attention,
                                       scaled_dot_product_attention_backward)
from companion.parity import Function, Scratch, Torch, check_parity, random_array, to_torch


def torch_mha(E, h, bias=True, batch_first=True, seed=0):
    """A float64 torch MHA with random non-zero biases (torch initialises them to zero)."""
    torch.manual_seed(seed)
    module = torch.nn.MultiheadAttention(E, h, bias=bias, batch_first=batch_first).double()
    if bias:
        with torch.no_grad():
            module.in_proj_bias.normal_()
            module.out_proj.bias.normal_()
    return module


def mha_case(N, L, S, E=6, h=2, bias=True, batch_first=True, self_attention=False, seed=0):
    """Torch's layer, our copy of it, and its inputs: query, key, value, or x alone.

    Check them with ``grad_outputs=1``: our backward takes the gradient of the output only, not
    of the attention weights (which are compared in the forward pass).
    """
    theirs = torch_mha(E, h, bias, batch_first, seed)
    ours = MultiheadAttention.from_torch(theirs)
    shape = lambda T: (N, T, E) if batch_first else (T, N, E)  # noqa: E731
    if N is None:
        shape = lambda T: (T, E)  # noqa: E731
    if self_attention:  # x plays all three roles, so its gradient is the sum of the three
        ours = Scratch(ours, call=lambda m, x, **kw: m.forward(x, x, x, **kw),
                       backward=lambda m, grad: sum(m.backward(grad)))
        theirs = Torch(theirs, call=lambda m, x, **kw: m(x, x, x, **kw))
        return ours, theirs, random_array(shape(L), seed + 1)
    return (ours, theirs, random_array(shape(L), seed + 1), random_array(shape(S), seed + 2),
            random_array(shape(S), seed + 3))


@pytest.mark.parametrize("batch_first", [True, False])
@pytest.mark.parametrize("self_attention", [True, False])
def test_mha_self_and_cross(batch_first, self_attention):
    L, S = (5, 5) if self_attention else (5, 7)
    check_parity(*mha_case(3, L, S, batch_first=batch_first, self_attention=self_attention),
                 grad_outputs=1)


@pytest.mark.parametrize("N, L, S", [(1, 1, 1), (1, 4, 3), (2, 1, 6), (3, 6, 1)])
def test_mha_edge_shapes(N, L, S):
    check_parity(*mha_case(N, L, S, E=12, h=3), grad_outputs=1)


def test_mha_unbatched_and_no_bias():
    check_parity(*mha_case(None, 4, 3), grad_outputs=1)
    check_parity(*mha_case(2, 4, 3, bias=False, batch_first=False), grad_outputs=1)


def test_mha_per_head_weights():
    check_parity(*mha_case(2, 4, 5, E=8, h=4),
                 kwargs={"average_attn_weights": False}, grad_outputs=1)


def test_mha_need_weights_false():
    check_parity(*mha_case(2, 4, 5), kwargs={"need_weights": False}, grad_outputs=1)


@pytest.mark.parametrize("batch_first", [True, False])
def test_mha_bool_and_float_attn_mask(batch_first):
    rng = np.random.default_rng(5)
    blocked = rng.random((4, 6)) < 0.4
    blocked[:, 0] = False  # every query keeps at least one key
    check_parity(*mha_case(2, 4, 6, batch_first=batch_first),
                 kwargs={"attn_mask": blocked}, grad_outputs=1)
    check_parity(*mha_case(2, 4, 6, batch_first=batch_first),
                 kwargs={"attn_mask": random_array((4, 6), 6)}, grad_outputs=1)
    per_head = random_array((2 * 2, 4, 6), 7)  # (N*h, L, S)
    check_parity(*mha_case(2, 4, 6, batch_first=batch_first),
                 kwargs={"attn_mask": per_head}, grad_outputs=1)


def test_mha_causal_masks():
    mask = causal_mask(5)
    check_parity(*mha_case(3, 5, 5, self_attention=True),
                 kwargs={"attn_mask": mask}, grad_outputs=1)
    check_parity(*mha_case(3, 5, 5, self_attention=True),
                 kwargs={"attn_mask": mask, "is_causal": True}, grad_outputs=1)
    check_parity(*mha_case(3, 5, 5, self_attention=True),
                 kwargs={"attn_mask": np.isinf(mask)}, grad_outputs=1)


def test_mha_key_padding_mask_bool_and_float():
    padding = np.array([[False] * 6, [False] * 4 + [True] * 2, [False] + [True] * 5])
    check_parity(*mha_case(3, 4, 6), kwargs={"key_padding_mask": padding}, grad_outputs=1)
    check_parity(*mha_case(3, 4, 6),
                 kwargs={"key_padding_mask": np.where(padding, -1e9, 0.0)}, grad_outputs=1)
    blocked = np.isinf(causal_mask(4, 6))  # bool with bool: torch warns on mixed mask types
    check_parity(*mha_case(3, 4, 6, batch_first=False),
                 kwargs={"key_padding_mask": padding, "attn_mask": blocked}, grad_outputs=1)


def test_mha_fully_blocked_row_gives_zeros_not_nan():
    blocked = np.zeros((4, 5), dtype=bool)
    blocked[2] = True  # query 2 may attend to nothing
    ours, theirs, *inputs = mha_case(2, 4, 5)
    out_t, _ = theirs(*to_torch(inputs), attn_mask=torch.tensor(blocked))
    assert torch.isnan(out_t[:, 2]).all()  # torch's need_weights=True path gives nan here
    out, w = ours.forward(*inputs, attn_mask=blocked)
    grads = ours.backward(random_array(out.shape, 4))
    assert np.isfinite(out).all() and all(np.isfinite(g).all() for g in grads)
    np.testing.assert_array_equal(w[:, 2], 0.0)
    np.testing.assert_allclose(out[:, 2], np.broadcast_to(ours.params["out_proj.bias"], (2, 6)))
    assert all(np.isfinite(g).all() for g in ours.grads.values())
    # torch's need_weights=False path (SDPA) gives zeros too: then everything matches
    check_parity(*mha_case(2, 4, 5),
                 kwargs={"attn_mask": blocked, "need_weights": False}, grad_outputs=1)


@pytest.mark.parametrize("add_bias_kv, add_zero_attn", [(True, False), (False, True),
                                                         (True, True)])
@pytest.mark.parametrize("masked", [False, True])
def test_mha_bias_kv_and_zero_attn(add_bias_kv, add_zero_attn, masked):
    """The appended learned key/value and zero key/value match torch, masks padded alike."""
    torch.manual_seed(0)
    theirs = torch.nn.MultiheadAttention(6, 2, batch_first=True, add_bias_kv=add_bias_kv,
                                         add_zero_attn=add_zero_attn).double()
    with torch.no_grad():
        theirs.in_proj_bias.normal_()
    ours = MultiheadAttention.from_torch(theirs)
    padding = np.array([[False] * 5, [False] * 3 + [True] * 2])
    kwargs = ({"key_padding_mask": padding, "attn_mask": np.isinf(causal_mask(4, 5))}
              if masked else {})
    report = check_parity(ours, theirs, random_array((2, 4, 6), 1), random_array((2, 5, 6), 2),
                          random_array((2, 5, 6), 3), kwargs=kwargs, grad_outputs=1)
    assert ("grad bias_k" in report) == add_bias_kv
    _, weights = ours.forward(random_array((2, 4, 6), 1), random_array((2, 5, 6), 2),
                              random_array((2, 5, 6), 3))
    assert weights.shape == (2, 4, 5 + add_bias_kv + add_zero_attn)


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
    (dict(embed_dim=6, num_heads=2, add_bias_kv=1), "add_bias_kv must be True or False"),
    (dict(embed_dim=6, num_heads=2, kdim=4), "kdim must be None"),
])
def test_mha_unsupported_options(kwargs, message):
    with pytest.raises((ValueError, TypeError), match=message):
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

def sdpa_grad(upstream, inputs, output, attn_mask=None, is_causal=False, scale=None):
    """The hand-written backward, given the weights of the same forward pass."""
    weights = scaled_dot_product_attention(*inputs, attn_mask, is_causal=is_causal, scale=scale)[1]
    return scaled_dot_product_attention_backward(upstream[0], *inputs, weights, scale)


SDPA = Function(lambda *qkv, **kw: scaled_dot_product_attention(*qkv, **kw)[0], sdpa_grad)


@settings(max_examples=15, deadline=None)
@given(batch=st.lists(st.integers(1, 3), max_size=2), L=st.integers(1, 5),
       S=st.integers(1, 5), E=st.integers(1, 4), Ev=st.integers(1, 4))
def test_sdpa_matches_torch_for_any_shape(batch, L, S, E, Ev):
    q = random_array((*batch, L, E), 1)
    k = random_array((*batch, S, E), 2)
    v = random_array((*batch, S, Ev), 3)
    check_parity(SDPA, F.scaled_dot_product_attention, q, k, v)
    out, weights = scaled_dot_product_attention(q, k, v)
    assert out.shape == (*batch, L, Ev) and weights.shape == (*batch, L, S)
    np.testing.assert_allclose(weights.sum(-1), 1.0)


def test_sdpa_masks_causal_and_scale():
    q, k = random_array((2, 3, 4, 5), 1), random_array((2, 3, 6, 5), 2)
    v = random_array((2, 3, 6, 2), 3)
    keep = np.random.default_rng(0).random((4, 6)) < 0.6
    keep[:, 0] = True
    for kwargs in ({"attn_mask": keep}, {"attn_mask": random_array((3, 4, 6), 4)},
                   {"is_causal": True}, {"scale": 0.3}):
        check_parity(SDPA, F.scaled_dot_product_attention, q, k, v, kwargs=kwargs)


def test_sdpa_fully_blocked_row_is_zero_with_zero_gradient():
    q, k, v = random_array((2, 4, 3), 1), random_array((2, 5, 3), 2), random_array((2, 5, 3), 3)
    keep = np.ones((4, 5), dtype=bool)
    keep[1] = False
    check_parity(SDPA, F.scaled_dot_product_attention, q, k, v, kwargs={"attn_mask": keep})
    out, weights = scaled_dot_product_attention(q, k, v, keep)
    grads = scaled_dot_product_attention_backward(random_array(out.shape, 4), q, k, v, weights)
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
