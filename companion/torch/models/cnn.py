"""A small convolutional network for images, and a helper that records what each layer outputs.

- :func:`conv_net` chains two ``Conv2d -> ReLU -> MaxPool2d`` stages and a dense output layer,
  the classic layout of LeCun et al. (1998) at the scale of 8 by 8 digits. It is an
  ``nn.Sequential`` of the package's torch layers, so
  :meth:`companion.numpy.container.Sequential.from_torch` builds its NumPy twin.
- :func:`layer_outputs` runs an ``nn.Sequential`` and keeps every layer's output: the feature
  maps a chapter draws.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from companion.core.checks import positive_int
from companion.torch._inputs import tensor_input
from companion.torch.activations import ReLU
from companion.torch.conv import Conv2d
from companion.torch.linear import Flatten, Linear
from companion.torch.pooling import MaxPool2d

__all__ = ["conv_net", "layer_outputs"]


def conv_net(in_channels: int = 1, image_size: int = 8, channels: Sequence[int] = (16, 32),
             kernel_size: int = 3, num_classes: int = 10) -> nn.Sequential:
    """Input -> [Conv -> ReLU -> Pool] per entry of ``channels`` -> Flatten -> Dense -> Output.

    Each convolution has a ``kernel_size`` kernel with ``kernel_size // 2`` zero padding, so it
    keeps the image size; each 2 by 2 max pooling halves it. The dense layer maps the last
    feature maps to one logit per class.

    Args:
        in_channels: C, channels of the input images.
        image_size: H = W, the side of the (square) input images; it must be divisible by
            2 ** len(channels).
        channels: output channels of each convolution, e.g. ``(16, 32)``.
        kernel_size: odd side of every convolution kernel.
        num_classes: number of outputs (logits).

    Input: (N, C, H, W). Output: (N, num_classes).
    """
    in_channels = positive_int(in_channels, "in_channels")
    image_size = positive_int(image_size, "image_size")
    kernel_size = positive_int(kernel_size, "kernel_size")
    if kernel_size % 2 == 0:
        raise ValueError(f"kernel_size must be odd (so padding keeps the size), got {kernel_size}")
    if not isinstance(channels, (tuple, list)):
        raise TypeError(f"channels must be a sequence of ints, got {type(channels).__name__}")
    widths = [positive_int(c, "channels entry") for c in channels]
    if not widths:
        raise ValueError("channels must name at least one convolution, got an empty sequence")
    if image_size % 2 ** len(widths):
        raise ValueError(f"image_size must be divisible by 2 ** len(channels) = "
                         f"{2 ** len(widths)}, got {image_size}")
    layers: list[nn.Module] = []
    previous = in_channels
    for width in widths:
        layers += [Conv2d(previous, width, kernel_size, padding=kernel_size // 2), ReLU(),
                   MaxPool2d(2)]
        previous = width
    side = image_size // 2 ** len(widths)
    layers += [Flatten(), Linear(previous * side * side, positive_int(num_classes, "num_classes"))]
    return nn.Sequential(*layers)


@torch.no_grad()
def layer_outputs(model: nn.Sequential, x: torch.Tensor) -> list[tuple[str, torch.Tensor]]:
    """Run ``model`` on ``x`` and return ``(name, output)`` for every layer, in order.

    The name is the layer's class and position, e.g. ``"0 Conv2d"``; outputs are detached.
    """
    if not isinstance(model, nn.Sequential):
        raise TypeError(f"model must be an nn.Sequential, got {type(model).__name__}")
    tensor_input(x, "x")
    outputs = []
    for position, layer in enumerate(model):
        x = layer(x)
        outputs.append((f"{position} {type(layer).__name__}", x))
    return outputs
