"""Type checks at the entry of every ``companion.torch`` layer, so a wrong argument fails early.

Without them a string or an integer tensor reaches torch and fails deep inside it (``'str' object
has no attribute 'dim'``, ``"im2col_out_cpu" not implemented for 'Long'``); with them the error
names the argument, what was expected and what came.
"""

from __future__ import annotations

import torch

from companion.core.checks import flag  # noqa: F401  (the layers take it from here)


def tensor_input(value, name: str, floating: bool = True) -> torch.Tensor:
    """``value`` itself if it is a tensor (of a floating-point dtype, unless ``floating=False``)."""
    if not isinstance(value, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(value).__name__}")
    if floating and not value.is_floating_point():
        raise TypeError(f"{name} must hold floating-point values, got dtype {value.dtype}")
    return value


def as_tensor_input(value, name: str, expected: str, **kwargs) -> torch.Tensor:
    """``torch.as_tensor(value, **kwargs)``, or a TypeError saying that ``name`` must be
    ``expected`` (a string, ``None`` or a ragged list would otherwise fail inside torch)."""
    try:
        return torch.as_tensor(value, **kwargs)
    except (TypeError, ValueError, RuntimeError) as error:
        raise TypeError(f"{name} must be {expected}, got {type(value).__name__}") from error


def module_input(value, name: str) -> torch.nn.Module:
    """``value`` itself if it is a ``torch.nn.Module``."""
    if not isinstance(value, torch.nn.Module):
        raise TypeError(f"{name} must be a torch.nn.Module, got {type(value).__name__}")
    return value

