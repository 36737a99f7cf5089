"""Geometry of a learned embedding table: cosine neighbours, group scores and a 2-D projection.

A trained embedding ``weight`` (V, D) holds one vector per symbol. These functions measure
whether symbols that play similar roles ended up close together:

- :func:`cosine_similarity` and :func:`nearest_neighbours` compare directions of rows;
- :func:`same_group_rate` is the fraction of symbols whose nearest neighbour shares their group
  (digits with digits, say), to compare with the rate of a random table;
- :func:`partner_rank` is the rank of a chosen partner (``'A'`` for ``'a'``) among a symbol's
  neighbours, 1 being the nearest;
- :func:`principal_components` projects the rows onto their top principal directions for a plot.
"""

from __future__ import annotations

import numpy as np

from companion.core.checks import as_float_array, as_index_array, positive_int

__all__ = ["cosine_similarity", "nearest_neighbours", "same_group_rate", "partner_rank",
           "principal_components"]


def _table(weight) -> np.ndarray:
    weight = as_float_array(weight, "weight", ndim=2, shape_hint="(V, D)")
    if weight.shape[0] < 2:
        raise ValueError(f"weight must hold at least 2 rows (V, D), got shape {weight.shape}")
    return weight


def cosine_similarity(weight) -> np.ndarray:
    """Cosine of the angle between every pair of rows, ``S[i, j] = w_i . w_j / (||w_i|| ||w_j||)``.

    Args:
        weight: the table (V, D); a zero row has similarity 0 with every row.

    Returns:
        S (V, V), symmetric, with ones on the diagonal (zeros for zero rows).
    """
    weight = _table(weight)
    norms = np.linalg.norm(weight, axis=1, keepdims=True)                  # (V, 1)
    unit = weight / np.where(norms > 0, norms, 1.0)                          # (V, D)
    return unit @ unit.T                                                     # (V, V)


def nearest_neighbours(weight, k: int = 5) -> np.ndarray:
    """The ``k`` rows most similar to each row by cosine, the row itself excluded.

    Args:
        weight: the table (V, D).
        k: neighbours per row, 1 <= k < V.

    Returns:
        int64 array (V, k): row i lists the indices of i's neighbours, most similar first
        (ties broken by the smaller index).
    """
    similarity = cosine_similarity(weight)                                   # (V, V)
    V = similarity.shape[0]
    k = positive_int(k, "k")
    if k >= V:
        raise ValueError(f"k must be smaller than the number of rows V = {V}, got {k}")
    np.fill_diagonal(similarity, -np.inf)                                    # never oneself
    order = np.argsort(-similarity, axis=1, kind="stable")                   # (V, V)
    return order[:, :k].astype(np.int64)


def same_group_rate(weight, groups) -> float:
    """Fraction of the grouped rows whose nearest neighbour (among all rows) is in their group.

    Args:
        weight: the table (V, D).
        groups: int array (V,), the group of each row; rows with a negative group take part as
            neighbours but are not scored.

    Returns:
        The rate in [0, 1]. A random table scores about sum_g n_g (n_g - 1) / (n (V - 1)) over
        the n scored rows, the chance that a random other row shares the group.
    """
    weight = _table(weight)
    groups = np.asarray(groups)
    if groups.shape != (weight.shape[0],) or not np.issubdtype(groups.dtype, np.integer):
        raise ValueError(f"groups must be an integer array of shape ({weight.shape[0]},), one "
                         f"group per row of weight, got dtype {groups.dtype} and shape "
                         f"{groups.shape}")
    scored = groups >= 0
    if not scored.any():
        raise ValueError("groups must give at least one row a non-negative group")
    nearest = nearest_neighbours(weight, 1)[:, 0]                            # (V,)
    return float(np.mean(groups[nearest][scored] == groups[scored]))


def partner_rank(weight, pairs) -> np.ndarray:
    """Rank of each pair's second row among the neighbours of its first row (1 = nearest).

    Args:
        weight: the table (V, D).
        pairs: int array (P, 2) of row indices ``(i, j)``, i != j.

    Returns:
        int64 array (P,): 1 + the number of rows other than i more similar to i than j is.
        Among V rows, a random table gives ranks spread evenly over 1 .. V - 1.
    """
    similarity = cosine_similarity(weight)                                   # (V, V)
    V = similarity.shape[0]
    pairs = as_index_array(pairs, "pairs", upper=V)
    if pairs.ndim != 2 or pairs.shape[1] != 2:
        raise ValueError(f"pairs must have shape (P, 2), got {pairs.shape}")
    first, second = pairs[:, 0], pairs[:, 1]
    if np.any(first == second):
        raise ValueError("pairs must join two different rows, got a pair (i, i)")
    np.fill_diagonal(similarity, -np.inf)
    partner = similarity[first, second]                                      # (P,)
    return (1 + (similarity[first] > partner[:, None]).sum(axis=1)).astype(np.int64)


def principal_components(weight, k: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """Project the centred rows onto their ``k`` leading principal directions.

    With the centred table X = W - mean(W) and its SVD X = U S V^T, the projection is X V_k.

    Args:
        weight: the table (V, D).
        k: number of directions, 1 <= k <= min(V, D).

    Returns:
        ``(projected, explained)``: the coordinates (V, k) and the fraction of the total
        variance each direction explains (k,). The sign of each direction is fixed so that its
        largest-magnitude entry is positive.
    """
    weight = _table(weight)
    k = positive_int(k, "k")
    if k > min(weight.shape):
        raise ValueError(f"k must be at most min(V, D) = {min(weight.shape)}, got {k}")
    centred = weight - weight.mean(axis=0)                                   # (V, D)
    _, singular, directions = np.linalg.svd(centred, full_matrices=False)   # Vt: (r, D)
    directions = directions[:k]                                              # (k, D)
    signs = np.sign(directions[np.arange(k), np.abs(directions).argmax(axis=1)])
    directions = directions * np.where(signs == 0, 1.0, signs)[:, None]
    variance = singular ** 2
    total = variance.sum()
    explained = variance[:k] / total if total > 0 else np.zeros(k)
    return centred @ directions.T, explained                                 # (V, k), (k,)
