"""companion.torch.parity.layer_parity: zero for equal layers, large for different ones."""

import numpy as np
import pytest
import torch
from torch import nn

import companion.numpy as cn
import companion.torch as ct
from companion.torch.parity import layer_parity


def test_scratch_linear_matches_and_reports_every_gradient():
    torch.manual_seed(0)
    reference = nn.Linear(4, 3)
    x = np.random.default_rng(0).standard_normal((5, 4))
    diffs = layer_parity(cn.Linear.from_torch(reference), reference, x)
    assert set(diffs) == {"output", "grad input", "grad weight", "grad bias"}
    assert max(diffs.values()) < 1e-12


def test_repeated_calls_do_not_accumulate_the_reference_gradient():
    torch.manual_seed(0)
    reference = nn.Conv2d(2, 3, 3)
    x = np.random.default_rng(1).standard_normal((2, 2, 5, 5))
    for _ in range(3):
        assert max(layer_parity(cn.Conv2d.from_torch(reference), reference, x).values()) < 1e-12


def test_torch_twin_and_integer_inputs():
    torch.manual_seed(0)
    reference = nn.Embedding(6, 3)
    twin = ct.Embedding(6, 3)
    twin.load_state_dict(reference.state_dict())
    idx = np.array([[0, 5, 5], [2, 1, 0]])
    diffs = layer_parity(twin, reference, idx)
    assert "grad input" not in diffs and max(diffs.values()) < 1e-12


def test_recurrent_layers_compare_their_main_output():
    torch.manual_seed(0)
    reference = nn.GRU(3, 4, batch_first=True)
    x = np.random.default_rng(2).standard_normal((2, 5, 3))
    assert max(layer_parity(cn.GRU.from_torch(reference), reference, x).values()) < 1e-12


def test_a_different_weight_is_detected():
    torch.manual_seed(0)
    reference = nn.Linear(4, 3)
    scratch = cn.Linear.from_torch(reference)
    scratch.params["weight"][0, 0] += 0.5
    diffs = layer_parity(scratch, reference, np.ones((2, 4)))
    assert diffs["output"] == pytest.approx(0.5)
    assert diffs["grad input"] > 0.01
