"""Policy-gradient losses: REINFORCE (with a baseline), PPO's clipped ratio, the KL penalty.

On a multi-armed bandit, a softmax policy over K arms has logits theta (K,) and picks arm a with probability
pi(a) = softmax(theta)_a. REINFORCE (Williams 1992) estimates the gradient of the expected
reward J(theta) = sum_a pi(a) mu_a from sampled arms and rewards:

    grad J = E[(r - b) grad log pi(a)],     grad_theta log pi(a) = onehot(a) - pi,

which is unbiased for any baseline b that does not depend on the sampled arm; b = E[r] (here a
running mean of past rewards) makes the estimate much less noisy. With states, the same
estimator weights each step's grad log pi(a_t | s_t) by an advantage (see
:mod:`companion.torch.rl.returns` and :mod:`companion.torch.rl.actor_critic`).

PPO (Schulman et al. 2017) reuses a batch sampled from pi_old for several steps; with the ratio
rho = pi_theta(a) / pi_old(a) and advantage A it minimises
-mean(min(rho A, clip(rho, 1 - eps, 1 + eps) A)), which takes away the incentive to move rho
beyond 1 +- eps. For language models the reward is shaped with a per-token KL penalty to a frozen
reference pi_ref (Ziegler et al. 2019): token t of a response earns
-beta (log pi(y_t) - log pi_ref(y_t)), and the last token also earns the score r(y).
"""

from __future__ import annotations

import numpy as np
import torch

from companion.core.checks import as_float_array, as_index_array, positive_int, real_number
from companion.torch.rl._checks import same_shape_tensors
from companion.torch.rl.environments import GaussianBandit

__all__ = ["reinforce_loss", "score_function_gradients", "train_reinforce", "ppo_clip_loss",
           "kl_penalised_rewards"]


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
    same_shape_tensors(log_probs=log_probs, rewards=rewards)
    if not isinstance(baseline, (torch.Tensor, int, float)) or isinstance(baseline, bool):
        raise TypeError(f"baseline must be a number or a tensor, got {type(baseline).__name__}")
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
    logits = as_float_array(logits, "logits", ndim=1)
    z = logits - logits.max()
    probs = np.exp(z) / np.exp(z).sum()  # (K,)
    actions = as_index_array(actions, "actions", upper=len(logits))
    onehot = np.eye(len(logits))[actions]  # (N, K)
    advantages = as_float_array(rewards, "rewards") - as_float_array(baseline, "baseline")  # (N,)
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


def ppo_clip_loss(logp_new: torch.Tensor, logp_old: torch.Tensor, advantages: torch.Tensor,
                  clip: float = 0.2) -> torch.Tensor:
    """PPO's clipped surrogate (Schulman et al. 2017), to be minimised.

    -mean(min(rho A, clip(rho, 1 - eps, 1 + eps) A)) with rho = exp(logp_new - logp_old);
    logp_old and the advantages A are constants. All arguments (N,) (or any one shape).
    """
    same_shape_tensors(logp_new=logp_new, logp_old=logp_old, advantages=advantages)
    clip = real_number(clip, "clip", low=0.0, high=1.0, low_inclusive=False,
                       high_inclusive=False)
    ratio = torch.exp(logp_new - logp_old.detach())  # (N,)
    advantages = advantages.detach()
    unclipped = ratio * advantages
    clipped = torch.clamp(ratio, 1 - clip, 1 + clip) * advantages
    return -torch.minimum(unclipped, clipped).mean()


def kl_penalised_rewards(rewards: torch.Tensor, logp: torch.Tensor, ref_logp: torch.Tensor,
                         beta: float) -> torch.Tensor:
    """Per-token rewards: -beta (log pi(y_t) - log pi_ref(y_t)), plus r(y) on the last token.

    Their sum over a response y ~ pi has mean E_pi[r] - beta KL(pi || pi_ref).

    Args:
        rewards: (B,) the score r(y) of each response.
        logp, ref_logp: (B, T) log-probabilities of the response tokens under pi and pi_ref.
        beta: the KL coefficient >= 0.

    Returns:
        (B, T) rewards, without gradient.
    """
    shape = same_shape_tensors(logp=logp, ref_logp=ref_logp)
    if len(shape) != 2:
        raise ValueError(f"logp must be (B, T), got shape {shape}")
    B = shape[0]
    if same_shape_tensors(rewards=rewards) != (B,):
        raise ValueError(f"rewards must be (B,) = ({B},), got {tuple(rewards.shape)}")
    beta = real_number(beta, "beta", low=0.0)
    shaped = -beta * (logp - ref_logp).detach()  # (B, T)
    shaped[:, -1] += rewards.detach().to(shaped.dtype)
    return shaped
