"""Shapley values of a model's prediction: exactly by enumeration, and estimated by KernelSHAP.

A prediction f(x) with D features is treated as a cooperative game. A *coalition* S of features
is "present": those take the values of x, the others are averaged out over a background data set,

    v(S) = mean_b f(x_S, b_{not S})        (v(all) = f(x), v(empty) = mean_b f(b)).

The Shapley value of feature i is its marginal contribution averaged over all orders in which
the features could join (Shapley 1953):
::

    phi_i = sum over S not containing i of |S|! (D - |S| - 1)! / D! * (v(S + i) - v(S)),

and the values add up to v(all) - v(empty) = f(x) - E f (*efficiency*). Enumeration costs 2**D
coalitions. KernelSHAP (Lundberg and Lee 2017) samples coalitions instead and fits phi by
weighted least squares, v(S) - v(empty) ~ sum_{i in S} phi_i, with the Shapley kernel weight
``pi(S) = (D - 1) / (C(D, |S|) |S| (D - |S|))`` and the efficiency constraint imposed exactly; with
every coalition and those weights the fit returns the exact Shapley values.

Coalitions are boolean masks (K, D): ``mask[k, i]`` is True when feature i is present.
"""

from __future__ import annotations

from collections.abc import Callable
from math import comb, factorial

import numpy as np

from companion.core.checks import as_float_array, as_rng, positive_int

__all__ = ["coalition_values", "all_coalitions", "exact_shapley", "shapley_kernel_weight",
           "kernel_shap"]

Model = Callable[[np.ndarray], np.ndarray]


def coalition_values(f: Model, x, background, masks) -> np.ndarray:
    """v(S) for each coalition: the mean of f over the background with S's features from x.

    Args:
        f: model, rows (M, D) -> predictions (M,).
        x: the explained example (D,). background: rows (B, D) that stand in for absent features.
        masks: booleans (K, D), True where the feature comes from x.

    Returns:
        values (K,).
    """
    if not callable(f):
        raise TypeError(f"f must be a model, rows (M, D) -> outputs (M,), got {type(f).__name__}")
    x = as_float_array(x, "x", ndim=1)
    background = as_float_array(background, "background", ndim=2)
    masks = np.asarray(masks, dtype=bool)
    if masks.ndim != 2 or masks.shape[1] != len(x) or background.shape[1] != len(x):
        raise ValueError(f"masks (K, D) and background (B, D) must match x's D = {len(x)}; "
                         f"got masks {masks.shape} and background {background.shape}")
    k, b = len(masks), len(background)
    # rows[k, b] = x where masks[k] else background[b]: (K, B, D) -> (K B, D)
    rows = np.where(masks[:, None, :], x[None, None, :], background[None, :, :])
    predictions = np.asarray(f(rows.reshape(k * b, -1)), dtype=np.float64).reshape(k, b)
    return predictions.mean(axis=1)


def all_coalitions(d: int) -> np.ndarray:
    """Every coalition of d features as masks (2**d, d): row m holds the bits of the integer m
    (feature i present when bit i is set)."""
    d = positive_int(d, "d")
    return (np.arange(2 ** d)[:, None] >> np.arange(d)[None, :]) & 1 == 1  # (2**d, d)


def exact_shapley(f: Model, x, background) -> tuple[np.ndarray, float]:
    """Exact Shapley values by enumerating all 2**D coalitions.

    Returns:
        phi (D,) and the base value v(empty) = mean of f over the background, so that
        ``base + phi.sum()`` equals f(x).
    """
    x = as_float_array(x, "x", ndim=1)
    d = len(x)
    masks = all_coalitions(d)  # (2**d, d); row m is the coalition with bits of m
    values = coalition_values(f, x, background, masks)  # (2**d,)
    sizes = masks.sum(axis=1)  # (2**d,)
    weight = np.array([factorial(s) * factorial(d - s - 1) / factorial(d) if s < d else 0.0
                       for s in range(d + 1)])
    phi = np.zeros(d)
    for i in range(d):
        without = ~masks[:, i]  # coalitions S not containing i
        index = np.flatnonzero(without)
        phi[i] = np.sum(weight[sizes[index]] * (values[index | (1 << i)] - values[index]))
    return phi, float(values[0])


def shapley_kernel_weight(d: int, size) -> np.ndarray:
    """``pi(S) = (d - 1) / (C(d, |S|) |S| (d - |S|))`` for coalition sizes 1 .. d - 1."""
    d, size = positive_int(d, "d"), as_float_array(size, "size")
    if np.any((size < 1) | (size > d - 1)):
        raise ValueError(f"the kernel weight is defined for sizes 1 .. {d - 1}, got {size}")
    binom = np.array([comb(d, int(s)) for s in size.reshape(-1)], dtype=np.float64)
    return (d - 1) / (binom.reshape(size.shape) * size * (d - size))


def _constrained_least_squares(masks: np.ndarray, y: np.ndarray, weights: np.ndarray,
                               total: float) -> np.ndarray:
    """min sum_k w_k (y_k - z_k . phi)**2 subject to sum(phi) = total, by eliminating the last
    feature: phi_D = total - sum_{i<D} phi_i."""
    z = masks.astype(np.float64)  # (K, D)
    design = z[:, :-1] - z[:, -1:]  # (K, D-1)
    target = y - z[:, -1] * total  # (K,)
    root = np.sqrt(weights)[:, None]
    head, *_ = np.linalg.lstsq(design * root, target * root[:, 0], rcond=None)
    return np.append(head, total - head.sum())


def kernel_shap(f: Model, x, background, n_samples: int | None, rng=None
                ) -> tuple[np.ndarray, float]:
    """KernelSHAP estimate of the Shapley values of f at x.

    With ``n_samples`` an int, draws that many coalitions (with replacement) from the Shapley
    kernel's distribution: a size s in 1 .. D-1 with probability proportional to
    (D - 1) / (s (D - s)) (the kernel weight times the number of coalitions of that size),
    then s features uniformly; the sample is then fitted with equal weights. With
    ``n_samples=None`` it uses every coalition of sizes 1 .. D-1 once, weighted by the kernel,
    which reproduces :func:`exact_shapley`.

    Returns:
        phi (D,), summing exactly to f(x) - base, and base = v(empty).
    """
    x = as_float_array(x, "x", ndim=1)
    d = len(x)
    if d < 2:
        raise ValueError(f"KernelSHAP needs at least 2 features, got {d}")
    ends = coalition_values(f, x, background, np.array([[False] * d, [True] * d]))
    base, full = float(ends[0]), float(ends[1])
    if n_samples is None:
        masks = all_coalitions(d)[1:-1]  # sizes 1 .. d-1: (2**d - 2, d)
        weights = shapley_kernel_weight(d, masks.sum(axis=1))
    else:
        n_samples = positive_int(n_samples, "n_samples")
        rng = as_rng(rng)
        sizes = np.arange(1, d)
        p = (d - 1) / (sizes * (d - sizes))
        drawn = rng.choice(sizes, size=n_samples, p=p / p.sum())  # (K,)
        ranks = rng.random((n_samples, d)).argsort(axis=1).argsort(axis=1)  # random ranks
        masks = ranks < drawn[:, None]  # each row: `drawn` features uniformly at random
        weights = np.ones(n_samples)
    y = coalition_values(f, x, background, masks) - base
    return _constrained_least_squares(masks, y, weights, full - base), base
