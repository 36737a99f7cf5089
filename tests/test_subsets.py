"""first_per_class keeps the first examples of each class, in order, nested across sizes, and
refuses labels it cannot split."""

import numpy as np
import pytest

from companion.data import load_digits
from companion.data.subsets import first_per_class


def test_first_per_class_keeps_the_first_of_each_class_in_order():
    y = np.array([2, 0, 1, 0, 2, 1, 0, 1, 2, 2])
    x = np.arange(len(y)) * 10.0
    x_small, y_small = first_per_class(x, y, 2)
    np.testing.assert_array_equal(x_small, [0, 10, 20, 30, 40, 50])   # indices 0..5, in order
    np.testing.assert_array_equal(y_small, [2, 0, 1, 0, 2, 1])


def test_first_per_class_on_the_digits_is_balanced_and_nested():
    x, y = load_digits("train")
    x20, y20 = first_per_class(x, y, 20)
    x40, _ = first_per_class(x, y, 40)
    assert x20.shape == (200, 64) and np.all(np.bincount(y20) == 20)
    # each kept image is one of the originals, and a larger subset contains the smaller one
    rows40 = {row.tobytes() for row in x40}
    assert all(row.tobytes() in rows40 for row in x20)


def test_first_per_class_refuses_bad_input():
    y = np.array([0, 0, 1])
    with pytest.raises(ValueError, match="per_class=2 is more than the 1 examples of class 1"):
        first_per_class(np.zeros(3), y, 2)
    with pytest.raises(ValueError, match="per_class"):
        first_per_class(np.zeros(3), y, 0)
    with pytest.raises(TypeError, match="integer class labels"):
        first_per_class(np.zeros(3), y.astype(float), 1)
    with pytest.raises(ValueError, match="same number of examples"):
        first_per_class(np.zeros(4), y, 1)
