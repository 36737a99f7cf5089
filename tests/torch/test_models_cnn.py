"""conv_net: layer chain, shapes, parameter count, NumPy twin, training lockstep; layer_outputs."""

import numpy as np
import pytest
import torch
from torch import nn

from companion.numpy.container import Sequential
from companion.numpy.losses import CrossEntropyLoss
from companion.numpy.optim import Adam
from companion.numpy.training import train_step
from companion.torch.models.cnn import conv_net, layer_outputs


def test_conv_net_chain_shapes_and_parameters():
    model = conv_net(channels=(4, 6), num_classes=3)
    names = [type(m).__name__ for m in model]
    assert names == ["Conv2d", "ReLU", "MaxPool2d", "Conv2d", "ReLU", "MaxPool2d",
                     "Flatten", "Linear"]
    assert sum(p.numel() for p in model.parameters()) == \
        (4 * 9 + 4) + (6 * 4 * 9 + 6) + (6 * 2 * 2 * 3 + 3)
    shapes = [tuple(out.shape) for _, out in layer_outputs(model, torch.randn(5, 1, 8, 8))]
    assert shapes == [(5, 4, 8, 8), (5, 4, 8, 8), (5, 4, 4, 4), (5, 6, 4, 4), (5, 6, 4, 4),
                      (5, 6, 2, 2), (5, 24), (5, 3)]


def test_conv_net_other_sizes_and_channels():
    model = conv_net(in_channels=3, image_size=16, channels=(2, 3, 5), kernel_size=5)
    assert model(torch.randn(2, 3, 16, 16)).shape == (2, 10)
    assert model[-1].in_features == 5 * 2 * 2


@pytest.mark.parametrize("kwargs, message", [
    (dict(kernel_size=4), "odd"),
    (dict(channels=()), "at least one"),
    (dict(image_size=6), "divisible"),
    (dict(channels=(3, 0)), "channels"),
])
def test_conv_net_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        conv_net(**kwargs)


def test_layer_outputs_names_and_type_check():
    model = conv_net(channels=(2,))
    names = [name for name, _ in layer_outputs(model, torch.randn(1, 1, 8, 8))]
    assert names == ["0 Conv2d", "1 ReLU", "2 MaxPool2d", "3 Flatten", "4 Linear"]
    with pytest.raises(TypeError, match="nn.Sequential"):
        layer_outputs(nn.Linear(2, 2), torch.randn(1, 2))


def test_numpy_twin_trains_in_lockstep_with_torch():
    torch.manual_seed(0)
    model = conv_net(channels=(3, 4), num_classes=5).double()
    twin = Sequential.from_torch(model)
    rng = np.random.default_rng(0)
    opt, opt_np = torch.optim.Adam(model.parameters(), lr=1e-2), Adam(twin.parameters(), lr=1e-2)
    loss_fn, loss_np = nn.CrossEntropyLoss(), CrossEntropyLoss()
    for _ in range(5):
        x, y = rng.random((6, 1, 8, 8)), rng.integers(0, 5, 6)
        ours, _ = train_step(twin, loss_np, opt_np, x, y)
        opt.zero_grad()
        loss = loss_fn(model(torch.as_tensor(x)), torch.as_tensor(y))
        loss.backward()
        opt.step()
        assert ours == pytest.approx(loss.item(), rel=1e-11)
    for (name, p), q in zip(model.named_parameters(), twin.parameters()):
        np.testing.assert_allclose(q, p.detach().numpy(), rtol=1e-9, atol=1e-12, err_msg=name)
