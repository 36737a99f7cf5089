"""The transformer block and a GPT language model in NumPy, with explicit backward passes.

Built from the package's layers (:class:`~companion.numpy.linear.Linear`,
:class:`~companion.numpy.normalization.LayerNorm`, :class:`~companion.numpy.activations.GELU`,
:class:`~companion.numpy.embedding.Embedding`) and
:func:`~companion.numpy.attention.scaled_dot_product_attention` with its backward. Parameter
names and layouts are those of :mod:`companion.torch.models.transformer` and
:mod:`companion.torch.models.gpt`, so ``from_torch`` copies a torch model's weights after
checking that every key and shape matches. Dropout is not implemented (it must be 0).

Each layer keeps the activations of its last forward pass, so ``backward`` must follow the
``forward`` it differentiates; gradients are *added* into ``grads`` (call ``zero_grad``).
"""

from __future__ import annotations

import numpy as np

from companion.core.checks import (as_float_array, as_index_array, as_rng, flag, positive_int,
                                   real_number)
from companion.numpy.activations import GELU
from companion.numpy.attention import (
    scaled_dot_product_attention,
    scaled_dot_product_attention_backward,
)
from companion.numpy.embedding import Embedding
from companion.numpy.linear import Linear
from companion.numpy.losses import CrossEntropyLoss
from companion.numpy.module import Module
from companion.numpy.normalization import LayerNorm

__all__ = ["SelfAttention", "FeedForward", "TransformerBlock", "GPT",
           "sinusoidal_positional_encoding"]


def sinusoidal_positional_encoding(length: int, dim: int, base: float = 10000.0) -> np.ndarray:
    """PE[t, 2i] = sin(t w_i), PE[t, 2i+1] = cos(t w_i), w_i = base^(-2i/dim): a (T, C) array."""
    length, dim = positive_int(length, "length"), positive_int(dim, "dim")
    base = real_number(base, "base", low=0.0, low_inclusive=False)
    if dim % 2:
        raise ValueError(f"dim must be even (sine/cosine pairs), got {dim}")
    angle = np.arange(length)[:, None] * base ** (-np.arange(0, dim, 2) / dim)  # (T, C/2)
    return np.stack([np.sin(angle), np.cos(angle)], axis=-1).reshape(length, dim)  # (T, C)


class SelfAttention(Module):
    """Multi-head self-attention, concat_h softmax(Q_h K_h^T / sqrt(hs) + M) V_h then W_o.

    Parameters: ``qkv.weight`` (3C, C), ``qkv.bias`` (3C,), ``proj.weight`` (C, C),
    ``proj.bias`` (C,). Input x (B, T, C), optional ``key_padding_mask`` (B, T) bool (True =
    padding key). Output (B, T, C). A query with no admissible key attends to nothing (zeros).
    """

    def __init__(self, n_embd: int, n_head: int, causal: bool = True, rng=None):
        super().__init__()
        self.n_embd, self.n_head = positive_int(n_embd, "n_embd"), positive_int(n_head, "n_head")
        if n_embd % n_head:
            raise ValueError(f"n_embd must be divisible by n_head, got n_embd={n_embd} and "
                             f"n_head={n_head}")
        self.causal = flag(causal, "causal")
        rng = as_rng(rng)
        self.qkv = self.add_module("qkv", Linear(n_embd, 3 * n_embd, rng=rng))
        self.proj = self.add_module("proj", Linear(n_embd, n_embd, rng=rng))
        self._cache = None
        self.last_weights = None  # (B, nh, T, T) attention weights of the last forward pass

    def forward(self, x: np.ndarray, key_padding_mask=None) -> np.ndarray:
        x = as_float_array(x, "x", ndim=3, shape_hint=f"(B, T, {self.n_embd})")
        B, T, C = x.shape
        if C != self.n_embd:
            raise ValueError(f"x must have shape (B, T, {self.n_embd}), got {x.shape}")
        nh, hs = self.n_head, C // self.n_head
        qkv = self.qkv(x)  # (B, T, 3C)
        q, k, v = (part.reshape(B, T, nh, hs).transpose(0, 2, 1, 3)  # (B, T, C) -> (B, nh, T, hs)
                   for part in np.split(qkv, 3, axis=-1))
        allowed = np.ones((1, 1, T, T), dtype=bool)  # (1, 1, T, T): True = may attend
        if self.causal:
            allowed = allowed & np.tril(np.ones((T, T), dtype=bool))  # causal mask (T, T)
        if key_padding_mask is not None:
            padding = np.asarray(key_padding_mask)
            if padding.shape != (B, T) or padding.dtype != np.bool_:
                raise ValueError(f"key_padding_mask must be a bool array of shape ({B}, {T}), "
                                 f"got {padding.dtype} {padding.shape}")
            allowed = allowed & ~padding[:, None, None, :]  # (B, T) -> (B, 1, 1, T)
        out, weights = scaled_dot_product_attention(q, k, v, attn_mask=allowed)  # (B, nh, T, hs)
        self._cache = (q, k, v, weights)
        self.last_weights = weights  # (B, nh, T, T)
        out = out.transpose(0, 2, 1, 3).reshape(B, T, C)  # (B, nh, T, hs) -> (B, T, C)
        return self.proj(out)  # (B, T, C)

    def backward(self, grad_output: np.ndarray) -> np.ndarray:
        """grad_output (B, T, C) -> dL/dx (B, T, C); adds the parameter gradients."""
        q, k, v, weights = self._cache
        B, nh, T, hs = q.shape
        g = self.proj.backward(grad_output)  # (B, T, C)
        g = g.reshape(B, T, nh, hs).transpose(0, 2, 1, 3)  # (B, T, C) -> (B, nh, T, hs)
        dq, dk, dv = scaled_dot_product_attention_backward(g, q, k, v, weights)  # (B, nh, T, hs)
        merged = [d.transpose(0, 2, 1, 3).reshape(B, T, nh * hs)  # (B, nh, T, hs) -> (B, T, C)
                  for d in (dq, dk, dv)]
        return self.qkv.backward(np.concatenate(merged, axis=-1))  # (B, T, 3C) -> (B, T, C)


class FeedForward(Module):
    """Position-wise FFN(x) = W_2 GELU(W_1 x + b_1) + b_2: (B, T, C) -> (B, T, C).

    Parameters ``fc1`` (hidden, C) and ``fc2`` (C, hidden), as Linear layers.
    """

    def __init__(self, n_embd: int, hidden: int, rng=None):
        super().__init__()
        rng = as_rng(rng)
        n_embd, hidden = positive_int(n_embd, "n_embd"), positive_int(hidden, "hidden")
        self.fc1 = self.add_module("fc1", Linear(n_embd, hidden, rng=rng))
        self.act = self.add_module("act", GELU())
        self.fc2 = self.add_module("fc2", Linear(hidden, n_embd, rng=rng))

    def forward(self, x: np.ndarray) -> np.ndarray:
        return self.fc2(self.act(self.fc1(x)))  # (B, T, C) -> (B, T, hidden) -> (B, T, C)

    def backward(self, grad_output: np.ndarray) -> np.ndarray:
        return self.fc1.backward(self.act.backward(self.fc2.backward(grad_output)))


class TransformerBlock(Module):
    """One transformer layer, pre-LN or post-LN; the twin of the torch ``TransformerBlock``.

    pre-LN (``norm_first=True``):  h = x + Attn(LN1(x));  y = h + FFN(LN2(h)).
    post-LN (``norm_first=False``): h = LN1(x + Attn(x)); y = LN2(h + FFN(h)).
    Backward of a residual y = x + f(x): dL/dx = g + f'(x)^T g, the identity path plus the
    sub-layer's path.

    Args:
        n_embd: C. n_head: heads (must divide C). norm_first: pre-LN if True.
        causal: mask future positions. mlp_ratio: hidden size of the FFN is ``mlp_ratio * C``.
        rng: None, a seed or a Generator for the (torch-like) initialisation.

    Input: (B, T, C), optional ``key_padding_mask`` (B, T). Output: (B, T, C).
    """

    def __init__(self, n_embd: int, n_head: int, norm_first: bool = True, causal: bool = True,
                 mlp_ratio: int = 4, rng=None):
        super().__init__()
        rng = as_rng(rng)
        n_embd, mlp_ratio = positive_int(n_embd, "n_embd"), positive_int(mlp_ratio, "mlp_ratio")
        self.norm_first = flag(norm_first, "norm_first")
        self.ln1 = self.add_module("ln1", LayerNorm(n_embd))
        self.attn = self.add_module("attn", SelfAttention(n_embd, n_head, causal, rng=rng))
        self.ln2 = self.add_module("ln2", LayerNorm(n_embd))
        hidden = mlp_ratio * n_embd
        self.mlp = self.add_module("mlp", FeedForward(n_embd, hidden, rng=rng))

    def forward(self, x: np.ndarray, key_padding_mask=None) -> np.ndarray:
        if self.norm_first:
            h = x + self.attn(self.ln1(x), key_padding_mask)  # (B, T, C)
            return h + self.mlp(self.ln2(h))  # (B, T, C)
        h = self.ln1(x + self.attn(x, key_padding_mask))  # (B, T, C)
        return self.ln2(h + self.mlp(h))  # (B, T, C)

    def backward(self, grad_output: np.ndarray) -> np.ndarray:
        """grad_output (B, T, C) -> dL/dx (B, T, C); adds every parameter gradient."""
        g = np.asarray(grad_output, dtype=np.float64)
        if self.norm_first:
            g_h = g + self.ln2.backward(self.mlp.backward(g))  # through y = h + FFN(LN2(h))
            return g_h + self.ln1.backward(self.attn.backward(g_h))  # h = x + Attn(LN1(x))
        g_s2 = self.ln2.backward(g)  # y = LN2(s2), s2 = h + FFN(h)
        g_h = g_s2 + self.mlp.backward(g_s2)
        g_s1 = self.ln1.backward(g_h)  # h = LN1(s1), s1 = x + Attn(x)
        return g_s1 + self.attn.backward(g_s1)

    @classmethod
    def _config_from_torch(cls, module) -> dict:
        if module.attn.dropout:
            raise ValueError(f"dropout must be 0 to copy a block, got {module.attn.dropout}")
        return {"n_embd": module.attn.n_embd, "n_head": module.attn.n_head,
                "norm_first": module.norm_first, "causal": module.attn.causal,
                "mlp_ratio": module.mlp.fc1.out_features // module.attn.n_embd}


class _Blocks(Module):
    """A list of blocks named "0", "1", ... (torch's ``nn.ModuleList`` keys)."""

    def __init__(self, blocks):
        super().__init__()
        for i, block in enumerate(blocks):
            self.add_module(str(i), block)

    def __iter__(self):
        return iter(self._children.values())

    def __len__(self):
        return len(self._children)


class GPT(Module):
    """Decoder-only transformer language model, the twin of ``companion.torch.models.gpt.GPT``.

    h_0 = tok_emb[idx] + pos_emb[0..T-1]; h_l = Block_l(h_{l-1}) (pre-LN, causal);
    logits = head(LN_f(h_L)) (with ``head.weight`` = ``tok_emb.weight`` when ``tie_weights``).

    Args: the fields of ``GPTConfig`` (vocab_size, block_size, n_layer, n_head, n_embd,
    dropout which must be 0, tie_weights) and ``rng`` for a (torch-like, not GPT-2) init.

    ``forward(idx, targets=None)`` -> (logits (B, T, V), mean cross-entropy or None);
    ``backward()`` back-propagates that loss (or ``backward(grad_logits)`` a given (B, T, V)
    gradient) into every parameter's gradient.
    """

    def __init__(self, vocab_size: int, block_size: int, n_layer: int = 2, n_head: int = 4,
                 n_embd: int = 64, dropout: float = 0.0, tie_weights: bool = False, rng=None):
        super().__init__()
        if dropout != 0.0:
            raise ValueError(f"dropout must be 0.0 (not implemented in NumPy), got {dropout}")
        rng = as_rng(rng)
        self.vocab_size = positive_int(vocab_size, "vocab_size")
        self.block_size = positive_int(block_size, "block_size")
        self.n_embd = positive_int(n_embd, "n_embd")
        self.tie_weights = flag(tie_weights, "tie_weights")
        self.tok_emb = self.add_module("tok_emb", Embedding(vocab_size, n_embd, rng=rng))
        self.pos_emb = self.add_module("pos_emb", Embedding(block_size, n_embd, rng=rng))
        self.blocks = self.add_module("blocks", _Blocks(
            TransformerBlock(n_embd, n_head, norm_first=True, causal=True, rng=rng)
            for _ in range(positive_int(n_layer, "n_layer"))))
        self.ln_f = self.add_module("ln_f", LayerNorm(n_embd))
        if not self.tie_weights:
            self.head = self.add_module("head", Linear(n_embd, vocab_size, bias=False, rng=rng))
        self.criterion = CrossEntropyLoss()
        self._cache = None

    def forward(self, idx, targets=None):
        idx = as_index_array(idx, "idx", upper=self.vocab_size)
        if idx.ndim != 2 or idx.shape[1] > self.block_size:
            raise ValueError(f"idx must have shape (B, T) with T <= {self.block_size}, "
                             f"got {idx.shape}")
        B, T = idx.shape
        x = self.tok_emb(idx) + self.pos_emb(np.arange(T))  # (B, T, C) + (T, C)
        for block in self.blocks:
            x = block(x)  # (B, T, C)
        h = self.ln_f(x)  # (B, T, C)
        if self.tie_weights:
            logits = h @ self.tok_emb._params["weight"].T  # (B, T, C) @ (C, V) -> (B, T, V)
        else:
            logits = self.head(h)  # (B, T, V)
        self._cache = (h, logits.shape)
        if targets is None:
            return logits, None
        targets = as_index_array(targets, "targets", upper=self.vocab_size)
        if targets.shape != (B, T):
            raise ValueError(f"targets must have shape ({B}, {T}), got {targets.shape}")
        loss = self.criterion(logits.reshape(B * T, -1), targets.reshape(B * T))  # (B*T, V)
        return logits, float(loss)

    def backward(self, grad_logits=None) -> None:
        """Back-propagate the last loss (or ``grad_logits`` (B, T, V)) into the gradients."""
        h, shape = self._cache
        B, T, V = shape
        if grad_logits is None:
            grad_logits = self.criterion.backward().reshape(B, T, V)  # (B*T, V) -> (B, T, V)
        grad_logits = np.asarray(grad_logits, dtype=np.float64)
        if self.tie_weights:
            weight = self.tok_emb._params["weight"]  # (V, C)
            # (V, B*T) @ (B*T, C) -> (V, C): the head's share of the embedding's gradient
            self.tok_emb._grads["weight"] += grad_logits.reshape(-1, V).T @ h.reshape(-1, h.shape[-1])
            g = grad_logits @ weight  # (B, T, V) @ (V, C) -> (B, T, C)
        else:
            g = self.head.backward(grad_logits)  # (B, T, C)
        g = self.ln_f.backward(g)
        for block in reversed(list(self.blocks)):
            g = block.backward(g)  # (B, T, C)
        self.tok_emb.backward(g)  # (B, T, C)
        self.pos_emb.backward(g.sum(axis=0))  # (T, C): every sequence used the same positions

    @classmethod
    def _config_from_torch(cls, module) -> dict:
        config = dict(vars(module.config))
        return {key: config[key] for key in ("vocab_size", "block_size", "n_layer", "n_head",
                                             "n_embd", "dropout", "tie_weights")}

    @classmethod
    def from_torch(cls, module) -> GPT:
        """Build the twin of a torch GPT and copy its weights (keys and shapes must match).

        A tied torch model lists ``head.weight`` as well; it must be the embedding itself.
        """
        model = cls(**cls._config_from_torch(module))
        state = {name: tensor.detach().cpu().numpy() for name, tensor in
                 module.state_dict().items()}
        if model.tie_weights:
            head = state.pop("head.weight")
            if not np.array_equal(head, state["tok_emb.weight"]):
                raise ValueError("a tied model's head.weight must equal tok_emb.weight")
        model.load_state_dict(state)  # raises unless key sets and every shape match
        return model
