"""Prototypes, prototype logits and the episode sampler in NumPy."""

import numpy as np
import pytest

from companion.numpy.fewshot import prototype_logits, prototypes, sample_episode


def test_prototypes_are_class_means():
    rng = np.random.default_rng(0)
    emb = rng.normal(size=(9, 4))
    labels = np.array([0, 1, 2, 0, 1, 2, 2, 2, 0])
    protos = prototypes(emb, labels, 3)
    for k in range(3):
        np.testing.assert_allclose(protos[k], emb[labels == k].mean(axis=0), rtol=1e-12)


def test_prototype_logits_are_minus_squared_distances():
    rng = np.random.default_rng(1)
    q, p = rng.normal(size=(5, 3)), rng.normal(size=(4, 3))
    logits = prototype_logits(q, p)
    expected = -np.array([[np.sum((a - b) ** 2) for b in p] for a in q])
    np.testing.assert_allclose(logits, expected, rtol=1e-12)
    assert (logits.argmax(axis=1) == np.argmin(-expected, axis=1)).all()


def test_prototypes_need_every_class():
    with pytest.raises(ValueError, match="every class"):
        prototypes(np.zeros((2, 3)), np.array([0, 0]), 2)


def test_sample_episode_draws_distinct_items_of_the_right_classes():
    labels = np.repeat(np.arange(6), 10)
    s, s_y, q, q_y = sample_episode(labels, [4, 1, 5], n_shot=3, n_query=4, rng=0)
    assert len(s) == 9 and len(q) == 12
    assert len(set(s) | set(q)) == 21  # support and queries never overlap
    np.testing.assert_array_equal(labels[s], np.array([4, 1, 5])[s_y])
    np.testing.assert_array_equal(labels[q], np.array([4, 1, 5])[q_y])


def test_sample_episode_rejects_small_classes():
    labels = np.repeat(np.arange(3), 4)
    with pytest.raises(ValueError, match="fewer than"):
        sample_episode(labels, [0, 1], n_shot=3, n_query=2, rng=0)
