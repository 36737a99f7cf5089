"""Data-parallel training with ``torch.distributed``: one script for a laptop, a GPU box or a cluster.

Every process (a *rank*) trains the same model. Each optimiser step, a *global batch* of ``B``
examples is cut into ``world_size`` equal shards; rank ``r`` runs forward and backward on shard
``r`` only, and the ranks average their gradients before the optimiser step, so every rank
applies the same update. With equal shards and a mean loss the averaged gradient is exactly the
gradient of the mean loss over the whole global batch, so data-parallel training follows the
same trajectory as one process that sees the whole global batch (up to rounding).

A training function is data-parallel when it runs inside a process group: it spreads its model
with :func:`parallelize` and trains on its rank's :func:`shard` of every global batch.
:func:`train_mlp` (an MLP on the digits) and :func:`companion.torch.models.gpt.train_tiny_gpt`
do; outside a process group both train in one process on whole batches, the reference.

Two ways to start the ranks:

- :func:`train_data_parallel`: spawns ``world_size`` processes on this machine with
  ``torch.multiprocessing`` (gloo backend, on 127.0.0.1 and a free port), runs a training
  function in each and returns rank 0's weights and history.
- ``torchrun ... -m companion.torch.distributed mlp`` (or ``gpt``): :func:`main` reads the rank
  and world size that ``torchrun`` puts in the environment, so the same code runs on several
  GPUs (NCCL backend) and several machines.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
import tempfile
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from companion.core.checks import integer, positive_int, real_number
from companion.core.training import History
from companion.torch._inputs import module_input
from companion.torch.models.mlp import mlp
from companion.torch.training import train_steps

__all__ = ["TrainConfig", "make_model", "global_batches", "shard", "parallelize",
           "train_mlp", "train_data_parallel", "free_port", "main"]

STRATEGIES = ("ddp", "fsdp")


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


def parallelize(model: nn.Module, strategy: str = "ddp") -> tuple[nn.Module, int, int]:
    """``(module to train, rank, world_size)``: ``model`` spread over the process group's ranks.

    Outside a process group: ``(model, 0, 1)``, nothing changes. Inside one, ``strategy``
    ``"ddp"`` wraps ``model`` in ``DistributedDataParallel`` (a full copy per rank, gradients
    all-reduced during ``backward()``); ``"fsdp"`` shards it in place with FSDP2's
    ``fully_shard`` (each rank keeps 1/world_size of every parameter, gradient and optimiser
    state, all-gathers the parameters for forward and backward and reduce-scatters the
    gradients; here the whole model is one unit, where large models make each block one, so
    that only one block is ever gathered at a time).
    Build the optimiser afterwards: FSDP replaces the parameters by sharded ``DTensor`` objects.
    """
    module_input(model, "model")
    if strategy not in STRATEGIES:
        raise ValueError(f"strategy must be one of {STRATEGIES}, got {strategy!r}")
    if not (dist.is_available() and dist.is_initialized()):
        return model, 0, 1
    rank, world_size = dist.get_rank(), dist.get_world_size()
    if strategy == "ddp":
        return DistributedDataParallel(model), rank, world_size
    from torch.distributed.fsdp import fully_shard  # imported here: it takes a second

    device_type = next(model.parameters()).device.type
    fully_shard(model, mesh=dist.init_device_mesh(device_type, (world_size,)))
    return model, rank, world_size


def train_mlp(config: TrainConfig, strategy: str = "ddp",
              device=None) -> tuple[nn.Module, History]:
    """Train the MLP of ``config`` on this rank's shards; return ``(model, history)``.

    The same loop serves one process and many: alone, the shard is the whole global batch;
    inside a process group, :func:`parallelize` spreads the model and ``backward()`` also
    averages the gradients over the ranks. The losses in ``step_loss`` are this rank's, on its
    own shards.
    """
    device = torch.device("cpu") if device is None else torch.device(device)
    model = make_model(config).to(device)
    trained, rank, world_size = parallelize(model, strategy)
    x, y = _digits(config, device)
    batches = global_batches(len(y), config)
    shards = (torch.as_tensor(shard(batch, rank, world_size), device=device) for batch in batches)
    loss_fn = nn.CrossEntropyLoss()  # mean over the shard
    history = train_steps(trained, ((x[index], y[index]) for index in shards),
                          lambda model, batch: loss_fn(model(batch[0]), batch[1]),
                          torch.optim.SGD(model.parameters(), lr=config.lr), len(batches))
    return model, history


def _full_state(model: nn.Module) -> dict[str, torch.Tensor]:
    """``model``'s whole weights on the CPU (gathering FSDP's shards: every rank must call)."""
    return {name: (value.full_tensor() if hasattr(value, "full_tensor") else value)  # DTensor
            .detach().cpu() for name, value in model.state_dict().items()}


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


def _spawned_worker(rank: int, world_size: int, port: int, dtype: torch.dtype, train: Callable,
                    args: tuple, kwargs: dict, out: str) -> None:
    """Body of each process started by :func:`train_data_parallel` (must live in a module:
    ``spawn`` pickles it by name, so a function defined in a notebook would not do)."""
    torch.set_num_threads(1)  # one core per rank: the ranks share this machine's cores
    torch.set_default_dtype(dtype)  # a spawned process starts from float32
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank,
                            world_size=world_size)
    try:
        model, history = train(*args, **kwargs)
        state = _full_state(model)
        if rank == 0:
            torch.save((state, history), out)
    finally:
        dist.destroy_process_group()


def train_data_parallel(train: Callable, *args, world_size: int = 2,
                        **kwargs) -> tuple[dict[str, torch.Tensor], History]:
    """Run ``train(*args, **kwargs)`` in ``world_size`` local processes (gloo).

    ``train`` is a data-parallel training function returning ``(model, history)``, such as
    :func:`train_mlp` or ``train_tiny_gpt``; it and its arguments must pickle (a function
    defined in a module). The ranks use this process's default dtype. Returns rank 0's
    ``(state_dict, history)``, the weights whole even when FSDP sharded them.
    """
    if not callable(train):
        raise TypeError(f"train must be a training function, got {type(train).__name__}")
    world_size = positive_int(world_size, "world_size")
    _quiet_loopback()
    with tempfile.TemporaryDirectory() as folder:
        out = str(Path(folder) / "rank0.pt")
        mp.spawn(_spawned_worker, args=(world_size, free_port(), torch.get_default_dtype(),
                                        train, args, kwargs, out), nprocs=world_size, join=True)
        return torch.load(out, weights_only=False)  # written by rank 0 just above


def main(argv: list[str] | None = None) -> None:
    """Entry point for ``torchrun``: train the MLP or the tiny GPT on every rank it started.

    torchrun sets ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR`` and ``MASTER_PORT``;
    run plainly (``python -m companion.torch.distributed mlp``) it falls back to one process.
    Each rank uses GPU ``LOCAL_RANK`` with the NCCL backend when CUDA is present, else the CPU
    with gloo. Rank 0 writes the final weights to ``--out`` if given.
    """
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--strategy", default="ddp", choices=STRATEGIES)
    common.add_argument("--out", default=None, help="where rank 0 saves the final state_dict")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    models = parser.add_subparsers(dest="model", required=True)
    mlp_options = models.add_parser("mlp", parents=[common], help="TrainConfig's MLP, digits")
    for field in fields(TrainConfig):
        mlp_options.add_argument(f"--{field.name.replace('_', '-')}", default=field.default,
                                 type=type(field.default))
    gpt_options = models.add_parser("gpt", parents=[common], help="train_tiny_gpt")
    gpt_options.add_argument("--max-chars", type=int, default=100_000, help="of the corpus")
    gpt_options.add_argument("--steps", type=int, default=200)
    gpt_options.add_argument("--batch-size", type=int, default=32)
    gpt_options.add_argument("--seed", type=int, default=0)
    gpt_options.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    args = parser.parse_args(argv)

    os.environ.setdefault("RANK", "0")
    os.environ.setdefault("WORLD_SIZE", "1")
    os.environ.setdefault("LOCAL_RANK", "0")
    os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
    os.environ.setdefault("MASTER_PORT", str(free_port()))
    rank, world_size = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    if torch.cuda.is_available():
        backend, device = "nccl", torch.device("cuda", int(os.environ["LOCAL_RANK"]))
        torch.cuda.set_device(device)
    else:
        _quiet_loopback()
        backend, device = "gloo", torch.device("cpu")
    dist.init_process_group(backend)  # rendezvous through the environment (env://)
    try:
        if args.model == "mlp":
            config = TrainConfig(**{field.name: getattr(args, field.name)
                                    for field in fields(TrainConfig)})
            model, history = train_mlp(config, args.strategy, device)
        else:
            from companion.data import load_corpus
            from companion.torch.models.gpt import train_tiny_gpt  # it imports this module

            torch.set_default_dtype(getattr(torch, args.dtype))
            model, history = train_tiny_gpt(load_corpus(args.max_chars), steps=args.steps,
                                            batch_size=args.batch_size, seed=args.seed,
                                            device=device, strategy=args.strategy)
        state = _full_state(model)
        if rank == 0:
            print(f"{world_size} rank(s) on {backend} ({args.strategy}): {history.steps} steps, "
                  f"last local loss {history.step_loss[-1]:.4f}")
            if args.out:
                torch.save(state, args.out)
    finally:
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
