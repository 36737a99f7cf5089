"""Exact Shapley values and KernelSHAP on games whose values are known."""

import numpy as np
import pytest

from companion.numpy.shapley import (all_coalitions, coalition_values, exact_shapley,
                                     kernel_shap, shapley_kernel_weight)

RNG = np.random.default_rng(0)
BACKGROUND = RNG.standard_normal((30, 5))
X = RNG.standard_normal(5)


def interacting(rows):
    return rows[:, 0] * rows[:, 1] + np.sin(rows[:, 2]) - 2 * rows[:, 3] + rows[:, 4] ** 2


def test_coalitions_enumerate_bits():
    masks = all_coalitions(3)
    assert masks.shape == (8, 3)
    np.testing.assert_array_equal(masks[5], [True, False, True])  # 5 = 0b101
    assert len({tuple(m) for m in masks}) == 8


def test_coalition_values_at_the_ends():
    v = coalition_values(interacting, X, BACKGROUND, [[False] * 5, [True] * 5])
    assert v[0] == pytest.approx(interacting(BACKGROUND).mean())
    assert v[1] == pytest.approx(interacting(X[None])[0])


def test_linear_model_has_closed_form_shapley_values():
    w = RNG.standard_normal(5)
    phi, base = exact_shapley(lambda r: r @ w + 0.7, X, BACKGROUND)
    np.testing.assert_allclose(phi, w * (X - BACKGROUND.mean(axis=0)), rtol=1e-12, atol=1e-12)
    assert base == pytest.approx((BACKGROUND @ w).mean() + 0.7)


def test_exact_shapley_efficiency_symmetry_and_dummy():
    phi, base = exact_shapley(interacting, X, BACKGROUND)
    assert base + phi.sum() == pytest.approx(interacting(X[None])[0], abs=1e-12)
    # a feature the model ignores gets zero; two symmetric features get equal shares
    phi_dummy, _ = exact_shapley(lambda r: r[:, 0] * r[:, 1], np.ones(3), np.zeros((1, 3)))
    np.testing.assert_allclose(phi_dummy, [0.5, 0.5, 0.0], atol=1e-12)


def test_permutation_definition_matches():
    # average marginal contribution over all 5! orders, computed independently
    from itertools import permutations
    d = 5
    masks = all_coalitions(d)
    values = coalition_values(interacting, X, BACKGROUND, masks)
    phi = np.zeros(d)
    orders = list(permutations(range(d)))
    for order in orders:
        present = 0
        for i in order:
            phi[i] += values[present | (1 << i)] - values[present]
            present |= 1 << i
    phi /= len(orders)
    np.testing.assert_allclose(exact_shapley(interacting, X, BACKGROUND)[0], phi, atol=1e-12)


def test_kernel_weight_values():
    np.testing.assert_allclose(shapley_kernel_weight(4, np.array([1, 2, 3])),
                               [3 / (4 * 3), 3 / (6 * 4), 3 / (4 * 3)])
    with pytest.raises(ValueError, match="sizes"):
        shapley_kernel_weight(4, np.array([0]))


def test_kernel_shap_with_all_coalitions_is_exact():
    exact, base = exact_shapley(interacting, X, BACKGROUND)
    full, base_k = kernel_shap(interacting, X, BACKGROUND, None)
    np.testing.assert_allclose(full, exact, atol=1e-10)
    assert base_k == pytest.approx(base)


def test_kernel_shap_sampling_is_efficient_and_converges():
    exact, base = exact_shapley(interacting, X, BACKGROUND)
    errors = []
    for n in (20, 2000):
        phi, _ = kernel_shap(interacting, X, BACKGROUND, n, rng=0)
        assert base + phi.sum() == pytest.approx(interacting(X[None])[0], abs=1e-10)
        errors.append(np.linalg.norm(phi - exact) / np.linalg.norm(exact))
    assert errors[1] < 0.05 and errors[1] < errors[0]
    again, _ = kernel_shap(interacting, X, BACKGROUND, 2000, rng=0)
    np.testing.assert_array_equal(again, kernel_shap(interacting, X, BACKGROUND, 2000, rng=0)[0])


def test_kernel_shap_samples_sizes_from_the_kernel():
    # with strong interactions, a wrong coalition-size distribution biases the estimate
    def strongly_interacting(rows):
        return (rows[:, 0] * rows[:, 1] * rows[:, 2] + np.maximum(rows[:, 3], 0) * rows[:, 4]
                + rows[:, 0] * rows[:, 4] ** 2)

    exact, _ = exact_shapley(strongly_interacting, X, BACKGROUND)
    mean = np.mean([kernel_shap(strongly_interacting, X, BACKGROUND, 20000, rng=seed)[0]
                    for seed in range(5)], axis=0)
    assert np.linalg.norm(mean - exact) / np.linalg.norm(exact) < 0.015
