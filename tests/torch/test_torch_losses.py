"""MSE, NLL, cross-entropy and logistic losses against torch in float64."""

import numpy as np
import pytest
import torch
from torch import nn

from companion.torch.losses import BCEWithLogitsLoss, CrossEntropyLoss, MSELoss, NLLLoss
from companion.parity import check_parity, random_array

REDUCTIONS = ["mean", "sum", "none"]


def classes(shape, n_classes, seed=0, ignore=None):
    """Random class indices; with ``ignore`` the first one is replaced by that index."""
    target = np.random.default_rng(seed).integers(0, n_classes, size=shape)
    if ignore is not None:
        target.flat[0] = ignore
    return target


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", [(4, 3), (1,), (2, 3, 5)])
def test_mse(reduction, shape):
    check_parity(MSELoss(reduction=reduction), nn.MSELoss(reduction=reduction),
                 random_array(shape), random_array(shape, seed=7))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("input_shape, target_shape", [((5, 4), (5,)), ((4,), ()),
                                                       ((2, 4, 3, 2), (2, 3, 2))])
def test_nll(reduction, weighted, input_shape, target_shape):
    weight = torch.rand(4, dtype=torch.float64) + 0.5 if weighted else None
    target = classes(target_shape, 4, ignore=-100 if len(target_shape) > 0 else None)
    if len(target_shape):
        target.flat[-1] = 2
    kwargs = {"weight": weight, "reduction": reduction}
    check_parity(NLLLoss(**kwargs), nn.NLLLoss(**kwargs), random_array(input_shape), target)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("smoothing", [0.0, 0.2])
@pytest.mark.parametrize("input_shape, target_shape", [((6, 5), (6,)), ((5,), ()),
                                                       ((2, 5, 3), (2, 3)), ((1, 5), (1,))])
def test_cross_entropy_with_indices(reduction, weighted, smoothing, input_shape, target_shape):
    weight = torch.rand(5, dtype=torch.float64) + 0.5 if weighted else None
    target = classes(target_shape, 5, ignore=3 if len(target_shape) and input_shape[0] > 1
                     else None)
    kwargs = {"weight": weight, "reduction": reduction, "label_smoothing": smoothing,
              "ignore_index": 3}
    check_parity(CrossEntropyLoss(**kwargs), nn.CrossEntropyLoss(**kwargs),
                 random_array(input_shape, scale=3.0), target)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("smoothing", [0.0, 0.3])
@pytest.mark.parametrize("shape", [(4, 3), (2, 3, 4)])
def test_cross_entropy_with_probabilities(reduction, smoothing, shape):
    weight = torch.rand(3, dtype=torch.float64) + 0.5
    probs = torch.softmax(torch.tensor(random_array(shape, seed=3)), dim=1).numpy()
    kwargs = {"weight": weight, "reduction": reduction, "label_smoothing": smoothing}
    check_parity(CrossEntropyLoss(**kwargs), nn.CrossEntropyLoss(**kwargs),
                 random_array(shape), probs)


def test_cross_entropy_is_finite_for_huge_logits():
    logits = torch.tensor([[1e4, -1e4, 0.0], [-1e4, -1e4, 1e4]], dtype=torch.float64,
                          requires_grad=True)
    target = torch.tensor([1, 2])
    loss = CrossEntropyLoss(label_smoothing=0.1)(logits, target)
    loss.backward()
    expected = nn.CrossEntropyLoss(label_smoothing=0.1)(logits, target)
    assert torch.isfinite(loss) and torch.isfinite(logits.grad).all()
    assert torch.allclose(loss, expected, rtol=1e-7)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted, pos_weighted", [(False, False), (True, False), (True, True),
                                                    (False, True)])
@pytest.mark.parametrize("shape", [(5, 3), (1, 1), (2, 4, 3)])
def test_bce_with_logits(reduction, weighted, pos_weighted, shape):
    weight = torch.rand(shape[-1], dtype=torch.float64) if weighted else None
    pos_weight = torch.rand(shape[-1], dtype=torch.float64) * 3 if pos_weighted else None
    kwargs = {"weight": weight, "pos_weight": pos_weight, "reduction": reduction}
    target = np.random.default_rng(1).uniform(size=shape)
    target.flat[0] = 1.0
    logits = random_array(shape, scale=4.0)
    logits.flat[-1] = 0.0
    check_parity(BCEWithLogitsLoss(**kwargs), nn.BCEWithLogitsLoss(**kwargs), logits, target)


def test_bce_with_logits_is_finite_for_huge_logits():
    logits = torch.tensor([1e4, -1e4, 1e4, -1e4], dtype=torch.float64, requires_grad=True)
    target = torch.tensor([1.0, 0.0, 0.0, 1.0], dtype=torch.float64)
    loss = BCEWithLogitsLoss(reduction="none")(logits, target)
    loss.sum().backward()
    assert torch.equal(loss, torch.tensor([0.0, 0.0, 1e4, 1e4], dtype=torch.float64))
    assert torch.isfinite(logits.grad).all()


def test_losses_reject_bad_arguments():
    with pytest.raises(ValueError, match="reduction must be one of"):
        MSELoss(reduction="avg")
    with pytest.raises(ValueError, match=r"shape of input \(2, 3\), got \(3,\)"):
        MSELoss()(torch.zeros(2, 3), torch.zeros(3))
    with pytest.raises(ValueError, match=r"target of class indices must have shape \(2,\)"):
        CrossEntropyLoss()(torch.zeros(2, 3), torch.zeros(3, dtype=torch.long))
    with pytest.raises(ValueError, match=r"class indices in \[0, 3\)"):
        CrossEntropyLoss()(torch.zeros(2, 3), torch.tensor([0, 3]))
    with pytest.raises(TypeError, match="integer class indices"):
        NLLLoss()(torch.zeros(2, 3), torch.zeros(2))
    with pytest.raises(ValueError, match=r"label_smoothing must lie in \[0.0, 1.0\]"):
        CrossEntropyLoss(label_smoothing=1.5)
