"""Small generated data sets: toy 2-D classification, a ring of Gaussians, 1-D regression and
sequence-to-sequence tasks over digit strings.

Every function takes ``rng`` (``None``, an int seed or a ``numpy.random.Generator``), so a fixed
seed gives the same data on every machine. Points are float64, labels and tokens int64.
"""

from __future__ import annotations

import numpy as np

from companion.core.checks import as_rng, positive_int, real_number

# -- 2-D classification --------------------------------------------------------------------------


def _balanced_labels(n: int, classes: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` labels in ``[0, classes)`` whose counts differ by at most one, shuffled: ``(N,)``."""
    return rng.permutation(np.arange(n) % classes).astype(np.int64)


def xor(n: int = 200, noise: float = 0.2, rng=None) -> tuple[np.ndarray, np.ndarray]:
    """Points around the four corners ``(+-1, +-1)``, labelled by XOR of the coordinates' signs.

    ``x = c + noise * e`` with ``c`` a corner and ``e ~ N(0, I)``; ``y = 1`` when the corner's
    coordinates have opposite signs. No line separates the classes.

    Args:
        n: number of points ``N`` (each corner gets ``N / 4``, +-1).
        noise: standard deviation of the Gaussian noise, >= 0.
        rng: ``None``, an int seed or a ``numpy.random.Generator``.

    Returns:
        X: float64 ``(N, 2)``; y: int64 ``(N,)`` in ``{0, 1}``.
    """
    n = positive_int(n, "n")
    noise = real_number(noise, "noise", low=0.0)
    rng = as_rng(rng)
    corner = _balanced_labels(n, 4, rng)  # (N,) 0..3
    signs = np.stack([corner // 2, corner % 2], axis=1) * 2.0 - 1.0  # (N, 2) in {-1, 1}
    X = signs + noise * rng.standard_normal((n, 2))
    y = (signs[:, 0] != signs[:, 1]).astype(np.int64)
    return X, y


def two_moons(n: int = 200, noise: float = 0.1, rng=None) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaving half circles, the classic test of a curved decision boundary.

    Class 0: ``(cos t, sin t)``; class 1: ``(1 - cos t, 0.5 - sin t)``, ``t ~ U(0, pi)``, plus
    Gaussian noise of standard deviation ``noise`` on both coordinates.

    Args:
        n: number of points ``N`` (the classes differ in size by at most one).
        noise: standard deviation of the noise, >= 0.
        rng: ``None``, an int seed or a ``numpy.random.Generator``.

    Returns:
        X: float64 ``(N, 2)``; y: int64 ``(N,)`` in ``{0, 1}``.
    """
    n = positive_int(n, "n")
    noise = real_number(noise, "noise", low=0.0)
    rng = as_rng(rng)
    y = _balanced_labels(n, 2, rng)
    t = rng.uniform(0.0, np.pi, n)  # (N,)
    upper = np.stack([np.cos(t), np.sin(t)], axis=1)  # (N, 2)
    lower = np.stack([1.0 - np.cos(t), 0.5 - np.sin(t)], axis=1)  # (N, 2)
    X = np.where(y[:, None] == 0, upper, lower) + noise * rng.standard_normal((n, 2))
    return X, y


def spirals(n: int = 300, classes: int = 3, noise: float = 0.2,
            rng=None) -> tuple[np.ndarray, np.ndarray]:
    """Interleaved spiral arms, one per class, winding out from the origin.

    A point of class ``k`` at radius ``r ~ U(0, 1)`` sits at angle
    ``theta = 2 pi k / K + 4 r + noise * e``, ``e ~ N(0, 1)``; ``x = r (sin theta, cos theta)``.

    Args:
        n: total number of points ``N`` (the classes differ in size by at most one).
        classes: number of arms ``K`` >= 2.
        noise: standard deviation of the angular noise in radians, >= 0.
        rng: ``None``, an int seed or a ``numpy.random.Generator``.

    Returns:
        X: float64 ``(N, 2)`` inside the unit disc; y: int64 ``(N,)`` in ``[0, K)``.
    """
    n = positive_int(n, "n")
    classes = positive_int(classes, "classes")
    if classes < 2:
        raise ValueError(f"classes must be at least 2, got {classes}")
    noise = real_number(noise, "noise", low=0.0)
    rng = as_rng(rng)
    y = _balanced_labels(n, classes, rng)
    r = rng.uniform(0.0, 1.0, n)  # (N,)
    theta = 2 * np.pi * y / classes + 4.0 * r + noise * rng.standard_normal(n)  # (N,)
    X = r[:, None] * np.stack([np.sin(theta), np.cos(theta)], axis=1)  # (N, 2)
    return X, y


def linearly_separable(n: int = 200, rng=None, dim: int = 2,
                       margin: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """Points on either side of a random hyperplane, at least ``margin`` away from it.

    A unit normal ``w`` and offset ``b ~ U(-0.5, 0.5)`` are drawn; points start uniform in
    ``[-1, 1]^D`` and are pushed ``margin`` further from the plane ``w . x + b = 0`` along
    ``w``; ``y = 1`` where ``w . x + b > 0``. A perceptron is guaranteed to converge.

    Args:
        n: number of points ``N``.
        rng: ``None``, an int seed or a ``numpy.random.Generator``.
        dim: dimension ``D`` of the points.
        margin: distance kept free on each side of the plane, >= 0.

    Returns:
        X: float64 ``(N, D)``; y: int64 ``(N,)`` in ``{0, 1}``.
    """
    n = positive_int(n, "n")
    dim = positive_int(dim, "dim")
    margin = real_number(margin, "margin", low=0.0)
    rng = as_rng(rng)
    w = rng.standard_normal(dim)
    w /= np.linalg.norm(w)  # (D,) unit normal
    b = rng.uniform(-0.5, 0.5)
    X = rng.uniform(-1.0, 1.0, (n, dim))  # (N, D)
    side = np.where(X @ w + b >= 0.0, 1.0, -1.0)  # (N,)
    X = X + margin * side[:, None] * w  # (N, D)
    return X, (side > 0).astype(np.int64)


def gaussian_ring(n: int = 1000, modes: int = 8, radius: float = 2.0, std: float = 0.02,
                  rng=None) -> tuple[np.ndarray, np.ndarray]:
    """Samples from a mixture of equal Gaussians on a circle, the usual test of mode collapse.

    Mode ``k`` is centred at ``radius (cos(2 pi k / M), sin(2 pi k / M))``; a sample picks a mode
    uniformly at random and adds ``N(0, std^2 I)`` noise.

    Args:
        n: number of samples ``N``.
        modes: number of mixture components ``M``.
        radius: radius of the circle of centres, > 0.
        std: standard deviation of each component, >= 0.
        rng: ``None``, an int seed or a ``numpy.random.Generator``.

    Returns:
        X: float64 ``(N, 2)`` samples; centres: float64 ``(M, 2)`` mode centres.
    """
    n = positive_int(n, "n")
    modes = positive_int(modes, "modes")
    radius = real_number(radius, "radius", low=0.0, low_inclusive=False)
    std = real_number(std, "std", low=0.0)
    rng = as_rng(rng)
    angles = 2 * np.pi * np.arange(modes) / modes  # (M,)
    centres = radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)  # (M, 2)
    X = centres[rng.integers(0, modes, n)] + std * rng.standard_normal((n, 2))  # (N, 2)
    return X, centres


# -- 1-D regression ------------------------------------------------------------------------------

REGRESSION_FUNCTIONS = {
    "sin": np.sin,
    "cubic": lambda x: 0.1 * x ** 3 - 0.5 * x,
    "abs": np.abs,
    "step": lambda x: np.where(x >= 0.0, 1.0, -1.0),
}


def regression_1d(n: int = 100, fn="sin", noise: float = 0.1, rng=None,
                  low: float = -3.0, high: float = 3.0) -> tuple[np.ndarray, np.ndarray]:
    """Noisy samples of a 1-D function: ``y = f(x) + noise * e``, ``x ~ U(low, high)``.

    Args:
        n: number of samples ``N``.
        fn: a name in :data:`REGRESSION_FUNCTIONS` (``"sin"``, ``"cubic"``, ``"abs"``,
            ``"step"``) or a vectorised callable mapping an array to one of the same shape.
        noise: standard deviation of the Gaussian noise on ``y``, >= 0.
        rng: ``None``, an int seed or a ``numpy.random.Generator``.
        low, high: the interval ``x`` is drawn from, ``low < high``.

    Returns:
        x: float64 ``(N, 1)``, sorted ascending (handy for plotting); y: float64 ``(N, 1)``.
    """
    n = positive_int(n, "n")
    if isinstance(fn, str):
        if fn not in REGRESSION_FUNCTIONS:
            raise ValueError(f"fn must be a callable or one of "
                             f"{', '.join(map(repr, REGRESSION_FUNCTIONS))}, got {fn!r}")
        fn = REGRESSION_FUNCTIONS[fn]
    elif not callable(fn):
        raise TypeError(f"fn must be a callable or a name, got {type(fn).__name__}")
    noise = real_number(noise, "noise", low=0.0)
    low = real_number(low, "low")
    high = real_number(high, "high", low=low, low_inclusive=False)
    rng = as_rng(rng)
    x = np.sort(rng.uniform(low, high, n))[:, None]  # (N, 1)
    clean = np.asarray(fn(x), dtype=np.float64)
    if clean.shape != x.shape:
        raise ValueError(f"fn must return an array of the input's shape {x.shape}, "
                         f"got shape {clean.shape}")
    return x, clean + noise * rng.standard_normal(x.shape)


# -- sequence tasks ------------------------------------------------------------------------------

PAD = 0
SEQUENCE_VOCAB = ("<pad>", "0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "+", "=")
_PLUS, _EQUALS = SEQUENCE_VOCAB.index("+"), SEQUENCE_VOCAB.index("=")


def decode_sequence(ids) -> str:
    """Turn a 1-D row of :data:`SEQUENCE_VOCAB` ids ``(L,)`` into its string, padding dropped."""
    ids = np.asarray(ids)
    if ids.ndim != 1 or not np.issubdtype(ids.dtype, np.integer):
        raise ValueError(f"ids must be a 1-D integer array (L,), got shape {ids.shape} "
                         f"and dtype {ids.dtype}")
    if ids.size and (ids.min() < 0 or ids.max() >= len(SEQUENCE_VOCAB)):
        raise ValueError(f"ids must lie in [0, {len(SEQUENCE_VOCAB)}), "
                         f"got values from {ids.min()} to {ids.max()}")
    return "".join(SEQUENCE_VOCAB[i] for i in ids.tolist() if i != PAD)


def _lengths(n: int, length: int, min_length, rng: np.random.Generator) -> np.ndarray:
    """Sequence lengths ``(N,)`` uniform in ``[min_length, length]`` (all ``length`` if None)."""
    if min_length is None:
        return np.full(n, length, dtype=np.int64)
    min_length = positive_int(min_length, "min_length")
    if min_length > length:
        raise ValueError(f"min_length must be at most length={length}, got {min_length}")
    return rng.integers(min_length, length + 1, n)


def _digit_strings(n: int, length: int, min_length, rng) -> tuple[np.ndarray, np.ndarray]:
    """Random digit tokens, right-padded: ids ``(N, L)`` and lengths ``(N,)``."""
    n = positive_int(n, "n")
    length = positive_int(length, "length")
    rng = as_rng(rng)
    lengths = _lengths(n, length, min_length, rng)  # (N,)
    digits = rng.integers(1, 11, (n, length))  # (N, L) token ids of "0".."9"
    valid = np.arange(length) < lengths[:, None]  # (N, L)
    return np.where(valid, digits, PAD), lengths


def copy_task(n: int = 1000, length: int = 8, rng=None, min_length: int | None = None):
    """Sequences of random digits whose target is the same sequence.

    Args:
        n: number of sequences ``N``.
        length: padded length ``L``; every sequence has ``L`` digits unless ``min_length`` is set.
        rng: ``None``, an int seed or a ``numpy.random.Generator``.
        min_length: if given, each sequence's length is uniform in ``[min_length, L]`` and the
            rest of the row is :data:`PAD` (id 0).

    Returns:
        x: int64 ``(N, L)`` inputs; y: int64 ``(N, L)`` targets, equal to ``x``;
        vocab: :data:`SEQUENCE_VOCAB`, the string of each id (``"<pad>"`` is id 0).
    """
    x, _ = _digit_strings(n, length, min_length, rng)
    return x, x.copy(), SEQUENCE_VOCAB


def reverse_task(n: int = 1000, length: int = 8, rng=None, min_length: int | None = None):
    """Sequences of random digits whose target is the sequence reversed ("123" -> "321").

    Only the digits are reversed; padding stays at the right end of both rows.

    Args:
        n: number of sequences ``N``.
        length: padded length ``L``; every sequence has ``L`` digits unless ``min_length`` is set.
        rng: ``None``, an int seed or a ``numpy.random.Generator``.
        min_length: if given, each sequence's length is uniform in ``[min_length, L]``.

    Returns:
        x: int64 ``(N, L)``; y: int64 ``(N, L)``, ``y[i, j] = x[i, len_i - 1 - j]`` for
        ``j < len_i`` and :data:`PAD` beyond; vocab: :data:`SEQUENCE_VOCAB`.
    """
    x, lengths = _digit_strings(n, length, min_length, rng)
    source = lengths[:, None] - 1 - np.arange(x.shape[1])  # (N, L) index to read from
    y = np.where(source >= 0, np.take_along_axis(x, np.maximum(source, 0), axis=1), PAD)
    return x, y, SEQUENCE_VOCAB


def _number_tokens(values: np.ndarray, width: int) -> np.ndarray:
    """Decimal digits of non-negative ``values`` ``(N,)`` as ids ``(N, width)``, most
    significant first, with :data:`PAD` in place of leading zeros."""
    powers = 10 ** np.arange(width - 1, -1, -1, dtype=np.int64)  # (width,)
    digits = (values[:, None] // powers) % 10  # (N, width)
    significant = (values[:, None] >= powers) | (powers == 1)  # (N, width) keep a lone 0
    return np.where(significant, digits + 1, PAD)


def _pads_last(tokens: np.ndarray) -> np.ndarray:
    """Move every :data:`PAD` of each row ``(N, L)`` to its end, keeping the other tokens' order."""
    order = np.argsort(tokens == PAD, axis=1, kind="stable")  # (N, L)
    return np.take_along_axis(tokens, order, axis=1)


def addition_task(n: int = 1000, length: int = 3, rng=None):
    """Addition of two non-negative integers written as digit strings: "123+45=" -> "168".

    Each operand first draws its number of digits uniformly from ``1..length``, then a value
    with that many digits uniformly, so short and long numbers are equally common.

    Args:
        n: number of problems ``N``.
        length: the most digits an operand can have, ``D``.
        rng: ``None``, an int seed or a ``numpy.random.Generator``.

    Returns:
        x: int64 ``(N, 2D + 2)``, the tokens of ``"a+b="`` right-padded with :data:`PAD`;
        y: int64 ``(N, D + 1)``, the tokens of ``a + b`` right-padded;
        vocab: :data:`SEQUENCE_VOCAB` (``"<pad>"``, the digits, ``"+"``, ``"="``).
    """
    n = positive_int(n, "n")
    length = positive_int(length, "length")
    if length > 17:
        raise ValueError(f"length must be at most 17 (operands fit in int64), got {length}")
    rng = as_rng(rng)

    def operands() -> np.ndarray:
        digits = rng.integers(1, length + 1, n)  # (N,) number of digits
        low = np.where(digits == 1, 0, 10 ** (digits - 1))
        return rng.integers(low, 10 ** digits)  # (N,) values with that many digits

    a, b = operands(), operands()
    plus, equals = np.full((n, 1), _PLUS), np.full((n, 1), _EQUALS)
    x = np.concatenate([_number_tokens(a, length), plus,
                        _number_tokens(b, length), equals], axis=1)  # (N, 2D + 2)
    y = _number_tokens(a + b, length + 1)  # (N, D + 1)
    return _pads_last(x), _pads_last(y), SEQUENCE_VOCAB
