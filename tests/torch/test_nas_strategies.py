"""Random search, regularised evolution and the REINFORCE controller on toy benchmarks."""

import zlib

import numpy as np
import pytest

from companion.torch.nas.space import OPS
from companion.torch.nas.strategies import (mutate, random_search, regularized_evolution,
                                            reinforce_controller)


class Toy:
    """Accuracy = fraction of edges that hold conv3x3; the optimum is all conv3x3."""

    ops, n_nodes = OPS, 4

    def __init__(self):
        self.queries = 0

    def accuracy(self, genotype):
        self.queries += 1
        return sum(op == "conv3x3" for op in genotype) / len(genotype)


def test_mutate_changes_exactly_one_edge():
    rng = np.random.default_rng(0)
    g = ("skip",) * 6
    for _ in range(50):
        child = mutate(g, OPS, rng)
        assert sum(a != b for a, b in zip(g, child)) == 1


def test_budget_and_monotone_trajectory():
    for search in (random_search, regularized_evolution, reinforce_controller):
        bench = Toy()
        result = search(bench, 30, rng=1)
        assert bench.queries == 30 and len(result.accuracies) == 30
        assert np.all(np.diff(result.best_so_far) >= 0)
        assert bench.accuracy(result.best) == result.best_so_far[-1]


def test_evolution_beats_random_search_on_a_smooth_landscape():
    evo = np.mean([regularized_evolution(Toy(), 200, rng=s).best_so_far[-1] for s in range(10)])
    rnd = np.mean([random_search(Toy(), 200, rng=s).best_so_far[-1] for s in range(10)])
    assert evo == 1.0 and rnd < 1.0


def test_controller_learns_a_policy_for_the_optimum():
    optimum = ("conv3x3",) * 6
    runs = [reinforce_controller(Toy(), 300, rng=s) for s in range(10)]
    assert all(r.best == optimum for r in runs)
    # the policy, not luck: most late samples are the optimum (1 in 4,096 under random search)
    late = np.mean([[g == optimum for g in r.genotypes[-50:]] for r in runs])
    assert late > 0.5
    assert np.mean([g == optimum for g in random_search(Toy(), 300, rng=0).genotypes]) < 0.01


def test_controller_without_a_reward_signal_samples_uniformly():
    class Flat(Toy):
        def accuracy(self, genotype):
            self.queries += 1
            return 0.5

    ops = [op for g in reinforce_controller(Flat(), 500, rng=0).genotypes for op in g]
    shares = [ops.count(op) / len(ops) for op in OPS]
    np.testing.assert_allclose(shares, 0.25, atol=0.03)


def test_bad_arguments():
    with pytest.raises(ValueError, match="sample_size"):
        regularized_evolution(Toy(), 10, population_size=3, sample_size=5)
    with pytest.raises(ValueError, match="lr must be positive"):
        reinforce_controller(Toy(), 10, lr=0.0)
    with pytest.raises(ValueError, match="baseline_decay"):
        reinforce_controller(Toy(), 10, baseline_decay=1.0)
    with pytest.raises(ValueError, match="budget"):
        reinforce_controller(Toy(), 0)


class Rough:
    """Distinct pseudo-random accuracies: no structure for the search to exploit."""

    ops, n_nodes = OPS, 4

    def __init__(self):
        self.queries = 0

    def accuracy(self, genotype):
        self.queries += 1
        return float(np.random.default_rng(zlib.crc32(",".join(genotype).encode())).uniform())


def test_aging_breeds_only_from_the_last_population_size_children():
    # with sample_size == population_size the parent is the best of the current population;
    # aging makes that population exactly the last P queries, so each child is one edge away
    # from the best of them (keeping the best ever instead would break this)
    P, bench = 8, Rough()
    result = regularized_evolution(bench, 120, population_size=P, sample_size=P, rng=3)
    for t in range(P, 120):
        window = range(t - P, t)
        parent = result.genotypes[max(window, key=lambda k: result.accuracies[k])]
        assert sum(a != b for a, b in zip(parent, result.genotypes[t])) == 1, t
