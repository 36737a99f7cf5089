"""Stable elementwise and normalising functions shared by layers, losses and attention."""

from __future__ import annotations

import numpy as np


def sigmoid(x: np.ndarray) -> np.ndarray:
    """Logistic function 1 / (1 + e^-x), computed without overflow for any sign of x."""
    x = np.asarray(x, dtype=np.float64)
    e = np.exp(-np.abs(x))  # never overflows: the exponent is <= 0
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def logsumexp(x: np.ndarray, axis: int = -1, keepdims: bool = False) -> np.ndarray:
    """log sum_j e^{x_j} along ``axis``, shifted by the maximum so it never overflows.

    A slice that is entirely ``-inf`` (every position masked) gives ``-inf``, not ``nan``; a
    ``nan`` or ``+inf`` entry gives ``nan`` (as torch's log_softmax), an empty slice ``-inf``.
    """
    x = np.asarray(x, dtype=np.float64)
    top = np.max(x, axis=axis, keepdims=True, initial=-np.inf)  # nan if the slice holds one
    top = np.where(top == -np.inf, 0.0, top)
    with np.errstate(invalid="ignore", divide="ignore"):  # inf - inf is nan, log 0 is -inf
        out = np.log(np.sum(np.exp(x - top), axis=axis, keepdims=True)) + top
    return out if keepdims else np.squeeze(out, axis=axis)


def log_softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """x_i - log sum_j e^{x_j} along ``axis``."""
    x = np.asarray(x, dtype=np.float64)
    return x - logsumexp(x, axis=axis, keepdims=True)


def softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """e^{x_i} / sum_j e^{x_j} along ``axis``, shifted by the maximum so it never overflows.

    As torch's softmax, a slice that is entirely ``-inf``, or holds ``nan`` or ``+inf``, is
    ``nan`` throughout; attention, where such a row means "every key blocked", uses
    :func:`masked_softmax` instead.
    """
    x = np.asarray(x, dtype=np.float64)
    top = np.max(x, axis=axis, keepdims=True, initial=-np.inf)  # nan if the slice holds one
    with np.errstate(invalid="ignore"):  # inf - inf is nan, as intended
        e = np.exp(x - top)
        return e / np.sum(e, axis=axis, keepdims=True)


def masked_softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """Softmax where ``-inf`` marks a blocked entry: a fully blocked slice gives zeros, not ``nan``.

    This is what torch's ``scaled_dot_product_attention`` does with a query that may attend to no
    key. A slice holding ``nan`` or ``+inf`` is still ``nan`` throughout: it never turns finite.
    """
    x = np.asarray(x, dtype=np.float64)
    top = np.max(x, axis=axis, keepdims=True, initial=-np.inf)
    top = np.where(top == -np.inf, 0.0, top)
    with np.errstate(invalid="ignore"):
        e = np.exp(x - top)
    total = np.sum(e, axis=axis, keepdims=True)
    return e / np.where(total == 0, 1.0, total)  # only a fully -inf (or empty) slice sums to 0


def softmax_backward(probs: np.ndarray, grad_output: np.ndarray, axis: int = -1) -> np.ndarray:
    """Gradient through softmax: p * (g - sum_j g_j p_j), given its output ``probs``."""
    return probs * (grad_output - np.sum(grad_output * probs, axis=axis, keepdims=True))
