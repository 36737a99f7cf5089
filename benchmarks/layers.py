"""Forward+backward time of each scratch component against torch, at the sizes the chapters use.

Both sides run in float64 on the CPU with the same weights, input and upstream gradient, so the
ratio measures the implementation, not the precision.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import torch

import companion.numpy as cnp
from companion.data import load_digits
from companion.numpy.transformer import TransformerBlock


def best_time(step: Callable[[], object], repeats: int = 7, min_seconds: float = 0.05) -> float:
    """Seconds per call: the best of ``repeats`` rounds, each long enough to time reliably."""
    step()  # warm up caches and lazy initialisation
    calls = 1
    while True:
        start = time.perf_counter()
        for _ in range(calls):
            step()
        if time.perf_counter() - start >= min_seconds:
            break
        calls *= 2
    rounds = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(calls):
            step()
        rounds.append((time.perf_counter() - start) / calls)
    return min(rounds)


def layer_steps(ours, theirs: torch.nn.Module, inputs: list[np.ndarray]):
    """Closures running one forward+backward pass of each side on the same data."""
    theirs = theirs.double()
    first_out = ours.forward(*inputs)
    out = first_out[0] if isinstance(first_out, tuple) else first_out
    grad = np.random.default_rng(1).standard_normal(out.shape)
    inputs_t = [torch.tensor(x, requires_grad=x.dtype.kind == "f") for x in inputs]
    grad_t = torch.tensor(grad)

    def numpy_step():
        ours.forward(*inputs)
        ours.backward(grad)

    def torch_step():
        result = theirs(*inputs_t)
        (result[0] if isinstance(result, tuple) else result).backward(grad_t)

    return numpy_step, torch_step


def cases():
    """(name, numpy_step, torch_step) for every benchmarked component."""
    rng = np.random.default_rng(0)
    torch.manual_seed(0)

    def pair(scratch_cls, module, *shapes):
        ours = scratch_cls.from_torch(module.double())
        return layer_steps(ours, module, [rng.standard_normal(s) for s in shapes])

    yield ("Linear 64->128, N=64",
           *pair(cnp.Linear, torch.nn.Linear(64, 128), (64, 64)))
    yield ("Conv2d 1->8, 3x3, N=64, 8x8",
           *pair(cnp.Conv2d, torch.nn.Conv2d(1, 8, 3, padding=1), (64, 1, 8, 8)))
    yield ("Conv2d 8->16, 3x3, N=64, 8x8",
           *pair(cnp.Conv2d, torch.nn.Conv2d(8, 16, 3, padding=1), (64, 8, 8, 8)))
    yield ("MaxPool2d 2x2, N=64, C=8, 8x8",
           *pair(cnp.MaxPool2d, torch.nn.MaxPool2d(2), (64, 8, 8, 8)))
    yield ("LSTM 16->64, N=32, T=50",
           *pair(cnp.LSTM, torch.nn.LSTM(16, 64, batch_first=True), (32, 50, 16)))
    yield ("GRU 16->64, N=32, T=50",
           *pair(cnp.GRU, torch.nn.GRU(16, 64, batch_first=True), (32, 50, 16)))
    x = rng.standard_normal((32, 32, 64))
    mha = torch.nn.MultiheadAttention(64, 4, batch_first=True).double()
    yield ("MultiheadAttention E=64, 4 heads, N=32, L=32",
           *layer_steps(cnp.MultiheadAttention.from_torch(mha), mha, [x, x, x]))
    yield ("Transformer block C=32, 4 heads, N=8, T=32",
           *transformer_block_steps(rng.standard_normal((8, 32, 32))))
    yield ("Digits MLP, one training epoch", *mlp_epoch_steps())


class CausalEncoderLayer(torch.nn.TransformerEncoderLayer):
    """torch's own pre-LN encoder layer with GELU and a causal mask: the scratch block's twin."""

    def __init__(self, d_model: int, nhead: int):
        super().__init__(d_model, nhead, dim_feedforward=4 * d_model, dropout=0.0,
                         activation="gelu", batch_first=True, norm_first=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mask = torch.nn.Transformer.generate_square_subsequent_mask(x.shape[1], dtype=x.dtype)
        return super().forward(x, src_mask=mask, is_causal=True)


# scratch TransformerBlock parameter prefix -> torch.nn.TransformerEncoderLayer prefix
BLOCK_NAMES = {"ln1": "norm1", "ln2": "norm2", "attn.qkv.weight": "self_attn.in_proj_weight",
               "attn.qkv.bias": "self_attn.in_proj_bias", "attn.proj": "self_attn.out_proj",
               "mlp.fc1": "linear1", "mlp.fc2": "linear2"}


def transformer_block_steps(x: np.ndarray, n_head: int = 4):
    """The chapters' GPT block (pre-LN, causal, GELU) against torch.nn.TransformerEncoderLayer."""
    theirs = CausalEncoderLayer(x.shape[-1], n_head).double()
    ours = TransformerBlock(x.shape[-1], n_head, norm_first=True, causal=True)
    state = theirs.state_dict()
    ours.load_state_dict({name: state[name.replace(prefix, BLOCK_NAMES[prefix], 1)].numpy()
                          for name in ours.params
                          for prefix in BLOCK_NAMES if name.startswith(prefix)})
    return layer_steps(ours, theirs, [x])


def mlp_epoch_steps(batch_size: int = 64, hidden: int = 128):
    """One epoch of mini-batch SGD on the digits training split, scratch against torch."""
    x, y = load_digits("train")
    torch.manual_seed(0)
    theirs = torch.nn.Sequential(torch.nn.Linear(64, hidden), torch.nn.ReLU(),
                                 torch.nn.Linear(hidden, 10)).double()
    ours = cnp.Sequential.from_torch(theirs)
    loss, loss_t = cnp.CrossEntropyLoss(), torch.nn.CrossEntropyLoss()
    opt = cnp.SGD(ours.parameters(), lr=0.1)
    opt_t = torch.optim.SGD(theirs.parameters(), lr=0.1)
    batches = [(x[i:i + batch_size], y[i:i + batch_size]) for i in range(0, len(x), batch_size)]
    batches_t = [(torch.tensor(a), torch.tensor(b)) for a, b in batches]

    def numpy_step():
        for xb, yb in batches:
            ours.zero_grad()
            loss.forward(ours.forward(xb), yb)
            ours.backward(loss.backward())
            opt.step(ours.gradients())

    def torch_step():
        for xb, yb in batches_t:
            opt_t.zero_grad()
            loss_t(theirs(xb), yb).backward()
            opt_t.step()

    return numpy_step, torch_step


def run_all() -> dict[str, dict[str, float]]:
    results = {}
    for name, numpy_step, torch_step in cases():
        numpy_s, torch_s = best_time(numpy_step), best_time(torch_step)
        results[name] = {"numpy_s": numpy_s, "torch_s": torch_s, "ratio": numpy_s / torch_s}
        print(f"  {name}: ratio {numpy_s / torch_s:.2f}", flush=True)
    return results
