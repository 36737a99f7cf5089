"""Geometric data augmentation for small images: shifts, rotations and scaling from torch ops.

An affine transformation moves every pixel: rotate by an angle about the image centre, scale
by a factor, then shift by a number of pixels. To build the new image we go the other way:
for each output pixel we ask where it came from in the input (the inverse map) and read the
input there by bilinear interpolation, with zeros outside the image. :func:`affine_warp`
does this from indexing and arithmetic and agrees with
``F.grid_sample(x, F.affine_grid(theta, size, align_corners=False), align_corners=False)``.
"""

from __future__ import annotations

import math
import numbers

import torch
from torch import nn

from companion.torch._inputs import as_tensor_input

__all__ = ["affine_matrices", "affine_warp", "random_affine", "RandomAffine"]


def _check_images(images: torch.Tensor) -> None:
    if not isinstance(images, torch.Tensor):
        raise TypeError(f"images must be a torch.Tensor, got {type(images).__name__}")
    if images.dim() != 4 or not images.is_floating_point():
        raise ValueError(f"images must be a floating tensor of shape (N, C, H, W), got "
                         f"{tuple(images.shape)} with dtype {images.dtype}")


def affine_matrices(angle, scale, shift, size: tuple[int, int]) -> torch.Tensor:
    """The inverse maps, in torch's normalised coordinates, of 'rotate, scale, then shift'.

    The forward map sends pixel position p (relative to the image centre, x to the right and
    y downwards) to q = s R(angle) p + t. Its inverse, p = R(-angle) (q - t) / s, is what
    sampling needs; expressed in the coordinates of ``F.affine_grid`` (x and y from -1 to 1
    across the image, D = diag(W/2, H/2)) it is theta = [D^-1 A^-1 D | -D^-1 A^-1 t].

    Args:
        angle: rotation in degrees, a number or a tensor (N,); positive turns the picture
            clockwise on screen (y points down).
        scale: zoom factor s > 0, a number or a tensor (N,); s > 1 enlarges the digit.
        shift: shift t in pixels as ``(dx, dy)`` or a tensor (N, 2); positive dx moves the
            picture right, positive dy moves it down.
        size: ``(H, W)`` of the images.

    Returns:
        theta (N, 2, 3) in float64 (N = 1 when every argument is a plain number).
    """
    if not isinstance(size, (tuple, list)) or len(size) != 2 or not all(
            isinstance(s, numbers.Real) for s in size):
        raise TypeError(f"size must be (H, W), got {size!r}")
    height, width = size
    angle = _numbers(angle, "angle").reshape(-1)                              # (N,) or (1,)
    scale = _numbers(scale, "scale").reshape(-1)
    shift = _numbers(shift, "shift").reshape(-1, 2)                           # (N, 2)
    if (scale <= 0).any():
        raise ValueError(f"scale must be positive, got {scale.tolist()}")
    n = max(len(angle), len(scale), len(shift))
    angle, scale, shift = angle.expand(n), scale.expand(n), shift.expand(n, 2)
    radians = angle * (math.pi / 180)
    cos, sin = torch.cos(radians), torch.sin(radians)
    # A^-1 = R(-angle) / s, (N, 2, 2)
    inverse = torch.stack([torch.stack([cos, sin], -1), torch.stack([-sin, cos], -1)], -2)
    inverse = inverse / scale[:, None, None]
    d = torch.tensor([width / 2, height / 2], dtype=torch.float64)           # pixels per unit
    linear = inverse * d[None, None, :] / d[None, :, None]                    # D^-1 A^-1 D
    offset = -(inverse @ shift[:, :, None])[:, :, 0] / d                      # (N, 2)
    return torch.cat([linear, offset[:, :, None]], dim=2)                     # (N, 2, 3)


def affine_warp(images: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
    """Resample images along affine maps, bilinearly, with zeros outside the image.

    Output pixel (i, j) has normalised centre (x, y) = ((2j + 1)/W - 1, (2i + 1)/H - 1); it
    reads the input at theta @ (x, y, 1), converted back to pixel units u = ((x' + 1) W - 1)/2,
    v = ((y' + 1) H - 1)/2, mixing the four nearest pixels with weights (1 - a)(1 - b), ...

    Args:
        images: (N, C, H, W) floating tensor.
        theta: (N, 2, 3) or (1, 2, 3) inverse maps, as from :func:`affine_matrices`.

    Returns:
        (N, C, H, W) tensor of the same dtype and device as ``images``.
    """
    _check_images(images)
    n, channels, height, width = images.shape
    theta = _numbers(theta, "theta").to(images)
    if theta.dim() != 3 or theta.shape[1:] != (2, 3) or theta.shape[0] not in (1, n):
        raise ValueError(f"theta must have shape (N, 2, 3) or (1, 2, 3) with N = {n}, got "
                         f"{tuple(theta.shape)}")
    theta = theta.expand(n, 2, 3)
    xs = (2 * torch.arange(width, dtype=images.dtype, device=images.device) + 1) / width - 1
    ys = (2 * torch.arange(height, dtype=images.dtype, device=images.device) + 1) / height - 1
    grid_y, grid_x = torch.meshgrid(ys, xs, indexing="ij")                    # (H, W) each
    points = torch.stack([grid_x, grid_y, torch.ones_like(grid_x)], -1)       # (H, W, 3)
    source = torch.einsum("nab,hwb->nhwa", theta, points)                     # (N, H, W, 2)
    u = ((source[..., 0] + 1) * width - 1) / 2                                # (N, H, W) column
    v = ((source[..., 1] + 1) * height - 1) / 2                               # (N, H, W) row
    u0, v0 = torch.floor(u), torch.floor(v)
    a, b = u - u0, v - v0                                                     # fractional parts
    flat = images.reshape(n, channels, height * width)                        # (N, C, H*W)
    out = torch.zeros_like(images)
    for dv, du, weight in ((0, 0, (1 - a) * (1 - b)), (0, 1, a * (1 - b)),
                           (1, 0, (1 - a) * b), (1, 1, a * b)):
        col, row = (u0 + du).long(), (v0 + dv).long()                         # (N, H, W)
        inside = (col >= 0) & (col < width) & (row >= 0) & (row < height)
        index = (row.clamp(0, height - 1) * width + col.clamp(0, width - 1))  # (N, H, W)
        index = index.reshape(n, 1, height * width).expand(n, channels, -1)   # (N, C, H*W)
        values = flat.gather(2, index).reshape(n, channels, height, width)
        out = out + values * (weight * inside)[:, None]                       # zeros outside
    return out


def _numbers(value, name: str) -> torch.Tensor:
    """``value`` (a number, sequence or tensor) as a float64 tensor, or a TypeError naming it."""
    return as_tensor_input(value, name, "numbers or a tensor", dtype=torch.float64)


def _range(value, name: str, lower: float = 0.0) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or value < lower:
        raise ValueError(f"{name} must be a number >= {lower}, got {value!r}")
    return float(value)


def _scale_range(value) -> tuple[float, float]:
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise TypeError(f"scale_range must be a pair (low, high), got {value!r}")
    low, high = (_range(s, "scale_range", 1e-6) for s in value)
    if low > high:
        raise ValueError(f"scale_range must be (low, high) with low <= high, got {value}")
    return low, high


def random_affine(images: torch.Tensor, max_rotation: float = 0.0, max_shift: float = 0.0,
                  scale_range: tuple[float, float] = (1.0, 1.0),
                  generator: torch.Generator | None = None) -> torch.Tensor:
    """Warp each image by its own random rotation, scaling and shift.

    angle ~ U(-max_rotation, max_rotation) degrees, scale ~ ``U(*scale_range)``, and dx, dy ~
    U(-max_shift, max_shift) pixels, drawn independently per image on the CPU from
    ``generator`` (torch's global generator when None).

    Args:
        images: (N, C, H, W) floating tensor.

    Returns:
        (N, C, H, W) tensor like ``images``.
    """
    _check_images(images)
    max_rotation = _range(max_rotation, "max_rotation")
    max_shift = _range(max_shift, "max_shift")
    low, high = _scale_range(scale_range)
    n, _, height, width = images.shape
    draw = torch.rand(n, 4, generator=generator, dtype=torch.float64)          # (N, 4) in [0, 1)
    angle = (2 * draw[:, 0] - 1) * max_rotation
    scale = low + (high - low) * draw[:, 1]
    shift = (2 * draw[:, 2:] - 1) * max_shift                                  # (N, 2)
    theta = affine_matrices(angle, scale, shift, (height, width))
    return affine_warp(images, theta.to(images.device))


class RandomAffine(nn.Module):
    """A layer that augments its input in training mode and passes it through in eval mode.

    Placed first in a model, it shows the network a freshly rotated, scaled and shifted copy of
    every image at every step (see :func:`random_affine`), while evaluation sees the originals.
    Input: (N, C, H, W). Output: the same shape.
    """

    def __init__(self, max_rotation: float = 10.0, max_shift: float = 1.0,
                 scale_range: tuple[float, float] = (0.9, 1.1),
                 generator: torch.Generator | None = None):
        super().__init__()
        self.max_rotation = _range(max_rotation, "max_rotation")
        self.max_shift = _range(max_shift, "max_shift")
        self.scale_range = _scale_range(scale_range)
        if generator is not None and not isinstance(generator, torch.Generator):
            raise TypeError(f"generator must be a torch.Generator or None, got "
                            f"{type(generator).__name__}")
        self.generator = generator

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return input
        return random_affine(input, self.max_rotation, self.max_shift, self.scale_range,
                             self.generator)

    def extra_repr(self) -> str:
        return (f"max_rotation={self.max_rotation}, max_shift={self.max_shift}, "
                f"scale_range={self.scale_range}")
