"""BERT's masking rule and the neighbour-count fill-in baseline."""

import numpy as np
import pytest

from companion.numpy.cloze import IGNORE_INDEX, NeighbourCountModel, mask_tokens

V = 20


def test_mask_tokens_chooses_a_fixed_share_and_labels_only_those():
    rng = np.random.default_rng(0)
    ids = rng.integers(0, V, size=(50, 40))
    inputs, labels = mask_tokens(ids, V, V, rng=1)
    chosen = labels != IGNORE_INDEX
    assert (chosen.sum(axis=1) == 6).all()  # round(0.15 * 40) per row
    np.testing.assert_array_equal(labels[chosen], ids[chosen])
    np.testing.assert_array_equal(inputs[~chosen], ids[~chosen])  # untouched elsewhere
    assert inputs.max() <= V and inputs.min() >= 0


def test_mask_tokens_follows_the_80_10_10_rule():
    rng = np.random.default_rng(0)
    ids = rng.integers(0, V, size=(4000, 50))
    inputs, labels = mask_tokens(ids, V, V, rng=2)
    chosen = labels != IGNORE_INDEX
    masked = (inputs == V)[chosen].mean()
    same = (inputs == ids)[chosen].mean()  # kept, plus random draws that hit the original
    assert abs(masked - 0.8) < 0.01
    assert abs(same - (0.1 + 0.1 / V)) < 0.01
    assert abs(1 - masked - same - 0.1 * (1 - 1 / V)) < 0.01


def test_mask_tokens_is_reproducible_and_handles_one_dimension():
    ids = np.arange(V)
    a = mask_tokens(ids, V, V, rng=3)
    b = mask_tokens(ids, V, V, rng=3)
    np.testing.assert_array_equal(a[0], b[0])
    assert a[0].shape == (V,) and (a[1] != IGNORE_INDEX).sum() == 3
    one = mask_tokens(np.array([[5]]), V, V, rng=0)  # T = 1: the one position is chosen
    assert one[1][0, 0] == 5


@pytest.mark.parametrize("kwargs, match", [
    ({"mask_prob": 0.0}, "mask_prob"),
    ({"replace_probs": (0.5, 0.1, 0.1)}, "replace_probs"),
    ({"replace_probs": (1.1, -0.1, 0.0)}, "replace_probs"),
])
def test_mask_tokens_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        mask_tokens(np.zeros((2, 5), dtype=np.int64), V, V, **kwargs)


def test_mask_tokens_rejects_out_of_vocabulary_ids():
    with pytest.raises(ValueError, match="ids"):
        mask_tokens(np.array([[V]]), V, V)


def test_neighbour_counts_fill_a_deterministic_pattern():
    # In "abcabcabc...", the token between a and c is always b.
    stream = np.tile([0, 1, 2], 30)
    model = NeighbourCountModel(3).fit(stream)
    inputs = np.array([[0, 3, 2, 0, 1, 3]])  # 3 = a mask id (>= V): unknown
    guess = model.predict(inputs)
    assert guess[0, 1] == 1  # between 0 and 2
    assert guess[0, 5] == 2  # after 1, nothing to the right: the left bigram says 2


def test_neighbour_counts_back_off_and_respect_context():
    stream = np.array([0, 1, 2, 0, 1, 2, 0, 3, 2, 1, 1, 1, 1])
    model = NeighbourCountModel(4).fit(stream)
    assert model.predict(np.array([4, 4, 4]), "both")[1] == 1  # no neighbours: most frequent
    left_only = model.predict(np.array([2, 4, 1]), "left")[1]
    assert left_only == 0  # after 2 comes 0 (twice) or 1 (once)
    right_only = model.predict(np.array([2, 4, 2]), "right")[1]
    assert right_only == 1  # before 2 comes 1 (twice) or 3 (once)
    assert model.predict(np.array([0, 4, 2]), "both")[1] == 1  # (0, ., 2): b twice, d once


def test_neighbour_counts_validate():
    model = NeighbourCountModel(4)
    with pytest.raises(ValueError, match="fit"):
        model.predict(np.array([0, 1]))
    model.fit(np.array([0, 1, 2, 3]))
    with pytest.raises(ValueError, match="context"):
        model.predict(np.array([0, 1]), "middle")
