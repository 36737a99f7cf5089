"""Multilayer perceptrons built from the package's layers: plain, regularised and residual.

- :func:`mlp` chains ``Linear -> [BatchNorm1d] -> activation -> [Dropout]`` blocks and ends in a
  ``Linear`` output layer; with no hidden layers it is a linear (logistic-regression) model.
- :class:`DeepMLP` stacks many equal-width layers, with or without identity skip connections,
  to show why residual connections let very deep networks train.
- :func:`count_parameters` counts trainable numbers, to compare models of equal size.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn

from companion.core.checks import flag, positive_int, real_number
from companion.torch.activations import ReLU
from companion.torch.dropout import Dropout
from companion.torch.linear import Flatten, Linear
from companion.torch.normalization import BatchNorm1d

__all__ = ["mlp", "DeepMLP", "count_parameters"]


def count_parameters(model: nn.Module) -> int:
    """Number of trainable scalars (elements of parameters with ``requires_grad``)."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def mlp(in_features: int, hidden: Sequence[int], out_features: int, *,
        activation: Callable[[], nn.Module] = ReLU, dropout: float = 0.0,
        batch_norm: bool = False, flatten: bool = False) -> nn.Sequential:
    """A feedforward network: ``len(hidden)`` hidden layers, then a linear output layer.

    Each hidden block is Linear(d_in, d) -> BatchNorm1d(d) (if ``batch_norm``) -> activation
    -> Dropout(dropout) (if ``dropout > 0``). ``hidden=[]`` gives a single Linear layer.

    Args:
        in_features: D, the size of each input row.
        hidden: widths of the hidden layers, e.g. ``[128, 64]``.
        out_features: number of outputs (classes).
        activation: a no-argument factory for the activation layer (default ReLU).
        dropout: dropout rate p in [0, 1) after each hidden activation.
        batch_norm: insert batch normalisation before each hidden activation.
        flatten: start with ``Flatten()`` so the model accepts images (N, C, H, W).

    Input: (N, D), or (N, C, H, W) with ``flatten``. Output: (N, out_features).
    """
    in_features = positive_int(in_features, "in_features")
    out_features = positive_int(out_features, "out_features")
    if isinstance(hidden, (str, bytes)) or not isinstance(hidden, Sequence):
        raise TypeError(f"hidden must be a sequence of widths, got {type(hidden).__name__}")
    widths = [positive_int(w, "hidden width") for w in hidden]
    if not callable(activation):
        raise TypeError(f"activation must be a layer class such as ReLU, "
                        f"got {type(activation).__name__}")
    batch_norm, flatten = flag(batch_norm, "batch_norm"), flag(flatten, "flatten")
    dropout = real_number(dropout, "dropout", 0.0, 1.0, high_inclusive=False)
    layers: list[nn.Module] = [Flatten()] if flatten else []
    previous = in_features
    for width in widths:
        layers.append(Linear(previous, width))
        if batch_norm:
            layers.append(BatchNorm1d(width))
        layers.append(activation())
        if dropout > 0:
            layers.append(Dropout(dropout))
        previous = width
    layers.append(Linear(previous, out_features))
    return nn.Sequential(*layers)


class DeepMLP(nn.Module):
    """A deep stack of equal-width layers, with identity skips or without.

    With h_0 = W_in x + b_in, each of the ``depth`` layers l = 1, 2, ... computes::

        plain:     h_l = W_l relu(h_{l-1}) + b_l
        residual:  h_l = h_{l-1} + W_l relu(h_{l-1}) + b_l

    and the output is W_out relu(h_depth) + b_out. The plain variant is an ordinary deep
    ReLU network; the residual one adds the identity around every layer. Both variants hold exactly the same parameters,
    so any difference in training comes from the skip connections alone.

    Args:
        in_features: D. width: H, the size of every hidden layer. depth: number of H -> H
        layers. out_features: number of outputs. residual: add the identity skips.

    Input: (N, D). Output: (N, out_features).
    """

    def __init__(self, in_features: int, width: int, depth: int, out_features: int,
                 residual: bool = True):
        super().__init__()
        in_features = positive_int(in_features, "in_features")
        width = positive_int(width, "width")
        self.depth = positive_int(depth, "depth", allow_zero=True)
        self.residual = flag(residual, "residual")
        self.input_layer = Linear(in_features, width)
        self.hidden = nn.ModuleList(Linear(width, width) for _ in range(self.depth))
        self.output_layer = Linear(width, positive_int(out_features, "out_features"))
        self.act = ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.input_layer(x)                                             # (N, H)
        for layer in self.hidden:
            update = layer(self.act(h))                                     # (N, H)
            h = h + update if self.residual else update
        return self.output_layer(self.act(h))                               # (N, out)

    def extra_repr(self) -> str:
        return f"depth={self.depth}, residual={self.residual}"
