"""Sequential container: a chain of layers run forward in order and backward in reverse.

:meth:`Sequential.from_torch` rebuilds a torch ``nn.Sequential`` from the scratch layers listed
in :data:`TORCH_TWINS`, the layers that take one array and return one array.
"""

from __future__ import annotations

import numpy as np

from companion.numpy.activations import GELU, LogSoftmax, ReLU, Sigmoid, Softmax, Tanh
from companion.numpy.conv import Conv2d
from companion.numpy.dropout import Dropout
from companion.numpy.embedding import Embedding
from companion.numpy.linear import Flatten, Linear
from companion.numpy.module import Module
from companion.numpy.normalization import BatchNorm1d, BatchNorm2d, LayerNorm
from companion.numpy.pooling import AvgPool2d, MaxPool2d

__all__ = ["Sequential", "TORCH_TWINS"]


class Sequential(Module):
    """y = f_k(... f_2(f_1(x))); dL/dx runs the layers' backward passes in reverse order.

    Children are named "0", "1", ... as in torch, so parameter keys read "0.weight", "2.bias".

    Args:
        *layers: the scratch layers, in order.
    """

    def __init__(self, *layers: Module):
        super().__init__()
        for position, layer in enumerate(layers):
            self.add_module(str(position), layer)

    def forward(self, input: np.ndarray) -> np.ndarray:
        """input: the first layer's input. Returns the last layer's output."""
        for layer in self._children.values():
            input = layer.forward(input)
        return input

    def backward(self, grad_output: np.ndarray) -> np.ndarray:
        """grad_output: dL/dy for the last output. Returns dL/dx for the first input."""
        for layer in reversed(self._children.values()):
            grad_output = layer.backward(grad_output)
        return grad_output

    def __len__(self) -> int:
        return len(self._children)

    def __getitem__(self, index: int) -> Module:
        return list(self._children.values())[index]

    def __iter__(self):
        return iter(self._children.values())

    @classmethod
    def from_torch(cls, module) -> Sequential:
        """Rebuild a torch ``nn.Sequential`` from the scratch layers with the same class names.

        Each child's torch class name is looked up in :data:`TORCH_TWINS` and converted by that
        layer's own ``from_torch`` (nested Sequentials included), so its weights and buffers are
        copied as float64.
        """
        layers = []
        for name, child in module.named_children():
            kind = type(child).__name__
            scratch = TORCH_TWINS.get(kind)
            if scratch is None:
                raise TypeError(f"Sequential.from_torch: child {name!r} is a torch {kind}, "
                                f"which has no scratch layer of that name in TORCH_TWINS "
                                f"(one of {', '.join(sorted(TORCH_TWINS))})")
            layers.append(scratch.from_torch(child))
        layer = cls(*layers)
        layer.train(module.training)
        return layer

    def __repr__(self) -> str:
        inner = "".join(f"\n  ({name}): {child!r}" for name, child in self._children.items())
        return f"Sequential({inner}\n)"


TORCH_TWINS: dict[str, type[Module]] = {layer.__name__: layer for layer in (
    Sequential, Linear, Flatten, Conv2d, MaxPool2d, AvgPool2d, Embedding, BatchNorm1d,
    BatchNorm2d, LayerNorm, Dropout, ReLU, Sigmoid, Tanh, GELU, Softmax, LogSoftmax)}
"""The scratch layer :meth:`Sequential.from_torch` builds for each torch class name."""
