import pytest
import torch

from companion.data.text import Corpus
from companion.torch import checkpoints
from companion.torch.models.gpt import GPTConfig

CORPUS = Corpus("the cat sat on the mat. " * 40)
CONFIG = GPTConfig(vocab_size=CORPUS.vocab_size, block_size=8, n_layer=1, n_head=1, n_embd=8)


def test_trains_once_then_loads_the_same_weights(tmp_path, monkeypatch):
    monkeypatch.setenv("COMPANION_CACHE_DIR", str(tmp_path))
    first = checkpoints.cached_tiny_gpt(CORPUS, CONFIG, steps=3, batch_size=4)
    path = checkpoints.checkpoint_path(CORPUS, CONFIG, steps=3, batch_size=4, lr=7e-3, seed=0)
    assert path.exists() and path.parent == tmp_path / "checkpoints"

    def no_training(*args, **kwargs):
        raise AssertionError("trained again instead of loading the cache")

    monkeypatch.setattr(checkpoints, "train_tiny_gpt", no_training)
    second = checkpoints.cached_tiny_gpt(CORPUS, CONFIG, steps=3, batch_size=4)
    for (name, a), b in zip(first.state_dict().items(), second.state_dict().values()):
        assert torch.equal(a, b), name
    assert not second.training
    # another configuration is another file, trained afresh
    with pytest.raises(AssertionError, match="trained again"):
        checkpoints.cached_tiny_gpt(CORPUS, CONFIG, steps=4, batch_size=4)


def test_training_is_deterministic_so_deleting_the_cache_is_safe(tmp_path, monkeypatch):
    monkeypatch.setenv("COMPANION_CACHE_DIR", str(tmp_path))
    first = checkpoints.cached_tiny_gpt(CORPUS, CONFIG, steps=3, batch_size=4)
    for path in (tmp_path / "checkpoints").iterdir():
        path.unlink()
    again = checkpoints.cached_tiny_gpt(CORPUS, CONFIG, steps=3, batch_size=4)
    for a, b in zip(first.state_dict().values(), again.state_dict().values()):
        assert torch.equal(a, b)
    with pytest.raises(TypeError, match="config"):
        checkpoints.checkpoint_path(CORPUS, {"n_layer": 1})
