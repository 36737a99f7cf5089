"""The NumPy training loop: batches cover the data once, one step follows the four stages,
fit lowers the loss, stops on divergence and early, and is torch's fit in signature and History;
gradient checking by finite differences."""

import inspect

import numpy as np
import pytest
import torch

from companion.numpy.activations import ReLU
from companion.numpy.container import Sequential
from companion.numpy.gradcheck import numerical_gradient, relative_error
from companion.numpy.linear import Linear
from companion.numpy.losses import CrossEntropyLoss, MSELoss
from companion.numpy.optim import SGD
from companion.numpy.training import (ArrayLoader, EarlyStopping, History, accuracy, evaluate, fit,
                                      minibatches, train_step)
from companion.torch import training as torch_training


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
        loss, output = train_step(ours, CrossEntropyLoss(), optimizer, x, y)
        assert output.shape == (6, 3)
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
    history = fit(net, ArrayLoader(x, y, batch_size=8, shuffle=True, rng=0), CrossEntropyLoss(),
                  SGD(net.parameters(), lr=0.3), epochs=30, val_loader=ArrayLoader(x, y))
    assert isinstance(history, History) and history.epochs == 30 and history.steps == 30 * 8
    assert history.eval_step == list(range(8, 241, 8))
    assert history.train_loss[-1] < 0.5 * history.train_loss[0]
    assert history.val_metrics["accuracy"][-1] > 0.85 and len(history.val_loss) == 30
    assert len(history.train_metrics["accuracy"]) == 30
    assert history.lr == [0.3] * 240


def test_fit_stops_when_the_loss_diverges():
    x = np.linspace(-1, 1, 20)[:, None]
    net = Sequential(Linear(1, 1, rng=0))
    history = fit(net, ArrayLoader(x, 3 * x), MSELoss(), SGD(net.parameters(), lr=1000.0),
                  epochs=50, metrics={})
    assert len(history.train_loss) < 50 and not np.isfinite(history.train_loss[-1])


def test_accuracy_counts_argmax_hits_and_checks_shapes():
    assert accuracy(np.array([[2.0, 1.0], [0.0, 3.0], [1.0, 0.0]]), np.array([0, 1, 1])) == \
        pytest.approx(2 / 3)
    assert accuracy(np.array([0.3, -2.0]), np.array([1.0, 1.0])) == 0.5  # binary logits
    with pytest.raises(ValueError, match="accuracy needs logits"):
        accuracy(np.zeros((3, 2)), np.zeros(2, dtype=int))


def test_array_loader_draws_a_fresh_order_each_pass():
    x, y = np.arange(10.0)[:, None], np.arange(10)
    loader = ArrayLoader(x, y, batch_size=4, shuffle=True, rng=0)
    first, second = ([b for _, b in loader] for _ in range(2))
    assert [len(b) for b in first] == [4, 4, 2] and len(loader) == 3
    assert not np.array_equal(np.concatenate(first), np.concatenate(second))
    np.testing.assert_array_equal(np.sort(np.concatenate(second)), y)
    assert [len(b) for _, b in ArrayLoader(x, y)] == [10]  # no batch_size: all at once
    with pytest.raises(ValueError, match="same number of examples"):
        ArrayLoader(x, y[:3])


def test_fit_has_torch_fit_signature_and_history():
    ours = list(inspect.signature(fit).parameters)
    theirs = list(inspect.signature(torch_training.fit).parameters)
    assert ours == [name for name in theirs if name != "device"]
    assert History is torch_training.History and EarlyStopping is torch_training.EarlyStopping


def test_fit_records_what_torch_fit_records_for_the_same_run():
    rng = np.random.default_rng(3)
    x, y = rng.standard_normal((20, 3)), rng.integers(0, 2, 20)
    torch_net = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(),
                                    torch.nn.Linear(4, 2)).double()
    net = Sequential.from_torch(torch_net)
    batches = torch.utils.data.TensorDataset(torch.tensor(x), torch.tensor(y))
    theirs = torch_training.fit(
        torch_net, torch.utils.data.DataLoader(batches, batch_size=8),
        torch.nn.CrossEntropyLoss(), torch.optim.SGD(torch_net.parameters(), lr=0.5), epochs=3,
        val_loader=torch.utils.data.DataLoader(batches, batch_size=20), device="cpu")
    ours = fit(net, ArrayLoader(x, y, batch_size=8), CrossEntropyLoss(),
               SGD(net.parameters(), lr=0.5), epochs=3, val_loader=ArrayLoader(x, y))
    assert ours.eval_step == theirs.eval_step == [3, 6, 9] and ours.best_epoch == theirs.best_epoch
    for key in ("step_loss", "lr", "train_loss", "val_loss"):
        np.testing.assert_allclose(getattr(ours, key), getattr(theirs, key), rtol=1e-12,
                                   err_msg=key)
    for key in ("train_metrics", "val_metrics"):
        assert getattr(ours, key) == getattr(theirs, key), key


def test_fit_stops_early_and_restores_the_best_weights():
    rng = np.random.default_rng(4)
    x, y = rng.standard_normal((40, 5)), rng.integers(0, 3, 40)     # noise: it will overfit
    x_val, y_val = rng.standard_normal((40, 5)), rng.integers(0, 3, 40)
    net = Sequential(Linear(5, 64, rng=0), ReLU(), Linear(64, 3, rng=1))
    snapshots = []                                  # the weights after each epoch's one step

    def snapshot(output, target):
        if net.training:
            snapshots.append({k: v.copy() for k, v in net.state_dict().items()})
        return 0.0
    history = fit(net, ArrayLoader(x, y, batch_size=40), CrossEntropyLoss(),
                  SGD(net.parameters(), lr=0.5), epochs=200, val_loader=ArrayLoader(x_val, y_val),
                  early_stopping=EarlyStopping(patience=3), metrics={"snapshot": snapshot})
    assert history.stopped_early and history.epochs == history.best_epoch + 4 < 200
    best = snapshots[history.best_epoch]
    for name, value in net.state_dict().items():
        np.testing.assert_array_equal(value, best[name])
    assert evaluate(net, ArrayLoader(x_val, y_val), CrossEntropyLoss())["loss"] == \
        pytest.approx(min(history.val_loss), rel=1e-12)
    with pytest.raises(ValueError, match="val_loader"):
        fit(net, ArrayLoader(x, y), CrossEntropyLoss(), SGD(net.parameters(), lr=0.1), 1,
            early_stopping=2)


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
