"""balanced_subset, train_classifier, held_out_accuracy and learning_curve."""

import numpy as np
import pytest
import torch
from torch import nn

from companion.torch.learning_curves import (LearningCurve, balanced_subset, held_out_accuracy,
                                             learning_curve, train_classifier)
from companion.torch.models.transfer import BodyHead, freeze


def blobs(n, seed=0, classes=3, dims=4):
    """Gaussian blobs around random class centres: (n, dims) inputs and (n,) labels."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(classes, dims)) * 2.0
    y = rng.integers(0, classes, n)
    return (centres[y] + rng.normal(size=(n, dims))).astype(np.float32), y


def test_balanced_subset_is_balanced_nested_and_seeded():
    labels = np.repeat(np.arange(4), [10, 7, 12, 3])
    previous = set()
    for size in range(1, len(labels) + 1):
        chosen = balanced_subset(labels, size, seed=3)
        assert len(chosen) == size == len(set(chosen.tolist()))
        assert np.all(np.diff(chosen) > 0)
        assert previous <= set(chosen.tolist())                  # nested
        previous = set(chosen.tolist())
        counts = np.bincount(labels[chosen], minlength=4)
        available = np.bincount(labels)
        short = counts == available                                # exhausted classes
        if (~short).any():
            assert counts[~short].max() - counts[~short].min() <= 1
            assert counts[~short].min() >= counts[short].max(initial=0) or short.any()
    assert np.array_equal(balanced_subset(labels, 8, 1), balanced_subset(labels, 8, 1))
    assert not np.array_equal(balanced_subset(labels, 8, 1), balanced_subset(labels, 8, 2))
    assert np.bincount(labels[balanced_subset(labels, 8, 0)]).tolist() == [2, 2, 2, 2]


def test_balanced_subset_refuses_bad_arguments():
    with pytest.raises(ValueError, match="size must be at most"):
        balanced_subset([0, 1, 1], 4, 0)
    with pytest.raises(ValueError, match="size must be positive"):
        balanced_subset([0, 1, 1], 0, 0)
    with pytest.raises(ValueError, match="labels must be a 1-D array of integer"):
        balanced_subset([0.5, 1.0], 1, 0)


def test_train_classifier_learns_and_is_deterministic():
    x, y = blobs(200)
    results = []
    for _ in range(2):
        torch.manual_seed(0)
        model = nn.Linear(4, 3)
        before = held_out_accuracy(model, x, y)
        history = train_classifier(model, x, y, steps=150, lr=0.05, batch_size=16, seed=1)
        results.append((held_out_accuracy(model, x, y), history.step_loss))
    assert results[0][0] > 0.9 > before
    assert results[0][1] == results[1][1]                      # same seed, same batches
    assert len(results[0][1]) == 150 and results[0][1][-1] < results[0][1][0]


def test_train_classifier_leaves_a_frozen_body_alone():
    x, y = blobs(40)
    torch.manual_seed(0)
    model = BodyHead(nn.Sequential(nn.Linear(4, 6), nn.ReLU()), 6, 3)
    freeze(model.body)
    body = [p.clone() for p in model.body.parameters()]
    head = model.head.weight.clone()
    train_classifier(model, x, y, steps=20, lr=0.05)
    assert all(torch.equal(a, b) for a, b in zip(body, model.body.parameters()))
    assert not torch.equal(head, model.head.weight)
    freeze(model.head)
    with pytest.raises(ValueError, match="no parameter that requires a gradient"):
        train_classifier(model, x, y, steps=1, lr=0.1)


def test_train_classifier_refuses_mismatched_data():
    with pytest.raises(ValueError, match="same number of examples"):
        train_classifier(nn.Linear(4, 3), np.zeros((5, 4)), np.zeros(4, dtype=int), 1, 0.1)
    with pytest.raises(ValueError, match="lr must lie in"):
        train_classifier(nn.Linear(4, 3), np.zeros((4, 4)), np.zeros(4, dtype=int), 1, 0.0)


def test_learning_curve_rises_with_data_and_pairs_the_subsets():
    x, y = blobs(400, seed=1, classes=4, dims=6)
    x_test, y_test = blobs(300, seed=1, classes=4, dims=6)     # same centres, new noise
    x_test, y_test = x_test[200:], y_test[200:]
    made = []

    def make():
        made.append(torch.initial_seed())
        return nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 4))

    curve = learning_curve(make, x, y, x_test, y_test, sizes=[4, 200], seeds=[0, 1, 2],
                           steps=60, lr=0.02, batch_size=16)
    assert isinstance(curve, LearningCurve) and curve.accuracy.shape == (2, 3)
    assert made == [0, 1, 2, 0, 1, 2]                          # seeded before each model
    assert curve.at(200).min() > curve.at(4).mean()
    assert curve.mean.shape == curve.std.shape == (2,)
    again = learning_curve(make, x, y, x_test, y_test, sizes=[4, 200], seeds=[0, 1, 2],
                           steps=60, lr=0.02, batch_size=16)
    np.testing.assert_array_equal(curve.accuracy, again.accuracy)


def test_learning_curve_refuses_unsorted_sizes():
    x, y = blobs(20)
    with pytest.raises(ValueError, match="strictly increasing"):
        learning_curve(lambda: nn.Linear(4, 3), x, y, x, y, sizes=[10, 5], seeds=[0],
                       steps=1, lr=0.1)
