"""A cell search space in the style of NAS-Bench-201, sized for the 8x8 digits.

A *cell* is a small directed acyclic graph on nodes 0, 1, ..., n-1. Node 0 is the cell's input,
node n-1 its output, and every pair i < j is joined by an edge that applies one operation from
``OPS`` to node i's feature map. A node sums what its incoming edges deliver:

    x_j = sum_{i < j} op_{i,j}(x_i),        j = 1, ..., n-1.

An *architecture* (a genotype) is the tuple of operation names, one per edge, in the order of
:func:`edges`. Every operation keeps the shape (N, C, H, W), so any choice is valid; ``"none"``
returns zeros and so deletes its edge. A :class:`CellNetwork` wraps one cell between a
convolutional stem and a classifier head: conv3x3(1 -> C) -> cell -> relu -> global average
pool -> linear(C -> 10).

Many genotypes compute the same function: every operation maps zeros to zeros, so an edge out of
a node that receives nothing, or into a node whose value never reaches the output, does nothing. :func:`canonical` replaces such edges by
``"none"``; genotypes with one canonical form build identical networks from one seed.
"""

from __future__ import annotations

import itertools
import math

import torch
import torch.nn.functional as F
from torch import nn

from companion.core.checks import flag, positive_int
from companion.torch._inputs import module_input
from companion.torch.activations import ReLU
from companion.torch.linear import Linear

__all__ = ["OPS", "PARAMETER_FREE", "edges", "all_genotypes", "canonical", "genotype_str",
           "parse_genotype", "EXTRA_OPS", "Zero", "Identity", "ReLUConv", "AvgPool", "make_op", "Cell", "CellNetwork"]

OPS = ("none", "skip", "avgpool3x3", "conv3x3")
PARAMETER_FREE = frozenset({"none", "skip", "avgpool3x3"})
EXTRA_OPS = ("conv1x1",)  # built by make_op, outside the default space


def edges(n_nodes: int) -> list[tuple[int, int]]:
    """The edges (i, j), i < j, of a cell with ``n_nodes`` nodes, ordered by j then i."""
    n_nodes = positive_int(n_nodes, "n_nodes")
    if n_nodes < 2:
        raise ValueError(f"a cell needs at least 2 nodes, got n_nodes={n_nodes}")
    return [(i, j) for j in range(1, n_nodes) for i in range(j)]


def _n_nodes(n_edges: int) -> int:
    """Invert n (n - 1) / 2 = n_edges."""
    for n in range(2, 64):
        if n * (n - 1) // 2 == n_edges:
            return n
    raise ValueError(f"a genotype needs n (n - 1) / 2 operations for some n >= 2, "
                     f"got {n_edges}")


def operation_names(value, name: str, allowed=OPS + EXTRA_OPS) -> tuple[str, ...]:
    """``value`` as a tuple of operation names, each one of ``allowed``; ``name`` is the argument's."""
    if isinstance(value, str) or not isinstance(value, (tuple, list)):
        raise TypeError(f"{name} must be a tuple of operation names, got {type(value).__name__} "
                        f"{value!r}")
    bad = [op for op in value if op not in allowed]
    if bad:
        raise ValueError(f"{name} holds unknown operation(s) {bad}; choose from {tuple(allowed)}")
    return tuple(value)


def _check(genotype, ops) -> tuple[str, ...]:
    genotype = operation_names(genotype, "genotype", operation_names(ops, "ops"))
    _n_nodes(len(genotype))
    return genotype


def all_genotypes(n_nodes: int, ops=OPS) -> list[tuple[str, ...]]:
    """Every genotype of the space: len(ops) ** (n_nodes (n_nodes - 1) / 2) tuples."""
    ops = operation_names(ops, "ops")
    return [tuple(g) for g in itertools.product(ops, repeat=len(edges(n_nodes)))]


def canonical(genotype, ops=OPS) -> tuple[str, ...]:
    """The genotype with every edge that cannot affect the output replaced by ``"none"``.

    A node is *live from the input* when some path of non-none edges reaches it from node 0, and
    *live to the output* when such a path leads from it to the last node. An edge matters only
    when its tail is live from the input and its head is live to the output.
    """
    genotype = _check(genotype, ops)
    n = _n_nodes(len(genotype))
    pairs = edges(n)
    active = {e for e, op in zip(pairs, genotype) if op != "none"}
    from_input = {0}
    for j in range(1, n):
        if any((i, j) in active and i in from_input for i in range(j)):
            from_input.add(j)
    to_output = {n - 1}
    for i in range(n - 2, -1, -1):
        if any((i, j) in active and j in to_output for j in range(i + 1, n)):
            to_output.add(i)
    return tuple(op if (i in from_input and j in to_output) else "none"
                 for (i, j), op in zip(pairs, genotype))


def genotype_str(genotype) -> str:
    """A compact name such as ``"conv3x3|skip,none|..."``: one group per node, edges by tail."""
    if not isinstance(genotype, (tuple, list)):
        raise TypeError(f"genotype must be a tuple of operation names, got "
                        f"{type(genotype).__name__}")
    genotype = tuple(genotype)
    n = _n_nodes(len(genotype))
    groups, k = [], 0
    for j in range(1, n):
        groups.append(",".join(genotype[k:k + j]))
        k += j
    return "|".join(groups)


def parse_genotype(text: str, ops=OPS) -> tuple[str, ...]:
    """Inverse of :func:`genotype_str`."""
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    genotype = [op for group in text.split("|") for op in group.split(",")]
    return _check(operation_names(genotype, "text", operation_names(ops, "ops")), ops)


class Zero(nn.Module):
    """The "none" operation: zeros of the input's shape (the edge is absent)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.zeros_like(x)


class Identity(nn.Module):
    """The "skip" operation: the input unchanged."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


class ReLUConv(nn.Module):
    """relu then a k x k convolution C -> C with "same" padding: (N, C, H, W) -> (N, C, H, W).

    out = W * relu(x), with ``weight`` (C, C, k, k) drawn as ``companion.torch.Conv2d`` draws
    it, U(-1/sqrt(C k k), 1/sqrt(C k k)), and no bias (as in NAS-Bench-201's cells), so a zero
    input gives a zero output. It calls torch's convolution kernel directly: the benchmark trains
    thousands of these, and the im2col layer of the convolution chapter is several times slower
    on a full batch.
    """

    def __init__(self, channels: int, kernel_size: int):
        super().__init__()
        self.channels = positive_int(channels, "channels")
        self.kernel_size = positive_int(kernel_size, "kernel_size")
        if kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd to keep the shape, got {kernel_size}")
        self.weight = nn.Parameter(torch.empty(channels, channels, kernel_size, kernel_size))
        bound = 1 / math.sqrt(channels * kernel_size * kernel_size)
        with torch.no_grad():
            self.weight.uniform_(-bound, bound)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(torch.relu(x), self.weight, padding=self.kernel_size // 2)


class AvgPool(nn.Module):
    """3 x 3 average pooling, stride 1, padding 1, averaging real pixels only (shape kept)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=False)


def make_op(name: str, channels: int) -> nn.Module:
    """The module for operation ``name`` on ``channels`` channels; shapes are kept."""
    if name == "none":
        return Zero()
    if name == "skip":
        return Identity()
    if name == "avgpool3x3":
        return AvgPool()
    if name == "conv1x1":
        return ReLUConv(channels, 1)
    if name == "conv3x3":
        return ReLUConv(channels, 3)
    raise ValueError(f"name must be one of {OPS + EXTRA_OPS}, got {name!r}")


class Cell(nn.Module):
    """One cell: x_j = sum_{i<j} op_{i,j}(x_i) for j = 1..n-1; returns x_{n-1}.

    Args:
        genotype: one operation name per edge, in the order of :func:`edges`.
        channels: C, kept by every operation.

    Input: (N, C, H, W). Output: (N, C, H, W).
    """

    def __init__(self, genotype, channels: int):
        super().__init__()
        self.genotype = _check(genotype, OPS + EXTRA_OPS)
        self.n_nodes = _n_nodes(len(self.genotype))
        self.edge_list = edges(self.n_nodes)
        self.channels = positive_int(channels, "channels")
        self.ops = nn.ModuleList(make_op(op, self.channels) for op in self.genotype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        nodes = [x]                                                        # each (N, C, H, W)
        k = 0
        for j in range(1, self.n_nodes):
            total = 0
            for i in range(j):
                if self.genotype[k] != "none":                             # zeros add nothing
                    total = total + self.ops[k](nodes[i])
                k += 1
            nodes.append(total if torch.is_tensor(total) else torch.zeros_like(x))
        return nodes[-1]

    def extra_repr(self) -> str:
        return f"genotype={genotype_str(self.genotype)!r}"


class _Stem(nn.Module):
    """conv3x3 (C_in -> C), "same" padding, no activation: (N, C_in, H, W) -> (N, C, H, W)."""

    def __init__(self, in_channels: int, channels: int):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(channels, in_channels, 3, 3))
        self.bias = nn.Parameter(torch.empty(channels))
        bound = 1 / math.sqrt(in_channels * 9)
        with torch.no_grad():
            self.weight.uniform_(-bound, bound)
            self.bias.uniform_(-bound, bound)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight, self.bias, padding=1)


class CellNetwork(nn.Module):
    """stem conv3x3 (1 -> C) -> cell -> relu -> global average pool -> linear (C -> classes).

    With ``pool=False`` the head flattens the (C, H, W) maps instead of averaging them.

    Args:
        cell: the middle module, (N, C, H, W) -> (N, C, H, W): a :class:`Cell`, or the
            continuous relaxation of one (see ``companion.torch.nas.darts``).
        channels: C.
        in_channels, num_classes: of the images and labels (1 and 10 for the digits).

    Input: (N, in_channels, H, W). Output: logits (N, num_classes).
    """

    def __init__(self, cell: nn.Module, channels: int, in_channels: int = 1,
                 num_classes: int = 10, pool: bool = True, image_size: int = 8):
        super().__init__()
        self.pool = flag(pool, "pool")
        image_size = positive_int(image_size, "image_size")
        self.channels = positive_int(channels, "channels")
        self.stem = _Stem(positive_int(in_channels, "in_channels"), self.channels)
        self.cell = module_input(cell, "cell")
        self.act = ReLU()
        features = self.channels if self.pool else self.channels * positive_int(
            image_size, "image_size") ** 2
        self.head = Linear(features, positive_int(num_classes, "num_classes"))

    @classmethod
    def from_genotype(cls, genotype, channels: int, **kwargs) -> "CellNetwork":
        """The network whose cell is ``Cell(genotype, channels)``."""
        return cls(Cell(genotype, channels), channels, **kwargs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.cell(self.stem(x))                                        # (N, C, H, W)
        h = self.act(h)
        features = h.mean(dim=(2, 3)) if self.pool else h.flatten(1)       # (N, C) or (N, C H W)
        return self.head(features)                                         # (N, classes)
