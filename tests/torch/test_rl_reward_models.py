import math

import numpy as np
import pytest
import torch

from companion.torch.rl.reward_models import (BagOfTokensReward, CountingOracle,
                                              bradley_terry_loss, pair_accuracy,
                                              train_reward_model)


def test_bradley_terry_hand_computed():
    loss = bradley_terry_loss(torch.tensor([1.0, 0.0]), torch.tensor([0.0, 0.0]))
    assert loss.item() == pytest.approx((math.log1p(math.exp(-1)) + math.log(2)) / 2)
    with pytest.raises(ValueError, match="r_rejected must have the shape"):
        bradley_terry_loss(torch.zeros(2), torch.zeros(3))
    with pytest.raises(ValueError, match="empty"):
        bradley_terry_loss(torch.zeros(0), torch.zeros(0))


def test_oracle_scores_and_probabilities():
    oracle = CountingOracle([1], temperature=2.0)
    a = np.array([[1, 1, 0], [1, 0, 0]])
    b = np.array([[0, 0, 0], [0, 1, 0]])
    np.testing.assert_allclose(oracle.score(a), [2.0, 1.0])
    # repeats: [1, 1, 0] and [1, 0, 0] have one each, [0, 0, 0] two, [0, 1, 0] none
    penalised = CountingOracle([1], repeat_penalty=0.5)
    np.testing.assert_allclose(penalised.score(a), [1.5, 0.5])
    np.testing.assert_allclose(penalised.score(b), [-1.0, 1.0])
    p = oracle.prob_first(a, b)
    np.testing.assert_allclose(p, [1 / (1 + math.exp(-1)), 0.5])
    assert oracle.best_accuracy(a, b) == pytest.approx((p[0] + 0.5) / 2)
    labels = oracle.compare(np.repeat(a[:1], 20000, 0), np.repeat(b[:1], 20000, 0), rng=0)
    assert labels.mean() == pytest.approx(p[0], abs=0.01)


def test_reward_model_reaches_oracle_accuracy():
    rng = np.random.default_rng(0)
    oracle = CountingOracle([0, 1], temperature=1.0)
    a, b = rng.integers(0, 5, size=(2, 3000, 8))
    label = oracle.compare(a, b, rng)
    chosen = torch.as_tensor(np.where(label[:, None], a, b))
    rejected = torch.as_tensor(np.where(label[:, None], b, a))
    model = BagOfTokensReward(5)
    train_reward_model(model, chosen[:2000], rejected[:2000], steps=300, lr=0.05)
    weights = model.weight.detach().numpy()
    assert weights[:2].min() > weights[2:].max()  # the liked tokens earn more
    test_a, test_b = torch.as_tensor(a[2000:]), torch.as_tensor(b[2000:])
    acc = pair_accuracy(model, test_a, test_b, label[2000:])
    assert acc > oracle.best_accuracy(a[2000:], b[2000:]) - 0.04


def test_transformer_reward_reads_the_lm_body_and_learns_the_oracle():
    from companion.torch.models.gpt import GPT, GPTConfig
    from companion.torch.rl.reward_models import TransformerReward
    torch.manual_seed(0)
    lm = GPT(GPTConfig(vocab_size=5, block_size=8, n_layer=1, n_head=1, n_embd=16))
    model = TransformerReward(lm)
    # the body is a copy: same embedding, a new (1, C) head; the LM itself is untouched
    assert torch.equal(model.body.tok_emb.weight, lm.tok_emb.weight)
    assert model.body.tok_emb.weight is not lm.tok_emb.weight
    assert model.body.head.weight.shape == (1, 16) and lm.head.weight.shape == (5, 16)
    ids = torch.randint(0, 5, (3, 6))
    assert model(ids).shape == (3,) and model.scores(ids).shape == (3, 6)
    torch.testing.assert_close(model(ids), model.scores(ids)[:, -1])
    # causal: the last position's reward sees the first token, earlier positions not the last
    changed = ids.clone()
    changed[:, -1] = (changed[:, -1] + 1) % 5
    torch.testing.assert_close(model.scores(changed)[:, :-1], model.scores(ids)[:, :-1])
    rng = np.random.default_rng(0)
    oracle = CountingOracle([0, 1], temperature=0.5)
    a, b = rng.integers(0, 5, size=(2, 1500, 6))
    label = oracle.compare(a, b, rng)
    chosen = torch.as_tensor(np.where(label[:, None], a, b))
    rejected = torch.as_tensor(np.where(label[:, None], b, a))
    train_reward_model(model, chosen[:1000], rejected[:1000], steps=150, lr=3e-3, batch_size=64)
    acc = pair_accuracy(model, torch.as_tensor(a[1000:]), torch.as_tensor(b[1000:]), label[1000:])
    assert acc > oracle.best_accuracy(a[1000:], b[1000:]) - 0.08
    with pytest.raises(TypeError, match="lm"):
        TransformerReward(torch.nn.Linear(2, 2))
    with pytest.raises(ValueError, match="non-empty"):
        train_reward_model(model, chosen[:0], rejected[:0])
