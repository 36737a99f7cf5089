"""A disk cache of trained models, so that later pages and tests load a model instead of training it.

:func:`cached_tiny_gpt` trains a character GPT with
:func:`companion.torch.models.gpt.train_tiny_gpt` (deterministic for a seed on one machine) the
first time it is asked for a configuration, and saves the weights under
``cache_dir() / "checkpoints"`` (``$COMPANION_CACHE_DIR``, else ``$XDG_CACHE_HOME/companion`` or
``~/.cache/companion``; see :func:`companion.data.text.cache_dir`). The file name is a hash of
everything that decides the weights: the model's sizes, the training arguments, the corpus's
checksum and the torch version. Deleting the directory is safe: the next call trains again.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from pathlib import Path

import torch

from companion.data.text import cache_dir
from companion.torch.models.gpt import GPT, GPTConfig, train_tiny_gpt

__all__ = ["checkpoint_path", "cached_tiny_gpt"]


def checkpoint_path(corpus, config: GPTConfig, **train_args) -> Path:
    """Where :func:`cached_tiny_gpt` keeps the weights for this corpus, config and training."""
    if not isinstance(config, GPTConfig):
        raise TypeError(f"config must be a GPTConfig, got {type(config).__name__}")
    if not isinstance(getattr(corpus, "checksum", None), str):
        raise TypeError(f"corpus must be a Corpus, got {type(corpus).__name__}")
    key = {"config": dataclasses.asdict(config), "train": train_args,
           "corpus": corpus.checksum, "torch": torch.__version__.split("+")[0]}
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
    return cache_dir() / "checkpoints" / f"tiny-gpt-{digest}.pt"


def cached_tiny_gpt(corpus, config: GPTConfig, steps: int, batch_size: int = 32,
                    lr: float = 7e-3, seed: int = 0) -> GPT:
    """A GPT trained on ``corpus`` by :func:`train_tiny_gpt`, loaded from the cache if it is there.

    Args:
        corpus: a :class:`companion.data.Corpus` (its ``checksum`` enters the key).
        config: the model's sizes. steps, batch_size, lr, seed: passed to ``train_tiny_gpt``.

    Returns:
        The model, on the CPU, in eval mode.
    """
    train_args = {"steps": steps, "batch_size": batch_size, "lr": lr, "seed": seed}
    path = checkpoint_path(corpus, config, **train_args)
    if path.exists():
        model = GPT(config)
        model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
        return model.eval()
    model, _ = train_tiny_gpt(corpus, config, **train_args)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(f".{os.getpid()}.tmp")  # write, then rename: no half-written file
    torch.save(model.state_dict(), partial)
    partial.replace(path)
    return model.eval()
