"""Property-based checks of the Tensor engine's elementwise and reduction ops against torch.

Hypothesis draws shapes (0-d to 3-d, empty axes included) and values (ordinary, tiny, huge, and
NaN/+-inf where the op is defined for them); every op must give torch's float64 values and, under
a random upstream gradient, torch's gradients, NaN for NaN and inf for inf.
"""

import numpy as np
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes, arrays

from companion.numpy.autograd import Tensor
from companion.parity import Report

FINITE = st.floats(-1e4, 1e4, allow_nan=False, allow_infinity=False, width=64)
ANY = st.one_of(FINITE, st.sampled_from([np.nan, np.inf, -np.inf, 0.0, -0.0, 1e-300]))
POSITIVE = st.floats(1e-6, 1e4, width=64)


def values(elements, min_dims=0, min_side=0):
    return arrays(np.float64, array_shapes(min_dims=min_dims, max_dims=3, min_side=min_side,
                                           max_side=4), elements=elements)


def compare(ours_fn, torch_fn, *arrays_in, seed=0):
    """ours_fn on Tensors and torch_fn on tensors agree, forward and backward, NaN for NaN."""
    ours = [Tensor(a, requires_grad=True) for a in arrays_in]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays_in]
    out, out_t = ours_fn(*ours), torch_fn(*theirs)
    report = Report()
    report.add("output", out.data, out_t, 1e-9, 1e-12)
    upstream = np.random.default_rng(seed).standard_normal(out.shape)
    out.backward(upstream)
    out_t.backward(torch.tensor(upstream))
    for k, (a, b) in enumerate(zip(ours, theirs)):
        report.add(f"grad {k}", a.grad, b.grad, 1e-9, 1e-12)
    report.check()


UNARY = {
    "neg": (lambda x: -x, lambda x: -x, ANY),
    "exp": (Tensor.exp, torch.exp, st.floats(-700, 700, width=64)),
    "log": (Tensor.log, torch.log, POSITIVE),
    "sqrt": (Tensor.sqrt, torch.sqrt, POSITIVE),
    "tanh": (Tensor.tanh, torch.tanh, ANY),
    "relu": (Tensor.relu, torch.relu, ANY),
    "sigmoid": (Tensor.sigmoid, torch.sigmoid, ANY),
    "square": (lambda x: x ** 2, lambda x: x ** 2, ANY),
}


@settings(max_examples=40, deadline=None)
@given(name=st.sampled_from(sorted(UNARY)), data=st.data())
def test_elementwise_unary_ops(name, data):
    ours_fn, torch_fn, elements = UNARY[name]
    compare(ours_fn, torch_fn, data.draw(values(elements)))


BINARY = {
    "add": (lambda a, b: a + b, ANY, ANY),
    "sub": (lambda a, b: a - b, ANY, ANY),
    "mul": (lambda a, b: a * b, ANY, ANY),
    "div": (lambda a, b: a / b, ANY, st.one_of(POSITIVE, st.floats(-1e4, -1e-6))),
    "pow": (lambda a, b: a ** b, POSITIVE, st.floats(-3, 3, width=64)),
}


@settings(max_examples=40, deadline=None)
@given(name=st.sampled_from(sorted(BINARY)), data=st.data(), broadcast=st.booleans())
def test_elementwise_binary_ops_with_broadcasting(name, data, broadcast):
    fn, left, right = BINARY[name]
    a = data.draw(values(left))
    shape = a.shape[-1:] if broadcast and a.ndim else a.shape  # b broadcasts along leading axes
    b = data.draw(arrays(np.float64, shape, elements=right))
    compare(fn, fn, a, b)


@settings(max_examples=40, deadline=None)
@given(data=st.data(), op=st.sampled_from(["sum", "mean", "var", "max", "softmax",
                                           "log_softmax"]),
       keepdims=st.booleans())
def test_reductions_over_an_axis(data, op, keepdims):
    x = data.draw(values(ANY, min_dims=1, min_side=1 if op in ("max", "var") else 0))
    axis = data.draw(st.integers(-x.ndim, x.ndim - 1))
    if op == "var" and x.shape[axis] < 2:
        return  # an unbiased variance needs two values (torch gives nan with a warning)
    ours = {"sum": lambda t: t.sum(axis, keepdims), "mean": lambda t: t.mean(axis, keepdims),
            "var": lambda t: t.var(axis, keepdims), "max": lambda t: t.max(axis, keepdims),
            "softmax": lambda t: t.softmax(axis), "log_softmax": lambda t: t.log_softmax(axis)}
    theirs = {"sum": lambda t: t.sum(axis, keepdims), "mean": lambda t: t.mean(axis, keepdims),
              "var": lambda t: t.var(axis, keepdim=keepdims),
              "max": lambda t: t.amax(axis, keepdims),
              "softmax": lambda t: torch.softmax(t, axis),
              "log_softmax": lambda t: torch.log_softmax(t, axis)}
    compare(ours[op], theirs[op], x)


@settings(max_examples=30, deadline=None)
@given(data=st.data())
def test_reductions_over_everything(data):
    x = data.draw(values(ANY))
    for ours, theirs in ((lambda t: t.sum(), lambda t: t.sum()),
                         (lambda t: t.mean(), lambda t: t.mean())):
        compare(ours, theirs, x)
