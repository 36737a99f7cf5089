"""Small data sets as one full batch on the device.

The digits fit in memory many times over, so several chapters train on the whole (or a
class-balanced part, :func:`companion.data.subsets.first_per_class`) of a split at every step.
:func:`as_batch` turns NumPy arrays into the loader those loops expect.
"""

from __future__ import annotations

import numpy as np
import torch

from companion.core.checks import as_float_array

from .device import default_device

__all__ = ["as_batch"]


def as_batch(x, y, device: torch.device | str | None = None
             ) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """One full batch on the device: a "loader" that yields the whole set at once.

    Pass it to :func:`companion.torch.training.fit` or ``evaluate`` as ``train_loader`` or
    ``val_loader`` for full-batch training of a small set.

    Args:
        x: inputs, array-like of shape (N, ...), stored as float32.
        y: class labels, array-like of shape (N,), stored as int64.
        device: where the tensors live; None means :func:`~companion.torch.device.default_device`.

    Returns:
        ``[(inputs (N, ...), targets (N,))]``: a list holding one pair, so that every loop over
        it (every epoch) sees the same batch.
    """
    x, y = as_float_array(x, "x"), np.asarray(y)
    if y.ndim != 1 or not np.issubdtype(y.dtype, np.integer):
        raise TypeError(f"y must be a 1-d array of integer class labels, got shape {y.shape} "
                        f"and dtype {y.dtype}")
    if x.ndim == 0 or len(x) != len(y):
        raise ValueError(f"x and y must hold the same number of examples, got shapes "
                         f"{x.shape} and {y.shape}")
    device = default_device() if device is None else torch.device(device)
    return [(torch.tensor(x, dtype=torch.float32, device=device),
             torch.tensor(y, dtype=torch.int64, device=device))]
