"""companion.data.memory.first_symbol_task: layout, targets, lengths and errors."""

import numpy as np
import pytest

from companion.data.memory import BLANK, first_symbol_task


def test_layout_targets_and_lengths():
    tokens, targets, lengths = first_symbol_task(500, length=12, symbols=3, min_length=2, rng=0)
    assert tokens.shape == (500, 12) and targets.shape == lengths.shape == (500,)
    assert lengths.min() >= 2 and lengths.max() <= 12
    assert set(np.unique(targets)) == {0, 1, 2}
    for row, target, n in zip(tokens, targets, lengths):
        assert np.all(row[:12 - n] == BLANK)
        assert np.all((row[12 - n:] >= 1) & (row[12 - n:] <= 3))
        assert row[12 - n] == target + 1


def test_fixed_length_and_determinism():
    a = first_symbol_task(50, length=10, fixed_length=10, rng=3)
    b = first_symbol_task(50, length=10, fixed_length=10, rng=3)
    assert np.all(a[2] == 10) and np.all(a[0] != BLANK)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    np.testing.assert_array_equal(a[1], a[0][:, 0] - 1)


@pytest.mark.parametrize("kwargs", [dict(min_length=11), dict(fixed_length=11), dict(n=0)])
def test_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        first_symbol_task(**{"n": 5, "length": 10, **kwargs})
