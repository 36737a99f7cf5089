"""Activation functions written from elementwise torch operations.

Each function is numerically stable by construction: the exponentials only ever see
non-positive arguments, so logits of +-1e4 give neither ``inf`` nor ``nan`` (forward or backward).
The modules mirror ``torch.nn.ReLU``, ``Sigmoid``, ``Tanh``, ``GELU``, ``Softmax`` and
``LogSoftmax``.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from companion.core.checks import integer, normalize_dim

from ._inputs import tensor_input

__all__ = ["relu", "sigmoid", "log_sigmoid", "tanh", "gelu", "softmax", "log_softmax",
           "ReLU", "Sigmoid", "Tanh", "GELU", "Softmax", "LogSoftmax"]


def _minus_abs(x: torch.Tensor) -> torch.Tensor:
    """``-|x|``, with derivative -sign(x) and -1 (not 0) at x = 0, so x = 0 gets the right gradient."""
    return torch.where(x >= 0, -x, x)


def relu(x: torch.Tensor) -> torch.Tensor:
    """max(x, 0), elementwise; any shape. ``nan`` passes through, as in torch."""
    tensor_input(x, "x", floating=False)
    return torch.where(x <= 0, torch.zeros_like(x), x)


def sigmoid(x: torch.Tensor) -> torch.Tensor:
    """sigma(x) = 1 / (1 + exp(-x)), computed from ``z = exp(-|x|) <= 1``; any shape.

    sigma(x) = 1 / (1 + z) for x >= 0 and z / (1 + z) for x < 0.
    """
    tensor_input(x, "x", floating=False)
    z = torch.exp(_minus_abs(x))
    return torch.where(x >= 0, 1 / (1 + z), z / (1 + z))


def log_sigmoid(x: torch.Tensor) -> torch.Tensor:
    """log sigma(x) = min(x, 0) - ``log(1 + exp(-|x|))``; any shape."""
    tensor_input(x, "x", floating=False)
    return torch.where(x >= 0, torch.zeros_like(x), x) - torch.log1p(torch.exp(_minus_abs(x)))


def tanh(x: torch.Tensor) -> torch.Tensor:
    """tanh(x) = sign(x) (1 - e) / (1 + e) with ``e = exp(-2|x|)``; ``expm1`` keeps small x exact."""
    tensor_input(x, "x", floating=False)
    e_minus_1 = torch.expm1(2 * _minus_abs(x))            # e - 1, in (-1, 0]
    t = -e_minus_1 / (2 + e_minus_1)                        # tanh(|x|)
    return torch.where(x >= 0, t, -t)


def gelu(x: torch.Tensor, approximate: str = "none") -> torch.Tensor:
    """GELU(x) = x Phi(x) = x (1 + erf(x / sqrt 2)) / 2; any shape.

    ``approximate="tanh"`` uses x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) / 2 instead.
    """
    tensor_input(x, "x", floating=False)
    if approximate == "none":
        return 0.5 * x * (1 + torch.erf(x / math.sqrt(2.0)))
    if approximate == "tanh":
        return 0.5 * x * (1 + tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))
    raise ValueError(f"approximate must be 'none' or 'tanh', got {approximate!r}")


def log_softmax(x: torch.Tensor, dim: int) -> torch.Tensor:
    """log softmax(x)_i = s_i - log sum_j exp(s_j), s = x - max_j x_j, along ``dim``; any shape.

    As torch's kernel: a slice holding ``nan`` or ``+inf`` (or only ``-inf``) is ``nan``.
    """
    tensor_input(x, "x", floating=False)
    integer(dim, "dim")
    if x.shape[dim] == 0:  # nothing to normalise (a maximum over no entries is undefined)
        return x.clone()
    shifted = x - x.amax(dim=dim, keepdim=True).detach()   # the shift cancels; no gradient needed
    return shifted - torch.log(torch.exp(shifted).sum(dim=dim, keepdim=True))


def softmax(x: torch.Tensor, dim: int) -> torch.Tensor:
    """softmax(x)_i = exp(x_i - m) / sum_j exp(x_j - m) along ``dim``, m = max_j x_j; any shape."""
    tensor_input(x, "x", floating=False)
    integer(dim, "dim")
    if x.shape[dim] == 0:  # nothing to normalise (a maximum over no entries is undefined)
        return x.clone()
    shifted = x - x.amax(dim=dim, keepdim=True).detach()   # the shift cancels; no gradient needed
    e = torch.exp(shifted)
    return e / e.sum(dim=dim, keepdim=True)


class ReLU(nn.Module):
    """ReLU(x) = max(x, 0). Input and output: any shape (*)."""

    def __init__(self, inplace: bool = False):
        super().__init__()
        self.inplace = inplace

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        tensor_input(input, "input")
        out = relu(input)
        if self.inplace:
            return input.copy_(out)
        return out

    def extra_repr(self) -> str:
        return "inplace=True" if self.inplace else ""


class Sigmoid(nn.Module):
    """Sigmoid(x) = 1 / (1 + exp(-x)), stable for large ``|x|``. Input and output: ``(*)``."""

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        tensor_input(input, "input")
        return sigmoid(input)


class Tanh(nn.Module):
    """Tanh(x) = (exp(x) - exp(-x)) / (exp(x) + exp(-x)), stable for large ``|x|``. Shapes: ``(*)``."""

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        tensor_input(input, "input")
        return tanh(input)


class GELU(nn.Module):
    """GELU(x) = x Phi(x), Phi the standard normal CDF (or its tanh approximation). Shapes: (*)."""

    def __init__(self, approximate: str = "none"):
        super().__init__()
        if approximate not in ("none", "tanh"):
            raise ValueError(f"approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        tensor_input(input, "input")
        return gelu(input, self.approximate)

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"


class Softmax(nn.Module):
    """Softmax(x)_i = exp(x_i) / sum_j exp(x_j) along ``dim``. Input and output: (*)."""

    def __init__(self, dim: int | None = None):
        super().__init__()
        self.dim = integer(dim, "Softmax dim")   # torch's implicit dim=None is deprecated

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        tensor_input(input, "input")
        x = input.reshape(1) if input.dim() == 0 else input       # a 0-d input: one slice of one
        return softmax(x, normalize_dim(self.dim, x.dim(), "Softmax dim")).reshape(input.shape)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class LogSoftmax(nn.Module):
    """LogSoftmax(x)_i = x_i - log sum_j exp(x_j) along ``dim``. Input and output: (*)."""

    def __init__(self, dim: int | None = None):
        super().__init__()
        self.dim = integer(dim, "LogSoftmax dim")   # torch's implicit dim=None is deprecated

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        tensor_input(input, "input")
        x = input.reshape(1) if input.dim() == 0 else input       # a 0-d input: one slice of one
        dim = normalize_dim(self.dim, x.dim(), "LogSoftmax dim")
        return log_softmax(x, dim).reshape(input.shape)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"
