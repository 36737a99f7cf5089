"""A tiny neural network built from :class:`~companion.numpy.autograd.value.Value` scalars.

A :class:`Neuron` is tanh(w . x + b), a :class:`Layer` is neurons reading the same inputs, an
:class:`MLP` chains layers; every weight is a leaf ``Value``, so ``loss.backward()`` fills each
``p.grad`` and ``zero_grad()`` clears them before the next step.
"""

from __future__ import annotations

import math

from companion.core.checks import as_rng, flag, positive_int
from companion.numpy.autograd.value import Value

__all__ = ["Neuron", "Layer", "MLP"]


class Neuron:
    """One unit: tanh(w . x + b), or the plain affine map when ``nonlin`` is False.

    Weights and bias start U(-1/sqrt(nin), 1/sqrt(nin)), torch's default for ``nn.Linear``.
    """

    def __init__(self, nin: int, nonlin: bool = True, rng=None):
        nin, rng = positive_int(nin, "nin"), as_rng(rng)
        bound = 1.0 / math.sqrt(nin)
        self.w = [Value(float(rng.uniform(-bound, bound)), label="w") for _ in range(nin)]
        self.b = Value(float(rng.uniform(-bound, bound)), label="b")
        self.nonlin = flag(nonlin, "nonlin")

    def __call__(self, x):
        if len(x) != len(self.w):
            raise ValueError(f"x must hold {len(self.w)} inputs, got {len(x)}")
        act = sum((wi * xi for wi, xi in zip(self.w, x)), self.b)
        return act.tanh() if self.nonlin else act

    def parameters(self) -> list[Value]:
        return self.w + [self.b]


class Layer:
    """``nout`` neurons reading the same ``nin`` inputs."""

    def __init__(self, nin: int, nout: int, nonlin: bool = True, rng=None):
        rng = as_rng(rng)
        self.neurons = [Neuron(nin, nonlin, rng) for _ in range(positive_int(nout, "nout"))]

    def __call__(self, x):
        out = [n(x) for n in self.neurons]
        return out[0] if len(out) == 1 else out

    def parameters(self) -> list[Value]:
        return [p for n in self.neurons for p in n.parameters()]


class MLP:
    """Tanh layers and a linear last layer, of sizes ``nin -> nouts[0] -> ... -> nouts[-1]``."""

    def __init__(self, nin: int, nouts: list[int], rng=None):
        rng = as_rng(rng)
        if not isinstance(nouts, (list, tuple)):
            raise TypeError(f"nouts must be a list of layer sizes, got {type(nouts).__name__}")
        sizes = [nin] + [positive_int(n, "nouts") for n in nouts]
        self.layers = [Layer(sizes[i], sizes[i + 1], nonlin=i < len(nouts) - 1, rng=rng)
                       for i in range(len(nouts))]

    def __call__(self, x):
        for layer in self.layers:
            x = layer(x if isinstance(x, list) else [x])
        return x

    def parameters(self) -> list[Value]:
        return [p for layer in self.layers for p in layer.parameters()]

    def zero_grad(self) -> None:
        """Set the gradient of every weight and bias to 0 (before the next backward)."""
        for p in self.parameters():
            p.grad = 0.0
