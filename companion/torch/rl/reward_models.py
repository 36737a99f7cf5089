"""Reward models learned from preferences, and a programmatic rater standing in for people.

Bradley-Terry: P(y_a preferred to y_b) = sigmoid(r(y_a) - r(y_b)); a reward model r_phi is fit
by minimising -log sigmoid(r_phi(y_w) - r_phi(y_l)) over pairs (winner y_w, loser y_l). Only
differences of rewards are identified: r_phi + c fits as well as r_phi.
"""

from __future__ import annotations

import copy

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from companion.core.checks import as_index_array, as_rng, positive_int, real_number
from companion.torch._inputs import module_input, tensor_input
from companion.torch.rl._checks import same_shape_tensors

__all__ = ["CountingOracle", "BagOfTokensReward", "TransformerReward", "bradley_terry_loss",
           "train_reward_model", "pair_accuracy"]


class CountingOracle:
    """A programmatic rater standing in for people: it prefers responses with more target tokens.

    score(y) = number of positions of y holding one of ``targets``, minus ``repeat_penalty``
    times the number of positions t >= 1 where y_t = y_{t-1} (a token repeated);
    P(a preferred to b) = sigmoid((score(a) - score(b)) / temperature) (Bradley-Terry), so the
    oracle is noisy: the larger ``temperature``, the more often it picks the worse response.

    Args:
        targets: token ids that the oracle likes.
        temperature: tau > 0.
        repeat_penalty: what each repeated token costs, >= 0.
    """

    def __init__(self, targets, temperature: float = 1.0, repeat_penalty: float = 0.0):
        self.targets = np.unique(as_index_array(targets, "targets"))
        self.temperature = real_number(temperature, "temperature", low=0.0,
                                       low_inclusive=False)
        self.repeat_penalty = real_number(repeat_penalty, "repeat_penalty", low=0.0)

    def score(self, ids) -> np.ndarray:
        """(B, T) token ids -> (B,) float scores (see the class docstring)."""
        ids = np.asarray(ids)
        if ids.ndim != 2:
            raise ValueError(f"ids must be (B, T), got shape {ids.shape}")
        repeats = (ids[:, 1:] == ids[:, :-1]).sum(axis=1)  # (B,)
        return np.isin(ids, self.targets).sum(axis=1) - self.repeat_penalty * repeats

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


class TransformerReward(nn.Module):
    """A reward model made from a language model: its body, with a scalar head for the vocabulary.

    A deep copy of ``lm`` (a :class:`companion.torch.models.gpt.GPT`, or any
    :class:`~companion.torch.models.transformer.TransformerLM`) keeps its embeddings, blocks and
    final norm, and its head ``(V, C)`` is replaced by ``head`` ``Linear(C, 1)`` (weight
    N(0, 0.02^2), bias 0). The model reads the whole sequence causally, so the score at the last
    position depends on every token; that score is the reward r(y) (as in Ziegler et al. 2019 and
    Ouyang et al. 2022).

    ``forward(ids)``: (B, T) ids -> (B,) rewards. :meth:`scores`: (B, T) -> (B, T), the scalar at
    every position (used as a value function V(s_t) when the model is a critic).
    """

    def __init__(self, lm: nn.Module):
        super().__init__()
        if not all(hasattr(lm, name) for name in ("logits", "head", "ln_f")):
            raise TypeError(f"lm must be a transformer language model with logits, head and "
                            f"ln_f, got {type(lm).__name__}")
        self.body = copy.deepcopy(lm)
        width = self.body.head.weight.shape[1]
        self.body.head = nn.Linear(width, 1).to(self.body.head.weight.device)
        with torch.no_grad():
            self.body.head.weight.normal_(0.0, 0.02)
            self.body.head.bias.zero_()

    def scores(self, ids: torch.Tensor) -> torch.Tensor:
        return self.body.logits(ids)[..., 0]  # (B, T, 1) -> (B, T)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.scores(ids)[:, -1]  # (B,)


def bradley_terry_loss(r_chosen: torch.Tensor, r_rejected: torch.Tensor) -> torch.Tensor:
    """Mean of -log sigmoid(r_chosen - r_rejected) over pairs; both (N,)."""
    same_shape_tensors(r_chosen=r_chosen, r_rejected=r_rejected)
    return -F.logsigmoid(r_chosen - r_rejected).mean()


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
    if chosen.shape != rejected.shape or len(chosen) == 0:
        raise ValueError(f"chosen and rejected must be non-empty and of the same shape (N, T), "
                         f"got {tuple(chosen.shape)} and {tuple(rejected.shape)}")
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
    model = module_input(model, "model")
    first = tensor_input(first, "first", floating=False)
    second = tensor_input(second, "second", floating=False)
    if first.dim() != 2 or first.shape != second.shape:
        raise ValueError(f"first and second must be (N, T) ids of one shape, got "
                         f"{tuple(first.shape)} and {tuple(second.shape)}")
    first_preferred = np.asarray(first_preferred)
    if first_preferred.dtype != np.bool_ or first_preferred.shape != (len(first),):
        raise ValueError(f"first_preferred must be ({len(first)},) bools, got dtype "
                         f"{first_preferred.dtype} and shape {first_preferred.shape}")
    predicted = (model(first) > model(second)).cpu().numpy()
    return float((predicted == first_preferred).mean())
