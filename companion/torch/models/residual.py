"""Residual blocks, y = relu(x + F(x)), and deep stacks of them with the skips switched on or off.

A :class:`ResidualBlock` computes a two-layer update F(x) = W2 relu(W1 x + b1) + b2 and adds it
to its input before the activation, the basic block of He et al. (2016) without batch norm.
With ``skip=False`` the same block computes relu(F(x)): a plain two-layer block holding exactly
the same parameters. :class:`BlockStack` chains many blocks between an input and an output
layer; :func:`weight_gradient_norms` reads the gradient norm of every linear layer in order.
"""

from __future__ import annotations

import torch
from torch import nn

from companion.core.checks import flag, positive_int
from companion.torch._inputs import module_input
from companion.torch.activations import ReLU
from companion.torch.linear import Linear

__all__ = ["ResidualBlock", "BlockStack", "weight_gradient_norms"]


class ResidualBlock(nn.Module):
    """y = relu(x + F(x)) with F(x) = W2 relu(W1 x + b1) + b2; y = relu(F(x)) if not ``skip``.

    Args:
        width: H, the size of input and output (the identity path needs them equal).
        skip: add the input to F(x) (a residual block) or not (a plain block).

    Input: (N, H). Output: (N, H).
    """

    def __init__(self, width: int, skip: bool = True):
        super().__init__()
        self.width = positive_int(width, "width")
        self.skip = flag(skip, "skip")
        self.linear1 = Linear(self.width, self.width)
        self.linear2 = Linear(self.width, self.width)
        self.act = ReLU()

    def residual(self, x: torch.Tensor) -> torch.Tensor:
        """The learned part F(x) = W2 relu(W1 x + b1) + b2: (N, H) -> (N, H)."""
        return self.linear2(self.act(self.linear1(x)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        update = self.residual(x)                                           # (N, H)
        return self.act(x + update if self.skip else update)

    def extra_repr(self) -> str:
        return f"width={self.width}, skip={self.skip}"


class BlockStack(nn.Module):
    """Linear(D, H) -> ReLU -> ``blocks`` x ResidualBlock(H, skip) -> Linear(H, out).

    With ``skip=True`` and ``skip=False`` the networks have the same layers and parameter
    shapes, so they differ only in the identity paths. Depth in linear layers: 2 * blocks + 2.

    Input: (N, D). Output: (N, out_features).
    """

    def __init__(self, in_features: int, width: int, blocks: int, out_features: int,
                 skip: bool = True):
        super().__init__()
        self.input_layer = Linear(positive_int(in_features, "in_features"),
                                  positive_int(width, "width"))
        self.blocks = nn.Sequential(*(ResidualBlock(width, skip)
                                      for _ in range(positive_int(blocks, "blocks",
                                                                  allow_zero=True))))
        self.output_layer = Linear(width, positive_int(out_features, "out_features"))
        self.act = ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.act(self.input_layer(x))                                   # (N, H)
        return self.output_layer(self.blocks(h))                            # (N, out)


def weight_gradient_norms(model: nn.Module) -> list[float]:
    """The Euclidean norm of ``weight.grad`` of every :class:`Linear` in ``model``, in order.

    Call after ``loss.backward()``; a layer without a gradient yet raises ``ValueError``.
    """
    norms = []
    for name, module in module_input(model, "model").named_modules():
        if isinstance(module, (Linear, nn.Linear)):
            if module.weight.grad is None:
                raise ValueError(f"layer {name!r} has no gradient: call loss.backward() first")
            norms.append(module.weight.grad.norm().item())
    return norms
