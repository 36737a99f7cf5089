"""Autoencoders: a network trained to give back its own input through a narrow code.

An :class:`Autoencoder` is an encoder ``z = e(x)`` that squeezes an input of D numbers into a
code of L < D numbers, and a decoder ``x_hat = d(z)`` that rebuilds the input from the code;
both are multilayer perceptrons and the pair is trained to make ``x_hat`` close to ``x``.
:func:`reconstruction_error` scores each example by how badly it comes back, the quantity used
for choosing the code size, for denoising and for anomaly detection. :func:`train_autoencoder`
trains one with Adam on (input, target) pairs, the target being the input itself or a clean
version of a damaged input.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from companion.core.checks import integer, positive_int, real_number
from companion.torch._inputs import module_input, tensor_input
from companion.torch.activations import ReLU, Sigmoid
from companion.torch.linear import Linear
from companion.torch.losses import MSELoss
from companion.torch.training import fit, seed_everything

__all__ = ["Autoencoder", "reconstruction_error", "train_autoencoder"]


def _stack(widths: Sequence[int], last: nn.Module | None) -> nn.Sequential:
    """Linear layers through ``widths`` with ReLU between them and ``last`` (if any) at the end."""
    layers: list[nn.Module] = []
    for i, (d_in, d_out) in enumerate(zip(widths[:-1], widths[1:])):
        layers.append(Linear(d_in, d_out))
        if i < len(widths) - 2:
            layers.append(ReLU())
    if last is not None:
        layers.append(last)
    return nn.Sequential(*layers)


class Autoencoder(nn.Module):
    """x_hat = decoder(encoder(x)), with a code of ``latent`` numbers in between.

    encoder: D -> hidden[0] -> ... -> hidden[-1] -> L, ReLU between layers, linear code;
    decoder: L -> hidden[-1] -> ... -> hidden[0] -> D, ReLU between layers, then a sigmoid so the
    output lies in (0, 1) like the pixels it rebuilds.

    Args:
        in_features: D, the size of each input row.
        latent: L, the size of the code.
        hidden: widths of the encoder's hidden layers (the decoder mirrors them).

    Input: (N, D). Output: (N, D). ``encode`` gives (N, L); ``decode`` maps (N, L) -> (N, D).
    """

    def __init__(self, in_features: int, latent: int, hidden: Sequence[int] = (32,)):
        super().__init__()
        self.in_features = positive_int(in_features, "in_features")
        self.latent = positive_int(latent, "latent")
        if not isinstance(hidden, (tuple, list)):
            raise TypeError(f"hidden must be a sequence of widths, got {type(hidden).__name__}")
        widths = [self.in_features, *(positive_int(w, "hidden width") for w in hidden),
                  self.latent]
        self.encoder = _stack(widths, None)
        self.decoder = _stack(widths[::-1], Sigmoid())

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """The code z = e(x): (N, D) -> (N, L)."""
        if x.dim() != 2 or x.shape[1] != self.in_features:
            raise ValueError(f"x must have shape (N, {self.in_features}), got {tuple(x.shape)}")
        return self.encoder(x)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """The reconstruction d(z): (N, L) -> (N, D)."""
        if z.dim() != 2 or z.shape[1] != self.latent:
            raise ValueError(f"z must have shape (N, {self.latent}), got {tuple(z.shape)}")
        return self.decoder(z)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x))                                  # (N, D)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, latent={self.latent}"


def reconstruction_error(model: nn.Module, x: torch.Tensor,
                         target: torch.Tensor | None = None) -> torch.Tensor:
    """Mean squared error of each example's reconstruction: mean_j (model(x)_j - t_j)^2.

    Args:
        model: maps (N, D) -> (N, D).
        x: (N, D) inputs; target: (N, D) what the output should be (default ``x`` itself).

    Returns: (N,) one error per example, computed in eval mode without gradients.
    """
    module_input(model, "model")
    tensor_input(x, "x")
    target = x if target is None else tensor_input(target, "target")
    if target.shape != x.shape:
        raise ValueError(f"target must have the shape of x {tuple(x.shape)}, "
                         f"got {tuple(target.shape)}")
    was_training = model.training
    model.eval()
    with torch.no_grad():
        error = ((model(x) - target) ** 2).mean(dim=1)                      # (N,)
    model.train(was_training)
    return error


def train_autoencoder(inputs: torch.Tensor, targets: torch.Tensor | None = None, latent: int = 16,
                      hidden: Sequence[int] = (64,), epochs: int = 100, batch_size: int = 256,
                      lr: float = 1e-2, seed: int = 0) -> Autoencoder:
    """Train ``Autoencoder(D, latent, hidden)`` to map ``inputs`` to ``targets`` with Adam.

    The loss is the mean squared error between model(inputs) and targets (default: the inputs
    themselves); each of ``epochs`` passes goes through the rows in a fresh random order, in
    mini-batches of ``batch_size``. ``seed`` fixes the initial weights and the order, so the
    same call gives the same model.

    Args:
        inputs: (N, D). targets: (N, D) or None.

    Returns: the trained :class:`Autoencoder`, in train mode.
    """
    targets = inputs if targets is None else targets
    if inputs.dim() != 2:
        raise ValueError(f"inputs must have shape (N, D), got {tuple(inputs.shape)}")
    if targets.shape != inputs.shape:
        raise ValueError(f"targets must have the shape of inputs {tuple(inputs.shape)}, "
                         f"got {tuple(targets.shape)}")
    seed = integer(seed, "seed")
    lr = real_number(lr, "lr", low=0.0, low_inclusive=False)
    seed_everything(seed)
    model = Autoencoder(inputs.shape[1], latent, hidden)
    loader = DataLoader(TensorDataset(inputs, targets), batch_size=positive_int(batch_size,
                                                                               "batch_size"),
                        shuffle=True, generator=torch.Generator().manual_seed(seed))
    fit(model, loader, MSELoss(), torch.optim.Adam(model.parameters(), lr=lr), epochs,
        metrics={}, device="cpu")
    return model
