"""Few-shot classification with class prototypes (Snell et al. 2017), in NumPy.

An *episode* poses a small new task: ``n_way`` classes, ``n_shot`` labelled examples of each
(the *support set*) and some unlabelled *queries*. Given an embedding f, each class is
summarised by its prototype, the mean embedding of its n_k support examples x in S_k,

    c_k = (1 / n_k) sum_{x in S_k} f(x),

and a query q is scored against class k by minus the squared Euclidean distance,
``logit_k(q) = -sum_d (f(q)_d - c_kd)^2``; the softmax of these logits is the classifier.
Nothing is trained for the new task: the prototypes are averages.

:func:`sample_episode` draws an episode's indices from a labelled pool; the twin module
:mod:`companion.torch.fewshot` trains the embedding and reuses this sampler.
"""

from __future__ import annotations

import numpy as np

from companion.core.checks import as_float_array, as_index_array, as_rng, positive_int

__all__ = ["prototypes", "prototype_logits", "sample_episode"]


def prototypes(embeddings, labels, n_way: int) -> np.ndarray:
    """Mean embedding of each class: c_k = mean of embeddings[labels == k].

    Args:
        embeddings: (N, D) support embeddings.
        labels: (N,) episode labels in [0, n_way); every class must occur.
        n_way: K, the number of classes.

    Returns:
        (K, D) prototypes.
    """
    embeddings = as_float_array(embeddings, "embeddings", ndim=2, shape_hint="(N, D)")
    n_way = positive_int(n_way, "n_way")
    labels = as_index_array(labels, "labels", upper=n_way)
    if labels.shape != embeddings.shape[:1]:
        raise ValueError(f"labels must have shape ({len(embeddings)},), got {labels.shape}")
    counts = np.bincount(labels, minlength=n_way)  # (K,)
    if (counts == 0).any():
        raise ValueError(f"every class in [0, {n_way}) needs a support example, got counts "
                         f"{counts.tolist()}")
    sums = np.zeros((n_way, embeddings.shape[1]))
    np.add.at(sums, labels, embeddings)  # (K, D): row k adds the embeddings labelled k
    return sums / counts[:, None]


def prototype_logits(queries, protos) -> np.ndarray:
    """``logit[q, k] = -sum_d (queries[q, d] - protos[k, d])^2``: (Q, D), (K, D) -> (Q, K)."""
    queries = as_float_array(queries, "queries", ndim=2, shape_hint="(Q, D)")
    protos = as_float_array(protos, "protos", ndim=2, shape_hint="(K, D)")
    if queries.shape[1] != protos.shape[1]:
        raise ValueError(f"queries and protos must share D, got {queries.shape[1]} and "
                         f"{protos.shape[1]}")
    diff = queries[:, None, :] - protos[None, :, :]  # (Q, 1, D) - (1, K, D) -> (Q, K, D)
    return -(diff ** 2).sum(axis=-1)  # (Q, K)


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
    classes = [int(c) for c in classes]
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
