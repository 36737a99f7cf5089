"""Generative adversarial networks: a generator and a discriminator trained against each other.

The generator G maps random noise z ~ N(0, I) to a sample G(z); the discriminator D maps a
sample to a logit, the log-odds that it came from the data rather than from G. One round of
:func:`gan_step` first improves D at telling the two apart, then improves G at fooling the new
D; :func:`train_gan` repeats it on random batches of a data set. :func:`mode_coverage` measures
how much of a mixture of Gaussians the generator has learned; for images, :func:`class_coverage`
counts the classes a classifier sees among the samples and :func:`frechet_distance` compares the
mean and covariance of two sets of feature vectors.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch import nn

from companion.core.checks import as_float_array, check_instance, positive_int, real_number
from companion.torch._inputs import module_input, tensor_input
from companion.torch.activations import ReLU
from companion.torch.losses import BCEWithLogitsLoss
from companion.torch.models.mlp import mlp

__all__ = ["Generator", "Discriminator", "gan_step", "train_gan", "mode_coverage",
           "class_coverage", "frechet_distance"]


class Generator(nn.Module):
    """x = G(z): an MLP from noise of ``latent`` numbers to a sample of ``out_features``.

    Args:
        latent: size of the noise vector z. out_features: size of a sample.
        hidden: widths of the hidden layers. activation: factory of the hidden activation.
        output: an optional module applied last, e.g. ``Tanh()`` for images scaled to [-1, 1].

    Input: (N, latent) noise. Output: (N, out_features) samples.
    :meth:`sample` draws the noise itself from N(0, I).
    """

    def __init__(self, latent: int, out_features: int, hidden: Sequence[int] = (64, 64), *,
                 activation: Callable[[], nn.Module] = ReLU, output: nn.Module | None = None):
        super().__init__()
        self.latent = positive_int(latent, "latent")
        self.net = mlp(self.latent, hidden, out_features, activation=activation)
        if output is not None:
            if not isinstance(output, nn.Module):
                raise TypeError(f"output must be an nn.Module or None, got "
                                f"{type(output).__name__}")
            self.net.append(output)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)                                                  # (N, out)

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """n samples G(z), z ~ N(0, I), drawn with ``generator``: (n, out_features)."""
        device = next(self.parameters()).device
        z = torch.randn(positive_int(n, "n"), self.latent, generator=generator)
        return self(z.to(device))


class Discriminator(nn.Module):
    """D(x): an MLP from a sample to one logit, the log-odds that x is real.

    Args:
        in_features: size of a sample. hidden: widths of the hidden layers.
        activation: factory of the hidden activation (DCGAN practice: a leaky ReLU).

    Input: (N, in_features). Output: (N,) logits.
    """

    def __init__(self, in_features: int, hidden: Sequence[int] = (64, 64), *,
                 activation: Callable[[], nn.Module] = ReLU):
        super().__init__()
        self.net = mlp(in_features, hidden, 1, activation=activation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).squeeze(-1)                                      # (N, 1) -> (N,)


def gan_step(generator: Generator, discriminator: Discriminator, opt_g: torch.optim.Optimizer,
             opt_d: torch.optim.Optimizer, real: torch.Tensor,
             noise: torch.Generator | None = None) -> tuple[float, float]:
    """One round of adversarial training on a batch of real samples; returns (D loss, G loss).

    Discriminator step, with G fixed (its samples detached), then generator step, with D fixed,
    in the non-saturating form of Goodfellow et al. (2014)::

        L_D = -mean log sigmoid(D(x)) - mean log(1 - sigmoid(D(G(z))))
        L_G = -mean log sigmoid(D(G(z')))

    Both are binary cross-entropies on logits (label 1 = real). Each step draws a fresh batch
    of noise of the size of ``real`` (N, D) from ``noise``.
    """
    check_instance(generator, Generator, "generator", "a Generator")
    discriminator = module_input(discriminator, "discriminator")
    check_instance(opt_g, torch.optim.Optimizer, "opt_g", "a torch.optim.Optimizer")
    check_instance(opt_d, torch.optim.Optimizer, "opt_d", "a torch.optim.Optimizer")
    if noise is not None and not isinstance(noise, torch.Generator):
        raise TypeError(f"noise must be a torch.Generator or None, got {type(noise).__name__}")
    real = tensor_input(real, "real")
    if real.dim() != 2:
        raise ValueError(f"real must have shape (N, D), got {tuple(real.shape)}")
    bce = BCEWithLogitsLoss()
    n = real.shape[0]
    ones = torch.ones(n, device=real.device)
    zeros = torch.zeros(n, device=real.device)

    fake = generator.sample(n, noise).detach()                              # (N, D)
    d_loss = bce(discriminator(real), ones) + bce(discriminator(fake), zeros)
    opt_d.zero_grad()
    d_loss.backward()
    opt_d.step()

    g_loss = bce(discriminator(generator.sample(n, noise)), ones)
    opt_g.zero_grad()
    g_loss.backward()
    opt_g.step()
    return d_loss.item(), g_loss.item()


def train_gan(generator: Generator, discriminator: Discriminator, data: torch.Tensor, steps: int,
              batch_size: int = 64, lr: float = 1e-3, betas: tuple[float, float] = (0.5, 0.999),
              seed: int = 0, every: int | None = None, n_samples: int = 1000,
              sample_seed: int = 1) -> dict:
    """Train a GAN for ``steps`` rounds of :func:`gan_step` on random batches of ``data`` (N, D).

    Both networks use Adam with ``lr`` and ``betas``. One random stream, a ``torch.Generator``
    seeded with ``seed``, draws each batch's rows (with replacement) and the noise. Every ``every`` steps (if given),
    ``n_samples`` samples are kept, always from the same noise (seeded with ``sample_seed``), so
    snapshots differ only because the generator changed.

    Returns: ``{"d_losses": [...], "g_losses": [...], "snapshots": {step: (n_samples, D) array}}``.
    """
    if not isinstance(data, torch.Tensor):
        raise TypeError(f"data must be a torch.Tensor, got {type(data).__name__}")
    if data.dim() != 2:
        raise ValueError(f"data must have shape (N, D), got {tuple(data.shape)}")
    steps, batch_size = positive_int(steps, "steps"), positive_int(batch_size, "batch_size")
    lr = real_number(lr, "lr", low=0.0, low_inclusive=False)
    every = None if every is None else positive_int(every, "every")
    n_samples = positive_int(n_samples, "n_samples")
    opt_g = torch.optim.Adam(generator.parameters(), lr=lr, betas=betas)
    opt_d = torch.optim.Adam(discriminator.parameters(), lr=lr, betas=betas)
    stream = torch.Generator().manual_seed(seed)
    d_losses, g_losses, snapshots = [], [], {}
    for step in range(1, steps + 1):
        real = data[torch.randint(0, len(data), (batch_size,), generator=stream)]  # (B, D)
        d_loss, g_loss = gan_step(generator, discriminator, opt_g, opt_d, real, stream)
        d_losses.append(d_loss)
        g_losses.append(g_loss)
        if every is not None and step % every == 0:
            with torch.no_grad():
                noise = torch.Generator().manual_seed(sample_seed)
                snapshots[step] = generator.sample(n_samples, noise).cpu().numpy()
    return {"d_losses": d_losses, "g_losses": g_losses, "snapshots": snapshots}


def mode_coverage(samples: np.ndarray, centres: np.ndarray, std: float, radius: float = 3.0,
                  min_share: float = 0.25) -> dict:
    """How well ``samples`` cover a mixture of Gaussians with ``centres`` and equal ``std``.

    A sample is *high quality* when it lies within ``radius`` standard deviations of its
    nearest centre; it then counts for that mode. A mode is *reached* when it holds at least
    ``min_share`` of the N / M high-quality samples a perfect generator would give it.

    Args:
        samples: (N, D) generated points. centres: (M, D) mode centres. std: the modes' standard
        deviation (> 0). radius: the distance, in stds, that counts as close. min_share: the
        fraction of a fair share a mode needs to count as reached.

    Returns: a dict with ``counts`` (M,) high-quality samples per mode, ``reached`` (the number
    of modes reached), ``high_quality`` (the fraction of samples that are high quality) and
    ``threshold`` (the count a mode needs).
    """
    samples, centres = as_float_array(samples, "samples"), as_float_array(centres, "centres")
    if samples.ndim != 2 or centres.ndim != 2 or samples.shape[1] != centres.shape[1]:
        raise ValueError(f"samples (N, D) and centres (M, D) must share D, got shapes "
                         f"{samples.shape} and {centres.shape}")
    std = real_number(std, "std", low=0.0, low_inclusive=False)
    radius = real_number(radius, "radius", low=0.0)
    min_share = real_number(min_share, "min_share", low=0.0)
    distance = np.linalg.norm(samples[:, None, :] - centres[None, :, :], axis=2)  # (N, M)
    nearest = distance.argmin(axis=1)                                       # (N,)
    good = distance.min(axis=1) <= radius * std                             # (N,)
    counts = np.bincount(nearest[good], minlength=len(centres))             # (M,)
    threshold = min_share * len(samples) / len(centres)
    return {"counts": counts, "reached": int((counts >= threshold).sum()),
            "high_quality": float(good.mean()), "threshold": threshold}


def class_coverage(probabilities: np.ndarray, min_share: float = 0.25) -> dict:
    """Which classes a classifier finds among generated samples, and how sure it is.

    Each sample counts for its most probable class. A class is *reached* when it holds at
    least ``min_share`` of the N / C samples an even spread would give it.

    Args:
        probabilities: (N, C) class probabilities of N samples (rows sum to 1).
        min_share: the fraction of a fair share a class needs to count as reached.

    Returns: a dict with ``counts`` (C,) samples per class, ``reached`` (classes reached),
    ``confidence`` (mean of each sample's largest probability), ``largest_share`` and
    ``smallest_share`` (the fullest and emptiest class's share of the samples).
    """
    p = as_float_array(probabilities, "probabilities")
    if p.ndim != 2 or len(p) == 0:
        raise ValueError(f"probabilities must have shape (N, C) with N > 0, got {p.shape}")
    if (p < 0).any() or not np.allclose(p.sum(axis=1), 1.0, atol=1e-6):
        raise ValueError("probabilities must be non-negative and each row must sum to 1")
    min_share = real_number(min_share, "min_share", low=0.0)
    n, c = p.shape
    counts = np.bincount(p.argmax(axis=1), minlength=c)                     # (C,)
    return {"counts": counts, "reached": int((counts >= min_share * n / c).sum()),
            "confidence": float(p.max(axis=1).mean()),
            "largest_share": float(counts.max() / n), "smallest_share": float(counts.min() / n)}


def _sqrt_psd(c: np.ndarray) -> np.ndarray:
    """The symmetric square root of a symmetric positive semi-definite matrix, by eigh."""
    w, v = np.linalg.eigh(c)                                                # (F,), (F, F)
    return (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T                      # V diag(√w) Vᵀ


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to two sets of feature vectors.

    With means m_a, m_b and covariances C_a, C_b of the rows::

        d^2 = |m_a - m_b|^2 + tr(C_a + C_b - 2 (C_a C_b)^(1/2))

    the squared 2-Wasserstein distance between the two Gaussians; with a classifier's features
    it is the FID of Heusel et al. (2017). 0 for identical statistics. C_a C_b is not symmetric,
    but it is similar to the symmetric S = C_a^(1/2) C_b C_a^(1/2), so tr (C_a C_b)^(1/2) is the
    sum of the square roots of the eigenvalues of S: two symmetric eigendecompositions, sound
    even for singular covariances (dead features).

    Args: a: (N, F) and b: (M, F) feature vectors, N, M >= 2. Returns: d^2, a float.
    """
    a, b = as_float_array(a, "a"), as_float_array(b, "b")
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1] or min(len(a), len(b)) < 2:
        raise ValueError(f"a (N, F) and b (M, F) must share F and hold at least 2 rows each, "
                         f"got shapes {a.shape} and {b.shape}")
    cov_a = np.atleast_2d(np.cov(a, rowvar=False))                          # (F, F)
    cov_b = np.atleast_2d(np.cov(b, rowvar=False))                          # (F, F)
    root_a = _sqrt_psd(cov_a)                                               # (F, F)
    s = root_a @ cov_b @ root_a                                             # (F, F)
    trace_root = np.sqrt(np.clip(np.linalg.eigvalsh((s + s.T) / 2), 0.0, None)).sum()
    mean_term = float(((a.mean(axis=0) - b.mean(axis=0)) ** 2).sum())
    return max(mean_term + float(np.trace(cov_a) + np.trace(cov_b) - 2 * trace_root), 0.0)
