"""Count n-gram models against brute-force counting and hand-computed Kneser–Ney probabilities, and
the neighbour-count fill-in baseline."""

import collections
import math

import numpy as np
import pytest

from companion.numpy.ngram import KneserNeyModel, NeighbourCountModel, NGramModel


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


# Kneser–Ney on the stream "abab cab" = [0, 1, 0, 1, 2, 0, 1], V = 3, discount D = 1/2, by hand:
# continuation counts of the unigrams: 0 follows {1, 2}, 1 follows {0}, 2 follows {1} -> (2, 1, 1),
# total 4, 3 distinct, so p1(0) = (1.5 + 0.5 * 3 / 3) / 4 = 1/2, p1(1) = p1(2) = (0.5 + 0.5) / 4 = 1/4.
KN_STREAM = np.array([0, 1, 0, 1, 2, 0, 1])
KN_BIGRAM = {  # raw bigram counts (0,1):3 (1,0):1 (1,2):1 (2,0):1 over p1
    (0, 1): (3 - 0.5 + 0.5 * 1 * 0.25) / 3, (0, 0): 0.5 * 1 * 0.5 / 3, (0, 2): 0.5 * 0.25 / 3,
    (1, 0): (1 - 0.5 + 0.5 * 2 * 0.5) / 2, (1, 2): (1 - 0.5 + 0.5 * 2 * 0.25) / 2,
    (1, 1): 0.5 * 2 * 0.25 / 2, (2, 0): 0.5 + 0.5 * 0.5, (2, 1): 0.5 * 0.25, (2, 2): 0.5 * 0.25}
# As the middle order of a trigram model the bigrams use continuation counts: of the trigrams
# 010 101 012 120 201, "01" ends two (after 1 and 2), "10", "12", "20" one each.
KN_MIDDLE = {(0, 1): (2 - 0.5 + 0.5 * 0.25) / 2, (0, 0): 0.5 * 0.5 / 2, (0, 2): 0.5 * 0.25 / 2,
             (1, 0): 0.5, (1, 2): 0.375, (1, 1): 0.125, (2, 0): 0.75, (2, 1): 0.125, (2, 2): 0.125}
KN_TRIGRAM = {  # context 01: 010 and 012 once each; context 10: 101 once; 22 never seen: back off
    (0, 1, 0): (0.5 + 0.5 * 2 * 0.5) / 2, (0, 1, 2): (0.5 + 0.5 * 2 * 0.375) / 2,
    (0, 1, 1): 0.5 * 2 * 0.125 / 2, (1, 0, 1): 0.5 + 0.5 * 0.8125, (1, 0, 0): 0.5 * 0.125,
    (2, 2, 0): 0.75, (2, 2, 1): 0.125}


def test_kneser_ney_matches_hand_computed_probabilities():
    assert KN_BIGRAM[0, 1] == 0.875 and KN_MIDDLE[0, 1] == 0.8125  # the arithmetic above
    bigram = KneserNeyModel(2, 3, discount=0.5).fit(KN_STREAM)
    for (c, v), p in KN_BIGRAM.items():
        assert bigram.log_prob(np.array([c, v]))[0] == pytest.approx(math.log(p), abs=1e-12)
    trigram = KneserNeyModel(3, 3, discount=0.5).fit(KN_STREAM)
    for (a, b, v), p in KN_TRIGRAM.items():
        assert trigram.log_prob(np.array([a, b, v]))[0] == pytest.approx(math.log(p), abs=1e-12)
    unigram = KneserNeyModel(1, 3, discount=0.5).fit(KN_STREAM)  # raw counts (3, 3, 1) of 7
    expected = [(3 - 0.5 + 0.5 * 3 / 3) / 7, (3 - 0.5 + 0.5) / 7, (1 - 0.5 + 0.5) / 7]
    np.testing.assert_allclose(np.exp(unigram.log_prob(np.array([0, 1, 2]), start=0)), expected)


def test_kneser_ney_estimates_discounts_from_counts_of_counts():
    # bigram counts 3, 1, 1, 1: n1 = 3, n2 = 0 -> D = 1; continuation counts 2, 1, 1 -> D = 2/4
    assert KneserNeyModel(2, 3).fit(KN_STREAM).discounts == [0.5, 1.0]


@pytest.mark.parametrize("n", [1, 2, 3, 4])
def test_kneser_ney_sums_to_one_in_seen_and_unseen_contexts(n):
    rng = np.random.default_rng(n)
    V = 4
    model = KneserNeyModel(n, V).fit(rng.integers(0, V - 1, 200))  # token 3 never occurs
    for _ in range(6):
        context = list(rng.integers(0, V, n - 1))
        probs = np.exp([model.log_prob(np.array(context + [v]), start=n - 1)[0] for v in range(V)])
        assert probs.sum() == pytest.approx(1.0, abs=1e-12)
        assert probs.min() > 0


def test_kneser_ney_longer_context_helps_on_a_repetitive_stream():
    stream = np.tile([0, 1, 2, 0, 2, 1], 40)  # after (0, 1) always 2, after 0 alone 1 or 2
    scores = [KneserNeyModel(n, 3).fit(stream).cross_entropy(stream[:60], start=2) for n in (2, 3)]
    assert scores[1] < scores[0] - 0.3


def test_kneser_ney_errors():
    with pytest.raises(RuntimeError, match="before fit"):
        KneserNeyModel(2, 3).log_prob(np.array([0, 1]))
    with pytest.raises(ValueError, match="discount"):
        KneserNeyModel(2, 3, discount=1.0)
    with pytest.raises(ValueError, match="start"):
        KneserNeyModel(3, 3).fit(KN_STREAM).log_prob(np.array([0, 1, 2]), start=1)
    with pytest.raises(ValueError, match="ids"):
        KneserNeyModel(3, 3).fit(np.array([0, 1]))


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
