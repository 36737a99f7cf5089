"""The parity harness itself: silent for equal twins, loud for every kind of wrong layer."""

import numpy as np
import pytest
import torch
from torch import nn

import companion.numpy as cn
import companion.torch as ct
from companion.numpy.attention import (scaled_dot_product_attention,
                                       scaled_dot_product_attention_backward)
from companion.parity import (Function, Scratch, check_parity, check_rejects, copy_weights,
                              random_array, twins)


class WrongForward(cn.Linear):
    """Adds 1e-6 to one output: forward wrong, backward right."""

    def forward(self, x):
        out = super().forward(x)
        out.flat[0] += 1e-6
        return out


class WrongInputGradient(cn.Linear):
    """Right forward and parameter gradients, input gradient off by 1e-6 in one entry."""

    def backward(self, grad_output):
        grad = super().backward(grad_output)
        grad.flat[-1] += 1e-6
        return grad


class WrongBiasGradient(cn.Linear):
    """Right forward and input gradient; the bias gradient misses its last batch row."""

    def backward(self, grad_output):
        grad = super().backward(grad_output)
        self._grads["bias"] -= grad_output[-1]
        return grad


class ZeroGradientSoftmax(cn.Softmax):
    """Claims the input gradient is zero: true for an upstream gradient of ones, false otherwise."""

    def backward(self, grad_output):
        return np.zeros_like(grad_output)


class LaxLinear(cn.Linear):
    """Accepts any number of input features, truncating or zero-padding them."""

    def forward(self, x):
        size = self.params["weight"].shape[1]
        x = np.pad(x, [(0, 0), (0, max(0, size - x.shape[-1]))])[..., :size]
        return super().forward(x)


def linear_pair(cls=cn.Linear):
    return twins(cls, nn.Linear, 4, 3)


def test_equal_twins_pass_and_every_quantity_is_reported():
    ours, theirs = linear_pair()
    report = check_parity(ours, theirs, random_array((5, 4)))
    assert list(report.diffs) == ["output", "grad input", "grad weight", "grad bias"]
    assert report.worst < 1e-14 and report.failed == []
    text = repr(report)
    assert all(name in text for name in report.diffs) and "FAILS" not in text


@pytest.mark.parametrize("cls, quantity", [(WrongForward, "output"),
                                           (WrongInputGradient, "grad input"),
                                           (WrongBiasGradient, "grad bias")])
def test_a_wrong_layer_is_caught_and_the_quantity_named(cls, quantity):
    ours, theirs = linear_pair(cls)
    with pytest.raises(AssertionError, match=f"differ in {quantity}:") as error:
        check_parity(ours, theirs, random_array((5, 4)))
    assert "FAILS" in str(error.value)


def test_the_upstream_gradient_is_random_not_ones():
    theirs = nn.Softmax(dim=-1)
    with pytest.raises(AssertionError, match="differ in grad input:"):
        check_parity(ZeroGradientSoftmax(-1), theirs, random_array((3, 4)))


def test_forward_and_gradient_tolerances_are_separate():
    ours, theirs = linear_pair(WrongInputGradient)
    x = random_array((5, 4))
    report = check_parity(ours, theirs, x, grad_atol=1e-5)
    assert 5e-7 < report["grad input"] < 2e-6
    with pytest.raises(AssertionError, match="differ in grad input:"):
        check_parity(ours, theirs, x, atol=1e-5)          # loosening the forward one is not enough
    ours, theirs = linear_pair(WrongForward)
    check_parity(ours, theirs, x, atol=1e-5)
    with pytest.raises(AssertionError, match="differ in output:"):
        check_parity(ours, theirs, x, grad_atol=1e-5)


def test_repeated_checks_do_not_accumulate_gradients():
    ours, theirs = twins(cn.Conv2d, nn.Conv2d, 2, 3, 3)
    x = random_array((2, 2, 5, 5), seed=1)
    reports = [check_parity(ours, theirs, x) for _ in range(3)]
    assert reports[0].diffs == reports[2].diffs


def test_companion_torch_twin_integer_inputs_and_recurrent_outputs():
    ours, theirs = twins(ct.Embedding, nn.Embedding, 6, 3)
    report = check_parity(ours, theirs, np.array([[0, 5, 5], [2, 1, 0]]))
    assert list(report.diffs) == ["output", "grad weight"]  # integer indices get no gradient
    ours, theirs = twins(cn.LSTM, nn.LSTM, 3, 4)
    states = (random_array((1, 2, 4), 1), random_array((1, 2, 4), 2))
    report = check_parity(ours, theirs, random_array((5, 2, 3)), states)
    assert {"output 0", "output 1", "output 2", "grad input 2", "grad bias_hh_l0"} <= set(
        report.diffs)


def test_parameter_names_and_gradient_counts_must_match():
    ours, theirs = linear_pair()
    with pytest.raises(AssertionError, match="parameter names differ"):
        check_parity(ours, nn.Sequential(theirs), random_array((2, 4)))
    with pytest.raises(AssertionError, match="ours returned 0 input gradients, torch 1"):
        check_parity(Scratch(ours, backward=lambda m, g: None), theirs, random_array((2, 4)))
    with pytest.raises(ValueError, match="missing keys"):
        copy_weights(nn.Linear(4, 3, bias=False), cn.Linear(4, 3))


def torch_attention(q, k, v):
    weights = torch.softmax(q @ k.transpose(-1, -2) / q.shape[-1] ** 0.5, dim=-1)
    return weights @ v, weights


def attention_grad(upstream, inputs, output):
    return scaled_dot_product_attention_backward(upstream[0], *inputs, output[1])


def test_functions_and_their_gradients():
    q, k, v = random_array((2, 3, 4), 1), random_array((2, 5, 4), 2), random_array((2, 5, 2), 3)
    ours = Function(scaled_dot_product_attention, attention_grad)
    report = check_parity(ours, torch_attention, q, k, v, grad_outputs=1)
    assert list(report.diffs) == ["output 0", "output 1", "grad input 0", "grad input 1",
                                  "grad input 2"]
    check_parity(Function(scaled_dot_product_attention), torch_attention, q, k, v,
                 backward=False)
    wrong = Function(scaled_dot_product_attention,
                     lambda *args: [g * 1.001 for g in attention_grad(*args)])
    with pytest.raises(AssertionError, match="differ in grad input 0, grad input 1, grad input 2"):
        check_parity(wrong, torch_attention, q, k, v, grad_outputs=1)


def test_both_sides_must_reject_the_same_bad_input():
    ours, theirs = linear_pair()
    mine, torch_error = check_rejects(ours, theirs, np.zeros((2, 5)))
    assert isinstance(mine, ValueError) and "in_features" in str(mine)
    assert isinstance(torch_error, RuntimeError)
    lax, theirs = linear_pair(LaxLinear)
    with pytest.raises(AssertionError, match="ours accepted"):
        check_rejects(lax, theirs, np.zeros((2, 5)))
    with pytest.raises(AssertionError, match="torch accepted"):
        check_rejects(ours, lambda x: x, np.zeros((2, 5)))


def test_ours_must_refuse_with_a_value_or_type_error():
    def fragile(x):
        raise RuntimeError("index out of range")

    with pytest.raises(AssertionError, match="ours raised RuntimeError"):
        check_rejects(Function(fragile), nn.Linear(4, 3), np.zeros((2, 5)))
