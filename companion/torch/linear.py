"""Fully connected layer and flattening, written from a matmul, mirroring ``torch.nn.Linear``."""

from __future__ import annotations

import math

import torch
from torch import nn

from companion.core.checks import integer, positive_int
from companion.core.shapes import flattened_shape

from ._inputs import tensor_input

__all__ = ["Linear", "Flatten"]


class Linear(nn.Module):
    """Affine map y = x W^T + b.

    Parameters (torch's names and layout): ``weight`` (out_features, in_features) and ``bias``
    (out_features,), both initialised from U(-1/sqrt(in_features), 1/sqrt(in_features)) as torch
    does.
    Input: ``(*, in_features)``. Output: ``(*, out_features)``.
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True,
                 device=None, dtype=None):
        super().__init__()
        factory = {"device": device, "dtype": dtype}
        self.in_features = positive_int(in_features, "in_features", allow_zero=True)
        self.out_features = positive_int(out_features, "out_features", allow_zero=True)
        self.weight = nn.Parameter(torch.empty(out_features, in_features, **factory))
        if bias:
            self.bias = nn.Parameter(torch.empty(out_features, **factory))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Draw weight and bias from U(-1/sqrt(in_features), 1/sqrt(in_features))."""
        bound = 1 / math.sqrt(self.in_features) if self.in_features > 0 else 0.0
        with torch.no_grad():
            self.weight.uniform_(-bound, bound)
            if self.bias is not None:
                self.bias.uniform_(-bound, bound)

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        tensor_input(input, "input")
        if input.dim() == 0 or input.shape[-1] != self.in_features:
            raise ValueError(f"input must have shape (*, in_features={self.in_features}), "
                             f"got {tuple(input.shape)}")
        out = input @ self.weight.T                           # (*, in) @ (in, out) -> (*, out)
        return out if self.bias is None else out + self.bias

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")


class Flatten(nn.Module):
    """Merge the dimensions ``start_dim`` .. ``end_dim`` into one.

    Input: ``(N, *dims)``. Output: e.g. (N, prod(dims)) for the defaults ``start_dim=1, end_dim=-1``.
    """

    def __init__(self, start_dim: int = 1, end_dim: int = -1):
        super().__init__()
        self.start_dim = integer(start_dim, "start_dim")
        self.end_dim = integer(end_dim, "end_dim")

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        tensor_input(input, "input", floating=False)
        # (*shape[:start], prod(shape[start:end + 1]), *shape[end + 1:])
        return input.reshape(flattened_shape(input.shape, self.start_dim, self.end_dim))

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"
