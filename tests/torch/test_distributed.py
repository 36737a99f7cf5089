"""Data-parallel training (DDP, gloo, two local processes) against one process on whole batches."""

import os
import subprocess
import sys
from dataclasses import replace

import numpy as np
import pytest
import torch

from companion.torch.distributed import (TrainConfig, free_port, global_batches, shard,
                                         train_data_parallel, train_single_process)

SMALL = TrainConfig(epochs=1, batch_size=64, lr=0.1, hidden=8, seed=3, dtype="float64")


def test_global_batches_are_full_permutations_per_epoch():
    config = replace(SMALL, epochs=2, batch_size=100)
    batches = global_batches(1077, config)
    assert len(batches) == 2 * (1077 // 100)
    assert all(len(b) == 100 for b in batches)
    first_epoch = np.concatenate(batches[:10])
    assert len(np.unique(first_epoch)) == 1000  # no repeats within an epoch
    assert not np.array_equal(batches[0], batches[10])  # reshuffled each epoch
    again = global_batches(1077, config)
    assert all(np.array_equal(a, b) for a, b in zip(batches, again))


def test_shards_partition_the_batch():
    batch = np.arange(12)
    parts = [shard(batch, r, 3) for r in range(3)]
    np.testing.assert_array_equal(np.concatenate(parts), batch)
    with pytest.raises(ValueError, match="equal shards"):
        shard(np.arange(10), 0, 3)


def test_free_port_is_bindable():
    import socket
    port = free_port()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))


def test_bad_dtype_is_refused():
    with pytest.raises(ValueError, match="dtype"):
        replace(SMALL, dtype="float16").torch_dtype


def test_data_parallel_matches_single_process_float64():
    single = train_single_process(SMALL)
    parallel = train_data_parallel(SMALL, world_size=2)
    assert single.keys() == parallel.keys()
    for name in single:
        assert single[name].dtype == torch.float64
        torch.testing.assert_close(parallel[name], single[name], rtol=0, atol=1e-12)
    # and training did something: the weights moved away from their initial values
    start = train_single_process(replace(SMALL, lr=0.0))
    assert max((single[k] - start[k]).abs().max().item() for k in single) > 1e-3


def test_torchrun_entry_point(tmp_path):
    out = tmp_path / "weights.pt"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone",
               "--nproc_per_node=2", "-m", "companion.torch.distributed", "--epochs", "1",
               "--hidden", "8", "--seed", "3", "--out", str(out)]
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "2 rank(s) on gloo" in result.stdout
    saved = torch.load(out)
    single = train_single_process(SMALL)
    for name in single:
        torch.testing.assert_close(saved[name], single[name], rtol=0, atol=1e-12)
