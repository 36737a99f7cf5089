import math

import numpy as np
import pytest
import torch

from companion.torch.rlhf import (BagOfTokensReward, CountingOracle, bradley_terry_loss,
                                  dpo_loss, kl_penalised_rewards, kl_regularised_optimum,
                                  pair_accuracy, ppo_clip_loss, train_reward_model)


def test_bradley_terry_hand_computed():
    loss = bradley_terry_loss(torch.tensor([1.0, 0.0]), torch.tensor([0.0, 0.0]))
    assert loss.item() == pytest.approx((math.log1p(math.exp(-1)) + math.log(2)) / 2)
    with pytest.raises(ValueError, match="same shape"):
        bradley_terry_loss(torch.zeros(2), torch.zeros(3))


def test_dpo_hand_computed():
    # margin = (-1 + 1.5) - (-2 + 1.5) = 1; beta * margin = 0.5
    loss = dpo_loss(torch.tensor([-1.0]), torch.tensor([-2.0]), torch.tensor([-1.5]),
                    torch.tensor([-1.5]), beta=0.5)
    assert loss.item() == pytest.approx(math.log1p(math.exp(-0.5)))
    with pytest.raises(ValueError, match="beta"):
        dpo_loss(torch.zeros(1), torch.zeros(1), torch.zeros(1), torch.zeros(1), beta=0.0)


def test_ppo_clip_hand_computed_and_gradient():
    logp_new = torch.tensor([math.log(1.5), math.log(1.5)], requires_grad=True)
    loss = ppo_clip_loss(logp_new, torch.zeros(2), torch.tensor([1.0, -1.0]), clip=0.2)
    # A = +1: min(1.5, 1.2) = 1.2 (clipped); A = -1: min(-1.5, -1.2) = -1.5 (not clipped)
    assert loss.item() == pytest.approx((-1.2 + 1.5) / 2)
    loss.backward()
    # the clipped sample gives no gradient; the other d/dlogp (-(rho * -1)) / 2 = rho / 2
    np.testing.assert_allclose(logp_new.grad.numpy(), [0.0, 0.75], rtol=1e-6)


def test_kl_penalised_rewards():
    out = kl_penalised_rewards(torch.tensor([1.0]), torch.tensor([-1.0]), torch.tensor([-2.0]),
                               beta=0.5)
    assert out.item() == pytest.approx(0.5)


def test_kl_regularised_optimum_hand_computed():
    np.testing.assert_allclose(kl_regularised_optimum([0.5, 0.5], [0.0, math.log(3)], 1.0),
                               [0.25, 0.75])
    np.testing.assert_allclose(kl_regularised_optimum([0.2, 0.8], [1e4, 0.0], 1e-2), [1.0, 0.0])


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
