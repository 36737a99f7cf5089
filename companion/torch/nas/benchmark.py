"""A tabular NAS benchmark: every architecture of the cell space, trained once under one recipe.

In the spirit of NAS-Bench-201 (Dong & Yang, 2020), each distinct cell of
:mod:`companion.torch.nas.space` (one per canonical genotype) is trained from the same seed with
the same full-batch recipe on the digits' 1,077 training images, and its validation and test
accuracies are stored. A search strategy then *queries* the table instead of training, so
strategies can be compared over many seeds at no cost.

The table ships as ``table.json`` next to this file. Regenerate it with one command::

    python -m companion.torch.nas.benchmark --out companion/torch/nas/table.json --workers 12 \
        --device cuda

(about two minutes with twelve processes sharing one GPU; ``--device cpu`` works too, slowly).

The file records the recipe, the space, the software versions and the machine it was made on.
Each architecture's run is deterministic on one machine and torch build (fixed seed, full-batch
steps, no data order); on another CPU the floating-point sums may round differently, so a
re-trained entry agrees with the table to within a few images rather than exactly.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from companion.data import load_digits
from companion.torch.nas.space import (OPS, CellNetwork, all_genotypes, canonical, genotype_str,
                                       parse_genotype)
from companion.torch.training import seed_everything, train_steps

__all__ = ["Recipe", "TABLE_PATH", "digits_tensors", "train_architecture", "build_table",
           "Benchmark"]

TABLE_PATH = Path(__file__).with_name("table.json")


@dataclass(frozen=True)
class Recipe:
    """The one training recipe every architecture gets.

    ``steps`` full-batch Adam steps at learning rate ``lr`` on all training images, from
    ``seed_everything(seed)``, with ``channels`` feature maps in the stem, cell and head.
    """

    channels: int = 8
    steps: int = 100
    lr: float = 0.03
    seed: int = 0
    n_nodes: int = 4
    ops: tuple[str, ...] = OPS


def digits_tensors(device=None) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """The three digit splits as float32 images (N, 1, 8, 8) and int64 labels (N,)."""
    out = {}
    for split in ("train", "val", "test"):
        x, y = load_digits(split, flatten=False)
        out[split] = (torch.as_tensor(np.asarray(x), dtype=torch.float32, device=device),
                      torch.as_tensor(np.asarray(y), dtype=torch.int64, device=device))
    return out


def train_architecture(genotype, recipe: Recipe = Recipe(), data=None, device=None) -> dict:
    """Train one architecture under ``recipe`` and return its row of the table.

    Returns ``{"genotype", "params", "train_loss", "train_accuracy", "val_accuracy",
    "test_accuracy", "seconds"}``; accuracies are fractions of the split, the loss is the final
    full-batch training cross-entropy.
    """
    genotype = canonical(genotype, recipe.ops)
    device = torch.device("cpu") if device is None else torch.device(device)
    data = digits_tensors(device) if data is None else data
    start = time.perf_counter()
    seed_everything(recipe.seed)
    model = CellNetwork.from_genotype(genotype, recipe.channels).to(device)
    x, y = data["train"]
    train_steps(model, itertools.repeat((x, y)), lambda model, batch: F.cross_entropy(
        model(batch[0]), batch[1]), torch.optim.Adam(model.parameters(), lr=recipe.lr),
        recipe.steps)
    row = {"genotype": genotype_str(genotype),
           "params": sum(p.numel() for p in model.parameters())}
    model.eval()
    with torch.no_grad():
        logits = model(x)
        row["train_loss"] = F.cross_entropy(logits, y).item()
        for split in ("train", "val", "test"):
            xs, ys = data[split]
            row[f"{split}_accuracy"] = (model(xs).argmax(dim=1) == ys).double().mean().item()
    row["seconds"] = time.perf_counter() - start
    return row


_DATA: dict = {}


def _worker(args):
    genotype, recipe, device = args
    torch.set_num_threads(1)
    if device not in _DATA:
        _DATA[device] = digits_tensors(device)
    return train_architecture(genotype, recipe, _DATA[device], device)


def build_table(recipe: Recipe = Recipe(), workers: int = 1, limit: int | None = None,
                device=None, progress: bool = True) -> dict:
    """Train every canonical architecture of the space and return the table as a dict."""
    cells = sorted({canonical(g, recipe.ops) for g in all_genotypes(recipe.n_nodes, recipe.ops)},
                   key=genotype_str)
    if limit is not None:
        cells = cells[:limit]
    start = time.perf_counter()
    rows = []
    device = "cpu" if device is None else str(device)
    if workers > 1:
        import multiprocessing as mp
        jobs = [(g, recipe, device) for g in cells]
        with mp.get_context("spawn").Pool(workers) as pool:
            for k, row in enumerate(pool.imap(_worker, jobs, chunksize=4)):
                rows.append(row)
                if progress and k % 100 == 0:
                    print(f"{k}/{len(cells)} {time.perf_counter() - start:.0f}s", flush=True)
    else:
        data = digits_tensors(device)
        for g in cells:
            rows.append(train_architecture(g, recipe, data, device))
    recipe_dict = asdict(recipe)
    recipe_dict["ops"] = list(recipe.ops)
    return {
        "description": "Every canonical cell of companion.torch.nas.space trained once under "
                       "one recipe on the digits (train 1,077 images); accuracies on each split.",
        "recipe": recipe_dict,
        "optimizer": "Adam, full batch, cross-entropy; evaluation in eval mode",
        "n_genotypes": len(recipe.ops) ** (recipe.n_nodes * (recipe.n_nodes - 1) // 2),
        "n_cells": len(rows),
        "versions": {"torch": torch.__version__, "numpy": np.__version__,
                     "python": platform.python_version()},
        "machine": {"platform": platform.platform(), "processor": platform.machine(),
                    "device": device if device == "cpu" else torch.cuda.get_device_name(),
                    "threads_per_run": 1 if workers > 1 else torch.get_num_threads()},
        "wall_seconds": time.perf_counter() - start,
        "command": f"python -m companion.torch.nas.benchmark --out companion/torch/nas/table.json "
                   f"--workers {workers} --device {device}",
        "rows": rows,
    }


class Benchmark:
    """The table, queried like a black box: ``accuracy(genotype)`` costs one query.

    Args:
        path: a table written by :func:`build_table` (default: the shipped ``table.json``).
        metric: which accuracy a query returns (``"val_accuracy"``, the one a search may see).
    """

    def __init__(self, path=TABLE_PATH, metric: str = "val_accuracy"):
        if not isinstance(path, (str, os.PathLike)) or not Path(path).is_file():
            raise ValueError(f"path must name a table file written by build_table, got {path!r}")
        if metric not in ("val_accuracy", "test_accuracy", "train_accuracy"):
            raise ValueError(f"metric must be val_accuracy, test_accuracy or train_accuracy, "
                             f"got {metric!r}")
        try:
            table = json.loads(Path(path).read_text())
            self.recipe = Recipe(**{**table["recipe"], "ops": tuple(table["recipe"]["ops"])})
            self.rows = {parse_genotype(r["genotype"], self.recipe.ops): r for r in table["rows"]}
        except (ValueError, KeyError, TypeError) as error:  # JSONDecodeError is a ValueError
            raise ValueError(f"path must name a table file written by build_table, got {path!r},"
                             f" which does not parse as one ({error!r})") from error
        self.meta = {k: v for k, v in table.items() if k != "rows"}
        self.metric = metric
        self.queries = 0

    @property
    def ops(self) -> tuple[str, ...]:
        return self.recipe.ops

    @property
    def n_nodes(self) -> int:
        return self.recipe.n_nodes

    def row(self, genotype) -> dict:
        """The full row of a genotype (any genotype: it is canonicalised first); free."""
        return self.rows[canonical(genotype, self.ops)]

    def accuracy(self, genotype) -> float:
        """The recorded ``metric`` of a genotype; counts one query."""
        self.queries += 1
        return self.row(genotype)[self.metric]

    def genotypes(self) -> list[tuple[str, ...]]:
        """Every genotype of the space (not only canonical ones), in a fixed order."""
        return all_genotypes(self.n_nodes, self.ops)

    def values(self, metric: str | None = None, every_genotype: bool = True) -> np.ndarray:
        """``metric`` of every genotype (or of every distinct cell) as an array."""
        metric = metric or self.metric
        if every_genotype:
            return np.array([self.row(g)[metric] for g in self.genotypes()])
        return np.array([r[metric] for r in self.rows.values()])


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=TABLE_PATH)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--limit", type=int, default=None, help="train only the first cells")
    parser.add_argument("--device", default=None, help="e.g. cuda (default: cpu)")
    parser.add_argument("--steps", type=int, default=Recipe.steps)
    parser.add_argument("--channels", type=int, default=Recipe.channels)
    parser.add_argument("--lr", type=float, default=Recipe.lr)
    args = parser.parse_args(argv)
    recipe = Recipe(channels=args.channels, steps=args.steps, lr=args.lr)
    table = build_table(recipe, workers=args.workers, limit=args.limit, device=args.device)
    args.out.write_text(json.dumps(table, indent=0) + "\n")
    acc = np.array([r["val_accuracy"] for r in table["rows"]])
    print(f"{len(acc)} cells in {table['wall_seconds']:.0f}s; val accuracy min {acc.min():.3f} "
          f"median {np.median(acc):.3f} max {acc.max():.3f}")


if __name__ == "__main__":
    main()
