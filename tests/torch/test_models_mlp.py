"""The MLP builders: layer order, shapes, parameter counts, and the residual variant."""

import pytest
import torch
from torch import nn

from companion.torch.models.mlp import DeepMLP, count_parameters, mlp


def test_mlp_layers_and_parameter_count():
    model = mlp(64, [32, 16], 10, dropout=0.2, batch_norm=True)
    names = [type(m).__name__ for m in model]
    assert names == ["Linear", "BatchNorm1d", "ReLU", "Dropout",
                     "Linear", "BatchNorm1d", "ReLU", "Dropout", "Linear"]
    assert count_parameters(model) == (64 * 32 + 32) + 2 * 32 + (32 * 16 + 16) + 2 * 16 + 16 * 10 + 10
    assert model(torch.randn(5, 64)).shape == (5, 10)


def test_mlp_without_hidden_layers_is_linear_and_flatten_takes_images():
    model = mlp(64, [], 10, flatten=True)
    assert [type(m).__name__ for m in model] == ["Flatten", "Linear"]
    assert model(torch.randn(3, 1, 8, 8)).shape == (3, 10)


def test_mlp_rejects_bad_arguments():
    with pytest.raises(ValueError, match="dropout"):
        mlp(4, [3], 2, dropout=1.0)
    with pytest.raises(ValueError, match="hidden width"):
        mlp(4, [0], 2)


def test_deep_mlp_variants_share_parameters_and_compute_what_they_say():
    torch.manual_seed(0)
    plain = DeepMLP(6, 5, 3, 2, residual=False).double()
    skip = DeepMLP(6, 5, 3, 2, residual=True).double()
    skip.load_state_dict(plain.state_dict())
    assert count_parameters(plain) == 6 * 5 + 5 + 3 * (5 * 5 + 5) + 5 * 2 + 2
    x = torch.randn(4, 6, dtype=torch.float64)
    h_plain = h_skip = plain.input_layer(x)
    for layer in plain.hidden:
        h_plain = layer(torch.relu(h_plain))
        h_skip = h_skip + layer(torch.relu(h_skip))
    torch.testing.assert_close(plain(x), plain.output_layer(torch.relu(h_plain)))
    torch.testing.assert_close(skip(x), plain.output_layer(torch.relu(h_skip)))


def test_skips_keep_the_first_layer_gradient_alive_in_a_deep_stack():
    grads = {}
    for residual in (False, True):
        torch.manual_seed(0)
        model = DeepMLP(16, 16, 30, 4, residual=residual)
        x, y = torch.randn(64, 16), torch.randint(0, 4, (64,))
        nn.CrossEntropyLoss()(model(x), y).backward()
        grads[residual] = model.input_layer.weight.grad.norm().item()
    assert grads[True] > 1e4 * grads[False]
