"""Transfer learning: a feature extractor (the body) and a task-specific classifier (the head).

A :class:`BodyHead` network is ``head(body(x))``. After training on one task, its body can be
kept and given a fresh head for another task (:meth:`BodyHead.with_new_head`), then either
frozen (:func:`freeze`: only the head learns) or tuned together with the new head.
:func:`conv_body` is the small convolutional body the chapters pre-train on the digits.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from companion.core.checks import positive_int
from companion.torch._inputs import module_input
from companion.torch.activations import ReLU
from companion.torch.conv import Conv2d
from companion.torch.linear import Flatten, Linear
from companion.torch.pooling import MaxPool2d

__all__ = ["BodyHead", "conv_body", "CONV_FEATURES", "freeze", "trainable_parameters"]

CONV_FEATURES = 32 * 4 * 4  # features of conv_body on 8 by 8 images


def conv_body() -> nn.Sequential:
    """Conv(1 -> 16, 3x3) -> ReLU -> Conv(16 -> 32, 3x3) -> ReLU -> MaxPool(2) -> Flatten.

    Zero padding of one pixel keeps the size, the pooling halves it. Input: (N, 1, 8, 8) digits.
    Output: (N, CONV_FEATURES) = (N, 512) features.
    """
    return nn.Sequential(Conv2d(1, 16, 3, padding=1), ReLU(),
                         Conv2d(16, 32, 3, padding=1), ReLU(),
                         MaxPool2d(2), Flatten())                           # (N, 32 * 4 * 4)


class BodyHead(nn.Module):
    """logits = head(body(x)), with ``head`` a Linear(features, classes).

    Args:
        body: any module mapping the input to (N, features).
        features: size of the body's output. classes: number of outputs of the head.

    Input: whatever ``body`` takes. Output: (N, classes).
    """

    def __init__(self, body: nn.Module, features: int, classes: int):
        super().__init__()
        self.body = module_input(body, "body")
        self.features = positive_int(features, "features")
        self.head = Linear(self.features, positive_int(classes, "classes"))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))                                      # (N, classes)

    def with_new_head(self, classes: int) -> "BodyHead":
        """A new network with a deep copy of this body (trainable) and a fresh random head."""
        return BodyHead(copy.deepcopy(self.body), self.features, classes)


def freeze(module: nn.Module) -> nn.Module:
    """Stop ``module``'s parameters from learning (``requires_grad = False``); returns it."""
    for parameter in module_input(module, "module").parameters():
        parameter.requires_grad_(False)
    return module


def trainable_parameters(module: nn.Module) -> list[nn.Parameter]:
    """The parameters that still learn, to hand to an optimiser."""
    return [p for p in module_input(module, "module").parameters() if p.requires_grad]
