"""Search strategies that query a tabular benchmark: random search, regularised evolution and a
policy-gradient controller.

All treat the table as a black box, ``benchmark.accuracy(genotype)`` (one query = one trained
architecture in a real search), and return the trajectory of the best validation accuracy seen
after each query, so strategies can be compared at equal budgets.
"""

from __future__ import annotations

import collections
from dataclasses import dataclass, field

import numpy as np

from companion.core.checks import as_rng, positive_int
from companion.core.functional import softmax
from companion.torch.nas.space import operation_names

__all__ = ["SearchResult", "random_genotype", "mutate", "random_search",
           "regularized_evolution", "reinforce_controller"]


@dataclass
class SearchResult:
    """What a search saw: every queried genotype and its accuracy, in order.

    ``best_so_far[t]`` is the best accuracy among the first t + 1 queries and ``best`` the
    genotype holding the final one.
    """

    genotypes: list = field(default_factory=list)
    accuracies: list = field(default_factory=list)

    def add(self, genotype, accuracy: float) -> None:
        self.genotypes.append(tuple(genotype))
        self.accuracies.append(float(accuracy))

    @property
    def best_so_far(self) -> np.ndarray:
        return np.maximum.accumulate(np.asarray(self.accuracies))

    @property
    def best(self) -> tuple:
        return self.genotypes[int(np.argmax(self.accuracies))]


def random_genotype(n_edges: int, ops, rng) -> tuple[str, ...]:
    """One operation per edge, each drawn uniformly from ``ops``."""
    n_edges, ops = positive_int(n_edges, "n_edges"), operation_names(ops, "ops")
    return tuple(ops[k] for k in as_rng(rng).integers(len(ops), size=n_edges))


def mutate(genotype, ops, rng) -> tuple[str, ...]:
    """Copy ``genotype`` with one edge, chosen uniformly, set to a different operation."""
    ops = operation_names(ops, "ops")
    genotype = list(operation_names(genotype, "genotype", ops))
    if not genotype or len(ops) < 2:
        raise ValueError(f"mutate needs a non-empty genotype and at least two ops, got "
                         f"genotype={tuple(genotype)}, ops={ops}")
    rng = as_rng(rng)
    edge = int(rng.integers(len(genotype)))
    choices = [op for op in ops if op != genotype[edge]]
    genotype[edge] = choices[int(rng.integers(len(choices)))]
    return tuple(genotype)


def _n_edges(benchmark) -> int:
    return benchmark.n_nodes * (benchmark.n_nodes - 1) // 2


def random_search(benchmark, budget: int, rng=None) -> SearchResult:
    """Query ``budget`` genotypes drawn uniformly at random (with replacement)."""
    budget, rng = positive_int(budget, "budget"), as_rng(rng)
    result = SearchResult()
    for _ in range(budget):
        genotype = random_genotype(_n_edges(benchmark), benchmark.ops, rng)
        result.add(genotype, benchmark.accuracy(genotype))
    return result


def regularized_evolution(benchmark, budget: int, population_size: int = 20,
                          sample_size: int = 5, rng=None) -> SearchResult:
    """Aging evolution (Real et al., 2019) for ``budget`` queries.

    Start with ``population_size`` random genotypes. Then repeat: draw ``sample_size`` members
    of the population at random, mutate the most accurate of them, query the child, add it to
    the population and remove the *oldest* member, whatever its accuracy.
    """
    budget, rng = positive_int(budget, "budget"), as_rng(rng)
    population_size = positive_int(population_size, "population_size")
    sample_size = positive_int(sample_size, "sample_size")
    if sample_size > population_size:
        raise ValueError(f"sample_size ({sample_size}) must not exceed population_size "
                         f"({population_size})")
    result = SearchResult()
    population = collections.deque()                        # (genotype, accuracy), oldest first
    while len(result.accuracies) < budget:
        if len(population) < population_size:
            child = random_genotype(_n_edges(benchmark), benchmark.ops, rng)
        else:
            picks = rng.choice(len(population), size=sample_size, replace=False)
            parent = max((population[int(k)] for k in picks), key=lambda member: member[1])
            child = mutate(parent[0], benchmark.ops, rng)
        accuracy = benchmark.accuracy(child)
        result.add(child, accuracy)
        population.append((child, accuracy))
        if len(population) > population_size:
            population.popleft()                            # aging: the oldest dies
    return result


def reinforce_controller(benchmark, budget: int, lr: float = 0.5, baseline_decay: float = 0.9,
                         rng=None) -> SearchResult:
    """A policy-gradient controller (after Zoph & Le, 2017) trained with REINFORCE.

    The policy is factorised over the E edges: edge e takes operation o with probability
    p_{e,o} = softmax(theta_e)_o, from logits theta (E, len(ops)) that start at zero (uniform).
    Each query samples a genotype a from the policy, receives its accuracy r as the reward, and
    takes one step of gradient ascent on the expected reward,

        theta <- theta + lr * (r - b) * (onehot(a) - p),        onehot(a), p: (E, len(ops)),

    where (onehot(a) - p) is grad_theta log pi(a) for the factorised softmax policy and b is a
    moving average of past rewards, b <- baseline_decay * b + (1 - baseline_decay) * r, updated
    after the step (it starts at the first reward, so the first query moves nothing).

    Zoph and Le's controller is a recurrent network that samples the edges in turn, each
    choice conditioned on the previous ones; with independent edges the policy is one table of
    logits, enough for a space of six choices.

    Args:
        benchmark: any object with ``ops``, ``n_nodes`` and ``accuracy(genotype)``.
        budget: number of queries.
        lr: the ascent step size eta, in logits per unit of advantage r - b.
        baseline_decay: in [0, 1); larger values average the baseline over more past rewards.
        rng: None, an int seed or a ``numpy.random.Generator``.
    """
    budget, rng = positive_int(budget, "budget"), as_rng(rng)
    if not lr > 0:
        raise ValueError(f"lr must be positive, got {lr}")
    if not 0 <= baseline_decay < 1:
        raise ValueError(f"baseline_decay must be in [0, 1), got {baseline_decay}")
    ops = tuple(benchmark.ops)
    theta = np.zeros((_n_edges(benchmark), len(ops)))                 # (E, ops)
    baseline = None
    result = SearchResult()
    for _ in range(budget):
        probs = softmax(theta, axis=1)                                # (E, ops), rows sum to 1
        # inverse-CDF sampling, one uniform draw per edge: the first op whose cumulative
        # probability exceeds it (the minimum guards against round-off in the last sum)
        u = rng.random((len(probs), 1))                               # (E, 1)
        choice = np.minimum((probs.cumsum(axis=1) < u).sum(axis=1), len(ops) - 1)   # (E,)
        genotype = tuple(ops[k] for k in choice)
        reward = benchmark.accuracy(genotype)
        result.add(genotype, reward)
        baseline = reward if baseline is None else baseline
        onehot = np.eye(len(ops))[choice]                             # (E, ops)
        theta += lr * (reward - baseline) * (onehot - probs)          # REINFORCE ascent step
        baseline = baseline_decay * baseline + (1 - baseline_decay) * reward
    return result
