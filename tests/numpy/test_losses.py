"""Loss functions against torch in float64: values and input gradients for every reduction."""

import numpy as np
import pytest
import torch

from companion.numpy.losses import BCEWithLogitsLoss, CrossEntropyLoss, MSELoss, NLLLoss
from companion.parity import assert_close, check_parity, random_array, to_torch

REDUCTIONS = ["mean", "sum", "none"]


def class_targets(shape, classes, seed, ignore=()):
    target = np.random.default_rng(seed).integers(0, classes, shape)
    for position in ignore:
        target[position] = -100
    return target


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", [(1,), (4, 3), (2, 3, 5)])
def test_mse(reduction, shape):
    theirs = torch.nn.MSELoss(reduction=reduction)
    check_parity(MSELoss.from_torch(theirs), theirs, random_array(shape, 1),
                 kwargs={"target": random_array(shape, 2)})


CE_CASES = [
    ((4, 5), (4,), {}),
    ((1, 3), (1,), {}),
    ((5,), (), {}),
    ((3, 4, 2, 3), (3, 2, 3), {}),
    ((6, 4), (6,), {"label_smoothing": 0.1}),
    ((3, 4, 5), (3, 5), {"label_smoothing": 0.25, "weight": True}),
    ((6, 4), (6,), {"weight": True}),
]


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("input_shape, target_shape, options", CE_CASES)
def test_cross_entropy_with_class_indices(reduction, input_shape, target_shape, options):
    options = dict(options)
    classes = input_shape[0] if len(input_shape) == 1 else input_shape[1]
    if options.pop("weight", False):
        options["weight"] = to_torch(np.random.default_rng(4).uniform(0.2, 2.0, classes))
    theirs = torch.nn.CrossEntropyLoss(reduction=reduction, **options)
    ignore = [(0,) * len(target_shape)] if len(target_shape) and np.prod(target_shape) > 1 else []
    target = class_targets(target_shape, classes, 3, ignore)
    check_parity(CrossEntropyLoss.from_torch(theirs), theirs, random_array(input_shape, 5, 3.0),
                 kwargs={"target": target})


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("smoothing", [0.0, 0.2])
def test_cross_entropy_with_probability_targets(reduction, smoothing):
    weight = to_torch(np.random.default_rng(4).uniform(0.2, 2.0, 4))
    theirs = torch.nn.CrossEntropyLoss(weight=weight, reduction=reduction,
                                       label_smoothing=smoothing)
    probs = np.random.default_rng(6).dirichlet(np.ones(4), size=(3, 5)).transpose(0, 2, 1)
    check_parity(CrossEntropyLoss.from_torch(theirs), theirs, random_array((3, 4, 5), 2),
                 kwargs={"target": probs})


def test_cross_entropy_custom_ignore_index():
    theirs = torch.nn.CrossEntropyLoss(ignore_index=2)
    target = np.array([0, 2, 1, 2, 3])
    check_parity(CrossEntropyLoss.from_torch(theirs), theirs, random_array((5, 4), 8),
                 kwargs={"target": target})


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
def test_nll(reduction, weighted):
    weight = to_torch(np.random.default_rng(1).uniform(0.2, 2.0, 5)) if weighted else None
    theirs = torch.nn.NLLLoss(weight=weight, reduction=reduction)
    logits = random_array((4, 5, 3), 2)
    log_probs = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    target = class_targets((4, 3), 5, 9, ignore=[(1, 1)])
    check_parity(NLLLoss.from_torch(theirs), theirs, log_probs, kwargs={"target": target})


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weights", [(None, None), ((3,), None), (None, (3,)), ((2, 3), (3,))])
def test_bce_with_logits(reduction, weights):
    weight, pos_weight = (None if shape is None else to_torch(random_array(shape, 4) ** 2 + 0.1)
                          for shape in weights)
    theirs = torch.nn.BCEWithLogitsLoss(weight=weight, reduction=reduction, pos_weight=pos_weight)
    target = np.random.default_rng(3).uniform(0, 1, (2, 3))
    check_parity(BCEWithLogitsLoss.from_torch(theirs), theirs, random_array((2, 3), 1, 3.0),
                 kwargs={"target": target})


HUGE = np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 1e4]])


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_huge_logits_stay_finite(reduction):
    cross = torch.nn.CrossEntropyLoss(reduction=reduction, label_smoothing=0.1)
    ours = CrossEntropyLoss.from_torch(cross)
    loss = ours.forward(HUGE, np.array([1, 2]))
    assert np.all(np.isfinite(loss)) and np.all(np.isfinite(ours.backward(np.ones_like(loss))))
    check_parity(ours, cross, HUGE, kwargs={"target": np.array([1, 2])})
    binary = torch.nn.BCEWithLogitsLoss(reduction=reduction)
    ours = BCEWithLogitsLoss.from_torch(binary)
    target = np.array([[1.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    loss = ours.forward(HUGE, target)
    assert np.all(np.isfinite(loss)) and np.all(np.isfinite(ours.backward(np.ones_like(loss))))
    check_parity(ours, binary, HUGE, kwargs={"target": target})


def test_default_backward_is_gradient_of_the_mean():
    x = random_array((4, 3), 0)
    target = np.array([0, 2, 1, 1])
    loss = CrossEntropyLoss()
    loss.forward(x, target)
    x_t = to_torch(x, requires_grad=True)
    torch.nn.functional.cross_entropy(x_t, torch.as_tensor(target)).backward()
    assert_close(loss.backward(), x_t.grad, "gradient for dL/dloss = 1")


def test_bad_reduction():
    for cls in (MSELoss, CrossEntropyLoss, NLLLoss, BCEWithLogitsLoss):
        with pytest.raises(ValueError, match=("reduction must be one of 'mean', 'sum', 'none', got "
                                              "'avg'")):
            cls(reduction="avg")


def test_bad_targets():
    with pytest.raises(ValueError, match=(r"target must have the shape of input \(2, 3\), got \(3, "
                                          r"2\)")):
        MSELoss().forward(np.zeros((2, 3)), np.zeros((3, 2)))
    with pytest.raises(ValueError, match=r"target must have shape \(2,\) .* got \(3,\)"):
        CrossEntropyLoss().forward(np.zeros((2, 4)), np.array([0, 1, 2]))
    with pytest.raises(ValueError, match=(r"class indices in \[0, 4\) or ignore_index=-100, got "
                                          r"values from 0 to 4")):
        CrossEntropyLoss().forward(np.zeros((2, 4)), np.array([0, 4]))
    with pytest.raises(TypeError, match=("target must hold integer class indices, got dtype "
                                         "float64")):
        NLLLoss().forward(np.zeros((2, 4)), np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match=(r"probability target must have the input's shape \(2, "
                                          r"4\), got \(2, 3\)")):
        CrossEntropyLoss().forward(np.zeros((2, 4)), np.full((2, 3), 0.25))
    with pytest.raises(TypeError, match="input must be a numeric array"):
        CrossEntropyLoss().forward("logits", np.array([0]))
    with pytest.raises(ValueError, match="input must have shape .* got a scalar"):
        NLLLoss().forward(np.float64(0.0), np.array(0))


def test_bad_arguments():
    with pytest.raises(ValueError, match=r"label_smoothing must lie in \[0.0, 1.0\], got 1.5"):
        CrossEntropyLoss(label_smoothing=1.5)
    with pytest.raises(ValueError, match=(r"weight must have 1 dimension \(C,\), got shape \(2, "
                                          r"2\)")):
        NLLLoss(weight=np.ones((2, 2)))
    with pytest.raises(ValueError, match=(r"weight must have one entry per class \(4,\), got shape "
                                          r"\(3,\)")):
        CrossEntropyLoss(weight=np.ones(3)).forward(np.zeros((2, 4)), np.array([0, 1]))
    with pytest.raises(ValueError, match=(r"pos_weight of shape \(4,\) must broadcast to the input "
                                          r"shape \(2, 3\)")):
        BCEWithLogitsLoss(pos_weight=np.ones(4)).forward(np.zeros((2, 3)), np.zeros((2, 3)))
    with pytest.raises(TypeError, match="ignore_index must be an int, got str"):
        NLLLoss(ignore_index="none")


def test_bad_upstream_gradients():
    loss = MSELoss()
    with pytest.raises(RuntimeError, match="MSELoss.backward was called before forward"):
        loss.backward()
    loss.forward(np.zeros(3), np.ones(3))
    with pytest.raises(ValueError, match=(r"grad_output must be a scalar for reduction='mean', got "
                                          r"shape \(3,\)")):
        loss.backward(np.ones(3))
    loss = MSELoss(reduction="none")
    loss.forward(np.zeros(3), np.ones(3))
    with pytest.raises(ValueError, match=(r"grad_output must have the shape of MSELoss's output "
                                          r"\(3,\), got \(\)")):
        loss.backward(1.0)
