"""The torch transformer block, self-attention, sinusoidal positions and the language-model body
(TransformerLM): shapes, masks, maths, initialisation."""

import math

import pytest
import torch
from torch import nn

from companion.torch.models.transformer import (
    SelfAttention,
    TransformerBlock,
    TransformerLM,
    sinusoidal_positional_encoding,
)


def _block(norm_first=True, causal=True, seed=0, **kwargs):
    torch.manual_seed(seed)
    return TransformerBlock(16, 4, norm_first=norm_first, causal=causal, **kwargs).double()


@pytest.mark.parametrize("norm_first", [True, False])
@pytest.mark.parametrize("B, T", [(2, 5), (1, 1), (3, 7)])
def test_block_shape(norm_first, B, T):
    x = torch.randn(B, T, 16, dtype=torch.float64)
    assert _block(norm_first)(x).shape == (B, T, 16)


@pytest.mark.parametrize("norm_first", [True, False])
def test_causal_block_ignores_the_future(norm_first):
    block = _block(norm_first)
    x = torch.randn(2, 6, 16, dtype=torch.float64)
    y = x.clone()
    y[:, 4:] = torch.randn(2, 2, 16, dtype=torch.float64)
    torch.testing.assert_close(block(x)[:, :4], block(y)[:, :4], rtol=1e-12, atol=1e-12)
    assert not torch.allclose(block(x)[:, 4:], block(y)[:, 4:])


def test_bidirectional_block_sees_the_future():
    block = _block(causal=False)
    x = torch.randn(1, 6, 16, dtype=torch.float64)
    y = x.clone()
    y[:, 5] = torch.randn(16, dtype=torch.float64)
    assert not torch.allclose(block(x)[:, 0], block(y)[:, 0])


def test_matches_torch_multihead_attention():
    torch.manual_seed(1)
    ours = SelfAttention(16, 4, causal=True).double()
    theirs = nn.MultiheadAttention(16, 4, batch_first=True).double()
    with torch.no_grad():
        theirs.in_proj_weight.copy_(ours.qkv.weight)
        theirs.in_proj_bias.copy_(ours.qkv.bias)
        theirs.out_proj.weight.copy_(ours.proj.weight)
        theirs.out_proj.bias.copy_(ours.proj.bias)
    x = torch.randn(3, 5, 16, dtype=torch.float64)
    mask = torch.ones(5, 5, dtype=torch.bool).triu(1)  # True = blocked in nn.MultiheadAttention
    expected, _ = theirs(x, x, x, attn_mask=mask, need_weights=False)
    torch.testing.assert_close(ours(x), expected, rtol=1e-10, atol=1e-12)


def test_post_ln_output_is_normalised_and_pre_ln_is_not():
    x = 3.0 * torch.randn(2, 5, 16, dtype=torch.float64) + 2.0
    post = _block(norm_first=False)(x)
    torch.testing.assert_close(post.mean(-1), torch.zeros(2, 5, dtype=torch.float64),
                               atol=1e-10, rtol=0)
    pre = _block(norm_first=True)(x)
    assert pre.mean(-1).abs().min() > 0.1  # the residual stream carries x through unnormalised


def test_fully_padded_rows_give_no_nan():
    block = _block(causal=False)
    x = torch.randn(2, 4, 16, dtype=torch.float64, requires_grad=True)
    padding = torch.tensor([[False, False, True, True], [True, True, True, True]])
    out = block(x, key_padding_mask=padding)
    assert torch.isfinite(out).all()
    out.pow(2).sum().backward()
    assert torch.isfinite(x.grad).all()
    weights = block.attn.last_weights  # (B, nh, T, T)
    assert torch.all(weights[1] == 0)
    assert torch.all(weights[0, :, :, 2:] == 0)


def test_sinusoidal_values_and_offset_rotation():
    pe = sinusoidal_positional_encoding(50, 8, dtype=torch.float64)
    assert pe.shape == (50, 8)
    t, i = 7, 1
    assert pe[t, 2 * i].item() == pytest.approx(math.sin(t / 10000 ** (2 * i / 8)))
    assert pe[t, 2 * i + 1].item() == pytest.approx(math.cos(t / 10000 ** (2 * i / 8)))
    # PE[t + k] = PE[t] M_k for one matrix M_k, whatever t: solve on some rows, check the rest
    k = 5
    M = torch.linalg.lstsq(pe[:20], pe[k:20 + k]).solution  # (8, 8)
    torch.testing.assert_close(pe[20:45] @ M, pe[20 + k:45 + k], atol=1e-9, rtol=0)


def test_sinusoidal_rejects_odd_dim():
    with pytest.raises(ValueError, match="even"):
        sinusoidal_positional_encoding(4, 5)


def test_block_rejects_bad_heads():
    with pytest.raises(ValueError, match="divisible"):
        TransformerBlock(10, 3)


def small(causal: bool) -> TransformerLM:
    torch.manual_seed(0)
    return TransformerLM(n_tokens=7, n_outputs=6, block_size=8, n_layer=2, n_head=2, n_embd=8,
                         dropout=0.0, causal=causal, head_bias=True)


def test_logits_shape_and_causality():
    idx = torch.randint(7, (3, 8))
    changed = idx.clone()
    changed[:, 5:] = (changed[:, 5:] + 1) % 7
    causal, bidirectional = small(True), small(False)
    assert causal.logits(idx).shape == (3, 8, 6)
    torch.testing.assert_close(causal.logits(idx)[:, :5], causal.logits(changed)[:, :5])
    assert not torch.allclose(bidirectional.logits(idx)[:, :5],
                              bidirectional.logits(changed)[:, :5])


def test_initialisation_follows_gpt2():
    model = small(True)
    assert torch.all(model.head.bias == 0) and torch.all(model.ln_f.weight == 1)
    residual = model.blocks[0].attn.proj.weight
    assert residual.std().item() == pytest.approx(0.02 / math.sqrt(4), rel=0.3)
    assert model.tok_emb.weight.std().item() == pytest.approx(0.02, rel=0.3)


def test_bad_input_is_named():
    model = small(True)
    with pytest.raises(ValueError, match="idx must be an integer tensor"):
        model.logits(torch.zeros(2, 3))
    with pytest.raises(ValueError, match="block_size is 8"):
        model.logits(torch.zeros(1, 9, dtype=torch.int64))
