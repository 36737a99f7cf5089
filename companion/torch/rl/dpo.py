"""Direct preference optimisation (Rafailov et al. 2023) and the optimum it aims at.

Notation: y a response, pi_theta the policy being tuned, pi_ref the frozen model it started from,
r(y) a reward, beta > 0 the strength of the KL penalty.

- The KL-regularised objective max_pi E_pi[r] - beta KL(pi || pi_ref) has the solution
  pi*(y) = pi_ref(y) exp(r(y) / beta) / Z.
- So r(y) = beta log(pi*(y) / pi_ref(y)) + beta log Z: the policy itself defines a reward, the
  implicit reward h(y) = beta (log pi_theta(y) - log pi_ref(y)). Putting h into the Bradley-Terry
  loss of :mod:`companion.torch.rl.reward_models` gives DPO's loss,
  -log sigmoid(h(y_w) - h(y_l)), whose minimiser over all policies is pi* (Z cancels in the
  difference). No reward model is fitted and no response is sampled while training.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.nn import functional as F

from companion.core.checks import as_float_array, real_number
from companion.torch.rl._checks import same_shape_tensors

__all__ = ["dpo_loss", "kl_regularised_optimum"]


def dpo_loss(logp_chosen: torch.Tensor, logp_rejected: torch.Tensor,
             ref_logp_chosen: torch.Tensor, ref_logp_rejected: torch.Tensor,
             beta: float) -> torch.Tensor:
    """Direct preference optimisation loss, averaged over N pairs.

    -log sigmoid(beta [(log pi(y_w) - log pi_ref(y_w)) - (log pi(y_l) - log pi_ref(y_l))]).
    Every argument is (N,) sequence log-probabilities; only the policy's carry gradients.
    """
    same_shape_tensors(logp_chosen=logp_chosen, logp_rejected=logp_rejected,
                       ref_logp_chosen=ref_logp_chosen, ref_logp_rejected=ref_logp_rejected)
    beta = real_number(beta, "beta", low=0.0, low_inclusive=False)
    margin = ((logp_chosen - ref_logp_chosen.detach())
              - (logp_rejected - ref_logp_rejected.detach()))  # (N,)
    return -F.logsigmoid(beta * margin).mean()


def kl_regularised_optimum(ref_probs, rewards, beta: float) -> np.ndarray:
    """pi*(y) = pi_ref(y) exp(r(y) / beta) / Z over an enumerable set of responses.

    Args:
        ref_probs: (M,) pi_ref over all M responses (sums to 1).
        rewards: (M,) r(y). beta: > 0.

    Returns:
        (M,) pi*, computed in log space so that large r / beta does not overflow.
    """
    beta = real_number(beta, "beta", low=0.0, low_inclusive=False)
    ref_probs = as_float_array(ref_probs, "ref_probs", ndim=1, shape_hint="(M,)")
    rewards = as_float_array(rewards, "rewards", ndim=1, shape_hint="(M,)")
    if ref_probs.shape != rewards.shape or ref_probs.size == 0:
        raise ValueError(f"ref_probs and rewards must be non-empty and of one shape (M,), got "
                         f"{ref_probs.shape} and {rewards.shape}")
    with np.errstate(divide="ignore"):
        logits = np.log(ref_probs) + rewards / beta
    logits -= logits.max()
    weights = np.exp(logits)
    return weights / weights.sum()
