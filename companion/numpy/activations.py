"""Elementwise and normalising activation layers: ReLU, Sigmoid, Tanh, GELU, Softmax, LogSoftmax.

Each layer caches what its derivative needs in ``forward`` and returns the input gradient from
``backward``; none has parameters.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import erf  # the error function, to machine precision (Cephes)

from companion.core.checks import as_float_array, as_grad_output, integer, normalize_dim
from companion.core.functional import log_softmax, sigmoid, softmax, softmax_backward
from companion.numpy.module import Module


class ReLU(Module):
    """Rectified linear unit, y = max(x, 0); dy/dx = 1 where x > 0, else 0 (as torch at x = 0).

    ``nan`` passes through, forward and backward, as in torch.
    """

    def __init__(self):
        super().__init__()
        self._blocked = None

    def forward(self, input: np.ndarray) -> np.ndarray:
        """input: any shape (*). Returns y, same shape."""
        x = as_float_array(input, "input")
        self._blocked = x <= 0  # False for nan, which passes through
        return np.where(self._blocked, 0.0, x)

    def backward(self, grad_output: np.ndarray) -> np.ndarray:
        """grad_output: dL/dy, shape (*). Returns dL/dx, shape (*)."""
        shape = None if self._blocked is None else self._blocked.shape
        grad = as_grad_output(grad_output, shape, "ReLU")
        return np.where(self._blocked, 0.0, grad)

    @classmethod
    def _config_from_torch(cls, module) -> dict:
        return {}


class Sigmoid(Module):
    """Logistic function, y = 1 / (1 + e^-x), computed stably; dy/dx = y (1 - y)."""

    def __init__(self):
        super().__init__()
        self._out = None

    def forward(self, input: np.ndarray) -> np.ndarray:
        """input: any shape (*). Returns y, same shape."""
        self._out = sigmoid(as_float_array(input, "input"))
        return self._out

    def backward(self, grad_output: np.ndarray) -> np.ndarray:
        """grad_output: dL/dy, shape (*). Returns dL/dx, shape (*)."""
        shape = None if self._out is None else self._out.shape
        grad = as_grad_output(grad_output, shape, "Sigmoid")
        return grad * self._out * (1.0 - self._out)

    @classmethod
    def _config_from_torch(cls, module) -> dict:
        return {}


class Tanh(Module):
    """Hyperbolic tangent, y = tanh(x); dy/dx = 1 - y^2."""

    def __init__(self):
        super().__init__()
        self._out = None

    def forward(self, input: np.ndarray) -> np.ndarray:
        """input: any shape (*). Returns y, same shape."""
        self._out = np.tanh(as_float_array(input, "input"))
        return self._out

    def backward(self, grad_output: np.ndarray) -> np.ndarray:
        """grad_output: dL/dy, shape (*). Returns dL/dx, shape (*)."""
        shape = None if self._out is None else self._out.shape
        grad = as_grad_output(grad_output, shape, "Tanh")
        return grad * (1.0 - self._out * self._out)

    @classmethod
    def _config_from_torch(cls, module) -> dict:
        return {}


class GELU(Module):
    """Gaussian error linear unit, y = x Phi(x) with Phi the standard normal CDF.

    ``approximate="none"`` (torch's default): Phi(x) = (1 + erf(x / sqrt 2)) / 2 and
    dy/dx = Phi(x) + x phi(x), phi(x) = e^{-x^2/2} / sqrt(2 pi).
    ``approximate="tanh"``: Phi(x) ~ (1 + tanh(u)) / 2 with u = sqrt(2/pi) (x + 0.044715 x^3).

    Args:
        approximate: ``"none"`` or ``"tanh"``.
    """

    _KAPPA = 0.044715

    def __init__(self, approximate: str = "none"):
        super().__init__()
        if approximate not in ("none", "tanh"):
            raise ValueError(f"approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate
        self._x = None
        self._cdf = None

    def forward(self, input: np.ndarray) -> np.ndarray:
        """input: any shape (*). Returns y, same shape."""
        x = as_float_array(input, "input")
        if self.approximate == "tanh":
            t = np.tanh(math.sqrt(2.0 / math.pi) * (x + self._KAPPA * x ** 3))
            cdf = 0.5 * (1.0 + t)
        else:
            cdf = 0.5 * (1.0 + erf(x / math.sqrt(2.0)))
        self._x, self._cdf = x, cdf  # backward reuses Phi(x) instead of recomputing it
        return x * cdf

    def backward(self, grad_output: np.ndarray) -> np.ndarray:
        """grad_output: dL/dy, shape (*). Returns dL/dx, shape (*)."""
        shape = None if self._x is None else self._x.shape
        grad = as_grad_output(grad_output, shape, "GELU")
        x, cdf = self._x, self._cdf
        if self.approximate == "tanh":
            c = math.sqrt(2.0 / math.pi)
            du = c * (1.0 + 3.0 * self._KAPPA * x * x)
            # d/dx (1 + tanh u) / 2 = (1 - tanh^2 u) u' / 2 = 2 cdf (1 - cdf) u'
            return grad * (cdf + x * 2.0 * cdf * (1.0 - cdf) * du)
        pdf = np.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi)
        return grad * (cdf + x * pdf)

    @classmethod
    def _config_from_torch(cls, module) -> dict:
        return {"approximate": module.approximate}


class Softmax(Module):
    """Softmax along ``dim``, y_i = e^{x_i} / sum_j e^{x_j}; dL/dx = y * (g - sum_j g_j y_j).

    Args:
        dim: the axis that sums to one. Required: torch's implicit choice for ``dim=None`` is
            deprecated, and both halves refuse it.
    """

    def __init__(self, dim: int | None = None):
        super().__init__()
        self.dim = integer(dim, "Softmax dim")
        self._out = None

    def forward(self, input: np.ndarray) -> np.ndarray:
        """input: any shape (*), 0-d too (a slice of one value, as torch). Returns y, alike."""
        x = as_float_array(input, "input")
        self._shape = x.shape
        x = x.reshape(-1) if x.ndim == 0 else x  # () -> (1,)
        self._axis = normalize_dim(self.dim, x.ndim, "Softmax dim")
        self._out = softmax(x, axis=self._axis)
        return self._out.reshape(self._shape)

    def backward(self, grad_output: np.ndarray) -> np.ndarray:
        """grad_output: dL/dy, same shape as y. Returns dL/dx."""
        shape = None if self._out is None else self._shape
        grad = as_grad_output(grad_output, shape, "Softmax").reshape(self._out.shape)
        return softmax_backward(self._out, grad, axis=self._axis).reshape(self._shape)

    @classmethod
    def _config_from_torch(cls, module) -> dict:
        return {"dim": module.dim}


class LogSoftmax(Module):
    """Log-softmax along ``dim``, y_i = x_i - log sum_j e^{x_j}; dL/dx = g - e^y sum_j g_j.

    Args:
        dim: the axis over which the exponentials sum to one (required, as for Softmax).
    """

    def __init__(self, dim: int | None = None):
        super().__init__()
        self.dim = integer(dim, "LogSoftmax dim")
        self._out = None

    def forward(self, input: np.ndarray) -> np.ndarray:
        """input: any shape (*), 0-d too (a slice of one value, as torch). Returns y, alike."""
        x = as_float_array(input, "input")
        self._shape = x.shape
        x = x.reshape(-1) if x.ndim == 0 else x  # () -> (1,)
        self._axis = normalize_dim(self.dim, x.ndim, "LogSoftmax dim")
        self._out = log_softmax(x, axis=self._axis)
        return self._out.reshape(self._shape)

    def backward(self, grad_output: np.ndarray) -> np.ndarray:
        """grad_output: dL/dy, same shape as y. Returns dL/dx."""
        shape = None if self._out is None else self._shape
        grad = as_grad_output(grad_output, shape, "LogSoftmax").reshape(self._out.shape)
        grad = grad - np.exp(self._out) * np.sum(grad, axis=self._axis, keepdims=True)
        return grad.reshape(self._shape)

    @classmethod
    def _config_from_torch(cls, module) -> dict:
        return {"dim": module.dim}
