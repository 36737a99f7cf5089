"""Scaled dot-product attention and multi-head attention, forward and backward, in NumPy.

Two mask conventions exist in torch and we keep each where torch uses it:

* :func:`scaled_dot_product_attention` follows ``F.scaled_dot_product_attention``: a **bool**
  mask is ``True`` where a query **may attend** to a key.
* :class:`MultiheadAttention` follows ``nn.MultiheadAttention``: a **bool** ``attn_mask`` or
  ``key_padding_mask`` is ``True`` where attention is **blocked**.

A **float** mask means the same in both: it is added to the scores, so ``-inf`` blocks a key and
``0`` lets it through (:func:`causal_mask` builds one). A query whose keys are all blocked gets
zero attention weights and a zero output row (before the output projection), never ``nan``.
Torch's ``F.scaled_dot_product_attention`` does the same; ``nn.MultiheadAttention`` gives ``nan``
for such rows when ``need_weights=True`` (it then uses a plain softmax) and zeros otherwise.
"""

from __future__ import annotations

import math

import numpy as np

from companion.core.checks import as_float_array, as_rng, positive_int, real_number
from companion.core.functional import masked_softmax, softmax_backward
from companion.numpy.module import Module


def causal_mask(L: int, S: int | None = None) -> np.ndarray:
    """Float mask (L, S): 0 where key j <= query i, -inf above the diagonal (future keys).

    Being a float mask, it means the same to :func:`scaled_dot_product_attention` and to
    :class:`MultiheadAttention` (it matches ``nn.Transformer.generate_square_subsequent_mask``).
    """
    L = positive_int(L, "L")
    S = L if S is None else positive_int(S, "S")
    allowed = np.tril(np.ones((L, S), dtype=bool))  # (L, S), top-left aligned like torch
    return np.where(allowed, 0.0, -np.inf)


def _additive_mask(mask, name: str, true_means_keep: bool) -> np.ndarray:
    """Turn a bool or float mask into the float array that is added to the scores."""
    array = np.asarray(mask)
    if array.dtype == np.bool_:
        keep = array if true_means_keep else ~array
        return np.where(keep, 0.0, -np.inf)
    if not np.issubdtype(array.dtype, np.floating):
        raise TypeError(f"{name} must be a bool or float array, got dtype {array.dtype}")
    return array.astype(np.float64, copy=False)


def scaled_dot_product_attention(query, key, value, attn_mask=None, *, is_causal: bool = False,
                                 scale: float | None = None):
    """Attention(Q, K, V) = softmax(Q K^T * scale + mask) V, with scale = 1/sqrt(E) by default.

    Args:
        query: (..., L, E) queries.
        key: (..., S, E) keys, with the same leading dimensions as ``query``.
        value: (..., S, Ev) values, with the same leading dimensions as ``query``.
        attn_mask: optional mask broadcastable to (..., L, S). Bool: ``True`` means the query
            **may attend** to that key (torch's ``F.scaled_dot_product_attention`` convention).
            Float: added to the scaled scores (``-inf`` blocks).
        is_causal: block keys j > i (top-left aligned, as torch); not combined with ``attn_mask``.
        scale: factor applied to Q K^T; ``None`` means 1/sqrt(E).

    Returns:
        output: (..., L, Ev); a row whose keys are all blocked is zero, not ``nan``.
        weights: (..., L, S) attention probabilities (the softmax), needed by the backward pass.
    """
    query = as_float_array(query, "query", shape_hint="(..., L, E)")
    key = as_float_array(key, "key", shape_hint="(..., S, E)")
    value = as_float_array(value, "value", shape_hint="(..., S, Ev)")
    for name, array in (("query", query), ("key", key), ("value", value)):
        if array.ndim < 2:
            raise ValueError(f"{name} must have at least 2 dimensions (..., length, features), "
                             f"got shape {array.shape}")
    if key.shape[:-2] != query.shape[:-2] or value.shape[:-2] != query.shape[:-2]:
        raise ValueError(f"query, key and value must share their leading dimensions, got shapes "
                         f"{query.shape}, {key.shape} and {value.shape}")
    if key.shape[-1] != query.shape[-1]:
        raise ValueError(f"key must have E = {query.shape[-1]} features like query, "
                         f"got shape {key.shape}")
    if value.shape[-2] != key.shape[-2]:
        raise ValueError(f"value must have S = {key.shape[-2]} positions like key, "
                         f"got shape {value.shape}")
    if not isinstance(is_causal, (bool, np.bool_)):
        raise TypeError(f"is_causal must be True or False, got {type(is_causal).__name__} "
                        f"{is_causal!r}")
    if is_causal and attn_mask is not None:
        raise ValueError("give either attn_mask or is_causal=True, not both (as torch)")
    L, S = query.shape[-2], key.shape[-2]
    scale = 1.0 / math.sqrt(query.shape[-1]) if scale is None else real_number(scale, "scale")

    scores = (query @ np.swapaxes(key, -1, -2)) * scale  # (..., L, E) @ (..., E, S) -> (..., L, S)
    if is_causal:
        scores = scores + causal_mask(L, S)
    elif attn_mask is not None:
        mask = _additive_mask(attn_mask, "attn_mask", true_means_keep=True)
        try:
            masked = scores + mask  # (..., L, S)
        except ValueError:
            masked = None
        if masked is None or masked.shape != scores.shape:
            raise ValueError(f"attn_mask must broadcast to the scores' shape {scores.shape} "
                             f"(..., L, S), got shape {mask.shape}")
        scores = masked
    weights = masked_softmax(scores, axis=-1)  # (..., L, S); an all -inf row gives zeros
    output = weights @ value  # (..., L, S) @ (..., S, Ev) -> (..., L, Ev)
    return output, weights


def scaled_dot_product_attention_backward(grad_output, query, key, value, weights,
                                          scale: float | None = None):
    """Gradients of :func:`scaled_dot_product_attention` with respect to Q, K and V.

    With P = softmax(Z), Z = Q K^T * scale + mask and O = P V:
    dV = P^T dO, dP = dO V^T, dZ = P * (dP - rowsum(dP * P)), dQ = dZ K * scale,
    dK = dZ^T Q * scale. Blocked keys have P = 0, so they get no gradient.

    Args:
        grad_output: (..., L, Ev) gradient of the loss with respect to the output.
        query, key, value: the forward inputs, (..., L, E), (..., S, E), (..., S, Ev).
        weights: (..., L, S) the probabilities returned by the forward pass.
        scale: the same scale as the forward pass (``None`` means 1/sqrt(E)).

    Returns:
        (grad_query, grad_key, grad_value) with the shapes of query, key and value.
    """
    grad_output = as_float_array(grad_output, "grad_output")
    if grad_output.shape != weights.shape[:-1] + (value.shape[-1],):
        raise ValueError(f"grad_output must have the output's shape "
                         f"{weights.shape[:-1] + (value.shape[-1],)}, got {grad_output.shape}")
    scale = 1.0 / math.sqrt(query.shape[-1]) if scale is None else scale
    # (..., S, L) @ (..., L, Ev) -> (..., S, Ev)
    grad_value = np.swapaxes(weights, -1, -2) @ grad_output
    # (..., L, Ev) @ (..., Ev, S) -> (..., L, S)
    grad_weights = grad_output @ np.swapaxes(value, -1, -2)
    grad_scores = softmax_backward(weights, grad_weights, axis=-1) * scale  # (..., L, S)
    grad_query = grad_scores @ key  # (..., L, S) @ (..., S, E) -> (..., L, E)
    grad_key = np.swapaxes(grad_scores, -1, -2) @ query  # (..., S, L) @ (..., L, E) -> (..., S, E)
    return grad_query, grad_key, grad_value


class _Projection(Module):
    """The output projection y = x W^T + b, a Linear layer reduced to what attention needs."""

    def __init__(self, in_features: int, out_features: int, bias: bool, rng):
        super().__init__()
        bound = 1.0 / math.sqrt(in_features)  # torch's Linear default: U(-1/sqrt(fan_in), ...)
        self.add_param("weight", rng.uniform(-bound, bound, (out_features, in_features)))
        self.has_bias = bias
        if bias:
            self.add_param("bias", np.zeros(out_features))  # MHA resets this bias to zero

    def forward(self, x):
        self._x = x
        out = x @ self._params["weight"].T  # (..., in) @ (in, out) -> (..., out)
        return out + self._params["bias"] if self.has_bias else out

    def backward(self, grad_output):
        x2 = self._x.reshape(-1, self._x.shape[-1])  # (M, in)
        g2 = grad_output.reshape(-1, grad_output.shape[-1])  # (M, out)
        self._grads["weight"] += g2.T @ x2  # (out, M) @ (M, in) -> (out, in)
        if self.has_bias:
            self._grads["bias"] += g2.sum(axis=0)
        return grad_output @ self._params["weight"]  # (..., out) @ (out, in) -> (..., in)


class MultiheadAttention(Module):
    """Multi-head attention: concat_h(softmax(Q_h K_h^T / sqrt(d) + mask) V_h) W_o^T + b_o.

    Q_h, K_h, V_h are the h-th slices of width d = E / num_heads of
    Q = query W_q^T + b_q, K = key W_k^T + b_k, V = value W_v^T + b_v, where
    [W_q; W_k; W_v] = ``in_proj_weight`` (3E, E) and [b_q; b_k; b_v] = ``in_proj_bias`` (3E,).
    The output projection is ``out_proj.weight`` (E, E) and ``out_proj.bias`` (E,).

    Only the options below are supported; the signature is torch's.

    Args:
        embed_dim: E, the feature size of query, key, value and output.
        num_heads: h; must divide E.
        dropout: must be 0.0 (attention dropout is not implemented).
        bias: whether the input and output projections have biases.
        add_bias_kv: append a learned key ``bias_k`` and value ``bias_v`` (1, 1, E) to every
            sequence of keys and values, after the projection (one more key, never masked).
        add_zero_attn: append a key and a value of zeros, per head, after that.
        kdim, vdim: must be None or equal to E.
        batch_first: inputs are (N, L, E) if True, (L, N, E) if False (torch's default).
        rng: None, a seed or a Generator, for torch's initialisation (Xavier-uniform
            ``in_proj_weight``, Linear's default for ``out_proj.weight``, zero biases).

    Masks follow ``nn.MultiheadAttention``: a bool mask is ``True`` where attention is
    **blocked**; a float mask is added to the scores. A query with every key blocked gets an
    output row equal to ``out_proj.bias`` and zero weights, where torch gives ``nan`` when
    ``need_weights=True``.

    Self-attention ``forward(x, x, x)`` uses ``x`` three times: :meth:`backward` returns one
    gradient per role and the caller adds them to get the gradient of ``x``.
    """

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0, bias: bool = True,
                 add_bias_kv: bool = False, add_zero_attn: bool = False, kdim=None, vdim=None,
                 batch_first: bool = False, rng=None):
        super().__init__()
        self.embed_dim = positive_int(embed_dim, "embed_dim")
        self.num_heads = positive_int(num_heads, "num_heads")
        if self.embed_dim % self.num_heads:
            raise ValueError(f"embed_dim must be divisible by num_heads, got embed_dim="
                             f"{embed_dim} and num_heads={num_heads}")
        if real_number(dropout, "dropout", 0.0, 1.0) != 0.0:
            raise ValueError(f"dropout must be 0.0 (attention dropout is not implemented), "
                             f"got {dropout}")
        for name, flag in (("add_bias_kv", add_bias_kv), ("add_zero_attn", add_zero_attn)):
            if not isinstance(flag, (bool, np.bool_)):
                raise TypeError(f"{name} must be True or False, got {type(flag).__name__} "
                                f"{flag!r}")
        self.add_bias_kv, self.add_zero_attn = bool(add_bias_kv), bool(add_zero_attn)
        for name, dim in (("kdim", kdim), ("vdim", vdim)):
            if dim is not None and dim != embed_dim:
                raise ValueError(f"{name} must be None or embed_dim={embed_dim} (separate "
                                 f"key/value sizes are not implemented), got {dim}")
        self.head_dim = self.embed_dim // self.num_heads
        self.batch_first = bool(batch_first)
        self.has_bias = bool(bias)
        rng = as_rng(rng)
        E = self.embed_dim
        bound = math.sqrt(6.0 / (E + 3 * E))  # Xavier-uniform on a (3E, E) matrix
        self.add_param("in_proj_weight", rng.uniform(-bound, bound, (3 * E, E)))
        if self.has_bias:
            self.add_param("in_proj_bias", np.zeros(3 * E))
        self.out_proj = self.add_module("out_proj", _Projection(E, E, self.has_bias, rng))
        if self.add_bias_kv:  # torch's Xavier-normal on (1, 1, E): standard deviation 1/sqrt(E)
            self.add_param("bias_k", rng.normal(0.0, 1.0 / math.sqrt(E), (1, 1, E)))
            self.add_param("bias_v", rng.normal(0.0, 1.0 / math.sqrt(E), (1, 1, E)))

    @classmethod
    def _config_from_torch(cls, module) -> dict:
        return dict(embed_dim=module.embed_dim, num_heads=module.num_heads, dropout=module.dropout,
                    bias=module.in_proj_bias is not None, add_bias_kv=module.bias_k is not None,
                    add_zero_attn=module.add_zero_attn, kdim=module.kdim, vdim=module.vdim,
                    batch_first=module.batch_first)

    # -- helpers -------------------------------------------------------------------------------
    def _check_input(self, array, name: str, batched: bool) -> np.ndarray:
        layout = "(N, L, E)" if self.batch_first else "(L, N, E)"
        array = as_float_array(array, name, ndim=3 if batched else 2,
                               shape_hint=layout if batched else "(L, E)")
        if array.shape[-1] != self.embed_dim:
            raise ValueError(f"{name} must have E = {self.embed_dim} features in its last "
                             f"dimension, got shape {array.shape}")
        if batched and not self.batch_first:
            array = array.transpose(1, 0, 2)  # (L, N, E) -> (N, L, E)
        return array if batched else array[None]  # (N, L, E)

    def _project(self, x, part: int):
        """x W^T + b with the rows of ``in_proj`` for part 0 (q), 1 (k) or 2 (v), split in heads."""
        E, h, d = self.embed_dim, self.num_heads, self.head_dim
        rows = slice(part * E, (part + 1) * E)
        out = x @ self._params["in_proj_weight"][rows].T  # (N, L, E) @ (E, E) -> (N, L, E)
        if self.has_bias:
            out = out + self._params["in_proj_bias"][rows]
        N, L, _ = x.shape
        return out.reshape(N, L, h, d).transpose(0, 2, 1, 3)  # (N, L, E) -> (N, h, L, d)

    def _merged_mask(self, attn_mask, key_padding_mask, N: int, L: int, S: int, batched: bool):
        """One float mask (N, h, L, S) (or broadcastable) from torch's two kinds of mask."""
        h = self.num_heads
        mask = np.zeros((1, 1, 1, 1))
        if attn_mask is not None:
            m = _additive_mask(attn_mask, "attn_mask", true_means_keep=False)
            if m.shape == (L, S):
                mask = mask + m  # (L, S) broadcasts to (1, 1, L, S)
            elif m.shape == (N * h, L, S):
                mask = mask + m.reshape(N, h, L, S)  # (N*h, L, S) -> (N, h, L, S)
            else:
                raise ValueError(f"attn_mask must have shape ({L}, {S}) or "
                                 f"({N * h}, {L}, {S}) (N*num_heads, L, S), got {m.shape}")
        if key_padding_mask is not None:
            m = _additive_mask(key_padding_mask, "key_padding_mask", true_means_keep=False)
            expected = (N, S) if batched else (S,)
            if m.shape != expected:
                raise ValueError(f"key_padding_mask must have shape {expected}, got {m.shape}")
            mask = mask + m.reshape(N, 1, 1, S)  # (N, S) -> (N, 1, 1, S)
        return mask

    def _extra_keys(self, k, v):
        """Append bias_k/bias_v and the zero key/value: (N, h, S, d) -> (N, h, S', d)."""
        N, h, _, d = k.shape
        if self.add_bias_kv:  # (1, 1, E) -> (1, h, 1, d), the same for every sequence
            k = np.concatenate([k, np.broadcast_to(
                self._params["bias_k"].reshape(1, h, 1, d), (N, h, 1, d))], axis=2)
            v = np.concatenate([v, np.broadcast_to(
                self._params["bias_v"].reshape(1, h, 1, d), (N, h, 1, d))], axis=2)
        if self.add_zero_attn:
            k = np.concatenate([k, np.zeros((N, h, 1, d))], axis=2)
            v = np.concatenate([v, np.zeros((N, h, 1, d))], axis=2)
        return k, v

    # -- forward and backward ------------------------------------------------------------------
    def forward(self, query, key, value, key_padding_mask=None, need_weights: bool = True,
                attn_mask=None, average_attn_weights: bool = True, is_causal: bool = False):
        """Attend from ``query`` to ``key``/``value``.

        Args:
            query: (N, L, E) if batch_first else (L, N, E); or (L, E) unbatched.
            key: (N, S, E) or (S, N, E); or (S, E) unbatched.
            value: same shape as ``key``.
            key_padding_mask: optional (N, S) (or (S,)); bool ``True`` = ignore that key.
            need_weights: whether to return the attention weights.
            attn_mask: optional (L, S) or (N*num_heads, L, S); bool ``True`` = blocked.
            average_attn_weights: average the returned weights over heads.
            is_causal: a hint, as in torch: it requires ``attn_mask`` (e.g. :func:`causal_mask`)
                and the mask given is used.

        Returns:
            ``(output, weights)``: ``output`` has the layout of ``query``; ``weights`` is
            (N, L, S) if averaged, (N, num_heads, L, S) if not (no N when unbatched), or
            ``None`` if ``need_weights`` is False.
        """
        batched = np.ndim(query) == 3
        q_in = self._check_input(query, "query", batched)  # (N, L, E)
        k_in = self._check_input(key, "key", batched)  # (N, S, E)
        v_in = self._check_input(value, "value", batched)  # (N, S, E)
        if k_in.shape != v_in.shape:
            raise ValueError(f"key and value must have the same shape, got {np.shape(key)} "
                             f"and {np.shape(value)}")
        if k_in.shape[0] != q_in.shape[0]:
            raise ValueError(f"query and key must have the same batch size, got shapes "
                             f"{np.shape(query)} and {np.shape(key)}")
        if is_causal and attn_mask is None:
            raise ValueError("is_causal=True needs attn_mask (torch treats is_causal as a hint); "
                             "pass attn_mask=causal_mask(L, S)")
        N, L, _ = q_in.shape
        S = k_in.shape[1]
        mask = self._merged_mask(attn_mask, key_padding_mask, N, L, S, batched)
        extra = self.add_bias_kv + self.add_zero_attn  # keys appended, never masked
        if extra and mask.shape[-1] > 1:
            mask = np.pad(mask, [(0, 0)] * 3 + [(0, extra)])  # (..., S) -> (..., S + extra)

        q = self._project(q_in, 0)  # (N, h, L, d)
        k, v = self._extra_keys(self._project(k_in, 1), self._project(v_in, 2))  # (N, h, S', d)
        context, weights = scaled_dot_product_attention(q, k, v, attn_mask=mask)  # (N, h, L, d)
        # (N, h, L, d) -> (N, L, h, d) -> (N, L, E): the heads side by side again
        merged = context.transpose(0, 2, 1, 3).reshape(N, L, self.embed_dim)
        output = self.out_proj.forward(merged)  # (N, L, E)
        self._cache = (q_in, k_in, v_in, q, k, v, weights, batched)

        if batched and not self.batch_first:
            output = output.transpose(1, 0, 2)  # (N, L, E) -> (L, N, E)
        if not batched:
            output = output[0]  # (1, L, E) -> (L, E)
        if not need_weights:
            return output, None
        # (N, h, L, S) -> (N, L, S) averaged over heads, or kept per head
        weights_out = weights.mean(axis=1) if average_attn_weights else weights
        return output, (weights_out if batched else weights_out[0])

    def backward(self, grad_output):
        """Return (grad_query, grad_key, grad_value), each in its input's layout.

        Adds into the gradients of ``in_proj_weight``, ``in_proj_bias``, ``out_proj.weight`` and
        ``out_proj.bias``. For self-attention the caller sums the three returned gradients.
        """
        q_in, k_in, v_in, q, k, v, weights, batched = self._cache
        N, L, E = q_in.shape
        h, d = self.num_heads, self.head_dim
        g = as_float_array(grad_output, "grad_output")
        if not batched:
            g = g[None]  # (L, E) -> (1, L, E)
        elif not self.batch_first:
            g = g.transpose(1, 0, 2)  # (L, N, E) -> (N, L, E)
        if g.shape != (N, L, E):
            raise ValueError(f"grad_output must have the output's shape, "
                             f"got {np.shape(grad_output)}")

        grad_merged = self.out_proj.backward(g)  # (N, L, E)
        # (N, L, E) -> (N, L, h, d) -> (N, h, L, d)
        grad_context = grad_merged.reshape(N, L, h, d).transpose(0, 2, 1, 3)
        grads_qkv = scaled_dot_product_attention_backward(grad_context, q, k, v, weights)
        if self.add_bias_kv:  # the appended key and value come right after the S real ones
            S = k_in.shape[1]
            for name, grad in (("bias_k", grads_qkv[1]), ("bias_v", grads_qkv[2])):
                # (N, h, d) summed over N -> (h, d) -> (1, 1, E)
                self._grads[name] += grad[:, :, S].sum(axis=0).reshape(1, 1, E)

        grad_w = self._grads["in_proj_weight"]
        inputs = []
        for part, (x, grad) in enumerate(zip((q_in, k_in, v_in), grads_qkv)):
            length = x.shape[1]
            grad = grad[:, :, :length]  # drop the appended keys' gradients
            grad = grad.transpose(0, 2, 1, 3).reshape(N * length, E)  # (N, h, T, d) -> (N*T, E)
            rows = slice(part * E, (part + 1) * E)
            grad_w[rows] += grad.T @ x.reshape(N * length, E)  # (E, N*T) @ (N*T, E) -> (E, E)
            if self.has_bias:
                self._grads["in_proj_bias"][rows] += grad.sum(axis=0)
            # (N*T, E) @ (E, E) -> (N*T, E) -> (N, T, E)
            grad_x = (grad @ self._params["in_proj_weight"][rows]).reshape(N, length, E)
            if not batched:
                grad_x = grad_x[0]  # (1, T, E) -> (T, E)
            elif not self.batch_first:
                grad_x = grad_x.transpose(1, 0, 2)  # (N, T, E) -> (T, N, E)
            inputs.append(grad_x)
        return tuple(inputs)
