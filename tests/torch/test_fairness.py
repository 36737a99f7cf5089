"""Per-group error rates and group balancing."""

import numpy as np
import pytest
import torch

from companion.torch.fairness import (error_gap, group_balanced_sampler, group_balanced_weights,
                                      group_error_rates, weighted_cross_entropy)


def test_group_error_rates_by_hand():
    rates = group_error_rates([1, 0, 1, 1, 0], [1, 1, 1, 0, 0], ["a", "a", "b", "b", "b"])
    assert rates == {"a": 0.5, "b": pytest.approx(1 / 3)}
    assert error_gap(rates) == pytest.approx(0.5 - 1 / 3)
    with pytest.raises(ValueError, match="shape"):
        group_error_rates([1, 0], [1, 0, 1], [0, 0, 1])


def test_balanced_weights_give_each_group_equal_total():
    groups = np.array([0] * 90 + [1] * 10)
    weights = group_balanced_weights(groups)
    assert weights[groups == 0].sum().item() == pytest.approx(50)
    assert weights[groups == 1].sum().item() == pytest.approx(50)
    assert weights.mean().item() == pytest.approx(1.0)


def test_sampler_draws_groups_equally_often():
    groups = np.array([0] * 95 + [1] * 5)
    draws = np.array(list(group_balanced_sampler(groups, num_samples=20000, seed=0)))
    share = (groups[draws] == 1).mean()
    assert abs(share - 0.5) < 0.02
    again = np.array(list(group_balanced_sampler(groups, num_samples=20000, seed=0)))
    np.testing.assert_array_equal(draws, again)


def test_weighted_cross_entropy_matches_manual_and_reduces_to_mean():
    torch.manual_seed(0)
    logits, targets = torch.randn(6, 4, dtype=torch.float64), torch.tensor([0, 1, 2, 3, 0, 1])
    weights = torch.tensor([1.0, 2.0, 0.5, 1.0, 3.0, 0.5], dtype=torch.float64)
    per = torch.nn.functional.cross_entropy(logits, targets, reduction="none")
    torch.testing.assert_close(weighted_cross_entropy(logits, targets, weights),
                               (weights * per).sum() / weights.sum())
    torch.testing.assert_close(weighted_cross_entropy(logits, targets, torch.ones(6)),
                               torch.nn.functional.cross_entropy(logits, targets))
    with pytest.raises(ValueError, match="weights"):
        weighted_cross_entropy(logits, targets, torch.ones(5))
