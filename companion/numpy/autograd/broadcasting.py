"""Broadcasting, seen from the backward pass.

An operation that broadcasts an operand copies it along the axes it adds or stretches, so the
gradient that comes back has the result's shape: :func:`unbroadcast` sums it back to the
operand's shape, and :func:`broadcasts_to` tells whether one shape stretches to another.
"""

from __future__ import annotations

import numpy as np

from companion.core.checks import as_float_array

__all__ = ["unbroadcast", "broadcasts_to"]


def unbroadcast(grad: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Sum ``grad`` over the axes that broadcasting added or stretched, so it takes ``shape``.

    Broadcasting copies an operand along those axes, so each copy's gradient adds up.
    """
    grad = as_float_array(grad, "grad")
    if not broadcasts_to(shape, grad.shape):
        raise ValueError(f"shape {shape} must broadcast to grad's shape {grad.shape}")
    extra = grad.ndim - len(shape)
    if extra:
        grad = grad.sum(axis=tuple(range(extra)))                 # axes added in front
    stretched = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    if stretched:
        grad = grad.sum(axis=stretched, keepdims=True)            # axes stretched from 1
    return grad


def broadcasts_to(shape: tuple[int, ...], target: tuple[int, ...]) -> bool:
    """Whether an array of ``shape`` broadcasts to ``target`` without changing it."""
    for name, value in (("shape", shape), ("target", target)):
        if not isinstance(value, tuple) or not all(isinstance(n, (int, np.integer))
                                                   for n in value):
            raise TypeError(f"{name} must be a tuple of ints, got {value!r}")
    try:
        return np.broadcast_shapes(shape, target) == tuple(target)
    except ValueError:
        return False
