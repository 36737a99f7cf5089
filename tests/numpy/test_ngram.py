"""Count n-gram models against brute-force counting, and the neighbour-count fill-in baseline."""

import collections
import math

import numpy as np
import pytest

from companion.numpy.ngram import NeighbourCountModel, NGramModel


@pytest.mark.parametrize("n", [1, 2, 3, 4])
@pytest.mark.parametrize("k", [1.0, 0.05])
def test_matches_brute_force_counts(n, k):
    rng = np.random.default_rng(n)
    V = 5
    train, test = rng.integers(0, V, 300), rng.integers(0, V, 40)
    pairs, contexts = collections.Counter(), collections.Counter()
    for t in range(n - 1, len(train)):
        c = tuple(train[t - n + 1:t])
        pairs[c, train[t]] += 1
        contexts[c] += 1
    model = NGramModel(n, V, k).fit(train)
    expected = [math.log((pairs[tuple(test[t - n + 1:t]), test[t]] + k)
                         / (contexts[tuple(test[t - n + 1:t])] + k * V))
                for t in range(3, len(test))]
    np.testing.assert_allclose(model.log_prob(test, start=3), expected, rtol=1e-12)


def test_probabilities_sum_to_one_for_seen_and_unseen_contexts():
    model = NGramModel(3, 4, 0.5).fit(np.array([0, 1, 2, 3, 0, 1, 2, 2, 1, 0]))
    for context in ([0, 1], [3, 3]):
        total = sum(math.exp(model.log_prob(np.array(context + [v]))[0]) for v in range(4))
        assert total == pytest.approx(1.0)


def test_unigram_with_tiny_k_is_the_empirical_entropy():
    ids = np.array([0, 0, 0, 1])
    model = NGramModel(1, 2, 1e-12).fit(ids)
    entropy = -(0.75 * math.log(0.75) + 0.25 * math.log(0.25))
    assert model.cross_entropy(ids) == pytest.approx(entropy, rel=1e-9)


def test_num_contexts():
    ids = np.array([0, 1, 0, 1, 2])
    assert NGramModel(1, 3).fit(ids).num_contexts == 1
    assert NGramModel(2, 3).fit(ids).num_contexts == 2  # contexts 0, 1 (2 is never a context)
    assert NGramModel(3, 3).fit(ids).num_contexts == 2  # (0, 1), (1, 0)


def test_errors():
    with pytest.raises(RuntimeError, match="before fit"):
        NGramModel(2, 3).log_prob(np.array([0, 1]))
    with pytest.raises(ValueError, match="k"):
        NGramModel(2, 3, k=0.0)


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
