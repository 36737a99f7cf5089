"""Generative adversarial networks: a generator and a discriminator trained against each other.

The generator G maps random noise z ~ N(0, I) to a sample G(z); the discriminator D maps a
sample to a logit, the log-odds that it came from the data rather than from G. One round of
:func:`gan_step` first improves D at telling the two apart, then improves G at fooling the new
D. :func:`mode_coverage` measures how much of a mixture of Gaussians the generator has learned.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from companion.core.checks import positive_int, real_number
from companion.torch.losses import BCEWithLogitsLoss
from companion.torch.models.mlp import mlp

__all__ = ["Generator", "Discriminator", "gan_step", "mode_coverage"]


class Generator(nn.Module):
    """x = G(z): an MLP from noise of ``latent`` numbers to a sample of ``out_features``.

    Input: (N, latent) noise. Output: (N, out_features) samples.
    :meth:`sample` draws the noise itself from N(0, I).
    """

    def __init__(self, latent: int, out_features: int, hidden: Sequence[int] = (64, 64)):
        super().__init__()
        self.latent = positive_int(latent, "latent")
        self.net = mlp(self.latent, hidden, out_features)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)                                                  # (N, out)

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """n samples G(z), z ~ N(0, I), drawn with ``generator``: (n, out_features)."""
        device = next(self.parameters()).device
        z = torch.randn(positive_int(n, "n"), self.latent, generator=generator)
        return self(z.to(device))


class Discriminator(nn.Module):
    """D(x): an MLP from a sample to one logit, the log-odds that x is real.

    Input: (N, in_features). Output: (N,) logits.
    """

    def __init__(self, in_features: int, hidden: Sequence[int] = (64, 64)):
        super().__init__()
        self.net = mlp(in_features, hidden, 1)

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
    samples = np.asarray(samples, dtype=np.float64)
    centres = np.asarray(centres, dtype=np.float64)
    if samples.ndim != 2 or centres.ndim != 2 or samples.shape[1] != centres.shape[1]:
        raise ValueError(f"samples (N, D) and centres (M, D) must share D, got shapes "
                         f"{samples.shape} and {centres.shape}")
    std = real_number(std, "std", low=0.0, low_inclusive=False)
    distance = np.linalg.norm(samples[:, None, :] - centres[None, :, :], axis=2)  # (N, M)
    nearest = distance.argmin(axis=1)                                       # (N,)
    good = distance.min(axis=1) <= radius * std                             # (N,)
    counts = np.bincount(nearest[good], minlength=len(centres))             # (M,)
    threshold = min_share * len(samples) / len(centres)
    return {"counts": counts, "reached": int((counts >= threshold).sum()),
            "high_quality": float(good.mean()), "threshold": threshold}
