"""Saliency, integrated gradients and occlusion on models whose answers are known."""

import pytest
import torch
from torch import nn

from companion.torch.interpret import class_scores, integrated_gradients, occlusion, saliency


def linear_image_model(seed=0, classes=3, shape=(2, 4, 5)):
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Flatten(), nn.Linear(int(torch.tensor(shape).prod()), classes))
    return model.double()


def test_class_scores_pick_each_target():
    model = linear_image_model()
    x = torch.randn(4, 2, 4, 5, dtype=torch.float64)
    target = torch.tensor([0, 2, 1, 2])
    expected = model(x)[torch.arange(4), target]
    torch.testing.assert_close(class_scores(model, x, target), expected)
    torch.testing.assert_close(class_scores(model, x, 1), model(x)[:, 1])
    with pytest.raises(ValueError, match="target"):
        class_scores(model, x, torch.tensor([0, 1]))


def test_saliency_of_linear_model_is_its_weight_row():
    model = linear_image_model()
    x = torch.randn(3, 2, 4, 5, dtype=torch.float64)
    grad = saliency(model, x, torch.tensor([2, 0, 1]))
    weight = model[1].weight.detach()
    for n, c in enumerate([2, 0, 1]):
        torch.testing.assert_close(grad[n].reshape(-1), weight[c])


def test_integrated_gradients_of_linear_model_are_exact():
    model = linear_image_model()
    x = torch.randn(3, 2, 4, 5, dtype=torch.float64)
    baseline = torch.randn(1, 2, 4, 5, dtype=torch.float64)
    ig = integrated_gradients(model, x, 1, baseline=baseline, steps=3)
    expected = (x - baseline) * model[1].weight.detach()[1].reshape(1, 2, 4, 5)
    torch.testing.assert_close(ig, expected)


def test_completeness_on_a_relu_network_improves_with_steps():
    torch.manual_seed(1)
    model = nn.Sequential(nn.Flatten(), nn.Linear(20, 16), nn.ReLU(), nn.Linear(16, 4)).double()
    x = torch.randn(5, 1, 4, 5, dtype=torch.float64)
    target = torch.tensor([0, 1, 2, 3, 0])
    with torch.no_grad():
        delta = class_scores(model, x, target) - class_scores(model, torch.zeros_like(x), target)
    errors = []
    for steps in (8, 2048):
        ig = integrated_gradients(model, x, target, steps=steps, batch_size=7)  # odd chunks
        errors.append(((ig.sum(dim=(1, 2, 3)) - delta).abs() / delta.abs()).max().item())
    assert errors[1] < 1e-3 < errors[0]


def test_integrated_gradients_differ_from_gradient_times_input_on_curved_model():
    torch.manual_seed(2)
    model = nn.Sequential(nn.Flatten(), nn.Linear(6, 8), nn.Tanh(), nn.Linear(8, 2)).double()
    x = torch.randn(2, 1, 2, 3, dtype=torch.float64)
    ig = integrated_gradients(model, x, 0, steps=256)
    gradient_times_input = x * saliency(model, x, 0)
    assert (ig - gradient_times_input).abs().max() > 1e-3
    with torch.no_grad():
        delta = class_scores(model, x, 0) - class_scores(model, torch.zeros_like(x), 0)
    torch.testing.assert_close(ig.sum(dim=(1, 2, 3)), delta, rtol=1e-5, atol=1e-8)


def test_occlusion_of_linear_model_by_hand():
    model = linear_image_model(classes=2, shape=(1, 3, 3))
    x = torch.randn(1, 1, 3, 3, dtype=torch.float64)
    heat = occlusion(model, x, 1, patch=2, stride=1, fill=0.0)
    contribution = (model[1].weight.detach()[1].reshape(3, 3) * x[0, 0])  # (3, 3)
    expected = torch.zeros(3, 3, dtype=torch.float64)
    count = torch.zeros(3, 3, dtype=torch.float64)
    for top in range(2):
        for left in range(2):
            drop = contribution[top:top + 2, left:left + 2].sum()
            expected[top:top + 2, left:left + 2] += drop
            count[top:top + 2, left:left + 2] += 1
    torch.testing.assert_close(heat[0], expected / count)


def test_occlusion_refuses_bad_shapes():
    model = linear_image_model(shape=(1, 3, 3))
    with pytest.raises(ValueError, match="patch"):
        occlusion(model, torch.zeros(1, 1, 3, 3, dtype=torch.float64), 0, patch=4)
    with pytest.raises(ValueError, match="images"):
        occlusion(model, torch.zeros(1, 9, dtype=torch.float64), 0)
