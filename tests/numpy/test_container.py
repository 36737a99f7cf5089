"""Sequential: chaining, torch's parameter names and conversion of a torch nn.Sequential."""

import numpy as np
import pytest
import torch

from companion.numpy.activations import ReLU, Tanh
from companion.numpy.container import TORCH_TWINS, Sequential
from companion.numpy.conv import Conv2d
from companion.numpy.linear import Linear
from companion.parity import check_parity, random_array


def test_parity_with_a_torch_mlp():
    torch.manual_seed(0)
    theirs = torch.nn.Sequential(torch.nn.Linear(5, 8), torch.nn.ReLU(), torch.nn.Linear(8, 8),
                                 torch.nn.GELU(), torch.nn.Linear(8, 3), torch.nn.LogSoftmax(1))
    ours = Sequential.from_torch(theirs)
    assert list(ours.params) == [name for name, _ in theirs.named_parameters()]
    check_parity(ours, theirs, random_array((4, 5), seed=1))


def test_parity_with_normalisation_dropout_and_nesting():
    torch.manual_seed(1)
    theirs = torch.nn.Sequential(
        torch.nn.Flatten(), torch.nn.Linear(12, 6), torch.nn.BatchNorm1d(6),
        torch.nn.Sequential(torch.nn.Tanh(), torch.nn.Dropout(0.3)), torch.nn.LayerNorm(6),
        torch.nn.Linear(6, 2))
    theirs.eval()  # dropout is the identity, batch norm uses its running statistics
    ours = Sequential.from_torch(theirs)
    assert not ours.training and not ours[3][1].training
    assert set(ours.state_dict()) == set(theirs.state_dict())
    check_parity(ours, theirs, random_array((3, 3, 4), seed=2))


def test_names_forward_and_backward_order():
    model = Sequential(Linear(3, 4, rng=0), Tanh(), Linear(4, 2, rng=1))
    assert list(model.params) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    assert len(model) == 3 and isinstance(model[1], Tanh) and list(model)[2] is model[2]
    x = random_array((5, 3), seed=3)
    expected = model[2].forward(model[1].forward(model[0].forward(x)))
    np.testing.assert_allclose(model.forward(x), expected)
    upstream = random_array((5, 2), seed=4)
    grad = model.backward(upstream)
    manual = model[0].backward(model[1].backward(model[2].backward(upstream)))
    np.testing.assert_allclose(grad, manual)


def test_train_and_eval_reach_every_child():
    model = Sequential(Linear(2, 2), Sequential(ReLU()))
    model.eval()
    assert not model[0].training and not model[1][0].training


def test_unsupported_child_is_a_clear_error():
    theirs = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Hardswish())
    with pytest.raises(TypeError, match=("child '1' is a torch Hardswish, which has no scratch "
                                         "layer")):
        Sequential.from_torch(theirs)


def test_from_torch_uses_its_registry_not_the_package_namespace():
    # LSTM is a companion.numpy layer, but it returns a tuple, so it is no Sequential child
    assert "LSTM" not in TORCH_TWINS and TORCH_TWINS["Conv2d"] is Conv2d
    with pytest.raises(TypeError, match="torch LSTM, which has no scratch layer .* TORCH_TWINS"):
        Sequential.from_torch(torch.nn.Sequential(torch.nn.LSTM(2, 2)))


def test_non_module_child_is_rejected():
    with pytest.raises(TypeError, match="module '1' must be a companion.numpy Module, got ufunc"):
        Sequential(ReLU(), np.tanh)
