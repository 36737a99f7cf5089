"""Functions of tensors that are not methods: joining several tensors, and the cross-entropy loss.

Each returns a :class:`~companion.numpy.autograd.tensor.Tensor` whose backward pass sends every
operand its share of the gradient.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from companion.core.checks import as_index_array, integer
from companion.numpy.autograd.tensor import Tensor, _lift, _result

__all__ = ["concatenate", "stack", "cross_entropy"]


def concatenate(tensors, axis: int = 0) -> Tensor:
    """Join tensors along an existing ``axis``; each gets its own slice of the gradient."""
    axis = integer(axis, "axis")
    if not isinstance(tensors, Iterable):
        raise TypeError(f"tensors must be a sequence of tensors, got {type(tensors).__name__}")
    tensors = [_lift(t, "tensors") for t in tensors]
    if not tensors:
        raise ValueError("concatenate needs at least one tensor, got none")
    data = np.concatenate([t.data for t in tensors], axis=axis)
    ends = np.cumsum([t.shape[axis] for t in tensors])[:-1]

    def backward(grad):
        for t, part in zip(tensors, np.split(grad, ends, axis=axis)):
            t._send(part)
    return _result(data, tuple(tensors), "concatenate", backward)


def stack(tensors, axis: int = 0) -> Tensor:
    """Join same-shaped tensors along a new ``axis``; each gets its own slice of the gradient."""
    axis = integer(axis, "axis")
    if not isinstance(tensors, Iterable):
        raise TypeError(f"tensors must be a sequence of tensors, got {type(tensors).__name__}")
    tensors = [_lift(t, "tensors") for t in tensors]
    if not tensors:
        raise ValueError("stack needs at least one tensor, got none")
    data = np.stack([t.data for t in tensors], axis=axis)

    def backward(grad):
        for t, part in zip(tensors, np.moveaxis(grad, axis, 0)):
            t._send(part)
    return _result(data, tuple(tensors), "stack", backward)


def cross_entropy(logits, targets) -> Tensor:
    """Mean negative log-likelihood of integer class ``targets`` under softmax(``logits``).

    loss = -(1/N) sum_n log softmax(logits_n)[targets_n], with log-sum-exp inside.

    Args:
        logits: Tensor (N, C), or (..., C) such as a language model's (B, T, V).
        targets: integer array (N,) or (...) with values in [0, C).

    Returns:
        A scalar Tensor.
    """
    logits = _lift(logits, "logits")
    if logits.ndim < 1:
        raise ValueError(f"logits must have a class axis (N, C), got shape {logits.shape}")
    classes = logits.shape[-1]
    targets = as_index_array(targets, "targets", upper=classes)
    if targets.shape != logits.shape[:-1]:
        raise ValueError(f"targets must have shape {logits.shape[:-1]} to match logits "
                         f"{logits.shape}, got {targets.shape}")
    log_probs = logits.reshape(-1, classes).log_softmax(axis=-1)            # (N, C)
    picked = log_probs[np.arange(log_probs.shape[0]), targets.reshape(-1)]  # (N,)
    return -picked.mean()
