"""Generator, Discriminator, gan_step and mode_coverage."""

import copy

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from companion.data import gaussian_ring
from companion.torch.activations import Tanh
from companion.torch.models.gan import (Discriminator, Generator, class_coverage, frechet_distance,
                                        gan_step, mode_coverage, train_gan)
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


def test_generator_and_discriminator_options():
    seed_everything(0)
    g = Generator(4, 6, hidden=(8,), output=Tanh(), activation=lambda: torch.nn.LeakyReLU(0.2))
    x = g.sample(50, torch.Generator().manual_seed(0))
    assert x.shape == (50, 6) and x.abs().max() < 1
    assert isinstance(g.net[1], torch.nn.LeakyReLU)
    d = Discriminator(6, hidden=(8,), activation=lambda: torch.nn.LeakyReLU(0.2))
    assert isinstance(d.net[1], torch.nn.LeakyReLU) and d(x).shape == (50,)
    with pytest.raises(TypeError, match="output must be an nn.Module"):
        Generator(4, 6, output="tanh")


def test_train_gan_is_seeded_and_matches_a_loop_of_gan_steps():
    data, _ = gaussian_ring(200, modes=4, radius=1.0, std=0.1, rng=0)
    data = torch.tensor(data, dtype=torch.float32)

    def pair():
        seed_everything(1)
        return Generator(2, 2, hidden=(8,)), Discriminator(2, hidden=(8,))

    g, d = pair()
    run = train_gan(g, d, data, steps=6, batch_size=16, lr=1e-2, seed=3, every=3, n_samples=5)
    assert len(run["d_losses"]) == len(run["g_losses"]) == 6
    assert sorted(run["snapshots"]) == [3, 6] and run["snapshots"][6].shape == (5, 2)
    # the same by hand
    g2, d2 = pair()
    og = torch.optim.Adam(g2.parameters(), lr=1e-2, betas=(0.5, 0.999))
    od = torch.optim.Adam(d2.parameters(), lr=1e-2, betas=(0.5, 0.999))
    stream = torch.Generator().manual_seed(3)
    for step in range(6):
        real = data[torch.randint(0, len(data), (16,), generator=stream)]
        d_loss, g_loss = gan_step(g2, d2, og, od, real, stream)
        assert d_loss == run["d_losses"][step] and g_loss == run["g_losses"][step]
    with torch.no_grad():
        last = g2.sample(5, torch.Generator().manual_seed(1)).numpy()
    np.testing.assert_array_equal(last, run["snapshots"][6])
    with pytest.raises(ValueError, match="data must have shape"):
        train_gan(g, d, data[:, 0], steps=1)
    with pytest.raises(ValueError, match="steps"):
        train_gan(g, d, data, steps=0)
    with pytest.raises(TypeError, match="data must be a torch.Tensor"):
        train_gan(g, d, data.numpy(), steps=1)
    with pytest.raises(ValueError, match="lr"):
        train_gan(g, d, data, steps=1, lr=0.0)


def test_class_coverage():
    p = np.full((8, 4), 0.1)
    p[np.arange(8), [0, 0, 0, 0, 0, 1, 1, 2]] = 0.7                       # rows sum to 1
    c = class_coverage(p)
    assert list(c["counts"]) == [5, 2, 1, 0]
    assert c["reached"] == 3                                               # needs 0.25 * 2 = 0.5
    assert c["confidence"] == pytest.approx(0.7)
    assert c["largest_share"] == 5 / 8 and c["smallest_share"] == 0.0
    assert class_coverage(p, min_share=1.0)["reached"] == 2                # needs 2
    with pytest.raises(ValueError, match="sum to 1"):
        class_coverage(np.ones((3, 2)))
    with pytest.raises(ValueError, match="probabilities must have shape"):
        class_coverage(np.ones(3))


def test_frechet_distance_against_the_closed_form():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(400, 3))
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-9)
    # a shift moves only the mean term
    assert frechet_distance(a, a + [1.0, 2.0, 0.0]) == pytest.approx(5.0, rel=1e-9)
    # exactly diagonal sample covariances: the four corners (±s1, ±s2) have mean 0 and
    # covariance diag(s1², s2²) · 4/3, so d² = |m|² + 4/3 · sum (s_i - t_i)²
    corners = np.array([[1, 1], [1, -1], [-1, 1], [-1, -1]], dtype=float)
    s_, t_, m = np.array([1.0, 3.0]), np.array([2.0, 0.5]), np.array([0.5, -1.0])
    expected = (m ** 2).sum() + 4 / 3 * ((s_ - t_) ** 2).sum()
    assert frechet_distance(corners * s_, corners * t_ + m) == pytest.approx(expected, rel=1e-12)
    # exact in one dimension
    x, y = rng.normal(size=(50, 1)), 2 * rng.normal(size=(60, 1)) + 1
    exact = (x.mean() - y.mean()) ** 2 + (x.std(ddof=1) - y.std(ddof=1)) ** 2
    assert frechet_distance(x, y) == pytest.approx(exact, rel=1e-9)


def test_frechet_distance_full_and_singular_covariances():
    from scipy import linalg

    rng = np.random.default_rng(1)
    a = rng.normal(size=(200, 4)) @ rng.normal(size=(4, 4))
    b = rng.normal(size=(300, 4)) @ rng.normal(size=(4, 4)) + 1.0
    ca, cb = np.cov(a, rowvar=False), np.cov(b, rowvar=False)        # do not commute
    reference = (((a.mean(0) - b.mean(0)) ** 2).sum()
                 + np.trace(ca + cb - 2 * linalg.sqrtm(ca @ cb).real))
    assert frechet_distance(a, b) == pytest.approx(reference, rel=1e-9)
    assert frechet_distance(a, b) == pytest.approx(frechet_distance(b, a), rel=1e-9)
    # a dead feature (constant column) makes both covariances singular and changes nothing
    dead_a = np.hstack([a, np.zeros((200, 1))])
    dead_b = np.hstack([b, np.zeros((300, 1))])
    assert frechet_distance(dead_a, dead_b) == pytest.approx(reference, rel=1e-9)
    with pytest.raises(ValueError, match="must share F"):
        frechet_distance(np.zeros((4, 2)), np.zeros((4, 3)))
    with pytest.raises(ValueError, match="at least 2 rows"):
        frechet_distance(np.zeros((1, 2)), np.zeros((4, 2)))
