"""The cell search space: edges, canonical forms, cells and the relaxed (DARTS) cell."""

import pytest
import torch

from companion.torch.nas.darts import MixedCell
from companion.torch.nas.space import (OPS, Cell, CellNetwork, all_genotypes, canonical, edges,
                                       genotype_str, parse_genotype)


def test_edges_and_count():
    assert edges(4) == [(0, 1), (0, 2), (1, 2), (0, 3), (1, 3), (2, 3)]
    assert len(all_genotypes(3)) == len(OPS) ** 3
    with pytest.raises(ValueError, match="n_nodes"):
        edges(1)


def test_canonical_removes_dead_edges():
    # output fed by nothing: every edge is dead
    g = ("conv3x3", "skip", "conv3x3", "none", "none", "none")
    assert canonical(g) == ("none",) * 6
    # node 1 receives nothing (edge 0->1 none), so its outgoing edges are dead
    g = ("none", "skip", "conv3x3", "conv3x3", "avgpool3x3", "skip")
    assert canonical(g) == ("none", "skip", "none", "conv3x3", "none", "skip")
    # node 2 never reaches the output (edge 2->3 none), so its incoming edges are dead
    g = ("conv3x3", "skip", "conv3x3", "skip", "conv3x3", "none")
    assert canonical(g) == ("conv3x3", "none", "none", "skip", "conv3x3", "none")
    assert len({canonical(g) for g in all_genotypes(4)}) == 2128


def test_equivalent_genotypes_compute_the_same_function():
    x = torch.randn(5, 4, 8, 8)
    g = ("none", "skip", "conv3x3", "conv3x3", "avgpool3x3", "skip")
    torch.manual_seed(0)
    a = Cell(canonical(g), 4)
    torch.manual_seed(0)
    b = Cell(g, 4)
    b.load_state_dict(a.state_dict(), strict=False)   # b also holds weights on dead edges
    torch.testing.assert_close(a(x), b(x))


def test_cell_network_shapes_and_names():
    g = ("conv3x3", "skip", "avgpool3x3", "none", "skip", "conv3x3")
    assert parse_genotype(genotype_str(g)) == g
    net = CellNetwork.from_genotype(g, 6)
    assert net(torch.randn(3, 1, 8, 8)).shape == (3, 10)
    with pytest.raises(ValueError, match="unknown operation"):
        Cell(("conv5x5",), 4)


def test_mixed_cell_with_one_hot_weights_is_the_discrete_cell():
    torch.manual_seed(1)
    mixed = MixedCell(4)
    g = ("conv3x3", "skip", "avgpool3x3", "none", "skip", "conv3x3")
    cell = Cell(g, 4)
    with torch.no_grad():                      # share the chosen ops' weights, peak the alphas
        for k, op in enumerate(g):
            chosen = mixed.mixed[k].ops[OPS.index(op)]
            cell.ops[k].load_state_dict(chosen.state_dict())
            mixed.alpha[k] = -1e4
            mixed.alpha[k, OPS.index(op)] = 1e4
    x = torch.randn(3, 4, 8, 8)
    torch.testing.assert_close(mixed(x), cell(x))
    assert mixed.genotype() == g
