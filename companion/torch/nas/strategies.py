"""Search strategies that query a tabular benchmark: random search and regularised evolution.

Both treat the table as a black box, ``benchmark.accuracy(genotype)`` (one query = one trained
architecture in a real search), and return the trajectory of the best validation accuracy seen
after each query, so strategies can be compared at equal budgets.
"""

from __future__ import annotations

import collections
from dataclasses import dataclass, field

import numpy as np

from companion.numpy._validation import as_rng, positive_int

__all__ = ["SearchResult", "random_genotype", "mutate", "random_search",
           "regularized_evolution"]


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
    return tuple(ops[k] for k in rng.integers(len(ops), size=n_edges))


def mutate(genotype, ops, rng) -> tuple[str, ...]:
    """Copy ``genotype`` with one edge, chosen uniformly, set to a different operation."""
    genotype = list(genotype)
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
