"""RL fine-tuning of a language model against a reward, with or without a KL penalty.

A policy pi_theta (a :class:`companion.torch.models.gpt.GPT`) samples responses y of a fixed
length after a fixed prompt x; a reward function scores them. One step of
:func:`rl_finetune` is REINFORCE (Williams 1992) on the KL-penalised reward of
Ziegler et al. (2019):

    R(y) = r(y) - beta (log pi_theta(y | x) - log pi_ref(y | x))
    loss = -mean_i (R_i - mean_j R_j) log pi_theta(y_i | x)

with the batch mean as the baseline and the advantage held constant. Its mean over samples
estimates E_pi[r] - beta KL(pi || pi_ref); beta = 0 is plain reward maximisation.

Diagnostics: :func:`char_entropy` (entropy of the pooled character frequencies, bits) and
:func:`distinct_fraction` (share of distinct responses in a batch), the two numbers that show a
collapse of diversity.
"""

from __future__ import annotations

import numpy as np
import torch

from companion.numpy._validation import positive_int
from companion.torch.rl import reinforce_loss
from companion.torch.rlhf import kl_penalised_rewards

__all__ = ["sample_responses", "rl_finetune", "char_entropy", "distinct_fraction"]


def sample_responses(model, prompt: torch.Tensor, n: int, length: int,
                     generator: torch.Generator | None = None) -> torch.Tensor:
    """n responses of ``length`` tokens after ``prompt`` (P,): returns (n, P + length) ids."""
    idx = prompt.reshape(1, -1).expand(positive_int(n, "n"), -1)  # (n, P)
    return model.generate(idx, positive_int(length, "length"), generator=generator)


def rl_finetune(policy, reference, reward_fn, prompt: torch.Tensor, beta: float,
                steps: int = 100, batch_size: int = 64, length: int = 10, lr: float = 3e-3,
                seed: int = 0) -> dict:
    """Fine-tune ``policy`` in place with KL-penalised REINFORCE (see the module docstring).

    Args:
        policy: a GPT (trained in place with Adam); reference: the frozen GPT it started from.
        reward_fn: maps (B, length) response ids (a CPU LongTensor) to (B,) float rewards.
        prompt: (P,) ids conditioning every response.
        beta: KL coefficient >= 0 (0 removes the penalty).
        steps, batch_size, length, lr, seed: the obvious.

    Returns:
        dict of per-step lists: ``reward`` (mean r), ``kl`` (mean log pi - log pi_ref over the
        batch, an estimate of KL(pi || pi_ref) in nats), ``ref_logp`` (mean log pi_ref(y | x)).
    """
    if beta < 0:
        raise ValueError(f"beta must be >= 0, got {beta}")
    P = prompt.numel()
    generator = torch.Generator(device=prompt.device).manual_seed(seed)
    optimizer = torch.optim.Adam(policy.parameters(), lr=lr)
    reference.eval()
    history = {"reward": [], "kl": [], "ref_logp": []}
    for _ in range(positive_int(steps, "steps")):
        policy.eval()  # no dropout while sampling
        ids = sample_responses(policy, prompt, batch_size, length, generator)  # (B, P + L)
        policy.train()
        logp = policy.sequence_log_prob(ids, prompt_length=P)  # (B,)
        with torch.no_grad():
            ref_logp = reference.sequence_log_prob(ids, prompt_length=P)  # (B,)
            reward = reward_fn(ids[:, P:].cpu()).to(logp.device).float()  # (B,)
            shaped = kl_penalised_rewards(reward, logp.detach(), ref_logp, beta)  # (B,)
        loss = reinforce_loss(logp, shaped, baseline=shaped.mean())
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(policy.parameters(), 1.0)
        optimizer.step()
        history["reward"].append(reward.mean().item())
        history["kl"].append((logp.detach() - ref_logp).mean().item())
        history["ref_logp"].append(ref_logp.mean().item())
    policy.eval()
    return history


def char_entropy(ids) -> float:
    """Entropy (bits) of the frequencies of all tokens in ``ids`` (any shape), pooled."""
    ids = np.asarray(ids).ravel()
    if ids.size == 0:
        raise ValueError("ids must not be empty")
    counts = np.unique(ids, return_counts=True)[1]
    p = counts / counts.sum()
    return float(-(p * np.log2(p)).sum())


def distinct_fraction(ids) -> float:
    """Number of distinct rows of ``ids`` (B, T) divided by B."""
    ids = np.asarray(ids)
    if ids.ndim != 2 or len(ids) == 0:
        raise ValueError(f"ids must be a non-empty (B, T) array, got shape {ids.shape}")
    return len(np.unique(ids, axis=0)) / len(ids)
