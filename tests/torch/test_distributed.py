"""Data-parallel training (DDP and FSDP, gloo, two local processes) against one process on
whole batches: the digits MLP and the tiny GPT."""

import os
import subprocess
import sys
from dataclasses import replace

import numpy as np
import pytest
import torch

from companion.data import load_corpus
from companion.data.text import Corpus
from companion.torch.distributed import (TrainConfig, free_port, global_batches, parallelize,
                                         shard, train_data_parallel, train_mlp)
from companion.torch.models.gpt import GPTConfig, train_tiny_gpt

SMALL = TrainConfig(epochs=1, batch_size=64, lr=0.1, hidden=8, seed=3, dtype="float64")
TEXT = Corpus("the quick brown fox jumps over the lazy dog. " * 40)
TINY = GPTConfig(vocab_size=TEXT.vocab_size, block_size=16, n_layer=1, n_head=2, n_embd=16)
GPT_RUN = dict(steps=12, batch_size=8, lr=1e-2, warmup=2, seed=3, eval_every=6)


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


def test_parallelize_outside_a_process_group_changes_nothing():
    model = torch.nn.Linear(2, 2)
    assert parallelize(model, "fsdp") == (model, 0, 1)
    with pytest.raises(ValueError, match="strategy must be one of"):
        parallelize(model, "zero")


def weights(state):
    return {name: value.detach().clone() for name, value in state.items()}


def assert_same_weights(got, expected, atol=1e-12):
    assert got.keys() == expected.keys()
    for name in expected:
        assert expected[name].dtype == torch.float64
        torch.testing.assert_close(got[name], expected[name], rtol=0, atol=atol)


def test_data_parallel_mlp_matches_single_process_float64():
    single = weights(train_mlp(SMALL)[0].state_dict())
    parallel, _ = train_data_parallel(train_mlp, SMALL, world_size=2)
    assert_same_weights(parallel, single)
    # and training did something: the weights moved away from their initial values
    start = weights(train_mlp(replace(SMALL, lr=0.0))[0].state_dict())
    assert max((single[k] - start[k]).abs().max().item() for k in single) > 1e-3


@pytest.fixture
def float64():
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(torch.float32)


@pytest.mark.parametrize("strategy", ["ddp", "fsdp"])
def test_data_parallel_tiny_gpt_matches_single_process_float64(float64, strategy):
    model, history = train_tiny_gpt(TEXT, TINY, **GPT_RUN)
    single = weights(model.state_dict())
    parallel, parallel_history = train_data_parallel(train_tiny_gpt, TEXT, TINY,
                                                     strategy=strategy, **GPT_RUN)
    assert_same_weights(parallel, single)
    # validation losses after 6 and 12 steps: computed by rank 0 on its whole model
    np.testing.assert_allclose(parallel_history.val_loss, history.val_loss, rtol=0, atol=1e-12)
    assert history.val_loss[-1] < history.val_loss[0] - 0.1  # it did learn


def test_torchrun_trains_the_tiny_gpt(tmp_path, float64):
    out = tmp_path / "weights.pt"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone",
               "--nproc_per_node=2", "-m", "companion.torch.distributed", "gpt",
               "--max-chars", "5000", "--steps", "4", "--batch-size", "4", "--seed", "3",
               "--dtype", "float64", "--out", str(out)]
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "2 rank(s) on gloo (ddp)" in result.stdout
    model, _ = train_tiny_gpt(load_corpus(5000), steps=4, batch_size=4, seed=3)
    assert_same_weights(torch.load(out), weights(model.state_dict()))
