"""Second-order DARTS: the finite-difference unrolled gradient against exact autograd."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch.func import functional_call

from companion.torch.nas.darts import MixedCell, darts_search, unrolled_alpha_grad
from companion.torch.nas.space import CellNetwork


def small_problem(seed=0):
    """A float64 supernet on 3 nodes with peaked random alphas, and two random batches."""
    torch.manual_seed(seed)
    model = CellNetwork(MixedCell(3, n_nodes=3), 3, num_classes=4).double()
    with torch.no_grad():
        model.cell.alpha.normal_(0, 1)
    batch = lambda n: (torch.randn(n, 1, 8, 8, dtype=torch.float64), torch.randint(4, (n,)))
    return model, batch(12), batch(10)


def exact_unrolled_grad(model, train, val, xi):
    """d/d alpha L_val(w - xi grad_w L_train(w, alpha), alpha), differentiated by autograd."""
    params = {n: p.detach().clone().requires_grad_() for n, p in model.named_parameters()}
    alpha = params.pop("cell.alpha")
    loss = lambda w, batch: F.cross_entropy(
        functional_call(model, {**w, "cell.alpha": alpha}, (batch[0],)), batch[1])
    grads = torch.autograd.grad(loss(params, train), list(params.values()), create_graph=True)
    unrolled = {n: p - xi * g for (n, p), g in zip(params.items(), grads)}
    return torch.autograd.grad(loss(unrolled, val), alpha)[0]


def test_second_order_gradient_matches_autograd_through_the_unrolled_step():
    model, train, val = small_problem()
    xi = 0.5
    exact = exact_unrolled_grad(model, train, val, xi)
    first = exact_unrolled_grad(model, train, val, 0.0)                 # grad at the current w
    # a small radius: on this tiny net the paper's 0.01 can move ReLU inputs across zero, where
    # the loss is not twice differentiable and the central difference is no longer a derivative
    ours = unrolled_alpha_grad(model, model.cell.alpha, train, val, xi, radius=1e-4)
    # the correction is large compared with the tolerance, so a wrong sign or scale would fail
    assert (exact - first).norm() > 0.5 * exact.norm()
    np.testing.assert_allclose(ours.numpy(), exact.numpy(), rtol=1e-6, atol=1e-10)


def test_unrolled_gradient_restores_weights_and_reduces_to_first_order():
    model, train, val = small_problem(1)
    before = [p.detach().clone() for p in model.parameters()]
    at_zero = unrolled_alpha_grad(model, model.cell.alpha, train, val, 0.0)
    unrolled_alpha_grad(model, model.cell.alpha, train, val, 0.3)
    for p, q in zip(model.parameters(), before):
        assert torch.equal(p, q)
        assert p.grad is None
    first = torch.autograd.grad(F.cross_entropy(model(val[0]), val[1]), model.cell.alpha)[0]
    torch.testing.assert_close(at_zero, first)


def test_second_order_search_runs_and_differs_from_first_order():
    g = torch.Generator().manual_seed(0)
    data = {split: (torch.randn(40, 1, 8, 8, generator=g), torch.randint(10, (40,), generator=g))
            for split in ("train", "val")}
    kwargs = dict(channels=2, steps=3, batch_size=8, seed=0)
    first = darts_search(data, **kwargs)
    second = darts_search(data, order=2, **kwargs)
    assert len(second.history) == 3 and np.allclose(second.weights.sum(-1), 1)
    assert not np.allclose(first.weights, second.weights)
    # xi = 0 removes the correction: the same search as first order
    np.testing.assert_allclose(darts_search(data, order=2, xi=0.0, **kwargs).weights,
                               first.weights, rtol=1e-5)


def test_bad_arguments():
    model, train, val = small_problem()
    with pytest.raises(ValueError, match="order must be 1 or 2"):
        darts_search({}, order=3)
    with pytest.raises(ValueError, match=r"xi must lie in \[0.0, inf\], got -0.1"):
        darts_search({}, order=2, xi=-0.1)
    with pytest.raises(ValueError, match="steps"):
        darts_search({}, steps=0)
    with pytest.raises(ValueError, match="batch_size"):
        darts_search({}, batch_size=-8)
    with pytest.raises(ValueError, match=r"lr must lie in \(0.0, inf\]"):
        darts_search({}, lr=0.0)
    with pytest.raises(TypeError, match="arch_lr must be a real number"):
        darts_search({}, arch_lr="fast")
    with pytest.raises(ValueError, match="radius"):
        unrolled_alpha_grad(model, model.cell.alpha, train, val, 0.1, radius=0.0)
    with pytest.raises(ValueError, match="alpha must be one of"):
        unrolled_alpha_grad(model, torch.nn.Parameter(torch.zeros(3, 4)), train, val, 0.1)
