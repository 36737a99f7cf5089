"""Prototypical networks in torch: parity with NumPy, the loss, training and evaluation."""

import numpy as np
import pytest
import torch

from companion.numpy import prototypes as np_prototypes
from companion.torch.prototypes import (
    ConvEmbedding,
    few_shot_accuracy,
    prototype_logits,
    prototypes,
    prototypical_loss,
    train_instance_episodes,
    train_prototypical,
)


def test_prototypes_and_logits_match_numpy():
    rng = np.random.default_rng(0)
    emb, labels = rng.normal(size=(12, 5)), rng.permutation(np.repeat(np.arange(4), 3))
    queries = rng.normal(size=(7, 5))
    p = prototypes(torch.tensor(emb), torch.tensor(labels), 4)
    np.testing.assert_allclose(p.numpy(), np_prototypes.prototypes(emb, labels, 4), rtol=1e-12)
    np.testing.assert_allclose(prototype_logits(torch.tensor(queries), p).numpy(),
                               np_prototypes.prototype_logits(queries, p.numpy()), rtol=1e-12)


def test_prototypical_loss_and_its_gradient():
    torch.manual_seed(0)
    support = torch.randn(6, 3, dtype=torch.float64, requires_grad=True)
    s_y = torch.tensor([0, 0, 1, 1, 2, 2])
    queries = torch.randn(4, 3, dtype=torch.float64, requires_grad=True)
    q_y = torch.tensor([2, 0, 1, 1])
    loss, acc = prototypical_loss(support, s_y, queries, q_y, 3)
    protos = torch.stack([support[s_y == k].mean(0) for k in range(3)])
    logits = -torch.cdist(queries, protos) ** 2
    expected = torch.nn.functional.cross_entropy(logits, q_y)
    torch.testing.assert_close(loss, expected, rtol=1e-10, atol=1e-12)
    assert acc == (logits.argmax(1) == q_y).double().mean().item()
    assert torch.autograd.gradcheck(
        lambda s, q: prototypical_loss(s, s_y, q, q_y, 3)[0], (support, queries))


def test_rejects_missing_class():
    with pytest.raises(ValueError, match="every class"):
        prototypes(torch.zeros(2, 3), torch.tensor([1, 1]), 2)


def test_training_separates_new_classes_of_synthetic_clusters():
    # Classes are clusters in 64-D around random centres; novel classes use new centres.
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(8, 64))
    labels = np.repeat(np.arange(8), 30)
    x = torch.tensor(centres[labels] + 1.5 * rng.normal(size=(240, 64)), dtype=torch.float32)
    torch.manual_seed(0)
    embed = ConvEmbedding(channels=4, dim=8)
    base_before = few_shot_accuracy(embed.eval(), x, labels, [0, 1, 2], n_shot=5, episodes=30,
                                    rng=1)
    history = train_prototypical(embed, x, labels, [0, 1, 2, 3, 4], episodes=60, n_way=3,
                                 lr=1e-2, seed=0)
    assert np.mean(history.step_loss[-10:]) < np.mean(history.step_loss[:10])
    assert history.steps == 60 and 0 < history.train_metrics["accuracy"][-1] <= 1
    base_after = few_shot_accuracy(embed, x, labels, [0, 1, 2], n_shot=5, episodes=30, rng=1)
    assert base_after.mean() > base_before.mean() + 0.1  # the trained classes separate
    novel = few_shot_accuracy(embed, x, labels, [5, 6, 7], n_shot=5, episodes=30, rng=1)
    assert novel.shape == (30,) and novel.mean() > 1 / 3 + 0.05  # new classes: above chance


def test_pixel_prototypes_need_no_network():
    labels = np.repeat(np.arange(3), 10)
    x = torch.tensor(np.eye(3)[labels] * 5 + 0.1 * np.random.default_rng(0).normal(size=(30, 3)))
    scores = few_shot_accuracy(lambda v: v, x, labels, [0, 1, 2], n_shot=1, n_query=5,
                               episodes=10, rng=0)
    assert (scores == 1.0).all()


def test_temperature_makes_the_loss_a_cosine_softmax():
    torch.manual_seed(0)
    a, b = torch.randn(5, 4, dtype=torch.float64), torch.randn(5, 4, dtype=torch.float64)
    y = torch.arange(5)
    loss, _ = prototypical_loss(a, y, b, y, 5, temperature=0.3)
    cos = torch.nn.functional.normalize(b, dim=1) @ torch.nn.functional.normalize(a, dim=1).T
    torch.testing.assert_close(loss, torch.nn.functional.cross_entropy(cos / 0.3, y))
    with pytest.raises(ValueError, match="temperature"):
        prototypical_loss(a, y, b, y, 5, temperature=0.0)


def test_one_pool_embedding_and_its_features():
    net = ConvEmbedding(channels=2, dim=3, pools=1)
    x = torch.randn(4, 1, 8, 8)
    assert net.features(x).shape == (4, 2 * 2 * 16) and net(x).shape == (4, 3)
    torch.testing.assert_close(net.net[-1](net.features(x)), net(x))
    assert ConvEmbedding(channels=2, dim=3).features(x.flatten(1)).shape == (4, 2 * 2 * 4)
    with pytest.raises(ValueError, match="pools"):
        ConvEmbedding(pools=3)


def test_instance_episodes_learn_without_labels():
    # two views of a point differ by small noise; distinct points are far apart
    rng = np.random.default_rng(0)
    x = torch.tensor(rng.normal(size=(40, 64)), dtype=torch.float32)
    noise = torch.Generator().manual_seed(0)
    augment = lambda v: v + 0.5 * torch.randn(v.shape, generator=noise)  # noqa: E731
    torch.manual_seed(0)
    embed = ConvEmbedding(channels=4, dim=8, pools=1)
    history = train_instance_episodes(embed, x, augment, episodes=40, n_way=16, lr=1e-2)
    assert history.steps == 40
    assert np.mean(history.step_loss[-5:]) < np.mean(history.step_loss[:5])
    with pytest.raises(ValueError, match="n_way"):
        train_instance_episodes(embed, x, augment, episodes=1, n_way=41)
    with pytest.raises(TypeError, match="augment"):
        train_instance_episodes(embed, x, None, episodes=1)
