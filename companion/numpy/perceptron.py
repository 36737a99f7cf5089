"""Rosenblatt's perceptron: one threshold unit and its mistake-driven learning rule.

The unit predicts y_hat = 1 when w . x + b > 0 and 0 otherwise. Learning visits the points one
at a time; a correctly classified point changes nothing, a misclassified one moves the plane:

    w <- w + lr (y - y_hat) x,    b <- b + lr (y - y_hat),

so (y - y_hat) is +1 for a missed positive and -1 for a missed negative. On linearly separable
data the number of updates is finite (Novikoff's bound, :func:`mistake_bound`); on data that no
plane separates, such as XOR, the rule never settles.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from companion.core.checks import (as_float_array, as_index_array, as_rng, positive_int,
                                         real_number)
from companion.numpy.module import Module


def _check_data(x, y, in_features: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Points (N, D) as float64 and labels (N,) in {0, 1} as int64, with matching N."""
    x = as_float_array(x, "x", ndim=2, shape_hint="(N, D)")
    y = as_index_array(y, "y", upper=2)
    if y.ndim != 1 or len(y) != len(x):
        raise ValueError(f"y must have shape (N,) = ({len(x)},) to match x, got {y.shape}")
    if in_features is not None and x.shape[1] != in_features:
        raise ValueError(f"x must have D = in_features = {in_features} columns, "
                         f"got shape {x.shape}")
    return x, y


@dataclass
class PerceptronHistory:
    """What happened during :meth:`Perceptron.fit`, one entry per epoch.

    Attributes:
        mistakes: number of updates made during each epoch.
        accuracy: fraction of the training points classified correctly after each epoch.
        updates: total number of updates over all epochs.
        converged: whether some epoch made no mistake (every point is then classified correctly).
    """

    mistakes: list[int] = field(default_factory=list)
    accuracy: list[float] = field(default_factory=list)
    updates: int = 0
    converged: bool = False

    @property
    def epochs(self) -> int:
        """Number of epochs run (the last one is mistake-free when ``converged``)."""
        return len(self.mistakes)


class Perceptron(Module):
    """A threshold unit y_hat = [w . x + b > 0], trained by the perceptron rule.

    Parameters use torch's ``Linear`` names and layout, ``weight`` (1, D) and ``bias`` (1,), and
    start at zero (so the first point seen is always a mistake unless its label is 0).

    Args:
        in_features: number D of inputs.
        lr: step size, > 0. Starting from zero it only rescales w and b, never the predictions.
    """

    def __init__(self, in_features: int, lr: float = 1.0):
        super().__init__()
        self.in_features = positive_int(in_features, "in_features")
        self.lr = real_number(lr, "lr", low=0.0, low_inclusive=False)
        self.add_param("weight", np.zeros((1, self.in_features)))
        self.add_param("bias", np.zeros(1))

    def forward(self, x: np.ndarray) -> np.ndarray:
        """x: (N, D). Returns the scores w . x + b, shape (N,)."""
        x = as_float_array(x, "x", ndim=2, shape_hint="(N, D)")
        if x.shape[1] != self.in_features:
            raise ValueError(f"x must have D = in_features = {self.in_features} columns, "
                             f"got shape {x.shape}")
        return x @ self._params["weight"][0] + self._params["bias"][0]  # (N, D) @ (D,) -> (N,)

    def predict(self, x: np.ndarray) -> np.ndarray:
        """x: (N, D). Returns the labels (N,), int64: 1 where the score is positive, else 0."""
        return (self.forward(x) > 0).astype(np.int64)

    def update(self, x_i: np.ndarray, y_i: int) -> bool:
        """Apply the rule to one point x_i (D,) with label y_i; return True if it was a mistake."""
        x_i = as_float_array(x_i, "x_i", ndim=1, shape_hint="(D,)")
        error = int(y_i) - int(self.predict(x_i[None, :])[0])  # +1, 0 or -1
        if error == 0:
            return False
        self._params["weight"][0] += self.lr * error * x_i
        self._params["bias"][0] += self.lr * error
        return True

    def fit(self, x: np.ndarray, y: np.ndarray, max_epochs: int = 100, shuffle: bool = True,
            rng=None) -> PerceptronHistory:
        """Sweep the data until an epoch makes no mistake or ``max_epochs`` have run.

        Args:
            x: points (N, D).
            y: labels (N,) in {0, 1}.
            max_epochs: largest number of sweeps.
            shuffle: visit the points in a fresh random order each epoch (else in order).
            rng: ``None``, an int seed or a ``numpy.random.Generator`` for the shuffling.

        Returns:
            The :class:`PerceptronHistory` of this call.
        """
        x, y = _check_data(x, y, self.in_features)
        max_epochs = positive_int(max_epochs, "max_epochs")
        rng = as_rng(rng)
        history = PerceptronHistory()
        for _ in range(max_epochs):
            order = rng.permutation(len(x)) if shuffle else np.arange(len(x))
            mistakes = sum(self.update(x[i], y[i]) for i in order)
            history.mistakes.append(int(mistakes))
            history.accuracy.append(float(np.mean(self.predict(x) == y)))
            history.updates += int(mistakes)
            if mistakes == 0:
                history.converged = True
                break
        return history


def mistake_bound(x: np.ndarray, y: np.ndarray, weight: np.ndarray, bias: float) -> float:
    """Novikoff's bound (R / gamma)^2 on the perceptron's updates, from any separating plane.

    With the bias folded in as a constant input, ``z_i = (x_i, 1)`` and
    ``u = (w, b) / norm((w, b))``; ``R = max_i norm(z_i)`` and ``gamma = min_i s_i u . z_i`` with
    ``s_i = 2 y_i - 1`` in {-1, +1}. If gamma > 0 the perceptron started from zero makes at most
    (R / gamma)^2 updates on these points.

    Args:
        x: points (N, D).
        y: labels (N,) in {0, 1}.
        weight: normal vector of a separating plane, shape (D,) or (1, D).
        bias: its offset.

    Returns:
        The bound; ``inf`` if the plane does not separate the points strictly.
    """
    x, y = _check_data(x, y)
    weight = as_float_array(weight, "weight").reshape(-1)
    if weight.shape != (x.shape[1],):
        raise ValueError(f"weight must hold D = {x.shape[1]} values, got {weight.size}")
    z = np.hstack([x, np.ones((len(x), 1))])  # (N, D + 1)
    u = np.append(weight, float(bias))  # (D + 1,)
    norm = np.linalg.norm(u)
    if norm == 0:
        return float("inf")
    gamma = np.min((2 * y - 1) * (z @ u)) / norm
    if gamma <= 0:
        return float("inf")
    radius = np.max(np.linalg.norm(z, axis=1))
    return float((radius / gamma) ** 2)
