"""Argument checks shared by the losses of :mod:`companion.torch.rl`."""

from __future__ import annotations

import torch


def same_shape_tensors(**tensors: torch.Tensor) -> tuple[int, ...]:
    """Check that every argument is a non-empty floating-point tensor, all of one shape."""
    shape = None
    for name, value in tensors.items():
        if not isinstance(value, torch.Tensor) or not value.is_floating_point():
            kind = (f"tensor of dtype {value.dtype}" if isinstance(value, torch.Tensor)
                    else type(value).__name__)
            raise TypeError(f"{name} must be a floating-point tensor, got {kind}")
        if value.numel() == 0:
            raise ValueError(f"{name} must not be empty, got shape {tuple(value.shape)}")
        if shape is None:
            shape, first = tuple(value.shape), name
        elif tuple(value.shape) != shape:
            raise ValueError(f"{name} must have the shape of {first} {shape}, got "
                             f"{tuple(value.shape)}")
    return shape
