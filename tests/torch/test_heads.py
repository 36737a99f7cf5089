"""Head scores: targets, the mean weight on them, and the chance level."""

import pytest
import torch

from companion.torch.heads import (
    chance_score,
    head_scores,
    induction_targets,
    offset_targets,
    previous_match_targets,
)


def test_targets():
    assert offset_targets(1, 4, 1).tolist() == [[-1, 0, 1, 2]]
    assert offset_targets(2, 4, 2).tolist() == [[-1, -1, 0, 1]] * 2
    idx = torch.tensor([[5, 0, 5, 5, 1, 0]])
    assert previous_match_targets(idx, [0]).tolist() == [[-1, -1, 1, 1, 1, 1]]
    assert induction_targets([2, 3], 5).tolist() == [[-1, -1, 1, 2, 3], [-1, -1, -1, 1, 2]]


def test_scores_read_the_weight_on_the_target():
    T = 5
    prev = torch.zeros(T, T)
    prev[0, 0] = 1
    prev[torch.arange(1, T), torch.arange(T - 1)] = 1  # every query on its previous key
    uniform = torch.tril(torch.ones(T, T)) / torch.arange(1, T + 1)[:, None]
    weights = torch.stack([prev, uniform])[None, None].expand(1, 3, 2, T, T)  # (L, B, H, T, T)
    targets = offset_targets(3, T, 1)
    scores = head_scores(weights, targets)
    assert scores.shape == (1, 2)
    assert scores[0, 0] == 1
    assert scores[0, 1] == pytest.approx(chance_score(targets))
    assert chance_score(targets) == pytest.approx((1 / 2 + 1 / 3 + 1 / 4 + 1 / 5) / 4)


def test_bad_targets_are_refused():
    weights = torch.full((1, 1, 1, 3, 3), 1 / 3)
    with pytest.raises(ValueError, match="targets"):
        head_scores(weights, torch.tensor([[0, 2, 1]]))  # key 2 is in query 1's future
    with pytest.raises(ValueError, match="no query"):
        head_scores(weights, torch.full((1, 3), -1))
    with pytest.raises(ValueError, match="weights"):
        head_scores(weights[0], torch.zeros(1, 3, dtype=torch.long))
