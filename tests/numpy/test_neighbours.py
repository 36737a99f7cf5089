"""Embedding geometry: cosine neighbours, group rates, partner ranks and the PCA projection."""

import numpy as np
import pytest

from companion.numpy.neighbours import (cosine_similarity, nearest_neighbours, partner_rank,
                                        principal_components, same_group_rate)


def test_cosine_similarity_matches_the_definition_and_handles_zero_rows():
    W = np.random.default_rng(0).standard_normal((6, 3))
    W[5] = 0.0
    S = cosine_similarity(W)
    for i in range(5):
        for j in range(5):
            expected = W[i] @ W[j] / np.linalg.norm(W[i]) / np.linalg.norm(W[j])
            assert S[i, j] == pytest.approx(expected, rel=1e-12)
    assert np.all(S[5] == 0) and np.allclose(np.diag(S)[:5], 1.0)


def test_nearest_neighbours_on_a_known_table():
    W = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 1.0], [-1.0, 0.0]])
    nearest = nearest_neighbours(W, 2)
    assert nearest.tolist() == [[1, 3], [0, 3], [3, 1], [2, 1], [2, 3]]
    with pytest.raises(ValueError, match="k must be smaller"):
        nearest_neighbours(W, 5)


def test_same_group_rate_is_one_for_clusters_and_chance_for_noise():
    rng = np.random.default_rng(0)
    centres = 10 * rng.standard_normal((3, 8))
    groups = np.repeat([0, 1, 2], 20)
    clustered = centres[groups] + rng.standard_normal((60, 8))
    assert same_group_rate(clustered, groups) == 1.0
    noise = [same_group_rate(rng.standard_normal((60, 8)), groups) for _ in range(200)]
    assert np.mean(noise) == pytest.approx(19 / 59, abs=0.02)   # chance of sharing a group
    partly = groups.copy()
    partly[:20] = -1                                              # unscored, still neighbours
    assert same_group_rate(clustered, partly) == 1.0
    with pytest.raises(ValueError, match="groups must be an integer array"):
        same_group_rate(clustered, groups[:-1])


def test_partner_rank_counts_closer_rows():
    W = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.5, 0.5]])
    # from row 0: row 1 (cos 0.99) is nearest, then row 3 (0.71), then row 2 (0).
    assert partner_rank(W, [[0, 1], [0, 3], [0, 2]]).tolist() == [1, 2, 3]
    with pytest.raises(ValueError, match="two different rows"):
        partner_rank(W, [[1, 1]])
    with pytest.raises(ValueError, match=r"\(P, 2\)"):
        partner_rank(W, [0, 1])


def test_principal_components_match_the_covariance_eigenvectors():
    rng = np.random.default_rng(0)
    W = rng.standard_normal((40, 5)) * np.array([5.0, 3.0, 1.0, 0.5, 0.1])
    projected, explained = principal_components(W, 2)
    centred = W - W.mean(axis=0)
    values, vectors = np.linalg.eigh(centred.T @ centred)
    top = vectors[:, ::-1][:, :2]                                 # (D, 2), largest first
    for k in range(2):
        assert abs(projected[:, k] @ (centred @ top[:, k])) == pytest.approx(
            np.sum((centred @ top[:, k]) ** 2), rel=1e-10)         # same axis up to sign
    np.testing.assert_allclose(explained, values[::-1][:2] / values.sum(), rtol=1e-10)
    assert explained[0] > explained[1]
    with pytest.raises(ValueError, match="k must be at most"):
        principal_components(W, 6)
    with pytest.raises(ValueError, match="weight must have 2 dimensions"):
        principal_components(W[0])
