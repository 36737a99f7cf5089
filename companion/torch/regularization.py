"""Weight penalties and the measurements that go with them.

A penalty is added to the data loss, so training trades fitting the examples against keeping
the weights small::

    L2 (weight decay):  Loss_total = Loss + lambda * sum_w w^2
    L1 (lasso):         Loss_total = Loss + lambda * sum_w |w|

Only weight matrices and kernels (parameters with two or more dimensions) are penalised;
biases and normalisation scales and shifts are left free, the usual convention.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import torch
from torch import nn

from companion.core.checks import real_number
from companion.torch._inputs import module_input

__all__ = ["weight_parameters", "l2_penalty", "l1_penalty", "penalized", "weight_norm",
           "near_zero_fraction"]


def weight_parameters(model: nn.Module) -> Iterator[nn.Parameter]:
    """The parameters a weight penalty acts on: those with ``dim() >= 2`` (weights, kernels)."""
    return (p for p in module_input(model, "model").parameters() if p.dim() >= 2)


def l2_penalty(model: nn.Module) -> torch.Tensor:
    """sum_w w^2 over the weights of ``model`` (a differentiable scalar)."""
    return sum((w.pow(2).sum() for w in weight_parameters(model)), torch.tensor(0.0))


def l1_penalty(model: nn.Module) -> torch.Tensor:
    """``sum_w |w|`` over the weights of ``model`` (a differentiable scalar)."""
    return sum((w.abs().sum() for w in weight_parameters(model)), torch.tensor(0.0))


def penalized(loss_fn: Callable, model: nn.Module, l2: float = 0.0,
              l1: float = 0.0) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """A loss function that adds ``l2 * sum w^2 + l1 * sum |w|`` to ``loss_fn(outputs, targets)``.

    The penalty reads ``model``'s current weights at every call, so the result can be handed to
    a training loop in place of ``loss_fn``. Its values include the penalty: evaluate with
    the plain ``loss_fn`` to compare data losses between models.
    """
    if not callable(loss_fn):
        raise TypeError(f"loss_fn must be callable, got {type(loss_fn).__name__}")
    module_input(model, "model")
    l2 = real_number(l2, "l2", 0.0)
    l1 = real_number(l1, "l1", 0.0)

    def total_loss(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        loss = loss_fn(outputs, targets)
        if l2:
            loss = loss + l2 * l2_penalty(model).to(loss)
        if l1:
            loss = loss + l1 * l1_penalty(model).to(loss)
        return loss

    return total_loss


def weight_norm(model: nn.Module) -> float:
    """sqrt(sum_w w^2): the Euclidean length of all weights taken together."""
    with torch.no_grad():
        return float(l2_penalty(model).sqrt())


def near_zero_fraction(model: nn.Module, threshold: float = 1e-3) -> float:
    """Fraction of weights with ``|w| < threshold`` (a measure of sparsity)."""
    threshold = real_number(threshold, "threshold", 0.0, low_inclusive=False)
    with torch.no_grad():
        small = total = 0
        for w in weight_parameters(model):
            small += int((w.abs() < threshold).sum())
            total += w.numel()
    if total == 0:
        raise ValueError("model has no weight matrices (parameters with two or more dimensions)")
    return small / total
