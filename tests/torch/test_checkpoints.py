import pytest
import torch

from companion.data import load_corpus
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
        checkpoints.checkpoint_path(CORPUS, {"n_layer": 1}, steps=1)


def test_shipped_weights_are_loaded_before_the_cache_and_never_retrained(tmp_path, monkeypatch):
    monkeypatch.setenv("COMPANION_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(checkpoints, "SHIPPED_DIR", tmp_path / "trained")
    monkeypatch.setattr(checkpoints, "SHIPPED", (
        {"sizes": {"block_size": 8, "n_layer": 1, "n_head": 1, "n_embd": 8},
         "train": {"steps": 3, "batch_size": 4, "weight_decay": 0.1, "seed": 1}},))
    [path] = checkpoints.ship(CORPUS, tmp_path / "trained", log=lambda line: None)
    assert path == checkpoints.shipped_path(CORPUS, CONFIG, steps=3, batch_size=4,
                                            weight_decay=0.1, seed=1)
    trained = torch.load(path, weights_only=True)

    def no_training(*args, **kwargs):
        raise AssertionError("trained instead of loading the shipped weights")

    monkeypatch.setattr(checkpoints, "train_tiny_gpt", no_training)
    model = checkpoints.cached_tiny_gpt(CORPUS, CONFIG, steps=3, batch_size=4,
                                        weight_decay=0.1, seed=1)
    assert all(torch.equal(trained[name], p) for name, p in model.state_dict().items())
    assert not (tmp_path / "cache").exists()  # nothing copied into the cache
    # another weight decay is another model: not shipped, so it must be trained
    with pytest.raises(AssertionError, match="trained instead"):
        checkpoints.cached_tiny_gpt(CORPUS, CONFIG, steps=3, batch_size=4, seed=1)


def test_shipping_again_replaces_files_of_an_older_recipe(tmp_path, monkeypatch):
    stale = tmp_path / "tiny-gpt-0123456789abcdef.pt"
    stale.write_bytes(b"")
    other = tmp_path / "notes.txt"
    other.write_text("kept")
    monkeypatch.setattr(checkpoints, "SHIPPED", (
        {"sizes": {"block_size": 8, "n_layer": 1, "n_head": 1, "n_embd": 8},
         "train": {"steps": 2, "batch_size": 4, "seed": 0}},))
    written = checkpoints.ship(CORPUS, tmp_path, log=lambda line: None)
    assert sorted(tmp_path.iterdir()) == sorted([*written, other])


def test_saved_bytes_depend_on_the_weights_alone(tmp_path, monkeypatch):
    # so that regenerating the shipped files changes them only where the weights change
    monkeypatch.setenv("COMPANION_CACHE_DIR", str(tmp_path))
    model = checkpoints.cached_tiny_gpt(CORPUS, CONFIG, steps=2, batch_size=4)
    checkpoints._save(model, tmp_path / "a.pt")
    checkpoints._save(model, tmp_path / "another-name.pt")
    assert (tmp_path / "a.pt").read_bytes() == (tmp_path / "another-name.pt").read_bytes()


def test_the_package_ships_every_listed_model():
    files = sorted(checkpoints.SHIPPED_DIR.glob("tiny-gpt-*.pt"))
    assert len(files) == len(checkpoints.SHIPPED)
    for path in files:  # each holds a whole GPT of one listed size
        state = torch.load(path, weights_only=True)
        vocab_size = state["tok_emb.weight"].shape[0]
        configs = [GPTConfig(vocab_size=vocab_size, **entry["sizes"])
                   for entry in checkpoints.SHIPPED]
        assert any(_loads(state, config) for config in configs), path.name
    # for this machine's corpus the names are all there, or (another Python's docstrings,
    # another corpus) none of them
    corpus = load_corpus()
    names = {checkpoints.shipped_path(
        corpus, GPTConfig(vocab_size=corpus.vocab_size, **entry["sizes"]), **entry["train"])
        for entry in checkpoints.SHIPPED}
    assert names == set(files) or names.isdisjoint(files)


def _loads(state, config):
    try:
        checkpoints.GPT(config).load_state_dict(state)
    except RuntimeError:
        return False
    return True
