"""A scalar automatic-differentiation engine: every number remembers how it was made.

Each operation builds a new :class:`Value` and attaches a small ``_backward`` closure that knows
the local derivative of that one operation. :meth:`Value.backward` visits the graph in reverse
topological order and applies the chain rule, so ``x.grad`` ends up holding d(out)/d(x).

Gradients follow the rule of :mod:`companion.numpy.autograd.graph`, as in torch: interior nodes
hold the gradient of the latest backward pass, leaves (such as weights) accumulate, and
:meth:`Value.zero_grad` clears one before the next step. A small network built from Values
lives in :mod:`companion.numpy.autograd.nn`.
"""

from __future__ import annotations

import math
import numbers

from companion.numpy.autograd.graph import topological_order


class Value:
    """A scalar that records the operation that produced it, so gradients can flow back.

    Args:
        data: the number (any real number; stored as float).
        children: the values this one was computed from (set by the operations).
        op: the operation that produced it, e.g. ``"*"`` (empty for a leaf).
        label: a name to show in diagrams, e.g. ``"w1"``.

    Attributes:
        grad: d(out)/d(self) for the ``out`` that last called :meth:`backward` (accumulated on
            leaves, see the module docstring).
    """

    def __init__(self, data, children=(), op: str = "", label: str = ""):
        if isinstance(data, bool) or not isinstance(data, numbers.Real):
            raise TypeError(f"data must be a real number, got {type(data).__name__} {data!r}")
        self.data = float(data)
        self.grad = 0.0
        self.op = op
        self.label = label
        self._prev = tuple(children)
        self._backward = lambda: None

    def __repr__(self) -> str:
        name = f"{self.label}=" if self.label else ""
        return f"Value({name}{self.data:.6g}, grad={self.grad:.6g})"

    # -- operations: the forward value, then the local chain rule -------------------------------
    def __add__(self, other):
        other = _lift(other)
        out = Value(self.data + other.data, (self, other), "+")

        def _backward():                    # d(a + b)/da = 1, d(a + b)/db = 1
            self.grad += out.grad
            other.grad += out.grad
        out._backward = _backward
        return out

    def __sub__(self, other):
        other = _lift(other)
        out = Value(self.data - other.data, (self, other), "-")

        def _backward():                    # d(a - b)/da = 1, d(a - b)/db = -1
            self.grad += out.grad
            other.grad -= out.grad
        out._backward = _backward
        return out

    def __mul__(self, other):
        other = _lift(other)
        out = Value(self.data * other.data, (self, other), "*")

        def _backward():                    # d(ab)/da = b, d(ab)/db = a
            self.grad += other.data * out.grad
            other.grad += self.data * out.grad
        out._backward = _backward
        return out

    def __truediv__(self, other):
        other = _lift(other)
        out = Value(self.data / other.data, (self, other), "/")

        def _backward():                    # d(a/b)/da = 1/b, d(a/b)/db = -a/b^2
            self.grad += out.grad / other.data
            other.grad -= out.grad * self.data / other.data ** 2
        out._backward = _backward
        return out

    def __pow__(self, k):
        if isinstance(k, bool) or not isinstance(k, numbers.Real):
            raise TypeError(f"exponent must be a constant real number, got {type(k).__name__}")
        if self.data < 0 and not float(k).is_integer():
            raise ValueError(f"a negative base ({self.data}) needs an integer exponent, got {k}")
        out = Value(self.data ** k, (self,), f"**{k}")

        def _backward():                    # d(a^k)/da = k a^(k-1)
            self.grad += k * self.data ** (k - 1) * out.grad
        out._backward = _backward
        return out

    def __neg__(self):
        out = Value(-self.data, (self,), "neg")

        def _backward():                    # d(-a)/da = -1
            self.grad -= out.grad
        out._backward = _backward
        return out

    def exp(self):
        out = Value(math.exp(self.data), (self,), "exp")

        def _backward():                    # d(e^a)/da = e^a
            self.grad += out.data * out.grad
        out._backward = _backward
        return out

    def log(self):
        if self.data <= 0:
            raise ValueError(f"log needs a positive input, got {self.data}")
        out = Value(math.log(self.data), (self,), "log")

        def _backward():                    # d(log a)/da = 1/a
            self.grad += out.grad / self.data
        out._backward = _backward
        return out

    def tanh(self):
        out = Value(math.tanh(self.data), (self,), "tanh")

        def _backward():                    # d(tanh a)/da = 1 - tanh(a)^2
            self.grad += (1.0 - out.data ** 2) * out.grad
        out._backward = _backward
        return out

    def relu(self):
        out = Value(max(self.data, 0.0), (self,), "relu")

        def _backward():                    # d(relu a)/da = 1 if a > 0 else 0
            self.grad += (self.data > 0) * out.grad
        out._backward = _backward
        return out

    def sigmoid(self):
        e = math.exp(-abs(self.data))       # never overflows: the exponent is <= 0
        out = Value(1 / (1 + e) if self.data >= 0 else e / (1 + e), (self,), "sigmoid")

        def _backward():                    # d(s(a))/da = s(a) (1 - s(a))
            self.grad += out.data * (1.0 - out.data) * out.grad
        out._backward = _backward
        return out

    # -- the other side of a binary operation: 2 + x, 2 - x, 2 * x, 2 / x -----------------------
    def __radd__(self, other):
        return _lift(other) + self

    def __rsub__(self, other):
        return _lift(other) - self

    def __rmul__(self, other):
        return _lift(other) * self

    def __rtruediv__(self, other):
        return _lift(other) / self

    # -- reverse mode ---------------------------------------------------------------------------
    def backward(self) -> None:
        """Fill ``grad`` of every node below ``self`` with d(self)/d(node) by the chain rule.

        Seeds d(self)/d(self) = 1 and calls each node's ``_backward`` after all the nodes that
        use it. Interior nodes are reset first; leaves accumulate (call twice, get twice).
        """
        order = topological_order(self)
        for node in order:
            if node._prev:
                node.grad = 0.0
        self.grad += 1.0
        for node in reversed(order):
            node._backward()

    def zero_grad(self) -> None:
        """Forget the accumulated gradient (``grad`` becomes 0)."""
        self.grad = 0.0


def _lift(x) -> Value:
    """Wrap a plain number as a constant :class:`Value`; leave a Value as it is."""
    return x if isinstance(x, Value) else Value(x)
