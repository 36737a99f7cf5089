"""Linear and Flatten against torch in float64."""

import math

import numpy as np
import pytest
import torch

from companion.numpy.linear import Flatten, Linear
from companion.parity import check_parity, check_rejects, random_array


@pytest.mark.parametrize("in_features, out_features, bias", [(1, 1, True), (5, 3, True),
                                                             (7, 4, False)])
@pytest.mark.parametrize("batch", [(), (1,), (6,), (2, 3)])
def test_parity_with_torch(in_features, out_features, bias, batch):
    torch.manual_seed(0)
    theirs = torch.nn.Linear(in_features, out_features, bias=bias)
    ours = Linear.from_torch(theirs)
    assert set(ours.params) == ({"weight", "bias"} if bias else {"weight"})
    check_parity(ours, theirs, random_array(batch + (in_features,), seed=2))


def test_parameter_gradients_accumulate_until_zero_grad():
    layer = Linear(3, 2, rng=0)
    x, grad = random_array((4, 3), 1), random_array((4, 2), 2)
    layer.forward(x)
    layer.backward(grad)
    once = {name: value.copy() for name, value in layer.grads.items()}
    layer.backward(grad)
    for name, value in layer.grads.items():
        np.testing.assert_allclose(value, 2 * once[name])
    layer.zero_grad()
    assert all(not value.any() for value in layer.grads.values())


def test_init_follows_torch_distribution():
    layer = Linear(400, 300, rng=1)
    bound = 1 / math.sqrt(400)
    weight = layer.params["weight"]
    assert weight.shape == (300, 400) and layer.params["bias"].shape == (300,)
    assert np.abs(weight).max() <= bound and np.abs(layer.params["bias"]).max() <= bound
    np.testing.assert_allclose(weight.std(), bound / math.sqrt(3), rtol=0.01)
    np.testing.assert_array_equal(Linear(4, 2, rng=5).params["weight"],
                                  Linear(4, 2, rng=5).params["weight"])


@pytest.mark.parametrize("shape, start_dim, end_dim", [
    ((2, 3, 4, 5), 1, -1), ((1, 3, 4), 0, -1), ((2, 3, 4, 5), 1, 2), ((2, 3, 4, 5), -2, -1),
    ((3, 1), 1, 1), ((2, 3, 4), 2, 2),
])
def test_flatten_parity_with_torch(shape, start_dim, end_dim):
    theirs = torch.nn.Flatten(start_dim, end_dim)
    ours = Flatten.from_torch(theirs)
    check_parity(ours, theirs, random_array(shape, seed=1))
    assert ours.forward(np.zeros(shape)).shape == theirs(torch.zeros(shape)).shape


def test_bad_input_is_refused_like_torch():
    theirs = torch.nn.Linear(4, 2)
    ours, _ = check_rejects(Linear.from_torch(theirs), theirs, np.zeros((3, 5)))
    assert "in_features = 4" in str(ours)


def test_bad_inputs():
    layer = Linear(4, 2)
    with pytest.raises(ValueError, match=(r"input must have in_features = 4 along axis -1, got shape "
                                          r"\(3, 5\)")):
        layer.forward(np.zeros((3, 5)))
    with pytest.raises(ValueError, match=(r"input must have at least 1 dimension \(\*, 4\), got a "
                                          r"scalar")):
        layer.forward(1.0)
    with pytest.raises(TypeError, match="input must be a numeric array, got str"):
        layer.forward("x")
    with pytest.raises(RuntimeError, match="Linear.backward was called before forward"):
        layer.backward(np.zeros((3, 2)))
    layer.forward(np.zeros((3, 4)))
    with pytest.raises(ValueError, match=(r"grad_output must have the shape of Linear's output "
                                          r"\(3, 2\), got \(3, 4\)")):
        layer.backward(np.zeros((3, 4)))
    with pytest.raises(ValueError, match=(r"Flatten start_dim must lie in \[-1, 0\] for a "
                                          r"1-dimensional input, got 1")):
        Flatten().forward(np.zeros(3))
    with pytest.raises(ValueError, match=(r"Flatten start_dim \(2\) must not come after end_dim "
                                          r"\(1\)")):
        Flatten(2, 1).forward(np.zeros((2, 3, 4)))


def test_bad_arguments():
    with pytest.raises(ValueError, match="in_features must be non-negative, got -3"):
        Linear(-3, 2)
    with pytest.raises(TypeError, match="out_features must be an integer, got float 2.0"):
        Linear(3, 2.0)
    with pytest.raises(TypeError, match=("rng must be None, an int seed or a "
                                         "numpy.random.Generator, got str")):
        Linear(3, 2, rng="seed")
    with pytest.raises(TypeError, match="start_dim must be an integer, got str 'a'"):
        Flatten("a")
