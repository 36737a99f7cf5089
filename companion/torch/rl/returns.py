"""Returns and advantages of episodes: reward-to-go and generalised advantage estimation.

For rewards r_0 .. r_{T-1} and a discount gamma:

- the **reward-to-go** from step t is G_t = sum_{k >= t} gamma^(k-t) r_k = r_t + gamma G_{t+1};
  G_0 is the episode's (discounted) return;
- with state values V(s_0) .. V(s_T), the **TD residual** is
  delta_t = r_t + gamma V(s_{t+1}) - V(s_t), and the **GAE(lambda)** advantage
  (Schulman et al. 2016) is A_t = sum_{k >= t} (gamma lambda)^(k-t) delta_k.
  lambda = 0 gives delta_t (low variance, biased by V's errors); lambda = 1 gives G_t - V(s_t)
  (unbiased, the variance of the whole remaining return).

Both act on the last axis of (..., T) tensors. Episodes of different lengths are padded: after an
episode ends its rewards and its values are zero (a terminal state is worth nothing), and then the
padding adds nothing.
"""

from __future__ import annotations

import torch

from companion.core.checks import real_number

__all__ = ["reward_to_go", "gae_advantages"]


def _check_rewards(rewards) -> torch.Tensor:
    if not isinstance(rewards, torch.Tensor) or not rewards.is_floating_point():
        raise TypeError(f"rewards must be a floating-point tensor (..., T), got "
                        f"{type(rewards).__name__}"
                        + (f" of dtype {rewards.dtype}" if isinstance(rewards, torch.Tensor)
                           else ""))
    if rewards.dim() == 0 or rewards.shape[-1] == 0:
        raise ValueError(f"rewards must be (..., T) with T >= 1, got shape {tuple(rewards.shape)}")
    return rewards


def _discounted_sums(x: torch.Tensor, factor: float) -> torch.Tensor:
    """out_t = sum_{k >= t} factor^(k-t) x_k along the last axis, as one matrix product."""
    T = x.shape[-1]
    k = torch.arange(T, device=x.device)
    gap = k[:, None] - k[None, :]  # (T, T): k - t in row k, column t
    weights = torch.where(gap >= 0, factor ** gap.clamp(min=0).to(x.dtype),
                          torch.zeros((), dtype=x.dtype, device=x.device))  # (T, T)
    return x @ weights  # (..., T) @ (T, T) -> (..., T)


def reward_to_go(rewards: torch.Tensor, gamma: float) -> torch.Tensor:
    """G_t = r_t + gamma G_{t+1} (G_T = 0) along the last axis: (..., T) -> (..., T).

    Args:
        rewards: (..., T) r_0 .. r_{T-1}.
        gamma: the discount in [0, 1].
    """
    rewards = _check_rewards(rewards)
    gamma = real_number(gamma, "gamma", low=0.0, high=1.0)
    return _discounted_sums(rewards, gamma)


def gae_advantages(rewards: torch.Tensor, values: torch.Tensor, gamma: float,
                   lam: float) -> torch.Tensor:
    """GAE(lambda) advantages A_t = delta_t + gamma lambda A_{t+1}: (..., T) -> (..., T).

    Args:
        rewards: (..., T) r_0 .. r_{T-1}.
        values: (..., T + 1) V(s_0) .. V(s_T); V(s_T) bootstraps an episode cut short and is 0
            for one that ended. Treated as constants.
        gamma: the discount in [0, 1]. lam: lambda in [0, 1].
    """
    rewards = _check_rewards(rewards)
    gamma = real_number(gamma, "gamma", low=0.0, high=1.0)
    lam = real_number(lam, "lam", low=0.0, high=1.0)
    if not isinstance(values, torch.Tensor):
        raise TypeError(f"values must be a tensor, got {type(values).__name__}")
    expected = (*rewards.shape[:-1], rewards.shape[-1] + 1)
    if tuple(values.shape) != expected:
        raise ValueError(f"values must be (..., T + 1) = {expected} for rewards of shape "
                         f"{tuple(rewards.shape)}, got {tuple(values.shape)}")
    values = values.detach().to(rewards.dtype)
    deltas = rewards + gamma * values[..., 1:] - values[..., :-1]  # (..., T)
    return _discounted_sums(deltas, gamma * lam)
