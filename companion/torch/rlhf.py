"""Learning from preferences: a stand-in rater, a Bradley-Terry reward model, PPO and DPO losses.

Notation: x a prompt, y a response, pi_theta the policy being tuned, pi_ref the frozen model it
started from, r(y) a reward, beta > 0 the strength of the KL penalty.

- Bradley-Terry: P(y_a preferred to y_b) = sigmoid(r(y_a) - r(y_b)); a reward model r_phi is fit
  by minimising -log sigmoid(r_phi(y_w) - r_phi(y_l)) over pairs (winner y_w, loser y_l).
- KL-regularised objective: max_pi E_pi[r] - beta KL(pi || pi_ref) has the solution
  pi*(y) = pi_ref(y) exp(r(y) / beta) / Z.
- PPO (Schulman et al. 2017): with ratio rho = pi_theta(y) / pi_old(y) and advantage A, minimise
  -mean(min(rho A, clip(rho, 1 - eps, 1 + eps) A)).
- DPO (Rafailov et al. 2023): with h(y) = beta (log pi_theta(y) - log pi_ref(y)), minimise
  -log sigmoid(h(y_w) - h(y_l)); its minimiser over all policies is pi* above.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from companion.core.checks import as_rng, positive_int

__all__ = ["CountingOracle", "BagOfTokensReward", "bradley_terry_loss", "dpo_loss",
           "ppo_clip_loss", "kl_penalised_rewards", "kl_regularised_optimum",
           "train_reward_model", "pair_accuracy"]


class CountingOracle:
    """A programmatic rater standing in for people: it prefers responses with more target tokens.

    score(y) = number of positions of y holding one of ``targets``;
    P(a preferred to b) = sigmoid((score(a) - score(b)) / temperature) (Bradley-Terry), so the
    oracle is noisy: the larger ``temperature``, the more often it picks the worse response.

    Args:
        targets: token ids that the oracle likes.
        temperature: tau > 0.
    """

    def __init__(self, targets, temperature: float = 1.0):
        self.targets = np.unique(np.asarray(targets, dtype=np.int64))
        if temperature <= 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        self.temperature = float(temperature)

    def score(self, ids) -> np.ndarray:
        """(B, T) token ids -> (B,) float counts of target tokens."""
        ids = np.asarray(ids)
        if ids.ndim != 2:
            raise ValueError(f"ids must be (B, T), got shape {ids.shape}")
        return np.isin(ids, self.targets).sum(axis=1).astype(np.float64)

    def prob_first(self, a, b) -> np.ndarray:
        """(B,) probability that the oracle prefers a[i] to b[i]; a, b (B, T)."""
        margin = (self.score(a) - self.score(b)) / self.temperature
        return 1.0 / (1.0 + np.exp(-margin))

    def compare(self, a, b, rng=None) -> np.ndarray:
        """(B,) bool, True where the oracle (sampling its noise from ``rng``) prefers a[i]."""
        p = self.prob_first(a, b)
        return as_rng(rng).random(p.shape) < p

    def best_accuracy(self, a, b) -> float:
        """Expected agreement with the oracle's labels of the best possible predictor.

        The Bayes rule picks the response the oracle prefers more often, so it agrees with a
        label with probability max(p, 1 - p); this returns the mean over the pairs.
        """
        p = self.prob_first(a, b)
        return float(np.maximum(p, 1 - p).mean())


class BagOfTokensReward(nn.Module):
    """Reward model r(y) = sum_t w[y_t] + c: a linear function of the token counts of y.

    ``weight`` (V,) and ``bias`` () start at zero. Input (B, T) ids, output (B,) rewards.
    """

    def __init__(self, vocab_size: int):
        super().__init__()
        positive_int(vocab_size, "vocab_size")
        self.weight = nn.Parameter(torch.zeros(vocab_size))
        self.bias = nn.Parameter(torch.zeros(()))

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.weight[ids].sum(dim=1) + self.bias  # (B, T) -> (B,)


def bradley_terry_loss(r_chosen: torch.Tensor, r_rejected: torch.Tensor) -> torch.Tensor:
    """Mean of -log sigmoid(r_chosen - r_rejected) over pairs; both (N,)."""
    if r_chosen.shape != r_rejected.shape:
        raise ValueError(f"r_chosen and r_rejected must have the same shape, got "
                         f"{tuple(r_chosen.shape)} and {tuple(r_rejected.shape)}")
    return -F.logsigmoid(r_chosen - r_rejected).mean()


def dpo_loss(logp_chosen: torch.Tensor, logp_rejected: torch.Tensor,
             ref_logp_chosen: torch.Tensor, ref_logp_rejected: torch.Tensor,
             beta: float) -> torch.Tensor:
    """Direct preference optimisation loss (Rafailov et al. 2023), averaged over N pairs.

    -log sigmoid(beta [(log pi(y_w) - log pi_ref(y_w)) - (log pi(y_l) - log pi_ref(y_l))]).
    Every argument is (N,) sequence log-probabilities; only the policy's carry gradients.
    """
    if beta <= 0:
        raise ValueError(f"beta must be > 0, got {beta}")
    margin = (logp_chosen - ref_logp_chosen) - (logp_rejected - ref_logp_rejected)  # (N,)
    return -F.logsigmoid(beta * margin).mean()


def ppo_clip_loss(logp_new: torch.Tensor, logp_old: torch.Tensor, advantages: torch.Tensor,
                  clip: float = 0.2) -> torch.Tensor:
    """PPO's clipped surrogate (Schulman et al. 2017), to be minimised.

    -mean(min(rho A, clip(rho, 1 - eps, 1 + eps) A)) with rho = exp(logp_new - logp_old);
    logp_old and the advantages A are constants. All arguments (N,).
    """
    if not 0 < clip < 1:
        raise ValueError(f"clip must be in (0, 1), got {clip}")
    ratio = torch.exp(logp_new - logp_old.detach())  # (N,)
    advantages = advantages.detach()
    unclipped = ratio * advantages
    clipped = torch.clamp(ratio, 1 - clip, 1 + clip) * advantages
    return -torch.minimum(unclipped, clipped).mean()


def kl_penalised_rewards(rewards, logp, ref_logp, beta: float):
    """r(y) - beta (log pi(y) - log pi_ref(y)): the reward with a per-sample KL penalty.

    Its mean over y ~ pi estimates E_pi[r] - beta KL(pi || pi_ref). Arguments (N,).
    """
    return rewards - beta * (logp - ref_logp)


def kl_regularised_optimum(ref_probs, rewards, beta: float) -> np.ndarray:
    """pi*(y) = pi_ref(y) exp(r(y) / beta) / Z over an enumerable set of responses.

    Args:
        ref_probs: (M,) pi_ref over all M responses (sums to 1).
        rewards: (M,) r(y). beta: > 0.

    Returns:
        (M,) pi*, computed in log space so that large r / beta does not overflow.
    """
    if beta <= 0:
        raise ValueError(f"beta must be > 0, got {beta}")
    ref_probs = np.asarray(ref_probs, dtype=np.float64)
    with np.errstate(divide="ignore"):
        logits = np.log(ref_probs) + np.asarray(rewards, dtype=np.float64) / beta
    logits -= logits.max()
    weights = np.exp(logits)
    return weights / weights.sum()


def train_reward_model(model: nn.Module, chosen: torch.Tensor, rejected: torch.Tensor,
                       steps: int = 200, lr: float = 0.05, batch_size: int = 256,
                       seed: int = 0) -> list[float]:
    """Fit ``model`` to preference pairs with the Bradley-Terry loss and Adam.

    Args:
        model: maps (B, T) ids to (B,) rewards.
        chosen, rejected: (N, T) ids of the preferred and the other response of each pair.

    Returns:
        The loss of every step.
    """
    if chosen.shape != rejected.shape:
        raise ValueError(f"chosen and rejected must have the same shape, got "
                         f"{tuple(chosen.shape)} and {tuple(rejected.shape)}")
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    losses = []
    for _ in range(positive_int(steps, "steps")):
        pick = torch.randint(len(chosen), (min(batch_size, len(chosen)),), generator=generator)
        loss = bradley_terry_loss(model(chosen[pick]), model(rejected[pick]))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


@torch.no_grad()
def pair_accuracy(model: nn.Module, first: torch.Tensor, second: torch.Tensor,
                  first_preferred) -> float:
    """Fraction of pairs where ``model`` ranks as the oracle did: (N, T), (N, T), (N,) bool."""
    predicted = (model(first) > model(second)).cpu().numpy()
    return float((predicted == np.asarray(first_preferred)).mean())
