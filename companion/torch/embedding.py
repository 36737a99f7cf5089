"""Embedding lookup as row indexing, mirroring ``torch.nn.Embedding``."""

from __future__ import annotations

import torch
from torch import nn

from companion.core.checks import integer, positive_int

from ._inputs import tensor_input

__all__ = ["Embedding"]


class Embedding(nn.Module):
    """Look up one learned vector per index: out[..., :] = W[idx[...], :].

    The gradient of row i is the sum of the upstream gradients at every position holding i
    (divided by the count of i in the batch when ``scale_grad_by_freq``); the ``padding_idx`` row
    gets no gradient. ``max_norm`` rescales, in place, every looked-up row whose ``norm_type``-norm
    exceeds it.
    Parameter ``weight`` (num_embeddings, embedding_dim), drawn from N(0, 1) with the padding row 0.
    Input: integer indices of any shape ``(*)``. Output: ``(*, embedding_dim)``.
    """

    def __init__(self, num_embeddings: int, embedding_dim: int, padding_idx: int | None = None,
                 max_norm: float | None = None, norm_type: float = 2.0,
                 scale_grad_by_freq: bool = False, sparse: bool = False,
                 _weight: torch.Tensor | None = None, _freeze: bool = False,
                 device=None, dtype=None):
        super().__init__()
        self.num_embeddings = positive_int(num_embeddings, "num_embeddings")
        self.embedding_dim = positive_int(embedding_dim, "embedding_dim")
        if padding_idx is not None:
            padding_idx = integer(padding_idx, "padding_idx")
            if not -num_embeddings <= padding_idx < num_embeddings:
                raise ValueError(f"padding_idx must lie in [-{num_embeddings}, {num_embeddings}), "
                                 f"got {padding_idx}")
            padding_idx %= num_embeddings
        if sparse:
            raise ValueError("sparse=True is not supported by this implementation, got sparse=True")
        self.padding_idx, self.max_norm, self.norm_type = padding_idx, max_norm, norm_type
        self.scale_grad_by_freq, self.sparse = scale_grad_by_freq, sparse
        if _weight is None:
            self.weight = nn.Parameter(torch.empty(num_embeddings, embedding_dim, device=device,
                                                   dtype=dtype), requires_grad=not _freeze)
            self.reset_parameters()
        else:
            if tuple(_weight.shape) != (num_embeddings, embedding_dim):
                raise ValueError(f"_weight must have shape ({num_embeddings}, {embedding_dim}), "
                                 f"got {tuple(_weight.shape)}")
            self.weight = nn.Parameter(_weight, requires_grad=not _freeze)

    def reset_parameters(self) -> None:
        """Draw the weight from N(0, 1) and zero the padding row."""
        with torch.no_grad():
            self.weight.normal_()
            if self.padding_idx is not None:
                self.weight[self.padding_idx].zero_()

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        tensor_input(input, "input", floating=False)
        if input.is_floating_point() or input.is_complex() or input.dtype == torch.bool:
            raise TypeError(f"input must hold integer indices, got dtype {input.dtype}")
        if input.numel() and (input.min() < 0 or input.max() >= self.num_embeddings):
            raise ValueError(f"input must hold indices in [0, {self.num_embeddings}), got values "
                             f"in [{int(input.min())}, {int(input.max())}]")
        if self.max_norm is not None:
            self._renorm(input)
        rows = self.weight[input]                                  # (*, embedding_dim)
        scale = torch.ones(input.shape, dtype=rows.dtype, device=rows.device)  # (*,)
        if self.scale_grad_by_freq:
            counts = torch.bincount(input.reshape(-1), minlength=self.num_embeddings)
            scale = scale / counts[input]
        if self.padding_idx is not None:
            scale = torch.where(input == self.padding_idx, torch.zeros_like(scale), scale)
        if not (self.scale_grad_by_freq or self.padding_idx is not None):
            return rows
        # The value is rows; only the gradient is scaled: s * rows + (1 - s) * rows.detach().
        scale = scale.unsqueeze(-1)                                # (*, 1)
        return scale * rows + (1 - scale) * rows.detach()

    @torch.no_grad()
    def _renorm(self, input: torch.Tensor) -> None:
        """Rescale each looked-up row with norm above ``max_norm`` to norm ``max_norm``."""
        rows = torch.unique(input)
        norms = torch.linalg.vector_norm(self.weight[rows], ord=self.norm_type, dim=1)  # (R,)
        factor = torch.where(norms > self.max_norm, self.max_norm / (norms + 1e-7),
                             torch.ones_like(norms))
        self.weight[rows] *= factor.unsqueeze(1)

    def extra_repr(self) -> str:
        extra = f", padding_idx={self.padding_idx}" if self.padding_idx is not None else ""
        return f"{self.num_embeddings}, {self.embedding_dim}{extra}"
