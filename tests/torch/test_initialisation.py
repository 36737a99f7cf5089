"""Initialisation schemes and per-layer statistics (companion.torch.initialisation)."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from companion.torch.initialisation import (init_std, initialise_, layer_statistics,
                                            linear_layers)
from companion.torch.linear import Linear
from companion.torch.models.mlp import mlp


@pytest.mark.parametrize("scheme, expected", [
    ("default", 1 / math.sqrt(3 * 300)), ("xavier", math.sqrt(2 / 500)),
    ("kaiming", math.sqrt(2 / 300)), (0.05, 0.05)])
def test_init_std_formulas(scheme, expected):
    assert init_std(300, 200, scheme) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("scheme", ["he", 0.0, -1.0, float("nan"), True, None])
def test_bad_scheme_is_refused_by_name(scheme):
    with pytest.raises(ValueError, match="scheme"):
        init_std(3, 3, scheme)
    model = mlp(4, [5], 2)
    before = [p.clone() for p in model.parameters()]
    with pytest.raises(ValueError, match="scheme"):
        initialise_(model, scheme)
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))   # untouched


@pytest.mark.parametrize("scheme", ["xavier", "kaiming", 0.03])
def test_initialise_draws_the_scheme_std_and_zero_biases(scheme):
    torch.manual_seed(0)
    model = nn.Sequential(Linear(400, 300), nn.ReLU(), nn.Linear(300, 200))
    initialise_(model, scheme)
    for layer in linear_layers(model):
        fan_out, fan_in = layer.weight.shape
        std = init_std(fan_in, fan_out, scheme)
        assert layer.weight.std().item() == pytest.approx(std, rel=0.02)
        assert abs(layer.weight.mean().item()) < 0.02 * std
        assert torch.count_nonzero(layer.bias) == 0


def test_default_redraws_torch_uniform():
    torch.manual_seed(0)
    model = mlp(300, [200], 10)
    initialise_(model, 0.5)
    initialise_(model, "default")
    first = linear_layers(model)[0]
    bound = 1 / math.sqrt(300)
    assert first.weight.abs().max().item() <= bound
    assert first.weight.std().item() == pytest.approx(init_std(300, 200, "default"), rel=0.02)
    assert torch.count_nonzero(first.bias) > 0


def _relu_stds(scheme, depth=12, width=256):
    torch.manual_seed(0)
    model = mlp(width, [width] * depth, width)
    initialise_(model, scheme)
    stats = layer_statistics(model, torch.randn(512, width), torch.randint(0, width, (512,)))
    return [s["std"] for s in stats[:-1]], [s["grad_std"] for s in stats[:-1]]


def test_kaiming_keeps_the_variance_through_relu_layers_and_others_do_not():
    forward, backward = _relu_stds("kaiming")
    assert 0.5 < forward[-1] / forward[0] < 2
    assert 0.5 < backward[0] / backward[-1] < 2
    forward, backward = _relu_stds("xavier")            # halves the variance per layer here
    assert forward[-1] / forward[0] == pytest.approx(0.5 ** (11 / 2), rel=0.5)
    forward, _ = _relu_stds("default")                  # a sixth per layer, until biases rule
    assert forward[3] / forward[0] == pytest.approx(6 ** (-3 / 2), rel=0.5)


def test_layer_statistics_match_a_hand_written_pass():
    torch.manual_seed(1)
    model = mlp(6, [5, 4], 3)
    x, y = torch.randn(8, 6), torch.randint(0, 3, (8,))
    stats = layer_statistics(model, x, y)
    first, second, out = linear_layers(model)
    z1 = first(x)
    z2 = second(torch.relu(z1))
    z3 = out(torch.relu(z2))
    grads = torch.autograd.grad(nn.functional.cross_entropy(z3, y), [z1, z2, z3])
    for s, z, g in zip(stats, (z1, z2, z3), grads):
        torch.testing.assert_close(s["output"], z.detach())
        assert s["std"] == pytest.approx(z.std().item(), rel=1e-6)
        assert s["grad_std"] == pytest.approx(g.std().item(), rel=1e-5)
    assert stats[0]["weight_grad_norm"] == pytest.approx(first.weight.grad.norm().item())
    assert isinstance(model(x), torch.Tensor)           # the hooks are gone


def test_dead_fraction_counts_units_never_positive():
    model = mlp(3, [4], 2)
    with torch.no_grad():
        first = linear_layers(model)[0]
        first.bias.copy_(torch.tensor([-100.0, -100.0, -100.0, 100.0]))
    stats = layer_statistics(model, torch.randn(10, 3), torch.randint(0, 2, (10,)))
    assert stats[0]["dead"] == 0.75


def test_bad_inputs_are_named():
    with pytest.raises(ValueError, match="no linear layer"):
        initialise_(nn.Sequential(nn.ReLU()))
    with pytest.raises(TypeError, match="model"):
        linear_layers("mlp")
    with pytest.raises(ValueError, match="x must be"):
        layer_statistics(mlp(3, [4], 2), torch.randn(3), torch.tensor([0]))
