"""Embedding lookup table: row i of the weight matrix is the vector of token i."""

from __future__ import annotations

import numbers

import numpy as np

from companion.core.checks import as_index_array, as_rng, positive_int
from companion.core.checks import as_grad_output
from companion.numpy.module import Module


class Embedding(Module):
    """Look up rows of a table, y[..., :] = W[idx[...], :].

    ``weight`` (num_embeddings, D) starts from N(0, 1) as in torch. The gradient of a row is
    the sum of the upstream gradients of every position that selected it (accumulated with
    ``np.add.at``, which handles repeated indices); the ``padding_idx`` row starts at zero and
    receives no gradient.

    Args:
        num_embeddings: number of rows (the vocabulary size).
        embedding_dim: size D of each vector.
        padding_idx: a row that stays fixed (zero at initialisation), or None. Negative values
            count from the end, as in torch.
        rng: None, an int seed or a ``numpy.random.Generator`` for the initialisation.
    """

    def __init__(self, num_embeddings: int, embedding_dim: int, padding_idx: int | None = None,
                 rng=None):
        super().__init__()
        self.num_embeddings = positive_int(num_embeddings, "num_embeddings")
        self.embedding_dim = positive_int(embedding_dim, "embedding_dim")
        if padding_idx is not None:
            if isinstance(padding_idx, bool) or not isinstance(padding_idx, numbers.Integral):
                raise TypeError(f"padding_idx must be an int or None, got "
                                f"{type(padding_idx).__name__} {padding_idx!r}")
            if not -self.num_embeddings <= padding_idx < self.num_embeddings:
                raise ValueError(f"padding_idx must lie in [{-self.num_embeddings}, "
                                 f"{self.num_embeddings - 1}], got {padding_idx}")
            padding_idx = int(padding_idx) % self.num_embeddings
        self.padding_idx = padding_idx
        weight = as_rng(rng).standard_normal((self.num_embeddings, self.embedding_dim))
        if padding_idx is not None:
            weight[padding_idx] = 0.0
        self.add_param("weight", weight)
        self._index = None

    def forward(self, input: np.ndarray) -> np.ndarray:
        """input: integer array of any shape ``(*)``. Returns the vectors, shape ``(*, D)``."""
        self._index = as_index_array(input, "input", upper=self.num_embeddings)
        return self._params["weight"][self._index]  # (*, D)

    def backward(self, grad_output: np.ndarray) -> None:
        """grad_output: dL/dy, shape ``(*, D)``. Adds into dL/dweight; returns None (indices have no
        gradient)."""
        shape = None if self._index is None else self._index.shape + (self.embedding_dim,)
        grad = as_grad_output(grad_output, shape, "Embedding")
        rows = np.zeros_like(self._grads["weight"])
        np.add.at(rows, self._index.reshape(-1), grad.reshape(-1, self.embedding_dim))
        if self.padding_idx is not None:
            rows[self.padding_idx] = 0.0
        self._grads["weight"] += rows
        return None

    @classmethod
    def _config_from_torch(cls, module) -> dict:
        if module.max_norm is not None or module.scale_grad_by_freq or module.sparse:
            raise ValueError("Embedding.from_torch supports neither max_norm, "
                             "scale_grad_by_freq nor sparse gradients")
        return {"num_embeddings": module.num_embeddings, "embedding_dim": module.embedding_dim,
                "padding_idx": module.padding_idx}

    def __repr__(self) -> str:
        return (f"Embedding({self.num_embeddings}, {self.embedding_dim}, "
                f"padding_idx={self.padding_idx})")
