"""scikit-learn's bundled 8x8 handwritten digits, split once and for all.

The 1,797 images ship inside scikit-learn, so nothing is downloaded. Pixels (integers 0 to 16)
are scaled to ``[0, 1]``. The split is stratified and fixed: within each class the images are
put in a random order drawn from ``numpy.random.default_rng(0)``, the classes are laid end to
end, and walking that list every 5th image (positions ``0 mod 5``) goes to ``test``, the next
(``1 mod 5``) to ``val`` and the other three to ``train``. That gives exactly

    ========  =====  =========
    split     size   fraction
    ========  =====  =========
    train     1,077  60 %
    val         360  20 %
    test        360  20 %
    ========  =====  =========

and every class holds 20 % +- 1 image of each held-out split. Within a split images keep the
order of the original data set. The split uses NumPy only, so it does not change with the
scikit-learn version.
"""

from __future__ import annotations

import functools

import numpy as np

from companion.core.checks import positive_int

SPLITS = ("train", "val", "test")
SPLIT_SIZES = {"train": 1077, "val": 360, "test": 360}
SPLIT_SEED = 0
NUM_CLASSES = 10
IMAGE_SHAPE = (1, 8, 8)


def _check_split(split) -> str:
    if split not in SPLITS:
        raise ValueError(f"split must be one of {', '.join(map(repr, SPLITS))}, got {split!r}")
    return split


def _check_flag(value, name: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {type(value).__name__} {value!r}")
    return bool(value)


@functools.lru_cache(maxsize=1)
def _splits() -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Each split as read-only ``(X (N, 64), y (N,), index (N,))`` arrays, built once."""
    from sklearn.datasets import load_digits as sklearn_load_digits

    bunch = sklearn_load_digits()
    images = np.asarray(bunch.data, dtype=np.float64) / 16.0  # (1797, 64) in [0, 1]
    labels = np.asarray(bunch.target, dtype=np.int64)  # (1797,)

    rng = np.random.default_rng(SPLIT_SEED)
    # Sort by class, random order within each class: lexsort's last key is the primary one.
    order = np.lexsort((rng.permutation(len(labels)), labels))  # (1797,)
    slot = np.empty(len(labels), dtype=np.int64)
    slot[order] = np.arange(len(labels)) % 5  # position in the class-sorted list, mod 5
    members = {"test": slot == 0, "val": slot == 1, "train": slot >= 2}

    splits = {}
    for name in SPLITS:
        index = np.flatnonzero(members[name])  # (N,) ascending
        arrays = (images[index], labels[index], index)
        for array in arrays:
            array.flags.writeable = False
        splits[name] = arrays
    return splits


def split_indices(split: str = "train") -> np.ndarray:
    """Return the positions ``(N,)`` (int64, ascending) of a split's images in scikit-learn's
    ``load_digits()``, so ``load_digits(split)`` is its ``data[index] / 16`` and ``target[index]``.
    """
    return _splits()[_check_split(split)][2].copy()


def load_digits(split: str = "train", flatten: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Return one split of the digits as fresh arrays, pixels scaled to ``[0, 1]``.

    Args:
        split: ``"train"`` (1,077 images), ``"val"`` (360) or ``"test"`` (360).
        flatten: ``True`` for rows of 64 pixels, ``False`` for single-channel images.

    Returns:
        ``(X, y)``: ``X`` is a float64 array of shape ``(N, 64)``, or ``(N, 1, 8, 8)`` when
        ``flatten=False`` (row-major pixels, so ``X.reshape(N, 1, 8, 8)`` recovers the image);
        ``y`` is an int64 array of shape ``(N,)`` holding the digit, 0 to 9.

    The arrays are copies: changing them does not change what the next call returns.
    """
    split = _check_split(split)
    flatten = _check_flag(flatten, "flatten")
    X, y, _ = _splits()[split]
    if not flatten:
        X = X.reshape(-1, *IMAGE_SHAPE)  # (N, 64) -> (N, 1, 8, 8)
    return X.copy(), y.copy()


def digits_loaders(batch_size: int = 64, flatten: bool = True, seed: int = 0, device=None,
                   dtype=None) -> dict:
    """Return torch ``DataLoader`` objects for the three splits of the digits.

    ``"train"`` is reshuffled every epoch by a ``torch.Generator`` seeded with ``seed``, so two
    calls with the same seed yield the same batches in the same order; ``"val"`` and ``"test"``
    are not shuffled. No batch is dropped, so the last one may be smaller.

    Args:
        batch_size: images per batch, a positive int.
        flatten: ``True`` for inputs of shape ``(B, 64)``, ``False`` for ``(B, 1, 8, 8)``.
        seed: int seed of the training shuffle.
        device: where the tensors live (``None`` for the CPU); the whole split is moved once.
        dtype: floating dtype of the inputs, ``torch.float32`` when ``None``.

    Returns:
        ``{"train": ..., "val": ..., "test": ...}``; each loader yields ``(x, y)`` with ``x`` of
        shape ``(B, 64)`` or ``(B, 1, 8, 8)`` and ``y`` an int64 tensor of shape ``(B,)``.
    """
    import torch
    from torch.utils.data import DataLoader, TensorDataset

    batch_size = positive_int(batch_size, "batch_size")
    flatten = _check_flag(flatten, "flatten")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed must be an int, got {type(seed).__name__} {seed!r}")
    dtype = torch.float32 if dtype is None else dtype
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise TypeError(f"dtype must be a floating torch.dtype, got {dtype!r}")

    loaders = {}
    for split in SPLITS:
        X, y = load_digits(split, flatten=flatten)
        dataset = TensorDataset(torch.as_tensor(X, dtype=dtype, device=device),
                                torch.as_tensor(y, dtype=torch.int64, device=device))
        if split == "train":
            generator = torch.Generator().manual_seed(int(seed))
            loaders[split] = DataLoader(dataset, batch_size=batch_size, shuffle=True,
                                        generator=generator)
        else:
            loaders[split] = DataLoader(dataset, batch_size=batch_size, shuffle=False)
    return loaders
