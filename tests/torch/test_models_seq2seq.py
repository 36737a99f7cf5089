"""Seq2Seq and AdditiveAttention: lengths, masking, the attention formula, decoding modes."""

import numpy as np
import pytest
import torch
from torch import nn

from companion.torch.models.seq2seq import AdditiveAttention, Seq2Seq, sequence_lengths

SRC = torch.tensor([[3, 4, 5, 0, 0], [6, 7, 8, 9, 2], [1, 0, 0, 0, 0]])
TGT = torch.tensor([[5, 4, 3, 0], [9, 8, 7, 6], [1, 0, 0, 0]])


def make(attention=True, rnn=None):
    torch.manual_seed(0)
    kwargs = {} if rnn is None else {"rnn": rnn}
    return Seq2Seq(11, 4, 6, attention=attention, **kwargs).double()


def test_sequence_lengths_and_its_checks():
    assert sequence_lengths(SRC).tolist() == [3, 5, 1]
    with pytest.raises(ValueError, match="right-padded"):
        sequence_lengths(torch.tensor([[0, 3, 4]]))
    with pytest.raises(ValueError, match="at least one"):
        sequence_lengths(torch.tensor([[0, 0]]))
    with pytest.raises(ValueError, match=r"\(N, S\)"):
        sequence_lengths(torch.tensor([1, 2]))


def test_additive_attention_follows_its_formula():
    torch.manual_seed(1)
    layer = AdditiveAttention(3, 4, 5).double()
    query, keys = torch.randn(2, 3, dtype=torch.float64), torch.randn(2, 6, 4, dtype=torch.float64)
    mask = torch.tensor([[True] * 4 + [False] * 2, [True] * 6])
    context, weights = layer(query, keys, mask)
    Wq, Wk, bk = layer.query.weight.detach(), layer.key.weight.detach(), layer.key.bias.detach()
    v = layer.score.weight.detach()[0]
    scores = torch.tanh((query @ Wq.T)[:, None] + keys @ Wk.T + bk) @ v      # (2, 6)
    expected = torch.softmax(scores.masked_fill(~mask, float("-inf")), dim=-1)
    torch.testing.assert_close(weights, expected, rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(context, (expected[:, :, None] * keys).sum(1), rtol=1e-12,
                               atol=1e-14)
    assert (weights[0, 4:] == 0).all()
    torch.testing.assert_close(weights.sum(-1), torch.ones(2, dtype=torch.float64))


@pytest.mark.parametrize("attention", [False, True])
def test_shapes_and_padding_does_not_change_the_result(attention):
    model = make(attention)
    logits, weights = model(SRC, TGT)
    assert logits.shape == (3, 4, 11)
    assert (weights is None) == (not attention)
    longer = torch.cat([SRC, torch.zeros(3, 3, dtype=torch.long)], dim=1)   # more padding
    logits_longer, weights_longer = model(longer, TGT)
    torch.testing.assert_close(logits_longer, logits, rtol=1e-12, atol=1e-12)
    if attention:
        assert weights.shape == (3, 4, 5)
        torch.testing.assert_close(weights_longer[:, :, :5], weights, rtol=1e-12, atol=1e-12)
        assert (weights_longer[:, :, 5:] == 0).all()


@pytest.mark.parametrize("attention", [False, True])
def test_greedy_decoding_equals_teacher_forcing_on_its_own_output(attention):
    model = make(attention)
    logits, _ = model(SRC, max_length=4)
    predicted = logits.argmax(-1)
    forced, _ = model(SRC, predicted)
    torch.testing.assert_close(forced, logits, rtol=1e-12, atol=1e-12)


def test_latent_code_is_the_state_after_the_last_real_token():
    model = make(False)
    states, latent, mask = model.encode(SRC)
    torch.testing.assert_close(latent, states[torch.arange(3), torch.tensor([2, 4, 0])])
    assert mask.tolist()[2] == [True, False, False, False, False]


def test_package_gru_and_fused_gru_compute_the_same_function():
    ours, fused = make(True), make(True, nn.GRU)
    fused.load_state_dict(ours.state_dict())
    a, wa = ours(SRC, TGT)
    b, wb = fused(SRC, TGT)
    torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(wa, wb, rtol=1e-10, atol=1e-12)


def test_gradients_reach_every_parameter():
    model = make(True)
    logits, _ = model(SRC, TGT)
    nn.functional.cross_entropy(logits.reshape(-1, 11), TGT.reshape(-1), ignore_index=0).backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_decoding_mode_must_be_chosen_once():
    model = make()
    with pytest.raises(ValueError, match="either tgt"):
        model(SRC)
    with pytest.raises(ValueError, match="either tgt"):
        model(SRC, TGT, max_length=3)
