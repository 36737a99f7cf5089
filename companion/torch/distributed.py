"""Data-parallel training with ``torch.distributed``: one script for a laptop, a GPU box or a cluster.

Every process (a *rank*) holds a full copy of the model. Each optimiser step, a *global batch*
of ``B`` examples is cut into ``world_size`` equal shards; rank ``r`` runs forward and backward
on shard ``r`` only, then ``DistributedDataParallel`` averages the gradients over all ranks
(an all-reduce) before the optimiser step, so every rank applies the same update and the copies
stay identical. With equal shards and a mean loss the averaged gradient is exactly the gradient
of the mean loss over the whole global batch, so data-parallel training follows the same
trajectory as one process that sees the whole global batch (up to rounding).

Three ways in:

- :func:`train_single_process`: the reference, one process, whole global batches.
- :func:`train_data_parallel`: spawns ``world_size`` processes on this machine with
  ``torch.multiprocessing`` (gloo backend, on 127.0.0.1 and a free port) and returns the weights.
- ``python -m companion.torch.distributed`` (or ``torchrun ... -m companion.torch.distributed``):
  :func:`main` reads the rank and world size that ``torchrun`` puts in the environment, so the
  same code runs on several GPUs (NCCL backend) and several machines.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from companion.core.checks import integer, positive_int, real_number
from companion.core.training import History
from companion.torch.models.mlp import mlp
from companion.torch.training import train_steps

__all__ = ["TrainConfig", "make_model", "global_batches", "shard", "train_on_shards",
           "train_single_process", "train_data_parallel", "free_port", "main"]


@dataclass(frozen=True)
class TrainConfig:
    """What both the single-process and the data-parallel runs train.

    A one-hidden-layer MLP (64 -> ``hidden`` -> 10) on the digits' training split, plain SGD
    with learning rate ``lr``, ``epochs`` passes in global batches of ``batch_size`` examples
    (the incomplete last batch is dropped so every batch splits evenly), model initialised and
    batches shuffled from ``seed``. ``dtype`` is ``"float32"`` or ``"float64"``.
    """

    epochs: int = 2
    batch_size: int = 64
    lr: float = 0.1
    hidden: int = 32
    seed: int = 0
    dtype: str = "float64"

    def __post_init__(self):
        for name in ("epochs", "batch_size", "hidden"):
            positive_int(getattr(self, name), name)
        integer(self.seed, "seed")
        real_number(self.lr, "lr", low=0.0)
        self.torch_dtype  # noqa: B018 - checks dtype

    @property
    def torch_dtype(self) -> torch.dtype:
        if self.dtype not in ("float32", "float64"):
            raise ValueError(f"dtype must be 'float32' or 'float64', got {self.dtype!r}")
        return getattr(torch, self.dtype)


def _check_config(config) -> None:
    if not isinstance(config, TrainConfig):
        raise TypeError(f"config must be a TrainConfig, got {type(config).__name__}")


def make_model(config: TrainConfig) -> nn.Module:
    """The MLP of ``config``, initialised from ``config.seed`` (the same on every rank)."""
    _check_config(config)
    torch.manual_seed(config.seed)
    return mlp(64, [config.hidden], 10).to(config.torch_dtype)


def global_batches(n: int, config: TrainConfig) -> list[np.ndarray]:
    """Index arrays of the global batches, epoch after epoch, from ``config.seed``.

    Each epoch is a fresh permutation of ``range(n)`` (NumPy ``default_rng(seed)``) cut into
    ``n // batch_size`` batches of exactly ``batch_size`` indices; the remainder is dropped.
    Every rank computes the same list, so no rank has to send indices to another.
    """
    n = positive_int(n, "n")
    _check_config(config)
    rng = np.random.default_rng(config.seed)
    batches = []
    for _ in range(config.epochs):
        order = rng.permutation(n)
        for start in range(0, n - config.batch_size + 1, config.batch_size):
            batches.append(order[start:start + config.batch_size])
    return batches


def shard(batch: np.ndarray, rank: int, world_size: int) -> np.ndarray:
    """Rank ``rank``'s equal, contiguous share of a global batch (its length must divide)."""
    if not isinstance(batch, np.ndarray):
        raise TypeError(f"batch must be a NumPy array, got {type(batch).__name__}")
    world_size = positive_int(world_size, "world_size")
    if not 0 <= integer(rank, "rank") < world_size:
        raise ValueError(f"rank must lie in [0, {world_size - 1}], got {rank}")
    if len(batch) % world_size:
        raise ValueError(f"a global batch of {len(batch)} does not split into {world_size} "
                         f"equal shards: choose batch_size divisible by the world size")
    size = len(batch) // world_size
    return batch[rank * size:(rank + 1) * size]


def _digits(config: TrainConfig, device) -> tuple[torch.Tensor, torch.Tensor]:
    from companion.data import load_digits

    x, y = load_digits("train")  # (1077, 64), (1077,)
    return (torch.as_tensor(x, dtype=config.torch_dtype, device=device),
            torch.as_tensor(y, device=device))


def train_on_shards(model: nn.Module, config: TrainConfig, rank: int = 0, world_size: int = 1,
                    device=None) -> History:
    """Train ``model`` (plain, or wrapped in DDP) on this rank's shards; return its History.

    The same loop serves both cases: with ``world_size == 1`` the shard is the whole global
    batch; inside DDP, ``backward()`` also averages the gradients over the ranks. The losses in
    ``step_loss`` are this rank's, on its own shards.
    """
    device = torch.device("cpu") if device is None else torch.device(device)
    x, y = _digits(config, device)
    batches = global_batches(len(y), config)
    shards = (torch.as_tensor(shard(batch, rank, world_size), device=device) for batch in batches)
    loss_fn = nn.CrossEntropyLoss()  # mean over the shard
    return train_steps(model, ((x[index], y[index]) for index in shards),
                       lambda model, batch: loss_fn(model(batch[0]), batch[1]),
                       torch.optim.SGD(model.parameters(), lr=config.lr), len(batches))


def train_single_process(config: TrainConfig) -> dict[str, torch.Tensor]:
    """Train on whole global batches in this process; return the final ``state_dict``."""
    model = make_model(config)
    train_on_shards(model, config)
    return {name: value.detach().clone() for name, value in model.state_dict().items()}


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now (asked from the OS)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _quiet_loopback() -> None:
    """Keep gloo on the loopback interface (no hostname lookup) and torch's C++ log quiet."""
    if sys.platform.startswith("linux") or sys.platform == "darwin":
        os.environ.setdefault("GLOO_SOCKET_IFNAME", "lo" if sys.platform != "darwin" else "lo0")
    os.environ.setdefault("TORCH_CPP_LOG_LEVEL", "ERROR")


def _spawned_worker(rank: int, world_size: int, port: int, config: dict, out: str) -> None:
    """Body of each process started by :func:`train_data_parallel` (must live in a module:
    ``spawn`` pickles it by name, so a function defined in a notebook would not do)."""
    torch.set_num_threads(1)  # one core per rank: the ranks share this machine's cores
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank,
                            world_size=world_size)
    try:
        config = TrainConfig(**config)
        model = DistributedDataParallel(make_model(config))
        history = train_on_shards(model, config, rank, world_size)
        if rank == 0:
            torch.save({"state": model.module.state_dict(), "losses": history.step_loss}, out)
    finally:
        dist.destroy_process_group()


def train_data_parallel(config: TrainConfig, world_size: int = 2) -> dict[str, torch.Tensor]:
    """Train with DDP in ``world_size`` local processes (gloo); return rank 0's ``state_dict``."""
    _quiet_loopback()
    with tempfile.TemporaryDirectory() as folder:
        out = str(Path(folder) / "rank0.pt")
        mp.spawn(_spawned_worker, args=(world_size, free_port(), asdict(config), out),
                 nprocs=world_size, join=True)
        return torch.load(out)["state"]


def main(argv: list[str] | None = None) -> None:
    """Entry point for ``torchrun``: train with DDP on every rank torchrun started.

    torchrun sets ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR`` and ``MASTER_PORT``;
    run plainly (``python -m companion.torch.distributed``) it falls back to one process. Each
    rank uses GPU ``LOCAL_RANK`` with the NCCL backend when CUDA is present, else the CPU with
    gloo. Rank 0 writes the final weights to ``--out`` if given.
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    defaults = TrainConfig()
    parser.add_argument("--epochs", type=int, default=defaults.epochs)
    parser.add_argument("--batch-size", type=int, default=defaults.batch_size)
    parser.add_argument("--lr", type=float, default=defaults.lr)
    parser.add_argument("--hidden", type=int, default=defaults.hidden)
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--dtype", default=defaults.dtype, choices=["float32", "float64"])
    parser.add_argument("--out", default=None, help="where rank 0 saves the final state_dict")
    args = parser.parse_args(argv)
    config = TrainConfig(args.epochs, args.batch_size, args.lr, args.hidden, args.seed,
                         args.dtype)

    os.environ.setdefault("RANK", "0")
    os.environ.setdefault("WORLD_SIZE", "1")
    os.environ.setdefault("LOCAL_RANK", "0")
    os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
    os.environ.setdefault("MASTER_PORT", str(free_port()))
    rank, world_size = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    local_rank = int(os.environ["LOCAL_RANK"])
    if torch.cuda.is_available():
        backend, device = "nccl", torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
    else:
        _quiet_loopback()
        backend, device = "gloo", torch.device("cpu")
    dist.init_process_group(backend)  # rendezvous through the environment (env://)
    try:
        model = make_model(config).to(device)
        ddp = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda"
                                      else None)
        history = train_on_shards(ddp, config, rank, world_size, device)
        if rank == 0:
            print(f"{world_size} rank(s) on {backend}: {history.steps} steps, "
                  f"last local loss {history.step_loss[-1]:.4f}")
            if args.out:
                torch.save({name: value.cpu() for name, value in model.state_dict().items()},
                           args.out)
    finally:
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
