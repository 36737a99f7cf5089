"""BERT's masking rule (companion.data.masking)."""

import numpy as np
import pytest

from companion.data.masking import IGNORE_INDEX, mask_tokens

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
