"""Gradient checking by finite differences: the slow, obvious derivative that tests the fast one.

For a scalar function J of an array theta, the central difference

    dJ/dtheta_i ~ (J(theta + eps e_i) - J(theta - eps e_i)) / (2 eps)

has an error of order eps^2 (plus rounding of order machine-epsilon / eps), so in float64 with
eps ~ 1e-6 it agrees with a correct analytic gradient to about 1e-9 relative.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from companion.core.checks import real_number


def numerical_gradient(f: Callable[[], float], param: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """Central-difference estimate of d f() / d param, perturbing ``param`` in place.

    Args:
        f: a function of no arguments that reads ``param`` (and anything else) and returns a
            scalar, e.g. ``lambda: loss_fn(model(x), y)``.
        param: a float64 array, of any shape, that ``f`` depends on; each entry is nudged by
            +-eps and restored, so ``param`` ends unchanged.
        eps: the step, > 0.

    Returns:
        An array of ``param``'s shape with the estimated partial derivatives.
    """
    eps = real_number(eps, "eps", low=0.0, low_inclusive=False)
    if not isinstance(param, np.ndarray) or param.dtype != np.float64:
        raise TypeError(f"param must be a float64 numpy array (it is perturbed in place), got "
                        f"{type(param).__name__} {getattr(param, 'dtype', '')}")
    grad = np.zeros_like(param)
    flat, flat_grad = param.reshape(-1), grad.reshape(-1)  # views: writes reach param and grad
    if not np.shares_memory(flat, param):
        raise ValueError("param must be contiguous so that it can be perturbed in place")
    for i in range(flat.size):
        saved = flat[i]
        flat[i] = saved + eps
        up = float(f())
        flat[i] = saved - eps
        down = float(f())
        flat[i] = saved
        flat_grad[i] = (up - down) / (2 * eps)
    return grad


def relative_error(analytic: np.ndarray, numeric: np.ndarray, floor: float = 1e-12) -> float:
    """max over i of abs(a_i - n_i) / max(abs(a_i) + abs(n_i), floor).

    0 for identical arrays, about 1 when they differ completely; ``floor`` keeps entries where
    both are ~0 from dividing by zero.
    """
    analytic = np.asarray(analytic, dtype=np.float64)
    numeric = np.asarray(numeric, dtype=np.float64)
    if analytic.shape != numeric.shape:
        raise ValueError(f"analytic and numeric must have one shape, got {analytic.shape} and "
                         f"{numeric.shape}")
    scale = np.maximum(np.abs(analytic) + np.abs(numeric), floor)
    return float(np.max(np.abs(analytic - numeric) / scale)) if analytic.size else 0.0
