"""Scaled dot-product and multi-head attention against torch's built-ins in float64."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from companion.torch.attention import MultiheadAttention, scaled_dot_product_attention
from companion.parity import assert_close, check_parity, random_array, twins


def mha_inputs(L, S, N, E, kdim=None, vdim=None, batch_first=False):
    def shaped(length, size, seed):
        if N is None:
            return random_array((length, size), seed)
        return random_array((N, length, size) if batch_first else (length, N, size), seed)
    return shaped(L, E, 0), shaped(S, kdim or E, 1), shaped(S, vdim or E, 2)


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("L, S, N", [(4, 6, 3), (1, 1, 1), (5, 5, None), (3, 1, 2)])
@pytest.mark.parametrize("average", [True, False])
def test_mha_without_masks(batch_first, L, S, N, average):
    ours, theirs = twins(MultiheadAttention, nn.MultiheadAttention, 6, 3, batch_first=batch_first)
    check_parity(ours, theirs, *mha_inputs(L, S, N, 6, batch_first=batch_first),
                 kwargs={"average_attn_weights": average})


@pytest.mark.parametrize("kwargs", [
    {"bias": False}, {"kdim": 3, "vdim": 5}, {"add_bias_kv": True}, {"add_zero_attn": True},
    {"add_bias_kv": True, "add_zero_attn": True, "kdim": 2},
])
def test_mha_options(kwargs):
    ours, theirs = twins(MultiheadAttention, nn.MultiheadAttention, 4, 2, batch_first=True,
                         **kwargs)
    inputs = mha_inputs(3, 5, 2, 4, kwargs.get("kdim"), kwargs.get("vdim"), batch_first=True)
    mask = np.array([[False, False, True, False, True], [False] * 5])
    check_parity(ours, theirs, *inputs, kwargs={"key_padding_mask": mask})


def causal(L):
    return np.triu(np.ones((L, L), dtype=bool), k=1)          # True above the diagonal: blocked


@pytest.mark.parametrize("mask_kind", ["bool", "float"])
@pytest.mark.parametrize("per_head", [False, True])
def test_mha_attn_mask_and_key_padding_mask(mask_kind, per_head):
    N, H, L, S, E = 2, 2, 4, 5, 6
    ours, theirs = twins(MultiheadAttention, nn.MultiheadAttention, E, H)
    rng = np.random.default_rng(0)
    attn = rng.uniform(size=(N * H, L, S) if per_head else (L, S)) < 0.3
    attn[..., 0] = False                                  # every query keeps one key
    pad = np.array([[False, False, False, True, True], [False, True, False, False, True]])
    if mask_kind == "float":
        attn = np.where(attn, -np.inf, rng.standard_normal(attn.shape))
        pad = np.where(pad, -np.inf, 0.0)
    check_parity(ours, theirs, *mha_inputs(L, S, N, E),
                 kwargs={"attn_mask": attn, "key_padding_mask": pad})


def test_mha_causal_hint_with_the_causal_mask():
    ours, theirs = twins(MultiheadAttention, nn.MultiheadAttention, 4, 2, batch_first=True)
    check_parity(ours, theirs, *mha_inputs(5, 5, 2, 4, batch_first=True),
                 kwargs={"attn_mask": causal(5), "is_causal": True})
    with pytest.raises(ValueError, match="is_causal=True needs attn_mask"):
        ours(*(torch.tensor(x) for x in mha_inputs(5, 5, 2, 4, batch_first=True)), is_causal=True)


def test_mha_fully_masked_rows_match_torch_sdpa_path_and_have_zero_weights():
    """A query with no admissible key: torch's need_weights=False path gives out_proj(0)."""
    ours, theirs = twins(MultiheadAttention, nn.MultiheadAttention, 4, 2, batch_first=True)
    pad = torch.tensor([[True, True, True], [False, True, False]])
    attn = torch.zeros(2, 3, dtype=torch.bool)
    attn[1] = True                                        # query 1 blocked everywhere
    check_parity(ours, theirs, *mha_inputs(2, 3, 2, 4, batch_first=True),
                 kwargs={"key_padding_mask": pad.numpy(), "attn_mask": attn.numpy(),
                         "need_weights": False})
    q, k, v = (torch.tensor(x) for x in mha_inputs(2, 3, 2, 4, batch_first=True))
    out, weights = ours(q, k, v, key_padding_mask=pad, attn_mask=attn)
    assert torch.isfinite(out).all()
    assert torch.equal(weights[0], torch.zeros(2, 3, dtype=torch.float64))
    assert torch.equal(weights[1, 1], torch.zeros(3, dtype=torch.float64))
    assert_close(out[0].detach().numpy(), ours.out_proj.bias.expand(2, 4), "out_proj(0)")


def test_mha_dropout_only_in_training():
    ours, theirs = twins(MultiheadAttention, nn.MultiheadAttention, 4, 2, dropout=0.5)
    ours.eval(), theirs.eval()
    check_parity(ours, theirs, *mha_inputs(3, 3, 2, 4))
    q, k, v = (torch.tensor(x) for x in mha_inputs(3, 3, 2, 4))
    ours.train()
    torch.manual_seed(0)
    weights = ours(q, k, v, average_attn_weights=False)[1]
    assert (weights == 0).any() and weights.max() > 1.0      # dropped and rescaled by 2


def test_mha_default_initialisation_matches_torch_draw_for_draw():
    for kwargs in ({}, {"kdim": 3, "vdim": 2, "add_bias_kv": True}):
        torch.manual_seed(4)
        theirs = nn.MultiheadAttention(6, 2, **kwargs)
        torch.manual_seed(4)
        ours = MultiheadAttention(6, 2, **kwargs)
        assert list(ours.state_dict()) == list(theirs.state_dict())
        for name, value in theirs.state_dict().items():
            assert_close(ours.state_dict()[name].numpy(), value, name)


def test_mha_rejects_bad_input():
    mha = MultiheadAttention(4, 2)
    with pytest.raises(ValueError, match="divisible by num_heads"):
        MultiheadAttention(5, 2)
    with pytest.raises(ValueError, match=r"key must have 4 features in its last axis"):
        mha(torch.zeros(3, 1, 4), torch.zeros(3, 1, 5), torch.zeros(3, 1, 4))
    with pytest.raises(ValueError, match=r"key_padding_mask must have shape \(N, S\) = \(1, 3\)"):
        mha(torch.zeros(3, 1, 4), torch.zeros(3, 1, 4), torch.zeros(3, 1, 4),
            key_padding_mask=torch.zeros(1, 4, dtype=torch.bool))
    with pytest.raises(ValueError, match=r"attn_mask must have shape \(L, S\) = \(3, 3\)"):
        mha(torch.zeros(3, 1, 4), torch.zeros(3, 1, 4), torch.zeros(3, 1, 4),
            attn_mask=torch.zeros(2, 3, dtype=torch.bool))


def sdpa_case(shape_q, shape_k, shape_v):
    return random_array(shape_q, 0), random_array(shape_k, 1), random_array(shape_v, 2)


@pytest.mark.parametrize("kwargs", [{}, {"is_causal": True}, {"scale": 0.3},
                                    {"is_causal": True, "scale": 2.0}])
@pytest.mark.parametrize("shapes", [((2, 3, 4, 5), (2, 3, 6, 5), (2, 3, 6, 7)),
                                    ((1, 1, 5), (1, 1, 5), (1, 1, 2)),
                                    ((3, 4), (3, 4), (3, 4))])
def test_sdpa(kwargs, shapes):
    check_parity(scaled_dot_product_attention, F.scaled_dot_product_attention,
                 *sdpa_case(*shapes), kwargs=kwargs)


@pytest.mark.parametrize("mask_kind", ["bool", "float"])
def test_sdpa_masks_with_a_fully_blocked_row(mask_kind):
    rng = np.random.default_rng(1)
    keep = rng.uniform(size=(2, 1, 4, 6)) < 0.6
    keep[0, 0, 2] = False                                 # query 2 of batch 0 sees nothing
    keep[1, 0, :, 0] = True
    mask = keep if mask_kind == "bool" else np.where(keep, rng.standard_normal(keep.shape), -np.inf)
    inputs = sdpa_case((2, 3, 4, 5), (2, 3, 6, 5), (2, 3, 6, 7))
    check_parity(scaled_dot_product_attention, F.scaled_dot_product_attention, *inputs,
                 kwargs={"attn_mask": mask})
    out = scaled_dot_product_attention(*(torch.tensor(x) for x in inputs),
                                       attn_mask=torch.tensor(mask))
    assert torch.equal(out[0, :, 2], torch.zeros(3, 7, dtype=torch.float64))


def test_sdpa_grouped_query_attention():
    check_parity(scaled_dot_product_attention, F.scaled_dot_product_attention,
                 *sdpa_case((2, 4, 3, 5), (2, 2, 6, 5), (2, 2, 6, 5)),
                 kwargs={"enable_gqa": True})


def test_sdpa_rejects_bad_input():
    with pytest.raises(ValueError, match="must share E"):
        scaled_dot_product_attention(torch.zeros(2, 3), torch.zeros(2, 4), torch.zeros(2, 4))
    with pytest.raises(ValueError, match="cannot be given together"):
        scaled_dot_product_attention(torch.zeros(2, 3), torch.zeros(2, 3), torch.zeros(2, 3),
                                     attn_mask=torch.ones(2, 2, dtype=torch.bool), is_causal=True)
