"""Activation layers against torch in float64, plus the erf that GELU uses against math.erf."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from companion.numpy.activations import GELU, LogSoftmax, ReLU, Sigmoid, Softmax, Tanh, erf
from companion.parity import assert_close, check_parity, random_array, to_torch

SHAPES = [(1, 1), (3, 5), (2, 3, 4), (2, 3, 4, 5)]

LAYERS = [
    (torch.nn.ReLU, {}, ReLU),
    (torch.nn.Sigmoid, {}, Sigmoid),
    (torch.nn.Tanh, {}, Tanh),
    (torch.nn.GELU, {}, GELU),
    (torch.nn.GELU, {"approximate": "tanh"}, GELU),
    (torch.nn.Softmax, {"dim": 1}, Softmax),
    (torch.nn.Softmax, {"dim": -1}, Softmax),
    (torch.nn.LogSoftmax, {"dim": 1}, LogSoftmax),
    (torch.nn.LogSoftmax, {"dim": -1}, LogSoftmax),
]


@pytest.mark.parametrize("torch_cls, kwargs, ours_cls", LAYERS)
@pytest.mark.parametrize("shape", SHAPES)
def test_parity_with_torch(torch_cls, kwargs, ours_cls, shape):
    theirs = torch_cls(**kwargs)
    check_parity(ours_cls.from_torch(theirs), theirs, random_array(shape, seed=3, scale=3.0))


@pytest.mark.parametrize("torch_cls, kwargs, ours_cls", LAYERS)
def test_huge_inputs_stay_finite_and_match(torch_cls, kwargs, ours_cls):
    x = np.array([[1e4, -1e4, 0.0, 5.0], [-1e4, -1e4, 1e4, 1e4]])
    theirs = torch_cls(**kwargs)
    ours = ours_cls.from_torch(theirs)
    out = ours.forward(x)
    grad = ours.backward(random_array(out.shape, seed=5))
    assert np.all(np.isfinite(out)) and np.all(np.isfinite(grad))
    check_parity(ours, theirs, x)


def test_relu_gradient_at_zero_is_zero_like_torch():
    x = np.array([-1.0, 0.0, 2.0])
    check_parity(ReLU(), torch.nn.ReLU(), x)
    layer = ReLU()
    layer.forward(x)
    np.testing.assert_array_equal(layer.backward(np.array([4.0, 5.0, 6.0])), [0.0, 0.0, 6.0])


def test_erf_matches_math_erf_to_machine_precision():
    x = np.concatenate([np.linspace(-8, 8, 4001), [0.0, -0.0, 1e-300, 2.9999999, 3.0, 27.0, -40.0]])
    expected = np.array([math.erf(v) for v in x])
    np.testing.assert_allclose(erf(x), expected, rtol=4e-15, atol=1e-300)
    assert erf(np.inf) == 1.0 and erf(-np.inf) == -1.0


def test_erf_matches_torch_on_random_values():
    x = random_array((1000,), seed=2, scale=4.0)
    assert_close(erf(x), torch.erf(to_torch(x)), "erf", rtol=1e-14, atol=1e-16)


@settings(max_examples=15, deadline=None)
@given(shape=st.lists(st.integers(1, 5), min_size=1, max_size=4),
       seed=st.integers(0, 10_000), approximate=st.sampled_from(["none", "tanh"]))
def test_gelu_parity_on_random_shapes(shape, seed, approximate):
    theirs = torch.nn.GELU(approximate=approximate)
    check_parity(GELU.from_torch(theirs), theirs, random_array(shape, seed, scale=4.0),
                 seed=seed + 1)


@settings(max_examples=15, deadline=None)
@given(shape=st.lists(st.integers(1, 5), min_size=1, max_size=4), seed=st.integers(0, 10_000),
       data=st.data())
def test_softmax_rows_sum_to_one_on_any_axis(shape, seed, data):
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    out = Softmax(dim).forward(random_array(shape, seed, scale=10.0))
    np.testing.assert_allclose(out.sum(axis=dim), 1.0, rtol=1e-12)


def test_backward_accepts_only_the_output_shape():
    layer = Tanh()
    layer.forward(np.zeros((2, 3)))
    with pytest.raises(ValueError, match=(r"grad_output must have the shape of Tanh's output \(2, "
                                          r"3\), got \(3, 2\)")):
        layer.backward(np.zeros((3, 2)))


def test_backward_before_forward_is_an_error():
    with pytest.raises(RuntimeError, match="Sigmoid.backward was called before forward"):
        Sigmoid().backward(np.zeros(3))


@pytest.mark.parametrize("layer", [ReLU(), Sigmoid(), Tanh(), GELU(), Softmax(0), LogSoftmax(0)])
def test_non_numeric_input_is_rejected(layer):
    with pytest.raises(TypeError, match="input must be a numeric array, got list with dtype <U1"):
        layer.forward(["a", "b"])


def test_bad_arguments():
    with pytest.raises(ValueError, match="approximate must be 'none' or 'tanh', got 'fast'"):
        GELU(approximate="fast")
    with pytest.raises(TypeError, match="Softmax dim must be an integer, got NoneType None"):
        Softmax()
    with pytest.raises(TypeError, match="LogSoftmax dim must be an integer, got float 1.0"):
        LogSoftmax(1.0)
    with pytest.raises(ValueError, match=r"Softmax dim must lie in \[-2, 1\] .* got 2"):
        Softmax(2).forward(np.zeros((3, 4)))
    with pytest.raises(ValueError, match=r"LogSoftmax dim must lie in \[-1, 0\] .* got 1"):
        LogSoftmax(1).forward(np.float64(1.0))
    assert LogSoftmax(0).forward(np.float64(2.0)) == 0.0  # a 0-d input, as torch
    assert Softmax(-1).forward(np.float64(2.0)) == 1.0
