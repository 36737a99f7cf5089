"""The torch GPT: shapes, causality, loss at initialisation, training, sampling, log-probs."""

import math

import numpy as np
import pytest
import torch

from companion.data.text import Corpus
from companion.torch.models.gpt import (GPT, GPTConfig, evaluate_loss, stream_log_probs,
                                       train_tiny_gpt)

V = 11


def _model(seed=0, **kwargs):
    torch.manual_seed(seed)
    config = GPTConfig(vocab_size=V, block_size=16, n_layer=2, n_head=2, n_embd=16, **kwargs)
    return GPT(config).double().eval()


def test_shapes_and_loss():
    model = _model()
    idx = torch.randint(0, V, (3, 9))
    logits, loss = model(idx)
    assert logits.shape == (3, 9, V) and loss is None
    _, loss = model(idx, idx)
    assert loss.ndim == 0


def test_loss_at_init_is_close_to_log_vocab():
    model = _model()
    idx = torch.randint(0, V, (8, 16))
    _, loss = model(idx, torch.randint(0, V, (8, 16)))
    assert abs(loss.item() - math.log(V)) < 0.05


@pytest.mark.parametrize("tie", [False, True])
def test_changing_future_tokens_leaves_earlier_logits_unchanged(tie):
    model = _model(tie_weights=tie)
    idx = torch.randint(0, V, (2, 12))
    other = idx.clone()
    other[:, 7:] = (other[:, 7:] + 1) % V
    a, _ = model(idx)
    b, _ = model(other)
    torch.testing.assert_close(a[:, :7], b[:, :7], rtol=0, atol=1e-12)
    assert not torch.allclose(a[:, 7:], b[:, 7:])


def test_tied_head_shares_the_embedding():
    model = _model(tie_weights=True)
    assert model.head.weight is model.tok_emb.weight
    untied = _model(tie_weights=False)
    assert untied.num_parameters() - model.num_parameters() == V * 16


def test_rejects_long_input():
    with pytest.raises(ValueError, match="block_size"):
        _model()(torch.zeros(1, 17, dtype=torch.long))


def test_sequence_log_prob_matches_token_sum():
    model = _model()
    idx = torch.randint(0, V, (2, 10))
    logits, _ = model(idx[:, :-1])
    logp = torch.log_softmax(logits, -1)
    expected = sum(logp[:, t - 1, idx[:, t]].diagonal() for t in range(4, 10))
    torch.testing.assert_close(model.sequence_log_prob(idx, prompt_length=4), expected)
    mask = torch.ones(2, 10)
    mask[:, 8:] = 0
    expected_masked = sum(logp[:, t - 1, idx[:, t]].diagonal() for t in range(4, 8))
    torch.testing.assert_close(model.sequence_log_prob(idx, 4, mask), expected_masked)


def test_generate_is_reproducible_and_respects_top_k():
    model = _model()
    start = torch.zeros(2, 1, dtype=torch.long)
    a = model.generate(start, 30, generator=torch.Generator().manual_seed(3))
    b = model.generate(start, 30, generator=torch.Generator().manual_seed(3))
    assert a.shape == (2, 31) and torch.equal(a, b)
    greedy = model.generate(start, 15, top_k=1)
    # top_k=1 is greedy decoding: each token is the arg-max of the previous logits
    logits, _ = model(greedy[:, :-1])
    assert torch.equal(logits.argmax(-1), greedy[:, 1:])


def test_training_reduces_loss_on_repetitive_text():
    corpus = Corpus("the cat sat on the mat. " * 60)
    config = GPTConfig(vocab_size=corpus.vocab_size, block_size=16, n_layer=1, n_head=2,
                       n_embd=32)
    model, history = train_tiny_gpt(corpus, config, steps=60, batch_size=16, lr=1e-2, warmup=5)
    assert history.step_loss[0] > 2.0 and history.steps == 60 and history.eval_step == [60]
    assert np.mean(history.step_loss[-5:]) < 0.5 * history.step_loss[0]
    assert evaluate_loss(model, corpus.val) < 1.0


def test_training_is_reproducible_for_a_seed_and_differs_across_seeds():
    corpus = Corpus("the cat sat on the mat. " * 60)
    config = GPTConfig(vocab_size=corpus.vocab_size, block_size=16, n_layer=1, n_head=2,
                       n_embd=16)
    runs = [train_tiny_gpt(corpus, config, steps=10, batch_size=8, seed=s)
            for s in (0, 0, 1)]
    (first, h_first), (again, h_again), (other, h_other) = runs
    assert h_first.step_loss == h_again.step_loss
    for name, value in first.state_dict().items():
        torch.testing.assert_close(again.state_dict()[name], value, rtol=0, atol=0)
    assert h_other.step_loss != h_first.step_loss


def test_stream_log_probs_score_each_window_position_and_average_to_the_loss():
    model = _model(3)
    ids = np.random.default_rng(0).integers(0, V, 16 * 5 + 7)  # 5 whole windows, a cut-off tail
    logp = stream_log_probs(model, ids, batch_size=2)
    assert logp.shape == (5, 16)
    assert -logp.mean() == pytest.approx(evaluate_loss(model, ids), rel=1e-12)
    window = torch.from_numpy(ids[16:33])[None]  # window 1: inputs ids[16:32], targets ids[17:33]
    with torch.no_grad():
        expected = model.token_log_probs(window)[0].numpy()  # (16,)
    np.testing.assert_allclose(logp[1], expected, rtol=1e-12)
    with pytest.raises(ValueError, match="ids"):
        stream_log_probs(model, ids[:10])
