"""Autoencoder and reconstruction_error: shapes, mirrored layers, a learnable identity, errors."""

import pytest
import torch

from companion.torch.models.autoencoder import Autoencoder, reconstruction_error, train_autoencoder
from companion.torch.training import seed_everything


def test_shapes_and_output_range():
    seed_everything(0)
    model = Autoencoder(12, latent=3, hidden=(8, 5))
    x = torch.rand(4, 12)
    assert model.encode(x).shape == (4, 3)
    assert model.decode(torch.randn(4, 3)).shape == (4, 12)
    out = model(x)
    assert out.shape == (4, 12) and out.min() > 0 and out.max() < 1
    widths = [(m.in_features, m.out_features) for m in model.modules()
              if type(m).__name__ == "Linear"]
    assert widths == [(12, 8), (8, 5), (5, 3), (3, 5), (5, 8), (8, 12)]


def test_reconstruction_error_is_per_example_mse_and_keeps_mode():
    seed_everything(1)
    model = Autoencoder(6, latent=2)
    x, target = torch.rand(5, 6), torch.rand(5, 6)
    model.train()
    error = reconstruction_error(model, x, target)
    torch.testing.assert_close(error, ((model(x) - target) ** 2).mean(dim=1).detach())
    assert model.training and not error.requires_grad
    torch.testing.assert_close(reconstruction_error(model, x),
                               ((model(x) - x) ** 2).mean(dim=1).detach())


def test_training_lowers_the_error_on_low_dimensional_data():
    """Points on a 2-D plane in 8-D space are rebuilt well through a 2-number code."""
    seed_everything(2)
    basis = torch.rand(2, 8) * 0.5
    x = torch.rand(256, 2) @ basis + 0.1                                   # (256, 8) in (0, 1)
    model = Autoencoder(8, latent=2, hidden=(16,))
    before = reconstruction_error(model, x).mean()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(300):
        loss = ((model(x) - x) ** 2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert reconstruction_error(model, x).mean() < 0.05 * before


def test_bad_inputs_name_the_argument():
    model = Autoencoder(6, latent=2)
    with pytest.raises(ValueError, match="x must have shape"):
        model(torch.rand(3, 5))
    with pytest.raises(ValueError, match="z must have shape"):
        model.decode(torch.rand(3, 4))
    with pytest.raises(ValueError, match="target must have the shape"):
        reconstruction_error(model, torch.rand(3, 6), torch.rand(2, 6))
    with pytest.raises(ValueError, match="latent"):
        Autoencoder(6, latent=0)


def test_train_autoencoder_is_seeded_and_learns_identity_and_denoising_targets():
    seed_everything(3)
    basis = torch.rand(2, 8) * 0.5
    x = torch.rand(128, 2) @ basis + 0.1                                   # (128, 8) in (0, 1)
    a = train_autoencoder(x, latent=2, hidden=(16,), epochs=60, batch_size=32, seed=4)
    b = train_autoencoder(x, latent=2, hidden=(16,), epochs=60, batch_size=32, seed=4)
    assert a.latent == 2 and a.in_features == 8
    for p, q in zip(a.parameters(), b.parameters()):
        assert torch.equal(p, q)
    untrained = reconstruction_error(Autoencoder(8, latent=2, hidden=(16,)), x).mean()
    assert reconstruction_error(a, x).mean() < 0.1 * untrained
    # with a target different from the input it learns the target, not the identity
    shifted = (x + 0.2).clamp(0, 1)
    c = train_autoencoder(x, shifted, latent=2, hidden=(16,), epochs=60, batch_size=32, seed=4)
    assert reconstruction_error(c, x, shifted).mean() < reconstruction_error(a, x, shifted).mean()


def test_train_autoencoder_bad_inputs():
    with pytest.raises(ValueError, match="inputs must have shape"):
        train_autoencoder(torch.rand(8))
    with pytest.raises(ValueError, match="targets must have the shape"):
        train_autoencoder(torch.rand(4, 6), torch.rand(4, 5))
    with pytest.raises(TypeError, match="seed"):
        train_autoencoder(torch.rand(4, 6), seed=1.5)
