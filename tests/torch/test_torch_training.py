"""seed_everything, fit, evaluate, accuracy, the AdamW recipe and the device helpers on tiny
problems."""

import math
import random
from collections import OrderedDict

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from companion.torch.device import default_device, to_device
from companion.torch.training import EarlyStopping, History, accuracy, adamw, evaluate, fit, \
    seed_everything, train_steps, warmup_cosine

CPU = torch.device("cpu")


def blobs(n=128, seed=0):
    """Two well separated Gaussian blobs in 2-D with labels 0 and 1."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(n) % 2
    centres = torch.tensor([[-2.0, -2.0], [2.0, 2.0]])
    return TensorDataset(centres[labels] + torch.randn(n, 2, generator=g) * 0.5, labels)


def loader(dataset, batch_size=16, shuffle=False):
    return DataLoader(dataset, batch_size=batch_size, shuffle=shuffle)


def test_fit_reduces_the_loss_on_separable_data():
    seed_everything(0)
    model = nn.Linear(2, 2)
    history = fit(model, loader(blobs(), shuffle=True), nn.CrossEntropyLoss(),
                  torch.optim.SGD(model.parameters(), lr=0.5), epochs=5,
                  val_loader=loader(blobs(seed=1)), device=CPU)
    assert isinstance(history, History) and history.epochs == 5
    assert history.train_loss[-1] < 0.5 * history.train_loss[0]
    assert history.val_metrics["accuracy"][-1] == 1.0
    assert history.eval_step == [8, 16, 24, 32, 40] and history.lr == [0.5] * 40
    assert history.seconds > 0 and history.steps == len(history.step_loss) == 40
    assert history.best_epoch == int(np.argmin(history.val_loss))


def test_early_stopping_stops_and_restores_the_best_weights():
    """Validation labels are the opposite of the training labels, so validation loss rises."""
    train = blobs()
    flipped = TensorDataset(train.tensors[0], 1 - train.tensors[1])
    seed_everything(1)
    model = nn.Linear(2, 2)
    snapshots = []
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    original_step = optimizer.step

    def step_and_record(*args, **kwargs):
        result = original_step(*args, **kwargs)
        snapshots.append({k: v.clone() for k, v in model.state_dict().items()})
        return result

    optimizer.step = step_and_record
    history = fit(model, loader(train), nn.CrossEntropyLoss(), optimizer, epochs=20,
                  val_loader=loader(flipped), early_stopping=EarlyStopping(patience=2),
                  device=CPU)
    assert history.stopped_early and history.epochs == history.best_epoch + 3 < 20
    steps_per_epoch = len(loader(train))
    best = snapshots[(history.best_epoch + 1) * steps_per_epoch - 1]
    for name, value in model.state_dict().items():
        assert torch.equal(value, best[name]), name
    assert not torch.equal(model.weight, snapshots[-1]["weight"])
    recomputed = evaluate(model, loader(flipped), nn.CrossEntropyLoss(), {}, CPU)["loss"]
    assert recomputed == pytest.approx(min(history.val_loss), rel=1e-12)


def test_seeding_makes_two_runs_identical():
    def run():
        seed_everything(7)
        model = nn.Sequential(nn.Linear(2, 8), nn.Dropout(0.3), nn.ReLU(), nn.Linear(8, 2))
        extra = (random.random(), np.random.rand())
        history = fit(model, loader(blobs(), shuffle=True), nn.CrossEntropyLoss(),
                      torch.optim.Adam(model.parameters(), lr=1e-2), epochs=2, device=CPU)
        return history.train_loss, extra, model.state_dict()

    (loss_a, extra_a, state_a), (loss_b, extra_b, state_b) = run(), run()
    assert loss_a == loss_b and extra_a == extra_b
    assert all(torch.equal(state_a[k], state_b[k]) for k in state_a)


def test_evaluate_matches_a_manual_computation():
    data = blobs(50, seed=3)
    torch.manual_seed(0)
    model = nn.Linear(2, 2)
    model.train()
    result = evaluate(model, loader(data, batch_size=7), nn.CrossEntropyLoss(), device=CPU)
    x, y = data.tensors
    with torch.no_grad():
        logits = model(x)
    assert result["loss"] == pytest.approx(nn.functional.cross_entropy(logits, y).item(), rel=1e-6)
    assert result["accuracy"] == pytest.approx((logits.argmax(1) == y).double().mean().item())
    assert model.training, "evaluate restores the training mode"


def test_max_steps_scheduler_and_progress_bar_off():
    model = nn.Linear(2, 2)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5)
    history = fit(model, loader(blobs()), nn.CrossEntropyLoss(), optimizer, epochs=10,
                  scheduler=scheduler, max_steps=11, device=CPU, metrics={})
    assert history.steps == 11 and history.epochs == 2 and history.train_metrics == {}
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.025)


def test_train_steps_is_the_hand_written_loop_with_periods():
    """Clipping, a schedule, metrics from the loss function and an evaluation every 4 steps."""
    x, y = torch.randn(10, 6, 3, generator=torch.Generator().manual_seed(0)), torch.randn(10, 6)

    def compute_loss(model, batch):
        error = model(batch[0]).squeeze(-1) - batch[1]
        return (error ** 2).mean(), {"mae": error.abs().mean().item()}

    def run(by_hand: bool):
        torch.manual_seed(0)
        model = nn.Linear(3, 1)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.3)
        scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=3, gamma=0.5)
        if not by_hand:
            history = train_steps(model, zip(x, y), compute_loss, optimizer, 10, scheduler,
                                  clip_norm=0.5, eval_every=4,
                                  evaluate=lambda m: {"loss": 1.0, "seen": float(m.training)})
            return model, history
        losses = []
        for batch in zip(x, y):
            loss, _ = compute_loss(model, batch)
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 0.5)
            optimizer.step()
            scheduler.step()
            losses.append(loss.item())
        return model, losses

    (model, history), (twin, losses) = run(False), run(True)
    assert history.step_loss == losses and torch.equal(model.weight, twin.weight)
    assert history.eval_step == [4, 8, 10] and history.val_loss == [1.0] * 3
    assert history.lr == pytest.approx([0.3] * 3 + [0.15] * 3 + [0.075] * 3 + [0.0375])
    assert history.train_loss[2] == pytest.approx(np.mean(losses[8:]), rel=1e-12)
    assert len(history.train_metrics["mae"]) == 3 and history.val_metrics == {"seen": [1.0] * 3}
    assert history.best_epoch == 0 and model.training


def test_train_steps_clips_and_stops_on_time():
    model = nn.Linear(2, 1)
    before = model.weight.detach().clone()
    batches = iter(lambda: (torch.full((4, 2), 100.0), torch.zeros(4)), None)
    history = train_steps(model, batches, lambda m, b: ((m(b[0]).squeeze(-1) - b[1]) ** 2).mean(),
                          torch.optim.SGD(model.parameters(), lr=1.0), steps=1, clip_norm=1e-3)
    assert (model.weight - before).norm() <= 1e-3 + 1e-9
    assert history.eval_step == [1] and history.val_loss == [] and history.val_metrics == {}
    slow = train_steps(model, batches, lambda m, b: m(b[0]).sum() * 0.0,
                       torch.optim.SGD(model.parameters(), lr=1.0), steps=10 ** 6,
                       max_seconds=0.0)
    assert slow.steps == 1 and slow.eval_step == [1]
    with pytest.raises(ValueError, match="eval_every"):
        train_steps(model, batches, lambda m, b: m(b[0]).sum(),
                    torch.optim.SGD(model.parameters(), lr=1.0), steps=2, eval_every=0)


def test_fit_rejects_early_stopping_without_validation():
    model = nn.Linear(2, 2)
    with pytest.raises(ValueError, match="early_stopping needs a val_loader"):
        fit(model, loader(blobs()), nn.CrossEntropyLoss(),
            torch.optim.SGD(model.parameters(), lr=0.1), epochs=1, early_stopping=2)


def test_accuracy_for_classes_and_binary_logits():
    assert accuracy(torch.tensor([[2.0, 1.0], [0.0, 3.0], [1.0, 0.0]]),
                    torch.tensor([0, 1, 1])) == pytest.approx(2 / 3)
    assert accuracy(torch.tensor([0.5, -1.0, 2.0, -0.1]),
                    torch.tensor([1.0, 0.0, 0.0, 0.0])) == pytest.approx(0.75)
    with pytest.raises(ValueError, match="accuracy needs logits"):
        accuracy(torch.zeros(3, 2), torch.zeros(4))


def test_device_helpers():
    device = default_device()
    assert isinstance(device, torch.device)
    assert device.type == ("cuda" if torch.cuda.is_available() else device.type)
    batch = {"x": torch.zeros(2), "pair": (torch.ones(1), [torch.ones(3), "label"]), "n": 3}
    moved = to_device(batch, "cpu")
    assert moved["pair"][1][1] == "label" and moved["n"] == 3
    assert isinstance(moved["pair"], tuple) and moved["x"].device.type == "cpu"
    ordered = to_device(OrderedDict(a=torch.zeros(1)), CPU)
    assert isinstance(ordered, OrderedDict)


def test_adamw_decays_only_matrices():
    model = nn.ModuleDict({"tok_emb": nn.Embedding(5, 3), "fc": nn.Linear(3, 2)})
    decay, keep = adamw(model, 1e-3, 0.1).param_groups
    assert decay["weight_decay"] == 0.1 and keep["weight_decay"] == 0.0
    assert all(p.dim() == 2 for p in decay["params"])
    assert any(p is model.tok_emb.weight for p in keep["params"])


def test_warmup_cosine_schedule():
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
    schedule = warmup_cosine(optimizer, steps=14, warmup=4)
    rates = []
    for _ in range(16):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        schedule.step()
    assert rates[:4] == pytest.approx([0.25, 0.5, 0.75, 1.0])
    assert rates[9] == pytest.approx(0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * 0.5)))
    assert rates[14:] == pytest.approx([0.1, 0.1])
    with pytest.raises(ValueError, match="warmup"):
        warmup_cosine(optimizer, steps=10, warmup=-1)
