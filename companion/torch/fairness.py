"""Measuring and reducing error gaps between groups: per-group metrics and group balancing.

A classifier can be accurate on average and still fail one group of people (or images, or
recordings) far more often than another, typically a group that is rare in the training data.
This module measures that and offers the two simplest remedies:

- :func:`group_error_rates`: error rate of each group, and the gap between the worst and best;
- :func:`group_balanced_weights`: per-example weights that give every group the same total
  weight (for a weighted loss);
- :func:`group_balanced_sampler`: a ``WeightedRandomSampler`` that draws every group equally
  often in expectation (for a ``DataLoader``);
- :func:`weighted_cross_entropy`: the mean of per-example cross-entropies under such weights.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import WeightedRandomSampler

from companion.core.checks import positive_int
from companion.torch._inputs import as_tensor_input, tensor_input

__all__ = ["group_error_rates", "error_gap", "group_balanced_weights", "group_balanced_sampler",
           "weighted_cross_entropy"]


def _groups(groups) -> np.ndarray:
    groups = np.asarray(groups.cpu() if isinstance(groups, torch.Tensor) else groups)
    if groups.ndim != 1 or len(groups) == 0:
        raise ValueError(f"groups must be a non-empty 1-D array of group labels (N,), "
                         f"got shape {groups.shape}")
    return groups


def _labels(values, name: str) -> np.ndarray:
    return np.asarray(as_tensor_input(values, name, "class labels (a tensor or an array)").cpu())


def group_error_rates(predictions, targets, groups) -> dict:
    """Error rate (fraction of predictions != targets) within each group.

    Args:
        predictions, targets, groups: arrays or tensors (N,); groups holds any hashable labels.

    Returns:
        {group label: error rate}, groups in sorted order.
    """
    groups = _groups(groups)
    predictions, targets = _labels(predictions, "predictions"), _labels(targets, "targets")
    if not (predictions.shape == targets.shape == groups.shape):
        raise ValueError(f"predictions {predictions.shape}, targets {targets.shape} and groups "
                         f"{groups.shape} must all have shape (N,)")
    wrong = predictions != targets
    return {label.item() if hasattr(label, "item") else label: float(wrong[groups == label].mean())
            for label in np.unique(groups)}


def error_gap(rates: dict) -> float:
    """Worst group's error rate minus the best group's."""
    if not isinstance(rates, dict) or not rates:
        raise TypeError(f"rates must be a non-empty dict of group -> error rate, got "
                        f"{type(rates).__name__}")
    return max(rates.values()) - min(rates.values())


def group_balanced_weights(groups) -> torch.Tensor:
    """w_n = N / (G * N_g(n)): each of the G groups gets total weight N / G; mean weight 1.

    Args:
        groups: group labels (N,).

    Returns:
        float64 tensor (N,).
    """
    groups = _groups(groups)
    labels, inverse, counts = np.unique(groups, return_inverse=True, return_counts=True)
    weights = len(groups) / (len(labels) * counts[inverse])
    return torch.as_tensor(weights, dtype=torch.float64)


def group_balanced_sampler(groups, num_samples: int | None = None,
                           seed: int = 0) -> WeightedRandomSampler:
    """Sample examples with replacement, each group equally likely on every draw.

    ``num_samples`` draws per epoch (default N). Within a group examples are equally likely,
    so a rare group's examples come up many times per epoch and a common group's less.
    """
    weights = group_balanced_weights(groups)
    num_samples = len(weights) if num_samples is None else positive_int(num_samples,
                                                                        "num_samples")
    generator = torch.Generator().manual_seed(int(seed))
    return WeightedRandomSampler(weights, num_samples, replacement=True, generator=generator)


def weighted_cross_entropy(logits: torch.Tensor, targets: torch.Tensor,
                           weights: torch.Tensor) -> torch.Tensor:
    """sum_n w_n CE(logits_n, targets_n) / sum_n w_n, for logits (N, C), targets and weights (N,)."""
    tensor_input(logits, "logits")
    tensor_input(targets, "targets", floating=False)
    tensor_input(weights, "weights", floating=False)
    if weights.shape != targets.shape:
        raise ValueError(f"weights {tuple(weights.shape)} must match targets "
                         f"{tuple(targets.shape)}")
    losses = torch.nn.functional.cross_entropy(logits, targets, reduction="none")  # (N,)
    weights = weights.to(losses.dtype)
    return (weights * losses).sum() / weights.sum()
