"""Output shapes both halves compute alike: sliding windows (convolution, pooling) and Flatten.

A window of ``kernel_size`` taps spaced ``dilation`` apart spans d (k - 1) + 1 pixels. Slid with
``stride`` over an axis of ``size`` pixels padded by ``padding`` on each side, it fits

    out = floor((size + 2 padding - d (k - 1) - 1) / stride) + 1

times. Pooling's ``ceil_mode`` rounds up instead, keeping a last, partial window as long as it
starts inside the input or its left padding (torch's rule); that window reads
:func:`ceil_margin` pixels beyond the right padding.
"""

from __future__ import annotations

import math

from companion.core.checks import normalize_dim

Pair = tuple[int, int]


def output_size(size: int, kernel_size: int, stride: int = 1, padding: int = 0,
                dilation: int = 1, ceil_mode: bool = False) -> int:
    """Number of window positions along one axis (the formula above, rounded down or up)."""
    room = size + 2 * padding - dilation * (kernel_size - 1) - 1
    out = (-(-room // stride) if ceil_mode else room // stride) + 1
    if ceil_mode and (out - 1) * stride >= size + padding:  # the last window starts in the padding
        out -= 1
    return out


def output_size_2d(shape: tuple[int, ...], kernel_size: Pair, stride: Pair, padding: Pair,
                   dilation: Pair, ceil_mode: bool = False, name: str = "x") -> Pair:
    """(H_out, W_out) for an input of shape (..., H, W), each given by :func:`output_size`.

    Args:
        shape: the input's shape; its last two entries are H and W.
        kernel_size, stride, padding, dilation: (height, width) pairs.
        ceil_mode: round the number of windows up (pooling only).
        name: the input's name in the error raised when the dilated kernel does not fit in the
            padded input.
    """
    sizes = []
    for axis, size, k, s, p, d in zip("HW", shape[-2:], kernel_size, stride, padding, dilation):
        span = d * (k - 1) + 1  # extent of the dilated kernel
        if size + 2 * p < span:
            raise ValueError(f"{name} is too small for the kernel along {axis}: "
                             f"{axis} + 2 * padding must be at least the dilated kernel size "
                             f"{span}, got {size} + 2 * {p} = {size + 2 * p}")
        sizes.append(output_size(size, k, s, p, d, ceil_mode))
    return sizes[0], sizes[1]


def ceil_margin(size: int, out: int, kernel_size: int, stride: int = 1, padding: int = 0,
                dilation: int = 1) -> int:
    """Pixels the last of ``out`` windows reads beyond ``size + 2 padding`` (0 unless ceil_mode)."""
    return max((out - 1) * stride + dilation * (kernel_size - 1) + 1 - (size + 2 * padding), 0)


def check_pool_padding(padding: Pair, kernel_size: Pair) -> None:
    """Torch's rule for pooling: padding at most half of the kernel size along each axis."""
    if any(2 * p > k for p, k in zip(padding, kernel_size)):
        raise ValueError(f"padding must be at most half of kernel_size {kernel_size}, "
                         f"got padding {padding}")


def flattened_shape(shape: tuple[int, ...], start_dim: int, end_dim: int) -> tuple[int, ...]:
    """``shape`` with dimensions ``start_dim`` .. ``end_dim`` (inclusive) merged into one.

    A scalar counts as shape (1,), as in torch; a range that runs backwards is refused.
    """
    shape = tuple(shape) or (1,)
    start = normalize_dim(start_dim, len(shape), "Flatten start_dim")
    end = normalize_dim(end_dim, len(shape), "Flatten end_dim")
    if start > end:
        raise ValueError(f"Flatten start_dim ({start_dim}) must not come after end_dim "
                         f"({end_dim}) for an input of shape {shape}")
    return shape[:start] + (math.prod(shape[start:end + 1]),) + shape[end + 1:]
