"""Generator, Discriminator, gan_step and mode_coverage."""

import copy

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from companion.data import gaussian_ring
from companion.torch.models.gan import Discriminator, Generator, gan_step, mode_coverage
from companion.torch.training import seed_everything


def test_shapes_and_seeded_sampling():
    seed_everything(0)
    g, d = Generator(3, 2, hidden=(8,)), Discriminator(2, hidden=(8,))
    a = g.sample(5, torch.Generator().manual_seed(1))
    b = g.sample(5, torch.Generator().manual_seed(1))
    assert a.shape == (5, 2) and torch.equal(a, b)
    assert d(a).shape == (5,)


def test_gan_step_losses_match_builtin_and_only_own_parameters_move():
    seed_everything(0)
    g, d = Generator(2, 2, hidden=(8,)), Discriminator(2, hidden=(8,))
    g0, d0 = copy.deepcopy(g), copy.deepcopy(d)
    real = torch.randn(16, 2)
    opt_g = torch.optim.SGD(g.parameters(), lr=0.1)
    opt_d = torch.optim.SGD(d.parameters(), lr=0.1)
    d_loss, g_loss = gan_step(g, d, opt_g, opt_d, real, torch.Generator().manual_seed(3))

    noise = torch.Generator().manual_seed(3)
    fake = g0.sample(16, noise).detach()
    expected_d = (F.binary_cross_entropy_with_logits(d0(real), torch.ones(16))
                  + F.binary_cross_entropy_with_logits(d0(fake), torch.zeros(16)))
    assert d_loss == pytest.approx(expected_d.item(), rel=1e-6)
    # the generator's loss is measured against the discriminator after its update
    d_after = copy.deepcopy(d)
    expected_g = F.binary_cross_entropy_with_logits(d_after(g0.sample(16, noise)),
                                                    torch.ones(16))
    assert g_loss == pytest.approx(expected_g.item(), rel=1e-6)
    assert any(not torch.equal(a, b) for a, b in zip(g.parameters(), g0.parameters()))
    assert any(not torch.equal(a, b) for a, b in zip(d.parameters(), d0.parameters()))


def test_gan_step_rejects_bad_batches():
    g, d = Generator(2, 2), Discriminator(2)
    opt = torch.optim.SGD(list(g.parameters()) + list(d.parameters()), lr=0.1)
    with pytest.raises(ValueError, match="real must have shape"):
        gan_step(g, d, opt, opt, torch.randn(4), None)


def test_mode_coverage_counts_modes_and_quality():
    data, centres = gaussian_ring(800, modes=8, radius=2.0, std=0.05, rng=0)
    full = mode_coverage(data, centres, 0.05)
    assert full["reached"] == 8 and full["high_quality"] > 0.95
    assert full["counts"].sum() == round(full["high_quality"] * 800)
    # all samples on two modes: two reached, quality unchanged
    collapsed = np.concatenate([centres[:2]] * 400)
    two = mode_coverage(collapsed, centres, 0.05)
    assert two["reached"] == 2 and two["high_quality"] == 1.0
    # samples far from every centre are not high quality and reach nothing
    far = mode_coverage(np.zeros((100, 2)), centres, 0.05)
    assert far["reached"] == 0 and far["high_quality"] == 0.0
    # a mode needs a quarter of its fair share: 100 samples, 8 modes -> 3.125
    few = np.concatenate([np.repeat(centres[:1], 96, axis=0), np.repeat(centres[1:2], 4, axis=0)])
    assert mode_coverage(few, centres, 0.05)["reached"] == 2
    few = np.concatenate([np.repeat(centres[:1], 97, axis=0), np.repeat(centres[1:2], 3, axis=0)])
    assert mode_coverage(few, centres, 0.05)["reached"] == 1


def test_mode_coverage_bad_input():
    with pytest.raises(ValueError, match="must share D"):
        mode_coverage(np.zeros((4, 3)), np.zeros((8, 2)), 0.1)
    with pytest.raises(ValueError, match="std"):
        mode_coverage(np.zeros((4, 2)), np.zeros((8, 2)), 0.0)
