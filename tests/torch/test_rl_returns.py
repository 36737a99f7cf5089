import numpy as np
import pytest
import torch

from companion.torch.rl.returns import gae_advantages, reward_to_go


def test_reward_to_go_hand_computed():
    out = reward_to_go(torch.tensor([[1.0, 2.0, 3.0], [0.0, 0.0, 1.0]]), gamma=0.5)
    # 1 + 0.5 * 2 + 0.25 * 3 = 2.75; 2 + 0.5 * 3 = 3.5; 3
    np.testing.assert_allclose(out.numpy(), [[2.75, 3.5, 3.0], [0.25, 0.5, 1.0]])


def test_gae_hand_computed():
    # delta_0 = 1 + 0.5 * 1 - 0.5 = 1; delta_1 = 0 + 0.5 * 0 - 1 = -1
    # A_1 = -1; A_0 = 1 + 0.5 * 0.5 * (-1) = 0.75
    out = gae_advantages(torch.tensor([1.0, 0.0]), torch.tensor([0.5, 1.0, 0.0]), 0.5, 0.5)
    np.testing.assert_allclose(out.numpy(), [0.75, -1.0])


def test_gae_limits_are_td_residual_and_return_minus_value():
    g = torch.Generator().manual_seed(0)
    rewards = torch.randn(4, 6, generator=g, dtype=torch.float64)
    values = torch.randn(4, 7, generator=g, dtype=torch.float64)
    deltas = rewards + 0.9 * values[:, 1:] - values[:, :-1]
    torch.testing.assert_close(gae_advantages(rewards, values, 0.9, 0.0), deltas)
    # lambda = 1: G_t - V(s_t), where G bootstraps from the last value
    padded = torch.cat([rewards, values[:, -1:]], dim=1)
    expected = reward_to_go(padded, 0.9)[:, :-1] - values[:, :-1]
    torch.testing.assert_close(gae_advantages(rewards, values, 0.9, 1.0), expected)


def test_padding_after_the_end_adds_nothing():
    rewards, values = torch.tensor([1.0, 2.0]), torch.tensor([0.3, 0.7, 0.0])
    short = gae_advantages(rewards, values, 0.9, 0.8)
    long = gae_advantages(torch.tensor([1.0, 2.0, 0.0, 0.0]),
                          torch.tensor([0.3, 0.7, 0.0, 0.0, 0.0]), 0.9, 0.8)
    torch.testing.assert_close(long[:2], short)
    assert (long[2:] == 0).all()


def test_bad_arguments():
    with pytest.raises(ValueError, match="T >= 1"):
        reward_to_go(torch.zeros(3, 0), 0.9)
    with pytest.raises(TypeError, match="floating-point"):
        reward_to_go(torch.zeros(3, dtype=torch.long), 0.9)
    with pytest.raises(TypeError, match="rewards"):
        reward_to_go([1.0, 2.0], 0.9)
    with pytest.raises(ValueError, match="gamma"):
        reward_to_go(torch.zeros(3), 1.5)
    with pytest.raises(ValueError, match="lam"):
        gae_advantages(torch.zeros(3), torch.zeros(4), 0.9, -0.1)
    with pytest.raises(ValueError, match=r"values must be \(\.\.\., T \+ 1\)"):
        gae_advantages(torch.zeros(3), torch.zeros(3), 0.9, 0.9)
