"""The few-shot episode sampler (companion.data.episodes)."""

import numpy as np
import pytest

from companion.data.episodes import sample_episode


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
