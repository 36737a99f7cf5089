"""Co-tenants: CPU-bound processes the busy benchmark runs beside a chapter, as neighbours would."""

from __future__ import annotations

import contextlib
import subprocess
import sys

# Pure Python spinning on one CPU, with no thread pool of its own; it ends itself at a deadline.
SPIN = "import time\nend = time.monotonic() + {seconds}\nwhile time.monotonic() < end:\n    pass\n"


@contextlib.contextmanager
def cotenants(n: int, seconds: float = 1800):
    """Keep ``n`` processes spinning while the block runs; stop them when it ends.

    Each also stops by itself after ``seconds``, so none outlives a benchmark that is killed.
    """
    spinners = [subprocess.Popen([sys.executable, "-c", SPIN.format(seconds=seconds)])
                for _ in range(n)]
    try:
        yield
    finally:
        for spinner in spinners:
            spinner.kill()
        for spinner in spinners:
            spinner.wait()
