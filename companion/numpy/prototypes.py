"""Prototypical networks (Snell et al. 2017) in NumPy: class means that classify.

An *episode* poses a small new task: ``n_way`` classes, ``n_shot`` labelled examples of each
(the *support set*) and some unlabelled *queries*. Given an embedding f, each class is
summarised by its prototype, the mean embedding of its n_k support examples x in S_k,

    c_k = (1 / n_k) sum_{x in S_k} f(x),

and a query q is scored against class k by minus the squared Euclidean distance,
``logit_k(q) = -sum_d (f(q)_d - c_kd)^2``; the softmax of these logits is the classifier.
Nothing is trained for the new task: the prototypes are averages.

Episodes are drawn by :func:`companion.data.episodes.sample_episode`; the twin module
:mod:`companion.torch.prototypes` trains the embedding.
"""

from __future__ import annotations

import numpy as np

from companion.core.checks import as_float_array, as_index_array, positive_int

__all__ = ["prototypes", "prototype_logits"]


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
