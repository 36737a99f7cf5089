"""The thread policy's evidence: course-sized training steps with 1 and 2 threads, idle and busy.

Usage: python -m benchmarks.threads [--busy N] [--threads 1 2]

Each workload runs in a fresh interpreter with ``COMPANION_THREADS`` set, so its threads are
set by ``companion.runtime`` exactly as in a page. The workloads have the shapes of the
course's models, written with torch's and NumPy's own operations so that they measure threads,
not the package's code. The median of a few timed rounds is reported: on a busy machine the
typical round, not the luckiest, is what a reader waits for.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

from benchmarks.cotenants import cotenants

STEPS, ROUNDS = 50, 3


def gpt_step():
    import torch

    layer = torch.nn.TransformerEncoderLayer(64, 4, 256, dropout=0.0, batch_first=True)
    model = torch.nn.Sequential(torch.nn.Embedding(64, 64), layer, torch.nn.Linear(64, 64))
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    mask = torch.nn.Transformer.generate_square_subsequent_mask(32)
    x = torch.randint(0, 64, (32, 32))

    def step():
        hidden = model[1](model[0](x), src_mask=mask, is_causal=True)
        loss = torch.nn.functional.cross_entropy(model[2](hidden).flatten(0, 1), x.flatten())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return step


def conv_step():
    import torch

    model = torch.nn.Sequential(
        torch.nn.Conv2d(1, 16, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(16, 16, 3, padding=1), torch.nn.ReLU(), torch.nn.Flatten(),
        torch.nn.Linear(16 * 16, 10))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    x, y = torch.randn(32, 1, 8, 8), torch.randint(0, 10, (32,))

    def step():
        loss = torch.nn.functional.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return step


def mlp_step():
    import numpy as np

    rng = np.random.default_rng(0)
    sizes = [64, 256, 256, 10]
    weights = [rng.normal(0, 0.1, (a, b)) for a, b in zip(sizes, sizes[1:])]
    x, y = rng.normal(size=(32, 64)), np.eye(10)[rng.integers(0, 10, 32)]

    def step():
        activations = [x]
        for w in weights[:-1]:
            activations.append(np.maximum(activations[-1] @ w, 0))
        grad = activations[-1] @ weights[-1] - y
        for i in reversed(range(len(weights))):
            update = activations[i].T @ grad
            if i:
                grad = (grad @ weights[i].T) * (activations[i] > 0)
            weights[i] -= 1e-3 * update
    return step


WORKLOADS = {
    "tiny GPT layer (torch, width 64, 32 x 32 tokens)": gpt_step,
    "conv net (torch, 16 channels, 32 digits of 8 x 8)": conv_step,
    "MLP 64-256-256-10 (NumPy, batch 32)": mlp_step,
}


def time_here(name: str) -> float:
    """Median seconds for ``STEPS`` steps of a workload, in this process (after one warm-up)."""
    import companion  # noqa: F401  (applies the thread policy, as a page's imports do)

    step = WORKLOADS[name]()
    step()
    rounds = []
    for _ in range(ROUNDS):
        start = time.perf_counter()
        for _ in range(STEPS):
            step()
        rounds.append(time.perf_counter() - start)
    return statistics.median(rounds)


def time_fresh(name: str, threads: int) -> float:
    """:func:`time_here` in a fresh interpreter with ``COMPANION_THREADS=threads``."""
    env = {**os.environ, "COMPANION_THREADS": str(threads)}
    done = subprocess.run([sys.executable, "-m", "benchmarks.threads", "--time", name], env=env,
                          capture_output=True, text=True, check=True)
    return float(done.stdout.strip().splitlines()[-1])


def run_all(busy: int, thread_counts: list[int]) -> dict:
    """Seconds per workload and thread count, idle and, with ``busy`` > 0, beside co-tenants."""
    results = {}
    for condition, n in [("idle", 0)] + ([(f"busy {busy}", busy)] if busy else []):
        with cotenants(n):
            for name in WORKLOADS:
                for threads in thread_counts:
                    seconds = time_fresh(name, threads)
                    results.setdefault(name, {}).setdefault(condition, {})[threads] = seconds
                    print(f"  {condition:>7}  {threads} thread(s)  {seconds:7.2f} s  {name}",
                          flush=True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--busy", type=int, default=2, metavar="N")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--time", choices=list(WORKLOADS), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.time:
        print(time_here(args.time))
        return
    print(f"{STEPS} training steps per round, median of {ROUNDS} rounds; load average "
          f"{os.getloadavg()[0]:.1f} at the start:")
    print(json.dumps(run_all(args.busy, args.threads), indent=2))


if __name__ == "__main__":
    main()
