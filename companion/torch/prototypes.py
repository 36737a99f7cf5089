"""Prototypical networks (Snell et al. 2017): learn an embedding in which class means classify.

The twin of :mod:`companion.numpy.prototypes` (same formulas, from torch primitives, so they are
differentiable): :func:`prototypes` averages support embeddings per class,
:func:`prototype_logits` scores queries by minus squared distance to each prototype, and
:func:`prototypical_loss` is the cross-entropy of those logits. :func:`train_prototypical`
trains an embedding on episodes drawn from *base* classes; :func:`few_shot_accuracy` then
measures it on episodes of *novel* classes it never saw, where each new class is known only
from its ``n_shot`` support examples.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from companion.core.checks import as_rng, positive_int
from companion.data.episodes import sample_episode
from companion.torch.activations import ReLU, log_softmax
from companion.torch.conv import Conv2d
from companion.torch.linear import Flatten, Linear
from companion.torch.pooling import MaxPool2d
from companion.torch.training import train_steps
from companion.torch._inputs import tensor_input

__all__ = ["prototypes", "prototype_logits", "prototypical_loss", "ConvEmbedding",
           "train_prototypical", "few_shot_accuracy"]


def prototypes(embeddings: torch.Tensor, labels: torch.Tensor, n_way: int) -> torch.Tensor:
    """c_k = mean of embeddings[labels == k]: (N, D) with labels (N,) in [0, K) -> (K, D)."""
    tensor_input(embeddings, "embeddings")
    tensor_input(labels, "labels", floating=False)
    if embeddings.dim() != 2 or labels.shape != embeddings.shape[:1]:
        raise ValueError(f"embeddings must be (N, D) with labels (N,), got "
                         f"{tuple(embeddings.shape)} and {tuple(labels.shape)}")
    n_way = positive_int(n_way, "n_way")
    one_hot = torch.nn.functional.one_hot(labels, n_way).to(embeddings.dtype)  # (N, K)
    counts = one_hot.sum(dim=0)  # (K,)
    if (counts == 0).any():
        raise ValueError(f"every class in [0, {n_way}) needs a support example, got counts "
                         f"{counts.tolist()}")
    return (one_hot.T @ embeddings) / counts[:, None]  # (K, N) @ (N, D) -> (K, D)


def prototype_logits(queries: torch.Tensor, protos: torch.Tensor) -> torch.Tensor:
    """``logit[q, k] = -sum_d (queries[q, d] - protos[k, d])^2``: (Q, D), (K, D) -> (Q, K)."""
    tensor_input(queries, "queries")
    tensor_input(protos, "protos")
    if queries.dim() != 2 or protos.dim() != 2 or queries.shape[1] != protos.shape[1]:
        raise ValueError(f"queries (Q, D) and protos (K, D) must share D, got "
                         f"{tuple(queries.shape)} and {tuple(protos.shape)}")
    diff = queries[:, None, :] - protos[None, :, :]  # (Q, 1, D) - (1, K, D) -> (Q, K, D)
    return -(diff ** 2).sum(dim=-1)  # (Q, K)


def prototypical_loss(support: torch.Tensor, support_labels: torch.Tensor,
                      queries: torch.Tensor, query_labels: torch.Tensor, n_way: int):
    """Mean cross-entropy of the prototype classifier on the queries, and its accuracy.

    support (S, D) embeddings with labels (S,); queries (Q, D) with labels (Q,).
    Returns (loss, accuracy): a scalar tensor and a float.
    """
    for name, value in (("support", support), ("queries", queries)):
        tensor_input(value, name)
    for name, value in (("support_labels", support_labels), ("query_labels", query_labels)):
        tensor_input(value, name, floating=False)
    logits = prototype_logits(queries, prototypes(support, support_labels, n_way))  # (Q, K)
    logp = log_softmax(logits, dim=-1)  # (Q, K)
    loss = -logp.gather(1, query_labels[:, None]).mean()  # (Q, 1) -> scalar
    accuracy = (logits.argmax(dim=1) == query_labels).double().mean().item()
    return loss, accuracy


class ConvEmbedding(nn.Module):
    """A small convolutional embedding for 8x8 images: (N, 1, 8, 8) -> (N, D).

    conv3x3(1 -> c) ReLU maxpool2 -> conv3x3(c -> 2c) ReLU maxpool2 -> flatten (2c * 2 * 2)
    -> Linear(-> D).
    """

    def __init__(self, channels: int = 16, dim: int = 32):
        super().__init__()
        c = positive_int(channels, "channels")
        self.net = nn.Sequential(
            Conv2d(1, c, 3, padding=1), ReLU(), MaxPool2d(2),  # (N, c, 4, 4)
            Conv2d(c, 2 * c, 3, padding=1), ReLU(), MaxPool2d(2),  # (N, 2c, 2, 2)
            Flatten(), Linear(2 * c * 4, positive_int(dim, "dim")))  # (N, D)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 2 and x.shape[1] == 64:
            x = x.view(-1, 1, 8, 8)  # (N, 64) -> (N, 1, 8, 8)
        return self.net(x)


def train_prototypical(embed: nn.Module, x: torch.Tensor, labels, classes, episodes: int = 300,
                       n_way: int | None = None, n_shot: int = 5, n_query: int = 10,
                       lr: float = 1e-3, seed: int = 0):
    """Train ``embed`` with the prototypical loss on episodes of the given base classes.

    Each episode picks ``n_way`` of ``classes`` at random (all of them by default), draws
    support and query examples with :func:`sample_episode` from (x, labels), embeds both and
    takes one Adam step on :func:`prototypical_loss`.

    Args:
        embed: the embedding network, already on the device of ``x``.
        x: (N, ...) inputs; labels: (N,) class ids (NumPy).
        classes: the base class ids to train on.
        episodes: number of optimiser steps. lr: Adam's learning rate.
        seed: seeds the episode sampler.

    Returns:
        The :class:`~companion.core.training.History` of
        :func:`companion.torch.training.train_steps`: the loss of every episode in ``step_loss``
        and the mean query accuracy over the episodes in ``train_metrics["accuracy"]``.
    """
    classes = list(classes)
    n_way = len(classes) if n_way is None else positive_int(n_way, "n_way")
    rng = as_rng(seed)

    def draw():  # episodes of n_way base classes: support, labels, queries, labels
        while True:
            chosen = rng.choice(classes, size=n_way, replace=False)
            yield sample_episode(labels, chosen, n_shot, n_query, rng)

    def loss_and_accuracy(embed, episode):
        s, s_y, q, q_y = episode
        s_y = torch.as_tensor(s_y, device=x.device)
        q_y = torch.as_tensor(q_y, device=x.device)
        loss, acc = prototypical_loss(embed(x[s]), s_y, embed(x[q]), q_y, n_way)
        return loss, {"accuracy": acc}

    history = train_steps(embed, draw(), loss_and_accuracy,
                          torch.optim.Adam(embed.parameters(), lr=lr),
                          positive_int(episodes, "episodes"))
    embed.eval()
    return history


@torch.no_grad()
def few_shot_accuracy(embed, x: torch.Tensor, labels, classes, n_shot: int,
                      n_query: int = 15, episodes: int = 200, rng=None) -> np.ndarray:
    """Accuracy of the prototype classifier on each of ``episodes`` episodes of ``classes``.

    ``embed`` maps (n, ...) inputs to (n, D) (a module in eval mode or any function, e.g.
    ``lambda v: v.flatten(1)`` for raw pixels). Every episode uses all the given classes.
    Returns a (episodes,) array of query accuracies.
    """
    if not callable(embed):
        raise TypeError(f"embed must be a module or a function, got {type(embed).__name__}")
    tensor_input(x, "x")
    if not isinstance(classes, (list, tuple, range, np.ndarray)):
        raise TypeError(f"classes must be a sequence of class labels, got {type(classes).__name__}")
    rng = as_rng(rng)
    classes = list(classes)
    scores = np.empty(positive_int(episodes, "episodes"))
    for e in range(len(scores)):
        s, s_y, q, q_y = sample_episode(labels, classes, n_shot, n_query, rng)
        s_y = torch.as_tensor(s_y, device=x.device)
        protos = prototypes(embed(x[s]), s_y, len(classes))  # (K, D)
        logits = prototype_logits(embed(x[q]), protos)  # (K * n_query, K)
        scores[e] = (logits.argmax(dim=1).cpu().numpy() == q_y).mean()
    return scores
