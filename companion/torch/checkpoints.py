"""Trained models kept on disk, so that pages and tests load a model instead of training it.

:func:`cached_tiny_gpt` returns a character GPT trained by
:func:`companion.torch.models.gpt.train_tiny_gpt` (deterministic for a seed on one machine). It
looks for the weights in two places, by a file name that hashes everything that decides them:
the model's sizes, the training arguments, the corpus's checksum and the torch version.

1. ``trained/`` next to this file: the book's GPTs that take more than a few seconds to train
   (:data:`SHIPPED`), trained once and shipped with the package. Regenerate them with::

       python -m companion.torch.checkpoints

2. ``cache_dir() / "checkpoints"`` (``$COMPANION_CACHE_DIR``, else ``$XDG_CACHE_HOME/companion``
   or ``~/.cache/companion``; see :func:`companion.data.text.cache_dir`), where it saves what it
   had to train. Deleting that directory is safe: the next call trains again.

Another corpus (the text is built from the running Python's docstrings) or another torch version
gives other names, so nothing trained for one is loaded for the other: it is trained instead.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import io
import json
import os
from pathlib import Path

import torch

from companion.core.checks import integer, positive_int, real_number
from companion.data import load_corpus
from companion.data.text import cache_dir
from companion.torch.models.gpt import GPT, GPTConfig, train_tiny_gpt

__all__ = ["SHIPPED", "SHIPPED_DIR", "checkpoint_path", "shipped_path", "cached_tiny_gpt",
           "ship"]

SHIPPED_DIR = Path(__file__).with_name("trained")

_CHAPTER_6 = {"block_size": 64, "n_layer": 2, "n_head": 4, "n_embd": 64}
_TINY_GPT = {"steps": 800, "batch_size": 24, "lr": 7e-3, "weight_decay": 0.1}
#: The GPTs that ship in ``trained/``: model sizes (the corpus gives the vocabulary) and the
#: training arguments of :func:`cached_tiny_gpt`.
SHIPPED = (
    # transformers/tiny-gpt: the recipe of the page, three seeds
    *({"sizes": _CHAPTER_6, "train": {**_TINY_GPT, "seed": seed}} for seed in (0, 1, 2)),
    # and its exercises' longer run: seed 0 for three times the steps
    {"sizes": _CHAPTER_6, "train": {**_TINY_GPT, "steps": 3 * _TINY_GPT["steps"], "seed": 0}},
    # the chapter's GPT that induction-heads, few-shot, masked-language-models and
    # large-language-models read
    {"sizes": _CHAPTER_6, "train": {"steps": 600, "batch_size": 32, "lr": 1e-2, "seed": 0}},
)


def _file_name(corpus, config: GPTConfig, train_args: dict) -> str:
    if not isinstance(config, GPTConfig):
        raise TypeError(f"config must be a GPTConfig, got {type(config).__name__}")
    if not isinstance(getattr(corpus, "checksum", None), str):
        raise TypeError(f"corpus must be a Corpus, got {type(corpus).__name__}")
    key = {"config": dataclasses.asdict(config), "train": train_args,
           "corpus": corpus.checksum, "torch": torch.__version__.split("+")[0]}
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
    return f"tiny-gpt-{digest}.pt"


def checkpoint_path(corpus, config: GPTConfig, steps: int, batch_size: int = 32,
                    lr: float = 7e-3, weight_decay: float = 0.01, seed: int = 0) -> Path:
    """Where :func:`cached_tiny_gpt` saves the weights it trains for these arguments."""
    train_args = {"steps": positive_int(steps, "steps"),
                  "batch_size": positive_int(batch_size, "batch_size"),
                  "lr": real_number(lr, "lr", 0.0, low_inclusive=False),
                  "weight_decay": real_number(weight_decay, "weight_decay", 0.0),
                  "seed": integer(seed, "seed")}
    return cache_dir() / "checkpoints" / _file_name(corpus, config, train_args)


def shipped_path(corpus, config: GPTConfig, steps: int, batch_size: int = 32,
                 lr: float = 7e-3, weight_decay: float = 0.01, seed: int = 0) -> Path:
    """Where the package would ship the weights for these arguments (the file may not exist)."""
    name = checkpoint_path(corpus, config, steps, batch_size, lr, weight_decay, seed).name
    return SHIPPED_DIR / name


def cached_tiny_gpt(corpus, config: GPTConfig, steps: int, batch_size: int = 32,
                    lr: float = 7e-3, weight_decay: float = 0.01, seed: int = 0) -> GPT:
    """A GPT trained on ``corpus`` by :func:`train_tiny_gpt`: shipped, cached, or trained now.

    Args:
        corpus: a :class:`companion.data.Corpus` (its ``checksum`` enters the key).
        config: the model's sizes. steps, batch_size, lr, weight_decay, seed: passed to
            ``train_tiny_gpt``.

    Returns:
        The model, on the CPU, in eval mode.
    """
    train_args = {"steps": steps, "batch_size": batch_size, "lr": lr,
                  "weight_decay": weight_decay, "seed": seed}
    path = checkpoint_path(corpus, config, **train_args)
    for stored in (SHIPPED_DIR / path.name, path):
        if stored.exists():
            model = GPT(config)
            model.load_state_dict(torch.load(stored, map_location="cpu", weights_only=True))
            return model.eval()
    model, _ = train_tiny_gpt(corpus, config, **train_args)
    _save(model, path)
    return model.eval()


def _save(model: GPT, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()  # saved through a buffer, the bytes do not depend on the file's name
    torch.save(model.state_dict(), buffer)
    partial = path.with_suffix(f".{os.getpid()}.tmp")  # write, then rename: no half-written file
    partial.write_bytes(buffer.getvalue())
    partial.replace(path)


def ship(corpus, out: Path = SHIPPED_DIR, log=print) -> list[Path]:
    """Train every model of :data:`SHIPPED` on ``corpus`` and save it in ``out``.

    Files in ``out`` that no entry names (left from an older recipe or corpus) are removed.
    Returns the paths written.
    """
    out = Path(out)
    written = []
    for entry in SHIPPED:
        config = GPTConfig(vocab_size=corpus.vocab_size, **entry["sizes"])
        path = out / shipped_path(corpus, config, **entry["train"]).name
        model, history = train_tiny_gpt(corpus, config, **entry["train"])
        _save(model, path)
        log(f"{path.name}: {entry['train']} in {history.seconds:.0f} s")
        written.append(path)
    for stale in set(out.glob("tiny-gpt-*.pt")) - set(written):
        stale.unlink()
    return written


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description="Train the GPTs that ship with the package.")
    parser.add_argument("--out", type=Path, default=SHIPPED_DIR,
                        help="directory to write (default: the package's trained/)")
    args = parser.parse_args(argv)
    ship(load_corpus(), args.out)


if __name__ == "__main__":
    main()
