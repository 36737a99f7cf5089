"""An array automatic-differentiation engine: the scalar ``Value`` idea, one NumPy array at a time.

A :class:`Tensor` holds a float64 array. Every operation on tensors that require gradients
returns a new tensor that remembers its operands and a ``backward(grad)`` function: given
d(out)/d(result), it sends d(out)/d(operand) to each operand. Where an operation broadcast an
operand, :func:`~companion.numpy.autograd.broadcasting.unbroadcast` sums the gradient back to
that operand's shape.

Gradients follow the rule of :mod:`companion.numpy.autograd.graph`, as in torch: interior nodes
hold the gradient of the latest backward pass, leaves (such as weights) accumulate, and
:meth:`Tensor.zero_grad` clears one before the next step. ``grad`` is ``None`` until a backward
pass reaches the tensor.
"""

from __future__ import annotations

import numbers

import numpy as np

from companion.core import functional as F
from companion.core.checks import as_float_array, real_number
from companion.numpy.autograd.broadcasting import broadcasts_to, unbroadcast
from companion.numpy.autograd.graph import topological_order


class Tensor:
    """A float64 array that records the operations applied to it, for reverse-mode autodiff.

    Args:
        data: numbers, nested lists or an array of any shape; copied and stored as float64.
        requires_grad: whether backward passes should compute ``grad`` for this tensor.

    Attributes:
        data: the values, a float64 ``np.ndarray``.
        grad: d(out)/d(self) with the shape of ``data``, or ``None`` before any backward pass.
        op: the operation that produced this tensor (empty for a leaf).
    """

    __array_ufunc__ = None      # make `ndarray + Tensor` call Tensor.__radd__, not NumPy

    def __init__(self, data, requires_grad: bool = False):
        if isinstance(data, Tensor):
            raise TypeError("data must be an array or numbers, got a Tensor; "
                            "use tensor.detach() to share its data without the graph")
        if not isinstance(requires_grad, bool):
            raise TypeError(f"requires_grad must be a bool, got {type(requires_grad).__name__}")
        self.data = np.array(as_float_array(data, "data"))
        self.requires_grad = requires_grad
        self.grad = None
        self.op = ""
        self._prev = ()
        self._backward = None

    # -- views of the data --------------------------------------------------------------------
    shape = property(lambda self: self.data.shape, doc="The shape of ``data``.")
    ndim = property(lambda self: self.data.ndim, doc="The number of dimensions of ``data``.")
    size = property(lambda self: self.data.size, doc="The number of elements of ``data``.")
    is_leaf = property(lambda self: not self._prev, doc="True unless an operation made it.")

    def __len__(self) -> int:
        return len(self.data)

    def __repr__(self) -> str:
        grad = ", requires_grad=True" if self.requires_grad else ""
        return f"Tensor({np.array2string(self.data, precision=4)}{grad})"

    def item(self) -> float:
        """The value of a one-element tensor as a Python float."""
        if self.data.size != 1:
            raise ValueError(f"item() needs a tensor with one element, got shape {self.shape}")
        return float(self.data.reshape(()))

    def numpy(self) -> np.ndarray:
        """The data array itself (not a copy)."""
        return self.data

    def detach(self) -> Tensor:
        """A tensor sharing this one's data, cut from the graph (no gradient flows through)."""
        return _result(self.data, (), "", None)

    def zero_grad(self) -> None:
        """Forget the accumulated gradient (``grad`` becomes ``None``)."""
        self.grad = None

    # -- elementwise arithmetic: the forward value, then the local chain rule -----------------
    def __add__(self, other):
        other = _lift(other)

        def backward(grad):                         # d(a + b) = da + db
            self._send(grad)
            other._send(grad)
        return _result(self.data + other.data, (self, other), "+", backward)

    def __sub__(self, other):
        other = _lift(other)

        def backward(grad):                         # d(a - b) = da - db
            self._send(grad)
            other._send(-grad)
        return _result(self.data - other.data, (self, other), "-", backward)

    def __mul__(self, other):
        other = _lift(other)

        def backward(grad):                         # d(ab) = b da + a db
            self._send(grad * other.data)
            other._send(grad * self.data)
        return _result(self.data * other.data, (self, other), "*", backward)

    def __truediv__(self, other):
        other = _lift(other)
        data = self.data / other.data

        def backward(grad):                         # d(a/b) = da / b - (a/b) db / b
            self._send(grad / other.data)
            other._send(-grad * data / other.data)
        return _result(data, (self, other), "/", backward)

    def __pow__(self, other):
        other = _lift(other, "exponent")
        data = self.data ** other.data

        def backward(grad):                         # d(a^b) = b a^(b-1) da + a^b log(a) db
            if self.requires_grad:
                self._send(grad * other.data * self.data ** (other.data - 1))
            if other.requires_grad:
                with np.errstate(divide="ignore", invalid="ignore"):
                    log_a = np.log(self.data)
                zero_base = (self.data == 0) & (other.data >= 0)    # a^b log a -> 0, as torch
                other._send(grad * np.where(zero_base, 0.0, data * log_a))
        return _result(data, (self, other), "**", backward)

    def __neg__(self):
        return _result(-self.data, (self,), "neg", lambda grad: self._send(-grad))

    def __radd__(self, other):
        return _lift(other) + self

    def __rsub__(self, other):
        return _lift(other) - self

    def __rmul__(self, other):
        return _lift(other) * self

    def __rtruediv__(self, other):
        return _lift(other) / self

    def __rpow__(self, other):
        return _lift(other, "base") ** self

    # -- matrix product -----------------------------------------------------------------------
    def __matmul__(self, other):
        """Matrix product with NumPy's rules: batch axes broadcast, a 1-D operand is a vector.

        (..., N, K) @ (..., K, M) -> (..., N, M); (K,) @ (..., K, M) -> (..., M);
        (..., N, K) @ (K,) -> (..., N); (K,) @ (K,) -> ().
        """
        other = _lift(other)
        a, b = self.data, other.data
        if a.ndim == 0 or b.ndim == 0:
            raise ValueError(f"matmul needs operands with at least one dimension, "
                             f"got shapes {a.shape} and {b.shape}")
        try:
            data = a @ b
        except ValueError:
            raise ValueError(f"matmul cannot multiply shapes {a.shape} and {b.shape}: the last "
                             f"axis of the first must equal the second-to-last axis of the "
                             f"second (its only axis if 1-D), and batch axes must broadcast"
                             ) from None

        def backward(grad):                         # d(AB) = dA B + A dB
            a2 = a[None, :] if a.ndim == 1 else a  # (..., N, K), a vector as one row
            b2 = b[:, None] if b.ndim == 1 else b  # (..., K, M), a vector as one column
            g2 = grad[..., None] if b.ndim == 1 else grad
            g2 = g2[..., None, :] if a.ndim == 1 else g2     # (..., N, M)
            if self.requires_grad:
                grad_a = g2 @ np.swapaxes(b2, -1, -2)           # (..., N, K)
                self._send(unbroadcast(grad_a, a2.shape).reshape(a.shape))
            if other.requires_grad:
                grad_b = np.swapaxes(a2, -1, -2) @ g2           # (..., K, M)
                other._send(unbroadcast(grad_b, b2.shape).reshape(b.shape))
        return _result(data, (self, other), "@", backward)

    def __rmatmul__(self, other):
        return _lift(other) @ self

    # -- reductions ---------------------------------------------------------------------------
    def sum(self, axis=None, keepdims: bool = False) -> Tensor:
        """Sum over ``axis`` (an int, a tuple of ints, or None for all axes)."""
        def backward(grad):                         # each summed element gets the sum's gradient
            self._send(np.broadcast_to(_restore_axes(grad, axis, keepdims), self.shape))
        return _result(self.data.sum(axis=axis, keepdims=keepdims), (self,), "sum", backward)

    def mean(self, axis=None, keepdims: bool = False) -> Tensor:
        """Mean over ``axis`` (an int, a tuple of ints, or None for all axes)."""
        total = self.sum(axis, keepdims)
        return total / (self.data.size / max(total.data.size, 1))

    def var(self, axis=None, keepdims: bool = False, correction: int = 1) -> Tensor:
        """Variance sum (x - mean)^2 / (n - correction) over ``axis``.

        ``correction=1`` (torch's default) is the unbiased estimate; layer norm uses 0.
        """
        mean = self.data.mean(axis=axis, keepdims=True)
        centred = self.data - mean
        count = self.data.size / max(mean.size, 1)  # values per reduced slice
        data = (centred * centred).sum(axis=axis, keepdims=keepdims) / (count - correction)

        def backward(grad):                         # 2 (x_i - mean) / (n - correction), as torch
            self._send(_restore_axes(grad, axis, keepdims) * 2.0 * centred / (count - correction))
        return _result(data, (self,), "var", backward)

    def max(self, axis=None, keepdims: bool = False) -> Tensor:
        """Maximum over ``axis``. The gradient goes to the maximal element; tied maxima share it
        equally (as ``torch.amax``; ``torch.max(dim)`` picks one of them instead).
        """
        top = self.data.max(axis=axis, keepdims=True)

        def backward(grad):                         # only the winner(s) moved the maximum
            winners = self.data == top
            share = _restore_axes(grad, axis, keepdims) / winners.sum(axis=axis, keepdims=True)
            self._send(winners * share)
        data = top if keepdims else np.squeeze(top, axis=axis)
        return _result(data, (self,), "max", backward)

    # -- elementwise functions ----------------------------------------------------------------
    def exp(self) -> Tensor:
        data = np.exp(self.data)
        return _result(data, (self,), "exp", lambda grad: self._send(grad * data))

    def log(self) -> Tensor:
        return _result(np.log(self.data), (self,), "log",
                       lambda grad: self._send(grad / self.data))

    def sqrt(self) -> Tensor:
        data = np.sqrt(self.data)
        return _result(data, (self,), "sqrt", lambda grad: self._send(grad * 0.5 / data))

    def tanh(self) -> Tensor:
        data = np.tanh(self.data)
        return _result(data, (self,), "tanh", lambda grad: self._send(grad * (1.0 - data ** 2)))

    def relu(self) -> Tensor:
        return _result(np.maximum(self.data, 0.0), (self,), "relu",  # nan passes, as torch
                       lambda grad: self._send(np.where(self.data <= 0, 0.0, grad)))

    def sigmoid(self) -> Tensor:
        data = F.sigmoid(self.data)                 # stable for any sign
        return _result(data, (self,), "sigmoid",
                       lambda grad: self._send(grad * data * (1.0 - data)))

    def softmax(self, axis: int = -1) -> Tensor:
        """e^{x_i} / sum_j e^{x_j} along ``axis``, shifted by the maximum so it never overflows."""
        data = F.softmax(self.data, axis)
        return _result(data, (self,), "softmax",
                       lambda grad: self._send(F.softmax_backward(data, grad, axis)))

    def log_softmax(self, axis: int = -1) -> Tensor:
        """x_i - log sum_j e^{x_j} along ``axis``, computed with log-sum-exp."""
        data = F.log_softmax(self.data, axis)

        def backward(grad):                         # g_i - softmax_i sum_j g_j
            self._send(grad - np.exp(data) * grad.sum(axis=axis, keepdims=True))
        return _result(data, (self,), "log_softmax", backward)

    def masked_fill(self, mask, value: float) -> Tensor:
        """A copy with ``value`` wherever ``mask`` is True (no gradient flows there).

        Args:
            mask: boolean array broadcastable to this tensor's shape, e.g. a causal (T, T) mask.
            value: the fill value, e.g. ``-np.inf`` before a softmax.
        """
        mask = np.asarray(mask.data if isinstance(mask, Tensor) else mask)
        if mask.dtype != np.bool_:
            raise TypeError(f"mask must be a boolean array, got dtype {mask.dtype}")
        if not broadcasts_to(mask.shape, self.shape):
            raise ValueError(f"mask must broadcast to the tensor's shape {self.shape}, "
                             f"got shape {mask.shape}")
        value = real_number(value, "value")
        return _result(np.where(mask, value, self.data), (self,), "masked_fill",
                       lambda grad: self._send(np.where(mask, 0.0, grad)))

    # -- shapes -------------------------------------------------------------------------------
    def reshape(self, *shape) -> Tensor:
        """The same elements in a new shape; accepts ``reshape(2, 3)`` or ``reshape((2, 3))``."""
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        return _result(self.data.reshape(shape), (self,), "reshape",
                       lambda grad: self._send(grad.reshape(self.shape)))

    def transpose(self, *axes) -> Tensor:
        """Permute the axes (reverse them when none are given), as ``np.transpose``."""
        if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
            axes = tuple(axes[0])
        axes = tuple(range(self.ndim))[::-1] if not axes else axes
        data = self.data.transpose(axes)
        inverse = np.argsort([a % max(self.ndim, 1) for a in axes])
        return _result(data, (self,), "transpose",
                       lambda grad: self._send(grad.transpose(inverse)))

    @property
    def T(self) -> Tensor:
        """All axes reversed (the matrix transpose for 2-D)."""
        return self.transpose()

    def swapaxes(self, axis1: int, axis2: int) -> Tensor:
        """Exchange two axes, as ``torch.transpose(x, a, b)``: keys (B, T, D) -> (B, D, T)."""
        axes = list(range(self.ndim))
        axes[axis1], axes[axis2] = axes[axis2], axes[axis1]
        return self.transpose(axes)

    def __getitem__(self, index) -> Tensor:
        """Basic (ints, slices, None, ...) and integer-array indexing, e.g. an embedding lookup
        ``weight[ids]``; a row picked twice receives the sum of both gradients.
        """
        parts = index if isinstance(index, tuple) else (index,)
        if any(isinstance(p, Tensor) for p in parts):
            raise TypeError("index a Tensor with ints, slices or integer NumPy arrays, "
                            "not with a Tensor (its data is float64)")
        basic = all(p is None or p is Ellipsis or isinstance(p, (slice, numbers.Integral))
                    for p in parts)

        def backward(grad):
            full = np.zeros_like(self.data)
            if basic:
                full[index] = grad                  # each element is picked at most once
            else:
                np.add.at(full, index, grad)        # repeated indices add up
            self._send(full)
        return _result(self.data[index], (self,), "index", backward)

    # -- reverse mode -------------------------------------------------------------------------
    def _send(self, grad: np.ndarray) -> None:
        """Add ``grad`` (summed back over broadcast axes) into ``self.grad``.

        A leaf keeps its own writable copy; an interior node may share its consumer's array,
        which is never written in place.
        """
        if not self.requires_grad:
            return
        grad = unbroadcast(np.asarray(grad), self.data.shape)
        if self.grad is None:
            self.grad = np.array(grad, dtype=np.float64) if self.is_leaf else grad
        else:
            self.grad = self.grad + grad

    def backward(self, grad=None) -> None:
        """Fill ``grad`` of every tensor below ``self`` that requires it with d(self)/d(tensor).

        Args:
            grad: d(loss)/d(self), an array of ``self.shape``. Optional only for a one-element
                output, where it defaults to 1 (the output is the loss itself).
        """
        if not self.requires_grad:
            raise ValueError("backward() needs a tensor that requires grad: none of the tensors "
                             "it was computed from has requires_grad=True")
        if grad is None:
            if self.data.size != 1:
                raise ValueError(f"backward() without grad works only for a one-element output; "
                                 f"this one has shape {self.shape}, so pass grad of that shape")
            grad = np.ones_like(self.data)
        else:
            grad = as_float_array(grad, "grad")
            if grad.shape != self.shape:
                raise ValueError(f"grad must have the output's shape {self.shape}, "
                                 f"got {grad.shape}")
        order = topological_order(self)
        for node in order:
            if not node.is_leaf:
                node.grad = None                    # interior gradients: recomputed every pass
        self._send(grad)
        for node in reversed(order):                # every consumer before what it consumed
            if not node.is_leaf:
                node._backward(node.grad)


def _result(data, parents: tuple, op: str, backward) -> Tensor:
    """The tensor an operation returns; it joins the graph only if an operand requires grad."""
    out = Tensor.__new__(Tensor)
    out.data = np.asarray(data)
    out.grad = None
    out.requires_grad = any(p.requires_grad for p in parents)
    out.op = op
    out._prev = parents if out.requires_grad else ()
    out._backward = backward if out.requires_grad else None
    return out


def _lift(x, name: str = "other") -> Tensor:
    """A Tensor as it is; numbers or arrays as a constant Tensor (not copied)."""
    if isinstance(x, Tensor):
        return x
    return _result(as_float_array(x, name), (), "", None)


def _restore_axes(grad: np.ndarray, axis, keepdims: bool) -> np.ndarray:
    """Put back, with length 1, the axes a reduction without ``keepdims`` removed."""
    return grad if keepdims or axis is None else np.expand_dims(grad, axis)
