"""Initial weights at a chosen scale, and the per-layer statistics that show whether it is right.

A linear layer y = W x + b with independent zero-mean weights of variance s^2 gives each output a
variance ``fan_in * s^2 * E[x^2]``. Through a ReLU, E[x^2] is half the variance of the previous
pre-activation, so every layer multiplies the signal's variance by ``fan_in * s^2 / 2``, and the
backward pass multiplies the gradient's variance by ``fan_out * s^2 / 2``. The schemes:

- ``"xavier"`` (Glorot & Bengio 2010): s^2 = 2 / (fan_in + fan_out), the compromise between
  keeping forward and backward variance for a *linear* (or tanh near zero) layer.
- ``"kaiming"`` (He et al. 2015): s^2 = 2 / fan_in, which keeps the forward variance through ReLU.
- ``"default"``: torch's ``nn.Linear`` draw, U(-1/sqrt(fan_in), 1/sqrt(fan_in)), of variance
  1 / (3 fan_in): through ReLU it shrinks the variance six-fold per layer.
- a positive number: that standard deviation for every layer.

:func:`initialise_` redraws every linear layer of a model; :func:`layer_statistics` runs one
forward and backward pass and reports, per linear layer, the spread of its outputs and of the
gradients reaching them, and the fraction of units that are dead (never positive) on the batch.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn

from companion.core.checks import positive_int
from companion.torch._inputs import tensor_input
from companion.torch.linear import Linear

__all__ = ["SCHEMES", "init_std", "initialise_", "linear_layers", "layer_statistics"]

SCHEMES = ("default", "xavier", "kaiming")


def init_std(fan_in: int, fan_out: int, scheme) -> float:
    """The standard deviation s of the initial weights of a (fan_out, fan_in) layer.

    default: 1 / sqrt(3 fan_in); xavier: sqrt(2 / (fan_in + fan_out)); kaiming: sqrt(2 / fan_in);
    a positive float: itself.
    """
    fan_in = positive_int(fan_in, "fan_in")
    fan_out = positive_int(fan_out, "fan_out")
    if isinstance(scheme, str):
        if scheme == "default":
            return 1.0 / math.sqrt(3 * fan_in)
        if scheme == "xavier":
            return math.sqrt(2.0 / (fan_in + fan_out))
        if scheme == "kaiming":
            return math.sqrt(2.0 / fan_in)
        raise ValueError(f"scheme must be one of {SCHEMES} or a positive number, got {scheme!r}")
    if isinstance(scheme, bool) or not isinstance(scheme, (int, float)) \
            or not math.isfinite(scheme) or scheme <= 0:
        raise ValueError(f"scheme must be one of {SCHEMES} or a positive number, got {scheme!r}")
    return float(scheme)


def linear_layers(model: nn.Module) -> list[nn.Module]:
    """Every linear layer (the package's ``Linear`` or ``nn.Linear``) of ``model``, in order."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    return [m for m in model.modules() if isinstance(m, (Linear, nn.Linear))]


@torch.no_grad()
def initialise_(model: nn.Module, scheme="kaiming") -> nn.Module:
    """Redraw every linear layer: weight ~ N(0, s^2) with s = ``init_std(fan_in, fan_out,
    scheme)``, bias = 0. ``"default"`` instead redraws torch's uniform weights and biases.

    Draws from torch's global generator (seed it first). Returns ``model``, changed in place.
    """
    layers = linear_layers(model)
    if not layers:
        raise ValueError("model has no linear layer to initialise")
    init_std(1, 1, scheme)                                   # validate before changing anything
    for layer in layers:
        fan_out, fan_in = layer.weight.shape                 # torch layout (out, in)
        if scheme == "default":
            layer.reset_parameters()
            continue
        layer.weight.normal_(0.0, init_std(fan_in, fan_out, scheme))
        if layer.bias is not None:
            layer.bias.zero_()
    return model


def layer_statistics(model: nn.Module, x: torch.Tensor, y: torch.Tensor,
                     loss_fn: Callable = nn.functional.cross_entropy) -> list[dict]:
    """One forward and backward pass on (x, y); per linear layer, in order, a dict with

    - ``"output"``: the layer's output z = W h + b on the batch, detached, (N, H);
    - ``"std"``: the standard deviation of z over batch and units;
    - ``"grad_std"``: the standard deviation of dJ/dz, the gradient reaching the layer's output;
    - ``"weight_grad_norm"``: the norm of dJ/dW;
    - ``"dead"``: the fraction of the H units with z <= 0 on every example of the batch (a ReLU
      after them passes nothing and no gradient).

    Gradients accumulate into the model's ``.grad`` as usual (zero them before training).
    """
    if not isinstance(x, torch.Tensor) or x.dim() != 2:
        raise ValueError(f"x must be a (N, D) tensor, got {getattr(x, 'shape', type(x))}")
    tensor_input(y, "y", floating=False)
    if not callable(loss_fn):
        raise TypeError(f"loss_fn must be callable, got {type(loss_fn).__name__}")
    layers = linear_layers(model)
    if not layers:
        raise ValueError("model has no linear layer to measure")
    outputs: list[torch.Tensor] = []

    def keep(module, inputs, output):                        # returns None: output unchanged
        output.retain_grad()
        outputs.append(output)

    hooks = [layer.register_forward_hook(keep) for layer in layers]
    try:
        loss_fn(model(x), y).backward()
    finally:
        for hook in hooks:
            hook.remove()
    stats = []
    for layer, z in zip(layers, outputs):                    # z: (N, H)
        stats.append({"output": z.detach(), "std": z.detach().std().item(),
                      "grad_std": z.grad.std().item(),
                      "weight_grad_norm": layer.weight.grad.norm().item(),
                      "dead": (z.detach() <= 0).all(dim=0).double().mean().item()})
    return stats
