"""A size sweep of character GPTs, each trained until more steps stop paying: loss against size.

Kaplan et al. (2020) fit the loss of *converged* language models as a power law in the number of
non-embedding parameters N. A minute of CPU trains small GPTs for a fixed, short budget only, so
the sweep that the scaling-law page fits is run once, ahead of time, and ships as
``scaling.json`` next to this file. For every width, :func:`converge` trains from the first seed
for ``first_steps`` steps, then for twice as many, and so on, until doubling the steps lowers the
validation loss by less than ``tolerance`` (a fraction of the loss) or ``max_steps`` is reached;
the other seeds are then trained for the steps the first one ended at. Every run is an
independent :func:`companion.torch.models.gpt.train_tiny_gpt` run (its cosine schedule ends at
its own last step). Regenerate the file with one command::

    python -m companion.torch.scaling --out companion/torch/scaling.json

``--widths 5 9`` trains only those widths and keeps the file's other runs, so the widths can be
shared among processes (one CPU thread each) and written into the file one after another.

The file records the recipe, the corpus's checksum, the software versions, the machine and the
seconds of every run. A run is deterministic on one machine and torch build; on another CPU
the floating-point sums may round differently, so a re-run agrees to a few thousandths of a nat
rather than exactly.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from companion.core.checks import positive_int
from companion.data import load_corpus
from companion.torch.models.gpt import GPT, GPTConfig, evaluate_loss, train_tiny_gpt

__all__ = ["SWEEP_PATH", "Recipe", "non_embedding_parameters", "train_run", "converge",
           "load_sweep"]

SWEEP_PATH = Path(__file__).with_name("scaling.json")


@dataclass(frozen=True)
class Recipe:
    """How every size of the sweep is built, trained and scored.

    Two blocks with one head of width ``n_embd`` (the size that varies); AdamW on batches of
    ``batch_size`` windows of ``block_size`` characters, with a peak learning rate of
    ``lr_scale / n_embd`` capped at ``lr_max`` (wider models need smaller steps); losses on the
    first ``eval_chars`` characters of the validation and training text.
    """

    widths: tuple = (5, 9, 18, 34, 64)
    n_layer: int = 2
    n_head: int = 1
    block_size: int = 32
    batch_size: int = 64
    lr_scale: float = 0.3
    lr_max: float = 0.02
    first_steps: int = 1000
    max_steps: int = 32000
    tolerance: float = 0.01
    seeds: tuple = (0, 1)
    eval_chars: int = 50_000

    def config(self, vocab_size: int, width: int) -> GPTConfig:
        """The GPT of this width."""
        return GPTConfig(vocab_size=vocab_size, block_size=self.block_size,
                         n_layer=self.n_layer, n_head=self.n_head, n_embd=width)

    def lr(self, width: int) -> float:
        """The peak learning rate for this width."""
        return min(self.lr_max, self.lr_scale / width)


def non_embedding_parameters(model: GPT) -> int:
    """Parameters of the blocks and the final layer norm: N as Kaplan et al. count it."""
    if not isinstance(model, GPT):
        raise TypeError(f"model must be a GPT, got {type(model).__name__}")
    return sum(p.numel() for name, p in model.named_parameters()
               if name.startswith(("blocks.", "ln_f.")))


def train_run(corpus, recipe: Recipe, width: int, steps: int, seed: int) -> dict:
    """Train one size for ``steps`` steps from ``seed``; its N, losses and wall seconds."""
    steps = positive_int(steps, "steps")
    start = time.perf_counter()
    model, _ = train_tiny_gpt(corpus, recipe.config(corpus.vocab_size, width), steps=steps,
                              batch_size=recipe.batch_size, lr=recipe.lr(width), seed=seed)
    seconds = time.perf_counter() - start
    n = recipe.eval_chars
    return {"width": width, "steps": steps, "seed": seed,
            "N": non_embedding_parameters(model),
            "val_loss": evaluate_loss(model, corpus.val[:n]),
            "train_loss": evaluate_loss(model, corpus.train[:n]),
            "seconds": round(seconds, 1)}


def converge(corpus, recipe: Recipe, width: int, log=print) -> list[dict]:
    """Every run of one width: the doubling runs of the first seed, then the other seeds."""
    runs, steps = [], recipe.first_steps
    while True:
        runs.append(train_run(corpus, recipe, width, steps, recipe.seeds[0]))
        log(runs[-1])
        if len(runs) > 1:
            gain = runs[-2]["val_loss"] - runs[-1]["val_loss"]
            if gain < recipe.tolerance * runs[-1]["val_loss"]:
                break
        if steps * 2 > recipe.max_steps:
            break
        steps *= 2
    for seed in recipe.seeds[1:]:
        runs.append(train_run(corpus, recipe, width, steps, seed))
        log(runs[-1])
    return runs


def load_sweep(path: str | os.PathLike = SWEEP_PATH) -> dict:
    """The stored sweep: ``{"recipe": Recipe, "corpus": checksum, "machine": {...}, "runs": [...]}``.

    Each run is a dict of ``width``, ``steps``, ``seed``, ``N``, ``val_loss``, ``train_loss``
    (nats per character) and ``seconds``.
    """
    if not isinstance(path, (str, os.PathLike)) or not Path(path).is_file():
        raise ValueError(f"path must name a sweep file written by companion.torch.scaling, "
                         f"got {path!r}")
    try:
        data = json.loads(Path(path).read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        data = error
    if not isinstance(data, dict) or not {"recipe", "corpus", "runs"} <= data.keys():
        raise ValueError(f"path must name a sweep file written by companion.torch.scaling, "
                         f"got {path!r}, which is not one")
    data["recipe"] = Recipe(**{key: tuple(value) if isinstance(value, list) else value
                               for key, value in data["recipe"].items()})
    return data


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=SWEEP_PATH)
    parser.add_argument("--widths", type=int, nargs="*", default=None,
                        help="train only these widths, keeping the file's other runs")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)  # two sweeps side by side on two cores
    recipe = Recipe()
    corpus = load_corpus()
    runs = [run for width in (args.widths or recipe.widths)
            for run in converge(corpus, recipe, width, log=lambda r: print(r, flush=True))]
    done = {run["width"] for run in runs}
    if args.out.exists():  # keep the widths this call did not train
        runs += [run for run in load_sweep(args.out)["runs"] if run["width"] not in done]
    runs.sort(key=lambda r: (r["width"], r["seed"], r["steps"]))
    data = {"recipe": asdict(recipe), "corpus": corpus.checksum,
            "machine": {"torch": torch.__version__, "python": platform.python_version(),
                        "processor": platform.processor() or platform.machine(),
                        "cpus": os.cpu_count(), "threads": torch.get_num_threads()},
            "runs": runs}
    args.out.write_text(json.dumps(data, indent=1) + "\n")


if __name__ == "__main__":
    main()
