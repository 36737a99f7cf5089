"""Episodes for few-shot learning: a small new task drawn from a labelled pool.

An *episode* poses ``n_way`` classes with ``n_shot`` labelled examples of each (the *support
set*) and some *queries* to classify; training on many episodes of base classes and testing on
episodes of classes never seen is how few-shot learners are trained and measured
(:mod:`companion.torch.prototypes`).
"""

from __future__ import annotations

import numpy as np

from companion.core.checks import as_index_array, as_rng, positive_int

__all__ = ["sample_episode"]


def sample_episode(labels, classes, n_shot: int, n_query: int, rng=None):
    """Draw one episode from a labelled pool: support and query indices with episode labels.

    For each of the K = len(classes) classes (episode label k for ``classes[k]``),
    ``n_shot + n_query`` distinct pool items of that class are drawn without replacement; the
    first ``n_shot`` go to the support set and the rest to the queries.

    Args:
        labels: (N,) class ids of the pool.
        classes: the K class ids of the episode (in episode-label order).
        n_shot: support examples per class. n_query: queries per class.
        rng: None, a seed or a ``numpy.random.Generator``.

    Returns:
        support (K * n_shot,) pool indices, support_labels (K * n_shot,) in [0, K),
        query (K * n_query,) pool indices, query_labels (K * n_query,).
    """
    labels = as_index_array(labels, "labels")
    if labels.ndim != 1:
        raise ValueError(f"labels must have shape (N,), got {labels.shape}")
    classes = as_index_array(classes, "classes")
    if classes.ndim != 1:
        raise ValueError(f"classes must be a sequence of class ids, got shape {classes.shape}")
    classes = classes.tolist()
    if len(set(classes)) != len(classes) or len(classes) < 2:
        raise ValueError(f"classes must hold at least two distinct ids, got {classes}")
    n_shot = positive_int(n_shot, "n_shot")
    n_query = positive_int(n_query, "n_query")
    rng = as_rng(rng)
    support, query = [], []
    for c in classes:
        pool = np.flatnonzero(labels == c)
        if len(pool) < n_shot + n_query:
            raise ValueError(f"class {c} has {len(pool)} items, fewer than n_shot + n_query = "
                             f"{n_shot + n_query}")
        picked = rng.choice(pool, size=n_shot + n_query, replace=False)
        support.append(picked[:n_shot])
        query.append(picked[n_shot:])
    K = len(classes)
    return (np.concatenate(support), np.repeat(np.arange(K), n_shot),
            np.concatenate(query), np.repeat(np.arange(K), n_query))
