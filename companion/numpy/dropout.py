"""Inverted dropout: zero each element with probability p in training, rescale the rest."""

from __future__ import annotations

import numpy as np

from companion.core.checks import as_float_array, as_rng, real_number
from companion.core.checks import as_grad_output
from companion.numpy.module import Module


class Dropout(Module):
    """Inverted dropout, y = x * m / (1 - p) with m_i ~ Bernoulli(1 - p) in training, y = x in eval.

    Dividing by 1 - p keeps E[y] = x, so nothing changes at evaluation time. The backward pass
    uses the same mask: dL/dx = dL/dy * m / (1 - p). The last mask is kept in ``mask``.

    Args:
        p: probability of zeroing an element, in [0, 1).
        rng: None, an int seed or a ``numpy.random.Generator`` that draws the masks.
    """

    def __init__(self, p: float = 0.5, rng=None):
        super().__init__()
        self.p = real_number(p, "p", 0.0, 1.0, high_inclusive=False)
        self.rng = as_rng(rng)
        self.mask = None
        self._shape = None

    def forward(self, input: np.ndarray) -> np.ndarray:
        """input: any shape (*). Returns y, same shape."""
        x = as_float_array(input, "input")
        self._shape = x.shape
        if not self.training:
            self.mask = None
            return x
        self.mask = self.rng.random(x.shape) >= self.p  # True (kept) with probability 1 - p
        return x * self.mask / (1.0 - self.p)

    def backward(self, grad_output: np.ndarray) -> np.ndarray:
        """grad_output: dL/dy, shape (*). Returns dL/dx, shape (*)."""
        grad = as_grad_output(grad_output, self._shape, "Dropout")
        if self.mask is None:  # the last forward ran in eval mode
            return grad
        return grad * self.mask / (1.0 - self.p)

    @classmethod
    def _config_from_torch(cls, module) -> dict:
        return {"p": module.p}

    def __repr__(self) -> str:
        return f"Dropout(p={self.p})"
