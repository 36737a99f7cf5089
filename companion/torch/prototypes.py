"""Prototypical networks (Snell et al. 2017): learn an embedding in which class means classify.

The twin of :mod:`companion.numpy.prototypes` (same formulas, from torch primitives, so they are
differentiable): :func:`prototypes` averages support embeddings per class,
:func:`prototype_logits` scores queries by minus squared distance to each prototype, and
:func:`prototypical_loss` is the cross-entropy of those logits. :func:`train_prototypical`
trains an embedding on episodes drawn from *base* classes; :func:`few_shot_accuracy` then
measures it on episodes of *novel* classes it never saw, where each new class is known only
from its ``n_shot`` support examples. :func:`train_instance_episodes` trains on episodes whose
classes are single images, each known from one random warp and queried with another (instance
discrimination, the idea of SimCLR's loss, here written as a prototypical loss), so it needs no
labels.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from companion.core.checks import as_rng, positive_int, real_number
from companion.data.episodes import sample_episode
from companion.torch.activations import ReLU, log_softmax
from companion.torch.conv import Conv2d
from companion.torch.linear import Flatten, Linear
from companion.torch.pooling import MaxPool2d
from companion.torch.training import train_steps
from companion.torch._inputs import tensor_input

__all__ = ["prototypes", "prototype_logits", "prototypical_loss", "ConvEmbedding",
           "train_prototypical", "train_instance_episodes", "few_shot_accuracy"]


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
                      queries: torch.Tensor, query_labels: torch.Tensor, n_way: int,
                      temperature: float | None = None):
    """Mean cross-entropy of the prototype classifier on the queries, and its accuracy.

    support (S, D) embeddings with labels (S,); queries (Q, D) with labels (Q,).
    temperature: None scores raw embeddings; a number t first scales every embedding to length
    1/sqrt(2 t), so that for single-shot prototypes -||a - b||^2 = (cos(a, b) - 1) / t: cosine
    similarity over a temperature (the constant does not change a softmax).
    Returns (loss, accuracy): a scalar tensor and a float.
    """
    for name, value in (("support", support), ("queries", queries)):
        tensor_input(value, name)
    for name, value in (("support_labels", support_labels), ("query_labels", query_labels)):
        tensor_input(value, name, floating=False)
    if temperature is not None:
        t = real_number(temperature, "temperature", low=0, low_inclusive=False)
        length = (2 * t) ** -0.5
        support = length * torch.nn.functional.normalize(support, dim=1)  # (S, D), norm length
        queries = length * torch.nn.functional.normalize(queries, dim=1)  # (Q, D)
    logits = prototype_logits(queries, prototypes(support, support_labels, n_way))  # (Q, K)
    logp = log_softmax(logits, dim=-1)  # (Q, K)
    loss = -logp.gather(1, query_labels[:, None]).mean()  # (Q, 1) -> scalar
    accuracy = (logits.argmax(dim=1) == query_labels).double().mean().item()
    return loss, accuracy


class ConvEmbedding(nn.Module):
    """A small convolutional embedding for 8x8 images: (N, 1, 8, 8) -> (N, D).

    pools=2: conv3x3(1 -> c) ReLU maxpool2 -> conv3x3(c -> 2c) ReLU maxpool2 -> flatten
    (2c * 2 * 2) -> Linear(-> D). pools=1 drops the first max-pool, so the features keep a
    4x4 grid: flatten (2c * 4 * 4) -> Linear(-> D). :meth:`features` is everything before
    the last Linear.
    """

    def __init__(self, channels: int = 16, dim: int = 32, pools: int = 2):
        super().__init__()
        c = positive_int(channels, "channels")
        if pools not in (1, 2) or isinstance(pools, bool):
            raise ValueError(f"pools must be 1 or 2, got {pools!r}")
        first = [MaxPool2d(2)] if pools == 2 else []  # (N, c, 4, 4) or stay (N, c, 8, 8)
        side = 8 // 2 ** pools  # 2 or 4
        self.net = nn.Sequential(
            Conv2d(1, c, 3, padding=1), ReLU(), *first,
            Conv2d(c, 2 * c, 3, padding=1), ReLU(), MaxPool2d(2),  # (N, 2c, side, side)
            Flatten(), Linear(2 * c * side * side, positive_int(dim, "dim")))  # (N, D)

    @staticmethod
    def _as_images(x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 2 and x.shape[1] == 64:
            x = x.view(-1, 1, 8, 8)  # (N, 64) -> (N, 1, 8, 8)
        return x

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The representation before the last Linear: (N, 1, 8, 8) -> (N, 2c * side^2)."""
        return self.net[:-1](self._as_images(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(self._as_images(x))


def train_prototypical(embed: nn.Module, x: torch.Tensor, labels, classes, episodes: int = 300,
                       n_way: int | None = None, n_shot: int = 5, n_query: int = 10,
                       lr: float = 1e-3, seed: int = 0, augment=None,
                       temperature: float | None = None):
    """Train ``embed`` with the prototypical loss on episodes of the given base classes.

    Each episode picks ``n_way`` of ``classes`` at random (all of them by default), draws
    support and query examples with :func:`sample_episode` from (x, labels), embeds both
    (after ``augment``, if given: a function of a batch, e.g. a random warp) and takes one
    Adam step on :func:`prototypical_loss` (with ``temperature``).

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
    augment = _augmenter(augment)

    def draw():  # episodes of n_way base classes: support, labels, queries, labels
        while True:
            chosen = rng.choice(classes, size=n_way, replace=False)
            yield sample_episode(labels, chosen, n_shot, n_query, rng)

    def loss_and_accuracy(embed, episode):
        s, s_y, q, q_y = episode
        s_y = torch.as_tensor(s_y, device=x.device)
        q_y = torch.as_tensor(q_y, device=x.device)
        loss, acc = prototypical_loss(embed(augment(x[s])), s_y, embed(augment(x[q])), q_y,
                                      n_way, temperature)
        return loss, {"accuracy": acc}

    return _adam_steps(embed, draw(), loss_and_accuracy, lr, episodes)


def _adam_steps(embed: nn.Module, draws, loss_and_accuracy, lr: float, episodes: int):
    """One Adam step on ``loss_and_accuracy`` per draw, ``episodes`` of them; ``embed`` is left
    in eval mode. Returns the :class:`~companion.core.training.History`."""
    history = train_steps(embed, draws, loss_and_accuracy,
                          torch.optim.Adam(embed.parameters(), lr=lr),
                          positive_int(episodes, "episodes"))
    embed.eval()
    return history


def _augmenter(augment):
    if augment is None:
        return lambda v: v
    if not callable(augment):
        raise TypeError(f"augment must be a function of a batch or None, got "
                        f"{type(augment).__name__}")
    return augment


def train_instance_episodes(embed: nn.Module, x: torch.Tensor, augment, episodes: int = 300,
                            n_way: int = 64, temperature: float = 0.2, lr: float = 1e-3,
                            seed: int = 0):
    """Train ``embed`` on episodes whose classes are single images: no labels needed.

    Each episode draws ``n_way`` distinct images of ``x``; image k's support example is one
    random ``augment``-ation of it and its query another, so the episode is ``n_way``-way and
    one-shot, and :func:`prototypical_loss` with ``temperature`` asks every query to be
    nearer its own image's other view than any other image's (SimCLR's contrastive idea).
    Without ``augment`` the two views would be equal and there would be nothing to learn.

    Args:
        embed: the embedding network, already on the device of ``x``.
        x: (N, ...) inputs, N >= n_way. augment: a function of a batch (n, ...) -> (n, ...)
            that draws a fresh random transformation of every item.
        episodes: number of Adam steps. seed: seeds the choice of images.

    Returns:
        The :class:`~companion.core.training.History`, as :func:`train_prototypical`'s.
    """
    tensor_input(x, "x")
    if not callable(augment):
        raise TypeError(f"augment must be a function of a batch, got {type(augment).__name__}")
    n_way = positive_int(n_way, "n_way")
    if not 2 <= n_way <= len(x):
        raise ValueError(f"n_way must be between 2 and len(x) = {len(x)}, got {n_way}")
    real_number(temperature, "temperature", low=0, low_inclusive=False)
    rng = as_rng(seed)
    labels = torch.arange(n_way, device=x.device)  # (K,): image k is class k

    def draw():
        while True:
            yield torch.as_tensor(rng.choice(len(x), size=n_way, replace=False))

    def loss_and_accuracy(embed, chosen):
        images = x[chosen.to(x.device)]  # (K, ...)
        loss, acc = prototypical_loss(embed(augment(images)), labels, embed(augment(images)),
                                      labels, n_way, temperature)
        return loss, {"accuracy": acc}

    return _adam_steps(embed, draw(), loss_and_accuracy, lr, episodes)


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
