import math

import numpy as np
import pytest
import torch

from companion.torch.rl.environments import GaussianBandit
from companion.torch.rl.policy_gradients import (kl_penalised_rewards, ppo_clip_loss,
                                                 reinforce_loss, score_function_gradients,
                                                 train_reinforce)


def test_reinforce_loss_hand_computed():
    log_probs = torch.tensor([math.log(0.5), math.log(0.25)], requires_grad=True)
    loss = reinforce_loss(log_probs, torch.tensor([2.0, 0.0]), 1.0)
    # advantages (1, -1): -(log 0.5 - log 0.25) / 2 = -log(2) / 2
    assert loss.item() == pytest.approx(-math.log(2) / 2)
    loss.backward()
    np.testing.assert_allclose(log_probs.grad.numpy(), [-0.5, 0.5])


def test_reinforce_loss_shape_check():
    with pytest.raises(ValueError, match="rewards must have the shape of log_probs"):
        reinforce_loss(torch.zeros(3), torch.zeros(2))
    with pytest.raises(ValueError, match="empty"):
        reinforce_loss(torch.zeros(0), torch.zeros(0))
    with pytest.raises(TypeError, match="log_probs"):
        reinforce_loss([0.0], torch.zeros(1))


def test_score_function_gradients_hand_computed_and_autograd():
    g = score_function_gradients([0.0, 0.0], [0], [3.0], baseline=1.0)
    np.testing.assert_allclose(g, [[1.0, -1.0]])
    rng = np.random.default_rng(0)
    logits = rng.normal(size=4)
    actions, rewards = rng.integers(0, 4, size=5), rng.normal(size=5)
    theta = torch.tensor(logits, requires_grad=True)
    log_probs = torch.log_softmax(theta, 0)[torch.as_tensor(actions)]
    reinforce_loss(log_probs, torch.as_tensor(rewards), 0.3).backward()
    ours = score_function_gradients(logits, actions, rewards, 0.3).mean(axis=0)
    np.testing.assert_allclose(-theta.grad.numpy(), ours, rtol=1e-12)


def test_baseline_lowers_gradient_variance():
    bandit = GaussianBandit([10.0, 10.5, 11.0], noise=1.0)
    rng = np.random.default_rng(1)
    logits = np.zeros(3)
    actions = rng.integers(0, 3, size=4000)
    rewards = bandit.pull(actions, rng)
    plain = score_function_gradients(logits, actions, rewards).var(axis=0).sum()
    based = score_function_gradients(logits, actions, rewards, rewards.mean()).var(axis=0).sum()
    assert based < plain / 20


def test_train_reinforce_finds_best_arm():
    history = train_reinforce(GaussianBandit([0.0, 0.5, 1.0]), steps=300, lr=0.5, seed=0)
    assert history["best_arm_prob"][-1] > 0.9
    assert history["expected_reward"][-1] > history["expected_reward"][0]


def test_bandit_validates():
    with pytest.raises(ValueError, match="means"):
        GaussianBandit([1.0])


def test_ppo_clip_hand_computed_and_gradient():
    logp_new = torch.tensor([math.log(1.5), math.log(1.5)], requires_grad=True)
    loss = ppo_clip_loss(logp_new, torch.zeros(2), torch.tensor([1.0, -1.0]), clip=0.2)
    # A = +1: min(1.5, 1.2) = 1.2 (clipped); A = -1: min(-1.5, -1.2) = -1.5 (not clipped)
    assert loss.item() == pytest.approx((-1.2 + 1.5) / 2)
    loss.backward()
    # the clipped sample gives no gradient; the other d/dlogp (-(rho * -1)) / 2 = rho / 2
    np.testing.assert_allclose(logp_new.grad.numpy(), [0.0, 0.75], rtol=1e-6)


def test_ppo_clip_rejects_bad_arguments():
    with pytest.raises(ValueError, match="clip"):
        ppo_clip_loss(torch.zeros(2), torch.zeros(2), torch.zeros(2), clip=1.5)
    with pytest.raises(ValueError, match="advantages must have the shape"):
        ppo_clip_loss(torch.zeros(2), torch.zeros(2), torch.zeros(3))
    with pytest.raises(ValueError, match="empty"):
        ppo_clip_loss(torch.zeros(0), torch.zeros(0), torch.zeros(0))


def test_kl_penalised_rewards_per_token_hand_computed():
    logp = torch.tensor([[-1.0, -2.0]], requires_grad=True)
    out = kl_penalised_rewards(torch.tensor([2.0]), logp, torch.tensor([[-1.5, -1.0]]), beta=0.5)
    # token 0: -0.5 (-1 + 1.5) = -0.25; token 1: -0.5 (-2 + 1) + 2 = 2.5
    np.testing.assert_allclose(out.numpy(), [[-0.25, 2.5]])
    assert not out.requires_grad
    with pytest.raises(ValueError, match="beta"):
        kl_penalised_rewards(torch.ones(1), logp, logp, beta=-0.1)
    with pytest.raises(ValueError, match=r"rewards must be \(B,\)"):
        kl_penalised_rewards(torch.ones(2), logp, logp, beta=0.1)
    with pytest.raises(ValueError, match=r"\(B, T\)"):
        kl_penalised_rewards(torch.ones(2), torch.zeros(2), torch.zeros(2), beta=0.1)
