"""Class-balanced subsets of a labelled data set, for experiments on small training sets.

:func:`first_per_class` keeps the first ``per_class`` examples of every class, in their original
order, so a run on 20 images per class always sees the same 200 images, and a larger subset
contains every smaller one (learning curves compare nested sets).
"""

from __future__ import annotations

import numpy as np

from companion.core.checks import positive_int

__all__ = ["first_per_class"]


def first_per_class(x, y, per_class: int, num_classes: int | None = None):
    """The first ``per_class`` examples of every class of ``y``, in their original order.

    keep = sorted union over classes c of the first ``per_class`` indices i with y[i] == c.

    Args:
        x: inputs, shape (N, ...). y: integer class labels, shape (N,).
        per_class: examples to keep from each class (at least one).
        num_classes: classes 0 .. num_classes - 1 to draw from; None means ``y.max() + 1``.
            Every one of them must hold at least ``per_class`` examples.

    Returns:
        ``(x[keep], y[keep])``, shapes (K, ...) and (K,) with K = per_class * num_classes.
    """
    x, y = np.asarray(x), np.asarray(y)
    if y.ndim != 1 or not np.issubdtype(y.dtype, np.integer):
        raise TypeError(f"y must be a 1-d array of integer class labels, got shape {y.shape} "
                        f"and dtype {y.dtype}")
    if x.ndim == 0 or len(x) != len(y):
        raise ValueError(f"x and y must hold the same number of examples, got shapes "
                         f"{x.shape} and {y.shape}")
    per_class = positive_int(per_class, "per_class")
    num_classes = int(y.max()) + 1 if num_classes is None else positive_int(num_classes,
                                                                            "num_classes")
    picked = []
    for c in range(num_classes):
        index = np.flatnonzero(y == c)                   # (count of class c,)
        if len(index) < per_class:
            raise ValueError(f"per_class={per_class} is more than the {len(index)} examples of "
                             f"class {c}")
        picked.append(index[:per_class])
    keep = np.sort(np.concatenate(picked))               # (per_class * num_classes,)
    return x[keep], y[keep]
