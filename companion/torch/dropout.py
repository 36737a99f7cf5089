"""Inverted dropout from a Bernoulli mask, mirroring ``torch.nn.Dropout``."""

from __future__ import annotations

import torch
from torch import nn

from companion.core.checks import real_number

from ._inputs import flag, tensor_input

__all__ = ["Dropout", "dropout"]


def dropout(input: torch.Tensor, p: float, training: bool = True) -> torch.Tensor:
    """y = x * m / (1 - p), m ~ Bernoulli(1 - p) elementwise, in training; y = x otherwise."""
    tensor_input(input, "input", floating=False)
    p = real_number(p, "p", 0.0, 1.0)
    if not flag(training, "training") or p == 0.0:
        return input
    if p == 1.0:
        return input * 0.0
    keep = torch.rand_like(input) >= p                              # Bernoulli(1 - p) mask
    return input * keep / (1 - p)


class Dropout(nn.Module):
    """Zero each element with probability p in training and scale the survivors by 1 / (1 - p).

    y = x * m / (1 - p), m ~ Bernoulli(1 - p) elementwise, so E[y] = x; in evaluation y = x.
    The mask is drawn from torch's global generator (seed it with ``torch.manual_seed``).
    Input: any shape (*). Output: the same shape.
    """

    def __init__(self, p: float = 0.5, inplace: bool = False):
        super().__init__()
        self.p = real_number(p, "p", 0.0, 1.0)
        self.inplace = flag(inplace, "inplace")

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        tensor_input(input, "input")
        out = dropout(input, self.p, self.training)
        return input.copy_(out) if self.inplace and out is not input else out

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"
