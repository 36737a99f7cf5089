"""The NumPy training loop: batches cover the data once, one step follows the four stages,
fit lowers the loss and stops on divergence; gradient checking by finite differences."""

import numpy as np
import pytest
import torch

from companion.numpy.activations import ReLU
from companion.numpy.container import Sequential
from companion.numpy.gradcheck import numerical_gradient, relative_error
from companion.numpy.linear import Linear
from companion.numpy.losses import CrossEntropyLoss, MSELoss
from companion.numpy.optim import SGD
from companion.numpy.training import accuracy, fit, minibatches, train_step


def test_minibatches_cover_every_index_once():
    batches = list(minibatches(10, 3, rng=0))
    assert [len(b) for b in batches] == [3, 3, 3, 1]
    np.testing.assert_array_equal(np.sort(np.concatenate(batches)), np.arange(10))
    assert not np.array_equal(np.concatenate(batches), np.arange(10))  # shuffled
    np.testing.assert_array_equal(np.concatenate(list(minibatches(5, 2, shuffle=False))),
                                  np.arange(5))


def test_minibatches_reject_bad_sizes():
    with pytest.raises(ValueError, match="batch_size"):
        list(minibatches(5, 0))


def test_train_step_matches_torch_sgd_step():
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((6, 4)), rng.integers(0, 3, 6)
    torch_net = torch.nn.Sequential(torch.nn.Linear(4, 5), torch.nn.ReLU(),
                                    torch.nn.Linear(5, 3)).double()
    ours = Sequential.from_torch(torch_net)
    optimizer = SGD(ours.parameters(), lr=0.1)
    torch_opt = torch.optim.SGD(torch_net.parameters(), lr=0.1)
    for _ in range(3):  # several steps: zero_grad must reset the accumulated gradients
        loss = train_step(ours, CrossEntropyLoss(), optimizer, x, y)
        torch_opt.zero_grad()
        torch_loss = torch.nn.functional.cross_entropy(torch_net(torch.tensor(x)),
                                                       torch.tensor(y))
        torch_loss.backward()
        torch_opt.step()
        assert loss == pytest.approx(torch_loss.item(), rel=1e-12)
    for name, value in torch_net.state_dict().items():
        np.testing.assert_allclose(ours.params[name], value.numpy(), rtol=1e-10)


def test_fit_lowers_the_loss_and_records_history():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((64, 2))
    y = (x[:, 0] * x[:, 1] > 0).astype(np.int64)
    net = Sequential(Linear(2, 16, rng=0), ReLU(), Linear(16, 2, rng=1))
    history = fit(net, CrossEntropyLoss(), SGD(net.parameters(), lr=0.3), x, y, epochs=30,
                  batch_size=8, rng=0, validation=(x, y))
    assert len(history.train_loss) == 30 and len(history.step_loss) == 30 * 8
    assert history.train_loss[-1] < 0.5 * history.train_loss[0]
    assert history.val_accuracy[-1] > 0.85
    assert history.lr == [0.3] * 30


def test_fit_stops_when_the_loss_diverges():
    x = np.linspace(-1, 1, 20)[:, None]
    net = Sequential(Linear(1, 1, rng=0))
    history = fit(net, MSELoss(), SGD(net.parameters(), lr=1000.0), x, 3 * x, epochs=50,
                  batch_size=20)
    assert len(history.train_loss) < 50 and not np.isfinite(history.train_loss[-1])


def test_accuracy_counts_argmax_hits_and_checks_shapes():
    assert accuracy(np.array([[2.0, 1.0], [0.0, 3.0], [1.0, 0.0]]), np.array([0, 1, 1])) == \
        pytest.approx(2 / 3)
    with pytest.raises(ValueError, match="y must have shape"):
        accuracy(np.zeros((3, 2)), np.zeros(2, dtype=int))


def test_numerical_gradient_matches_linear_backward_and_restores_param():
    rng = np.random.default_rng(2)
    layer, x = Linear(3, 2, rng=0), rng.standard_normal((4, 3))
    upstream = rng.standard_normal((4, 2))  # a random projection, not a plain sum
    layer.zero_grad()
    layer(x)
    layer.backward(upstream)
    weight = layer.params["weight"]
    before = weight.copy()
    numeric = numerical_gradient(lambda: np.sum(layer(x) * upstream), weight)
    np.testing.assert_array_equal(weight, before)
    assert relative_error(layer.grads["weight"], numeric) < 1e-8
    assert relative_error(layer.grads["weight"], -numeric) > 0.5  # a wrong sign is caught


def test_gradcheck_rejects_non_float64():
    with pytest.raises(TypeError, match="float64"):
        numerical_gradient(lambda: 0.0, np.zeros(3, dtype=np.float32))
    with pytest.raises(ValueError, match="one shape"):
        relative_error(np.zeros(2), np.zeros(3))
