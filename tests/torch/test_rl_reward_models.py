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
