"""Weight penalties: values, gradients, agreement with torch's weight_decay, sparsity counts."""

import pytest
import torch
from torch import nn

from companion.torch.regularization import (l1_penalty, l2_penalty, near_zero_fraction,
                                            penalized, weight_norm, weight_parameters)


def small_model():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 5), nn.BatchNorm1d(5), nn.ReLU(), nn.Linear(5, 3)).double()


def test_penalties_sum_only_the_weight_matrices():
    model = small_model()
    w1, w2 = model[0].weight, model[3].weight
    assert [p.shape for p in weight_parameters(model)] == [w1.shape, w2.shape]
    torch.testing.assert_close(l2_penalty(model), (w1 ** 2).sum() + (w2 ** 2).sum())
    torch.testing.assert_close(l1_penalty(model), w1.abs().sum() + w2.abs().sum())
    assert weight_norm(model) == pytest.approx(float(l2_penalty(model).detach()) ** 0.5)


def test_penalized_loss_adds_the_penalty_gradient():
    model = small_model()
    x, y = torch.randn(8, 4, dtype=torch.float64), torch.randint(0, 3, (8,))
    base = nn.CrossEntropyLoss()
    base(model(x), y).backward()
    plain = [p.grad.clone() for p in model.parameters()]
    model.zero_grad()
    lam2, lam1 = 0.3, 0.05
    penalized(base, model, l2=lam2, l1=lam1)(model(x), y).backward()
    for p, g in zip(model.parameters(), plain):
        extra = 2 * lam2 * p + lam1 * p.sign() if p.dim() >= 2 else torch.zeros_like(p)
        torch.testing.assert_close(p.grad, g + extra, rtol=1e-10, atol=1e-12)


def test_l2_penalty_step_equals_sgd_weight_decay_of_twice_lambda():
    lam, lr = 0.01, 0.1
    x, y = torch.randn(16, 4, dtype=torch.float64), torch.randint(0, 3, (16,))
    ours, theirs = small_model(), small_model()
    opt = torch.optim.SGD(ours.parameters(), lr=lr)
    opt.zero_grad()
    penalized(nn.CrossEntropyLoss(), ours, l2=lam)(ours(x), y).backward()
    opt.step()
    decay = [p for p in theirs.parameters() if p.dim() >= 2]
    free = [p for p in theirs.parameters() if p.dim() < 2]
    opt = torch.optim.SGD([{"params": decay, "weight_decay": 2 * lam},
                           {"params": free, "weight_decay": 0.0}], lr=lr)
    opt.zero_grad()
    nn.CrossEntropyLoss()(theirs(x), y).backward()
    opt.step()
    for a, b in zip(ours.parameters(), theirs.parameters()):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-14)


def test_near_zero_fraction_counts_small_weights():
    model = nn.Sequential(nn.Linear(10, 10, bias=False))
    with torch.no_grad():
        model[0].weight.fill_(1.0)
        model[0].weight[:3] = 1e-5                     # 30 of 100 weights are tiny
    assert near_zero_fraction(model, 1e-3) == pytest.approx(0.3)
    assert near_zero_fraction(model, 2.0) == 1.0


def test_bad_arguments_are_reported():
    with pytest.raises(ValueError, match="l2"):
        penalized(nn.MSELoss(), small_model(), l2=-1.0)
    with pytest.raises(ValueError, match="threshold"):
        near_zero_fraction(small_model(), 0.0)
    with pytest.raises(ValueError, match="weight matrices"):
        near_zero_fraction(nn.BatchNorm1d(3))
