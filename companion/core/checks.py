"""Argument checks that fail with messages written for people.

Every public function and layer of :mod:`companion.numpy` validates what it is given with
these helpers, so that a wrong shape or type raises a ``ValueError``/``TypeError`` naming the
argument, what was expected and what came, instead of an opaque error deep inside NumPy.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable, Mapping

import numpy as np


def as_float_array(value, name: str, ndim: int | tuple[int, ...] | None = None,
                   shape_hint: str = "") -> np.ndarray:
    """Return ``value`` as a float64 array, checking that it is numeric and of the right rank.

    Args:
        value: anything ``np.asarray`` accepts.
        name: the argument's name, used in error messages.
        ndim: required number of dimensions (or a tuple of allowed ones); ``None`` allows any.
        shape_hint: the expected layout in torch's letters, e.g. ``"(N, C, H, W)"``.
    """
    array = np.asarray(value)
    if array.dtype == object or not (np.issubdtype(array.dtype, np.number)
                                     or array.dtype == np.bool_):
        raise TypeError(f"{name} must be a numeric array, got {type(value).__name__} "
                        f"with dtype {array.dtype}")
    if np.iscomplexobj(array):
        raise TypeError(f"{name} must be real-valued, got dtype {array.dtype}")
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if array.ndim not in allowed:
            wanted = " or ".join(str(d) for d in allowed)
            hint = f" {shape_hint}" if shape_hint else ""
            raise ValueError(f"{name} must have {wanted} dimensions{hint}, "
                             f"got shape {array.shape}")
    return array.astype(np.float64, copy=False)


def as_index_array(value, name: str, upper: int | None = None) -> np.ndarray:
    """Return ``value`` as an int64 array of indices in ``[0, upper)``."""
    array = np.asarray(value)
    if not np.issubdtype(array.dtype, np.integer):
        raise TypeError(f"{name} must hold integer indices, got dtype {array.dtype}")
    if array.size and array.min() < 0:
        raise ValueError(f"{name} must be non-negative, got minimum {array.min()}")
    if upper is not None and array.size and array.max() >= upper:
        raise ValueError(f"{name} must be smaller than {upper}, got maximum {array.max()}")
    return array.astype(np.int64, copy=False)


def check_size(array: np.ndarray, axis: int, expected: int, name: str, what: str) -> None:
    """Raise if ``array.shape[axis]`` differs from ``expected`` (e.g. a channel mismatch)."""
    if array.shape[axis] != expected:
        raise ValueError(f"{name} must have {what} = {expected} along axis {axis}, "
                         f"got shape {array.shape}")


def check_instance(value, kind, name: str, what: str) -> None:
    """Raise a TypeError unless ``value`` is an instance of ``kind`` (``what``, for people)."""
    if not isinstance(value, kind):
        raise TypeError(f"{name} must be {what}, got {type(value).__name__}")


def integer(value, name: str) -> int:
    """Return ``value`` as an int of any sign, refusing bools, floats and ``None``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__} {value!r}")
    return int(value)


def flag(value, name: str) -> bool:
    """Return ``value`` as a bool, refusing anything but ``True``/``False`` (a string is truthy)."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {type(value).__name__} {value!r}")
    return bool(value)


def positive_int(value, name: str, allow_zero: bool = False) -> int:
    """Return ``value`` as an int, checking that it is a positive (or non-negative) integer."""
    value = integer(value, name)
    if value < 0 or (value == 0 and not allow_zero):
        bound = "non-negative" if allow_zero else "positive"
        raise ValueError(f"{name} must be {bound}, got {value}")
    return value


def normalize_dim(value: int, ndim: int, name: str) -> int:
    """Return ``value`` as an axis in ``[0, ndim)`` of an ``ndim``-dimensional input, counting
    from the end when negative; a scalar input (``ndim = 0``) has no axis to give."""
    if ndim == 0:
        raise ValueError(f"{name} needs an input with at least 1 dimension, got a scalar")
    if not -ndim <= value < ndim:
        raise ValueError(f"{name} must lie in [{-ndim}, {ndim - 1}] for a {ndim}-dimensional "
                         f"input, got {value}")
    return value % ndim


def pair(value, name: str, allow_zero: bool = False) -> tuple[int, int]:
    """Return an ``(int, int)`` from an int or a 2-tuple, as torch's 2-D layers accept."""
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise ValueError(f"{name} must be an int or a pair of ints, got {value!r}")
        return (positive_int(value[0], name, allow_zero), positive_int(value[1], name, allow_zero))
    size = positive_int(value, name, allow_zero)
    return (size, size)


def real_number(value, name: str, low: float | None = None, high: float | None = None,
                low_inclusive: bool = True, high_inclusive: bool = True) -> float:
    """Return ``value`` as a float, checking that it lies in the given interval."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__} {value!r}")
    value = float(value)
    too_low = low is not None and (value < low if low_inclusive else value <= low)
    too_high = high is not None and (value > high if high_inclusive else value >= high)
    if too_low or too_high or np.isnan(value):
        left = "[" if low_inclusive else "("
        right = "]" if high_inclusive else ")"
        interval = f"{left}{'-inf' if low is None else low}, {'inf' if high is None else high}{right}"
        raise ValueError(f"{name} must lie in {interval}, got {value}")
    return value


def function_dict(value, name: str) -> dict:
    """Return ``value``, a mapping of names to functions (e.g. metrics), as a dict."""
    if not isinstance(value, Mapping) or not all(map(callable, value.values())):
        raise TypeError(f"{name} must map names to functions, got {type(value).__name__} "
                        f"{value!r}")
    return dict(value)


def pairs(loader, name: str):
    """Iterate over ``loader``, checking that it yields ``(inputs, targets)`` pairs; a loader
    that cannot be iterated over is refused at once, a wrong item when it comes."""
    if isinstance(loader, str) or not isinstance(loader, Iterable):
        raise TypeError(f"{name} must yield (inputs, targets) pairs, got {type(loader).__name__}")

    def checked():
        for batch in loader:
            if not isinstance(batch, (tuple, list)) or len(batch) != 2:
                raise TypeError(f"{name} must yield (inputs, targets) pairs, got an item of "
                                f"type {type(batch).__name__}")
            yield batch
    return checked()


def as_rng(rng) -> np.random.Generator:
    """Return a NumPy ``Generator`` from ``None``, a seed, or a ``Generator``."""
    if rng is None or isinstance(rng, numbers.Integral):
        return np.random.default_rng(rng)
    if isinstance(rng, np.random.Generator):
        return rng
    raise TypeError(f"rng must be None, an int seed or a numpy.random.Generator, "
                    f"got {type(rng).__name__}")


def as_grad_output(grad_output, shape: tuple | None, layer: str) -> np.ndarray:
    """Check that ``backward`` follows ``forward`` and that ``grad_output`` is output-shaped."""
    if shape is None:
        raise RuntimeError(f"{layer}.backward was called before forward")
    grad = as_float_array(grad_output, "grad_output")
    if grad.shape != tuple(shape):
        raise ValueError(f"grad_output must have the shape of {layer}'s output {tuple(shape)}, "
                         f"got {grad.shape}")
    return grad
