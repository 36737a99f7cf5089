"""Learning-rate schedules against torch.optim.lr_scheduler."""

import numpy as np
import pytest
import torch

from companion.numpy import lr_scheduler, optim

EPOCHS = 40


def sequences(ours_cls, torch_cls, lr=0.1, **kwargs):
    """Rates from get_last_lr() at construction and after each of EPOCHS steps, for both."""
    ours_opt = optim.SGD([np.zeros(2)], lr=lr)
    torch_opt = torch.optim.SGD([torch.zeros(2, requires_grad=True)], lr=lr)
    ours, theirs = ours_cls(ours_opt, **kwargs), torch_cls(torch_opt, **kwargs)
    got, expected = [ours.get_last_lr()[0]], [theirs.get_last_lr()[0]]
    for _ in range(EPOCHS):
        ours_opt.step([np.ones(2)])
        torch_opt.step()
        ours.step()
        theirs.step()
        assert ours_opt.lr == ours.get_last_lr()[0]
        got.append(ours.get_last_lr()[0])
        expected.append(theirs.get_last_lr()[0])
    return np.array(got), np.array(expected)


@pytest.mark.parametrize("step_size, gamma", [(1, 0.5), (7, 0.1), (10, 0.9), (3, 2.0)])
def test_step_lr_matches_torch(step_size, gamma):
    got, expected = sequences(lr_scheduler.StepLR, torch.optim.lr_scheduler.StepLR,
                              step_size=step_size, gamma=gamma)
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=0)
    np.testing.assert_allclose(got, lr_scheduler.step_schedule(0.1, np.arange(EPOCHS + 1),
                                                               step_size, gamma))


@pytest.mark.parametrize("T_max, eta_min", [(10, 0.0), (25, 1e-3), (40, 0.0), (7, 0.05), (1, 0.0)])
def test_cosine_annealing_matches_torch_past_t_max(T_max, eta_min):
    got, expected = sequences(lr_scheduler.CosineAnnealingLR,
                              torch.optim.lr_scheduler.CosineAnnealingLR, T_max=T_max,
                              eta_min=eta_min)
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-15)
    assert got[T_max] == pytest.approx(eta_min, abs=1e-15)


@pytest.mark.parametrize("warmup_steps, start_factor", [(5, 1 / 3), (1, 0.5), (12, 0.01), (4, 1.0)])
def test_linear_warmup_matches_torch_linear_lr(warmup_steps, start_factor):
    got, expected = sequences(
        lambda opt: lr_scheduler.LinearWarmup(opt, warmup_steps, start_factor),
        lambda opt: torch.optim.lr_scheduler.LinearLR(opt, start_factor, 1.0, warmup_steps))
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=0)
    assert got[0] == pytest.approx(0.1 * start_factor) and got[-1] == pytest.approx(0.1)


def test_pure_schedules_give_arrays_for_plotting():
    epochs = np.arange(100)
    cosine = lr_scheduler.cosine_schedule(1.0, epochs, T_max=100)
    assert cosine.shape == (100,) and cosine[0] == 1.0 and np.all(np.diff(cosine) < 0)
    warmup = lr_scheduler.linear_warmup_schedule(1.0, epochs, warmup_steps=10, start_factor=0.1)
    np.testing.assert_allclose(warmup[:11], np.linspace(0.1, 1.0, 11))
    np.testing.assert_array_equal(warmup[10:], 1.0)


@pytest.mark.parametrize("make, error, message", [
    (lambda o: lr_scheduler.StepLR(o, step_size=0), ValueError, "step_size must be positive"),
    (lambda o: lr_scheduler.StepLR(o, step_size=2.5), TypeError, "step_size must be an integer"),
    (lambda o: lr_scheduler.CosineAnnealingLR(o, T_max=10, eta_min=-1.0), ValueError, "eta_min"),
    (lambda o: lr_scheduler.LinearWarmup(o, 5, start_factor=0.0), ValueError,
     r"start_factor must lie in \(0.0, 1.0\]"),
    (lambda o: lr_scheduler.StepLR(object(), step_size=2), TypeError, "lr attribute"),
])
def test_bad_arguments(make, error, message):
    with pytest.raises(error, match=message):
        make(optim.SGD([np.zeros(1)], lr=0.1))
