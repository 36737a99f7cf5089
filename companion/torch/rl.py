"""Policy gradients on a multi-armed bandit: REINFORCE with and without a baseline.

A softmax policy over K arms has logits theta (K,) and picks arm a with probability
pi(a) = softmax(theta)_a. REINFORCE (Williams 1992) estimates the gradient of the expected
reward J(theta) = sum_a pi(a) mu_a from sampled arms and rewards:

    grad J = E[(r - b) grad log pi(a)],     grad_theta log pi(a) = onehot(a) - pi,

which is unbiased for any baseline b that does not depend on the sampled arm; b = E[r] (here a
running mean of past rewards) makes the estimate much less noisy.
"""

from __future__ import annotations

import numpy as np
import torch

from companion.core.checks import as_rng, positive_int

__all__ = ["GaussianBandit", "reinforce_loss", "score_function_gradients", "train_reinforce"]


class GaussianBandit:
    """K arms; pulling arm a pays mu_a + sigma * N(0, 1).

    Args:
        means: (K,) expected reward of each arm.
        noise: sigma, the standard deviation of the reward noise.
    """

    def __init__(self, means, noise: float = 1.0):
        self.means = np.asarray(means, dtype=np.float64)
        if self.means.ndim != 1 or len(self.means) < 2:
            raise ValueError(f"means must be a 1-D array of at least 2 arms, got shape "
                             f"{self.means.shape}")
        if noise < 0:
            raise ValueError(f"noise must be >= 0, got {noise}")
        self.noise = float(noise)

    @property
    def n_arms(self) -> int:
        return len(self.means)

    def pull(self, actions, rng=None) -> np.ndarray:
        """Rewards (N,) for the arms ``actions`` (N,) int, with noise drawn from ``rng``."""
        actions = np.asarray(actions)
        return self.means[actions] + self.noise * as_rng(rng).standard_normal(actions.shape)


def reinforce_loss(log_probs: torch.Tensor, rewards: torch.Tensor,
                   baseline: torch.Tensor | float = 0.0) -> torch.Tensor:
    """Surrogate loss whose gradient is minus the REINFORCE estimate.

    loss = -mean_i (r_i - b) * log pi(a_i); the advantage r - b carries no gradient.

    Args:
        log_probs: (N,) log pi(a_i) of the sampled actions (differentiable).
        rewards: (N,) rewards r_i.
        baseline: scalar or (N,) baseline b.

    Returns:
        A scalar tensor.
    """
    if log_probs.shape != rewards.shape:
        raise ValueError(f"log_probs and rewards must have the same shape, got "
                         f"{tuple(log_probs.shape)} and {tuple(rewards.shape)}")
    advantages = (rewards - baseline).detach()  # (N,)
    return -(advantages * log_probs).mean()


def score_function_gradients(logits, actions, rewards, baseline=0.0) -> np.ndarray:
    """Per-sample REINFORCE gradients of J for a softmax policy, in closed form.

    g_i = (r_i - b) * (onehot(a_i) - softmax(logits)).

    Args:
        logits: (K,) policy logits theta.
        actions: (N,) sampled arms. rewards: (N,) their rewards. baseline: scalar or (N,).

    Returns:
        (N, K) one gradient estimate per sample; their mean estimates grad J.
    """
    logits = np.asarray(logits, dtype=np.float64)
    z = logits - logits.max()
    probs = np.exp(z) / np.exp(z).sum()  # (K,)
    actions = np.asarray(actions)
    onehot = np.eye(len(logits))[actions]  # (N, K)
    advantages = np.asarray(rewards, dtype=np.float64) - baseline  # (N,)
    return advantages[:, None] * (onehot - probs)  # (N, 1) * (N, K)


def train_reinforce(bandit: GaussianBandit, steps: int = 300, batch_size: int = 8,
                    lr: float = 0.1, baseline: bool = True, momentum: float = 0.9,
                    seed: int = 0) -> dict:
    """Learn a softmax policy over the bandit's arms with REINFORCE and plain SGD.

    Each step samples ``batch_size`` arms, pulls them, and ascends the REINFORCE estimate;
    with ``baseline`` the advantage is r minus a running mean of rewards
    (b <- momentum * b + (1 - momentum) * mean(r)), computed before the step's rewards enter.

    Returns:
        A dict with ``expected_reward`` (steps,) sum_a pi(a) mu_a after each step,
        ``best_arm_prob`` (steps,) and the final ``logits`` (K,).
    """
    steps = positive_int(steps, "steps")
    batch_size = positive_int(batch_size, "batch_size")
    rng = np.random.default_rng(seed)
    logits = torch.zeros(bandit.n_arms, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.SGD([logits], lr=lr)
    means = torch.as_tensor(bandit.means)
    running = 0.0
    history = {"expected_reward": [], "best_arm_prob": []}
    best = int(np.argmax(bandit.means))
    for _ in range(steps):
        probs = torch.softmax(logits, dim=0)  # (K,)
        actions = rng.choice(bandit.n_arms, size=batch_size, p=probs.detach().numpy())
        rewards = torch.as_tensor(bandit.pull(actions, rng))  # (N,)
        log_probs = torch.log_softmax(logits, dim=0)[torch.as_tensor(actions)]  # (N,)
        loss = reinforce_loss(log_probs, rewards, running if baseline else 0.0)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if baseline:
            running = momentum * running + (1 - momentum) * rewards.mean().item()
        with torch.no_grad():
            probs = torch.softmax(logits, dim=0)
            history["expected_reward"].append(float(probs @ means))
            history["best_arm_prob"].append(float(probs[best]))
    history["expected_reward"] = np.array(history["expected_reward"])
    history["best_arm_prob"] = np.array(history["best_arm_prob"])
    history["logits"] = logits.detach().numpy().copy()
    return history
