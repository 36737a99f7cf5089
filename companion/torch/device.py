"""Choosing a device and moving batches to it, so the chapters run unchanged on CPU, CUDA or MPS."""

from __future__ import annotations

from collections.abc import Mapping

import torch

__all__ = ["default_device", "to_device"]


def default_device() -> torch.device:
    """The best available device: "cuda" if present, else "mps" (Apple GPUs), else "cpu"."""
    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def to_device(batch, device: torch.device | str | None = None):
    """Move every tensor in ``batch`` to ``device`` (default :func:`default_device`).

    ``batch`` may be a tensor, or a tuple, list or dict of them, nested to any depth; other
    values (ints, strings, None) pass through unchanged. Tuples stay tuples (named ones too).
    """
    device = default_device() if device is None else torch.device(device)
    if isinstance(batch, torch.Tensor):
        return batch.to(device)
    if isinstance(batch, Mapping):
        moved = {key: to_device(value, device) for key, value in batch.items()}
        return moved if type(batch) is dict else type(batch)(moved)
    if isinstance(batch, tuple) and hasattr(batch, "_fields"):          # namedtuple
        return type(batch)(*(to_device(value, device) for value in batch))
    if isinstance(batch, (tuple, list)):
        return type(batch)(to_device(value, device) for value in batch)
    return batch
