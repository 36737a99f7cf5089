"""The perceptron rule: one update by hand, convergence within Novikoff's bound, failure on XOR."""

import numpy as np
import pytest

from companion.data import linearly_separable, xor
from companion.numpy.perceptron import Perceptron, mistake_bound


def test_update_moves_the_plane_toward_a_missed_positive_and_away_from_a_missed_negative():
    unit = Perceptron(2, lr=0.5)
    assert unit.update(np.array([1.0, 2.0]), 1)          # score 0 -> predicts 0: a mistake
    np.testing.assert_array_equal(unit.params["weight"], [[0.5, 1.0]])
    np.testing.assert_array_equal(unit.params["bias"], [0.5])
    assert not unit.update(np.array([1.0, 2.0]), 1)      # now correct: nothing changes
    assert unit.update(np.array([2.0, 0.0]), 0)          # score 1.5 > 0 -> predicts 1: a mistake
    np.testing.assert_array_equal(unit.params["weight"], [[-0.5, 1.0]])
    np.testing.assert_array_equal(unit.params["bias"], [0.0])


def test_zero_score_predicts_zero():
    unit = Perceptron(3)
    np.testing.assert_array_equal(unit.predict(np.ones((4, 3))), [0, 0, 0, 0])


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
@pytest.mark.parametrize("dim", [2, 5])
def test_converges_on_separable_data_within_novikoff_bound(seed, dim):
    x, y = linearly_separable(200, rng=seed, dim=dim, margin=0.05)
    unit = Perceptron(dim)
    history = unit.fit(x, y, max_epochs=1000, rng=seed)
    assert history.converged
    assert history.mistakes[-1] == 0 and history.accuracy[-1] == 1.0
    np.testing.assert_array_equal(unit.predict(x), y)
    assert history.updates == sum(history.mistakes)
    bound = mistake_bound(x, y, unit.params["weight"], unit.params["bias"][0])
    assert history.updates <= bound


def test_learning_rate_only_rescales_the_weights():
    x, y = linearly_separable(100, rng=7)
    small, large = Perceptron(2, lr=0.1), Perceptron(2, lr=3.0)
    small.fit(x, y, rng=1)
    large.fit(x, y, rng=1)
    np.testing.assert_allclose(large.params["weight"], 30.0 * small.params["weight"])


def test_never_learns_xor():
    corners = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    history = Perceptron(2).fit(corners, np.array([0, 1, 1, 0]), max_epochs=200, rng=0)
    assert not history.converged and history.epochs == 200
    assert max(history.accuracy) <= 0.75
    x, y = xor(200, rng=0)
    assert not Perceptron(2).fit(x, y, max_epochs=50, rng=0).converged


def test_mistake_bound_is_infinite_for_a_plane_that_does_not_separate():
    x = np.array([[0.0], [1.0]])
    assert mistake_bound(x, np.array([1, 0]), [1.0], -0.5) == float("inf")
    assert mistake_bound(x, np.array([0, 1]), [0.0], 0.0) == float("inf")


def test_mistake_bound_value():
    # z = (0, 1) and (1, 1); u = (1, -0.5)/|.|, |u| = sqrt(1.25); margins 0.5/sqrt(1.25) each
    x = np.array([[0.0], [1.0]])
    expected = (np.sqrt(2.0) / (0.5 / np.sqrt(1.25))) ** 2
    assert mistake_bound(x, np.array([0, 1]), [1.0], -0.5) == pytest.approx(expected)


def test_bad_inputs_raise_readable_errors():
    unit = Perceptron(2)
    with pytest.raises(ValueError, match="in_features = 2"):
        unit.predict(np.ones((3, 4)))
    with pytest.raises(ValueError, match="smaller than 2"):
        unit.fit(np.ones((2, 2)), np.array([0, 2]))
    with pytest.raises(ValueError, match=r"shape \(N,\)"):
        unit.fit(np.ones((3, 2)), np.array([0, 1]))
    with pytest.raises(ValueError, match="lr"):
        Perceptron(2, lr=0.0)
