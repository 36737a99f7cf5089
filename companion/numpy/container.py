"""Sequential container: a chain of layers run forward in order and backward in reverse."""

from __future__ import annotations

import importlib

import numpy as np

from companion.numpy.module import Module


def _scratch_class(name: str) -> type | None:
    """The ``Module`` subclass that ``companion.numpy`` exports as ``name``, if any."""
    found = getattr(importlib.import_module("companion.numpy"), name, None)
    return found if isinstance(found, type) and issubclass(found, Module) else None


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

    def forward(self, x: np.ndarray) -> np.ndarray:
        """x: the first layer's input. Returns the last layer's output."""
        for layer in self._children.values():
            x = layer.forward(x)
        return x

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

        Each child is converted by its own ``from_torch`` (nested Sequentials included), so its
        weights and buffers are copied as float64.
        """
        layers = []
        for name, child in module.named_children():
            kind = type(child).__name__
            scratch = _scratch_class(kind)
            if scratch is None:
                raise TypeError(f"Sequential.from_torch: child {name!r} is a torch {kind}, "
                                f"which has no scratch layer of that name in companion.numpy")
            layers.append(scratch.from_torch(child))
        layer = cls(*layers)
        layer.train(module.training)
        return layer

    def __repr__(self) -> str:
        inner = "".join(f"\n  ({name}): {child!r}" for name, child in self._children.items())
        return f"Sequential({inner}\n)"
