"""BodyHead, freeze and trainable_parameters."""

import torch
from torch import nn

from companion.torch.models.transfer import BodyHead, freeze, trainable_parameters
from companion.torch.training import seed_everything


def make():
    seed_everything(0)
    return BodyHead(nn.Sequential(nn.Linear(6, 5), nn.ReLU()), features=5, classes=3)


def test_forward_is_head_of_body():
    model = make()
    x = torch.randn(4, 6)
    torch.testing.assert_close(model(x), model.head(model.body(x)))
    assert model(x).shape == (4, 3)


def test_new_head_copies_the_body_and_replaces_the_head():
    model = make()
    other = model.with_new_head(7)
    assert other.head.out_features == 7 and other.body is not model.body
    for a, b in zip(model.body.parameters(), other.body.parameters()):
        assert torch.equal(a, b) and a is not b
    with torch.no_grad():
        next(other.body.parameters()).add_(1.0)
    assert not torch.equal(next(other.body.parameters()), next(model.body.parameters()))


def test_frozen_body_does_not_change_while_the_head_learns():
    model = make().with_new_head(2)
    freeze(model.body)
    trainable = trainable_parameters(model)
    assert len(trainable) == 2 and all(p in set(model.head.parameters()) for p in trainable)
    body_before = [p.clone() for p in model.body.parameters()]
    head_before = [p.clone() for p in model.head.parameters()]
    optimizer = torch.optim.SGD(trainable, lr=0.5)
    x, y = torch.randn(8, 6), torch.randint(0, 2, (8,))
    for _ in range(3):
        loss = nn.functional.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert all(torch.equal(a, b) for a, b in zip(body_before, model.body.parameters()))
    assert any(not torch.equal(a, b) for a, b in zip(head_before, model.head.parameters()))


def test_conv_body_maps_digits_to_its_features():
    from companion.torch.models.transfer import CONV_FEATURES, conv_body

    seed_everything(0)
    model = BodyHead(conv_body(), CONV_FEATURES, classes=5)
    assert model.body(torch.rand(3, 1, 8, 8)).shape == (3, CONV_FEATURES) == (3, 512)
    assert model(torch.rand(2, 1, 8, 8)).shape == (2, 5)
    assert sum(p.numel() for p in model.body.parameters()) == 160 + 4640
