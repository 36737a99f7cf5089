"""Prototypes and prototype logits in NumPy."""

import numpy as np
import pytest

from companion.numpy.prototypes import prototype_logits, prototypes


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
