"""The computational graph that both autograd engines record, walked in one way.

A node (a :class:`~companion.numpy.autograd.value.Value` or a
:class:`~companion.numpy.autograd.tensor.Tensor`) keeps the nodes it was computed from in
``_prev``, the name of its operation in ``op`` (empty for a leaf) and its value in ``data``.
This module orders such a graph for the backward pass, lists its edges and draws it.

Both engines follow one gradient rule, the one torch follows:

- a backward pass resets the gradient of every interior node (a node an operation made) before
  it runs, so interior gradients always belong to the latest pass;
- a leaf (a node made by the user, such as a weight) *adds* each new gradient to the one it holds,
  so calling ``backward()`` twice doubles it. That is how a weight used in several places collects
  all its contributions within one pass; across training steps it is a bug unless the gradients
  are cleared, so call ``zero_grad()`` on every parameter before each backward pass.
"""

from __future__ import annotations

import numpy as np

__all__ = ["topological_order", "trace", "to_mermaid"]


def topological_order(root) -> list:
    """Every node of the graph below ``root``, each one after all the nodes it was computed from.

    An iterative depth-first search, so graphs of any depth work (no recursion limit).
    """
    if not hasattr(root, "_prev"):
        raise TypeError(f"root must be a Value or a Tensor, got {type(root).__name__}")
    order, visited, stack = [], set(), [(root, False)]
    while stack:
        node, children_done = stack.pop()
        if children_done:
            order.append(node)
        elif node not in visited:
            visited.add(node)
            stack.append((node, True))
            stack.extend((child, False) for child in node._prev)
    return order


def trace(root) -> tuple[list, list[tuple]]:
    """The nodes of the graph below ``root`` and its edges ``(operand, result)``.

    Nodes come in topological order (inputs first); an operand used twice by one operation,
    as in ``a * a``, gives two edges.
    """
    nodes = topological_order(root)
    edges = [(child, node) for node in nodes for child in node._prev]
    return nodes, edges


def _describe(node) -> str:
    """A scalar shows its data and gradient; an array shows its shape."""
    if np.ndim(node.data) == 0:
        grad = 0.0 if node.grad is None else float(node.grad)
        return f"data {float(node.data):.4f} | grad {grad:.4f}"
    return f"shape {tuple(np.shape(node.data))}"


def to_mermaid(root, direction: str = "LR") -> str:
    """Mermaid flowchart text of the graph below ``root``: one box per node (its label if it has
    one, then data and grad for a scalar, the shape for an array) and one circle per operation,
    as in the diagrams of the backpropagation chapter.
    """
    if direction not in ("LR", "RL", "TB", "BT"):
        raise ValueError(f"direction must be one of LR, RL, TB, BT, got {direction!r}")
    nodes, edges = trace(root)
    ids = {node: f"v{i}" for i, node in enumerate(nodes)}
    lines = [f"flowchart {direction}"]
    for node in nodes:
        label = getattr(node, "label", "")
        name = f"{label} | ".replace('"', "#quot;") if label else ""
        lines.append(f'    {ids[node]}["{name}{_describe(node)}"]')
        if node.op:
            lines.append(f'    {ids[node]}_op(("{node.op}")) --> {ids[node]}')
    lines.extend(f"    {ids[child]} --> {ids[node]}_op" for child, node in edges)
    return "\n".join(lines)
