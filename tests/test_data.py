"""Tests of the offline data package: digits split, stdlib corpus and synthetic sets."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.datasets import load_digits as sklearn_load_digits

from companion.data import (
    PAD,
    SEQUENCE_VOCAB,
    SPLIT_SIZES,
    Corpus,
    addition_task,
    build_stdlib_text,
    copy_task,
    decode_sequence,
    digits_loaders,
    gaussian_ring,
    linearly_separable,
    load_corpus,
    load_digits,
    regression_1d,
    reverse_task,
    spirals,
    split_indices,
    two_moons,
    xor,
)
from companion.data import text as text_module

SPLITS = ("train", "val", "test")


# -- digits --------------------------------------------------------------------------------------
def test_digits_split_sizes_are_the_documented_ones():
    assert SPLIT_SIZES == {"train": 1077, "val": 360, "test": 360}
    for split in SPLITS:
        X, y = load_digits(split)
        assert X.shape == (SPLIT_SIZES[split], 64) and y.shape == (SPLIT_SIZES[split],)
        assert X.dtype == np.float64 and y.dtype == np.int64


def test_digits_splits_are_disjoint_cover_everything_and_match_sklearn():
    bunch = sklearn_load_digits()
    indices = [split_indices(split) for split in SPLITS]
    together = np.concatenate(indices)
    assert len(together) == 1797 and np.array_equal(np.sort(together), np.arange(1797))
    for split, index in zip(SPLITS, indices):
        X, y = load_digits(split)
        np.testing.assert_array_equal(X, bunch.data[index] / 16.0)
        np.testing.assert_array_equal(y, bunch.target[index])


def test_digits_splits_are_stratified():
    totals = np.bincount(sklearn_load_digits().target, minlength=10)
    for split, fraction in (("train", 0.6), ("val", 0.2), ("test", 0.2)):
        counts = np.bincount(load_digits(split)[1], minlength=10)
        assert np.all(np.abs(counts - fraction * totals) <= 1.5), (split, counts)


def test_digits_values_shapes_and_determinism():
    X, y = load_digits("val")
    assert X.min() == 0.0 and X.max() == 1.0
    assert set(np.unique(y)) == set(range(10))
    images, labels = load_digits("val", flatten=False)
    assert images.shape == (360, 1, 8, 8)
    np.testing.assert_array_equal(images.reshape(360, 64), X)
    np.testing.assert_array_equal(labels, y)
    X2, y2 = load_digits("val")
    np.testing.assert_array_equal(X, X2)
    np.testing.assert_array_equal(y, y2)


def test_digits_returns_copies_that_callers_may_change():
    X, y = load_digits("test")
    X[:] = -1.0
    y[:] = 99
    X2, y2 = load_digits("test")
    assert X2.min() >= 0.0 and y2.max() <= 9


def test_digits_loaders_shapes_dtypes_and_order():
    loaders = digits_loaders(batch_size=100)
    assert set(loaders) == set(SPLITS)
    batches = list(loaders["train"])
    assert len(batches) == 11  # ceil(1077 / 100)
    x, y = batches[0]
    assert x.shape == (100, 64) and x.dtype == torch.float32
    assert y.shape == (100,) and y.dtype == torch.int64
    assert batches[-1][0].shape == (77, 64)
    # val and test come in the order of load_digits; train is shuffled.
    X_val, y_val = load_digits("val")
    val_x = torch.cat([x for x, _ in loaders["val"]]).numpy()
    np.testing.assert_allclose(val_x, X_val, rtol=1e-7)
    assert torch.equal(torch.cat([y for _, y in loaders["val"]]), torch.from_numpy(y_val))
    train_y = torch.cat([y for _, y in batches])
    assert not torch.equal(train_y, torch.from_numpy(load_digits("train")[1]))
    assert torch.equal(torch.sort(train_y).values,
                       torch.sort(torch.from_numpy(load_digits("train")[1])).values)


def test_digits_loaders_are_seeded_and_can_give_images():
    first = next(iter(digits_loaders(batch_size=32, seed=3)["train"]))[1]
    again = next(iter(digits_loaders(batch_size=32, seed=3)["train"]))[1]
    other = next(iter(digits_loaders(batch_size=32, seed=4)["train"]))[1]
    assert torch.equal(first, again) and not torch.equal(first, other)
    x, _ = next(iter(digits_loaders(batch_size=5, flatten=False, dtype=torch.float64)["test"]))
    assert x.shape == (5, 1, 8, 8) and x.dtype == torch.float64


def test_digits_bad_arguments():
    with pytest.raises(ValueError, match="split must be one of 'train', 'val', 'test', "
                                         "got 'training'"):
        load_digits("training")
    with pytest.raises(TypeError, match="flatten must be True or False, got str 'yes'"):
        load_digits("train", flatten="yes")
    with pytest.raises(ValueError, match="split must be one of .* got 'valid'"):
        split_indices("valid")
    with pytest.raises(ValueError, match="batch_size must be positive, got 0"):
        digits_loaders(batch_size=0)
    with pytest.raises(TypeError, match="batch_size must be an integer, got float 1.5"):
        digits_loaders(batch_size=1.5)
    with pytest.raises(TypeError, match="dtype must be a floating torch.dtype, got torch.int64"):
        digits_loaders(dtype=torch.int64)


# -- corpus --------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def corpus_cache(tmp_path_factory):
    """Point the disk cache at a fresh folder and build the corpus once for this module."""
    folder = tmp_path_factory.mktemp("companion-cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(text_module.CACHE_ENV, str(folder))
        text_module._stdlib_text.cache_clear()
        yield folder, load_corpus()
    text_module._stdlib_text.cache_clear()


@pytest.fixture(scope="module")
def corpus(corpus_cache):
    return corpus_cache[1]


def test_corpus_is_deterministic_and_cached_on_disk(corpus_cache):
    folder, corpus = corpus_cache
    assert Corpus(build_stdlib_text()).checksum == corpus.checksum  # a second build agrees
    cached = list(folder.glob("stdlib-docstrings-*-v*.txt"))
    assert len(cached) == 1 and cached[0].read_text(encoding="ascii") == corpus.text
    text_module._stdlib_text.cache_clear()  # the next load reads the file
    assert load_corpus().checksum == corpus.checksum
    assert re.fullmatch(r"[0-9a-f]{64}", corpus.checksum)


def test_corpus_size_characters_and_vocabulary(corpus):
    assert 900_000 <= len(corpus.text) <= text_module.MAX_CHARS
    assert re.fullmatch(r"[ -~\n]+", corpus.text)
    assert "\n\n\n" not in corpus.text and "\t" not in corpus.text
    assert 60 <= corpus.vocab_size <= 110
    assert list(corpus.vocab) == sorted(set(corpus.text))
    assert all(corpus.itos[corpus.stoi[ch]] == ch for ch in corpus.vocab)
    assert "Return" in corpus.text


def test_corpus_split_and_round_trip(corpus):
    assert len(corpus.train) == int(0.9 * len(corpus.text))
    assert len(corpus.train) + len(corpus.val) == len(corpus.text)
    assert corpus.train.dtype == np.int64 and corpus.val.dtype == np.int64
    assert corpus.decode(corpus.val) == corpus.text[len(corpus.train):]
    piece = corpus.text[1000:3000]
    ids = corpus.encode(piece)
    assert ids.shape == (2000,) and ids.dtype == np.int64
    np.testing.assert_array_equal(ids, corpus.train[1000:3000])
    assert corpus.decode(ids) == piece
    assert corpus.decode(ids.tolist()) == piece
    assert corpus.decode([]) == "" and corpus.encode("").shape == (0,)


def test_corpus_prefix_and_small_texts(corpus):
    small = load_corpus(max_chars=5000)
    assert small.text == corpus.text[:5000] and len(small.train) == 4500
    tiny = Corpus("abca")
    assert tiny.vocab == ("a", "b", "c") and tiny.stoi == {"a": 0, "b": 1, "c": 2}
    np.testing.assert_array_equal(tiny.encode("cab"), [2, 0, 1])


def test_corpus_batches(corpus):
    x, y = corpus.batch("train", batch_size=6, block_size=32, rng=0)
    assert x.shape == (6, 32) and y.shape == (6, 32)
    assert x.dtype == np.int64 and y.dtype == np.int64
    np.testing.assert_array_equal(x[:, 1:], y[:, :-1])
    for row, target in zip(x, y):
        window = corpus.decode(row) + corpus.decode(target[-1:])
        assert window in corpus.text
    x2, y2 = corpus.batch("train", batch_size=6, block_size=32, rng=0)
    np.testing.assert_array_equal(x, x2)
    xv, _ = corpus.batch("val", batch_size=2, block_size=8, rng=np.random.default_rng(1))
    assert xv.shape == (2, 8)


def test_corpus_bad_arguments(corpus):
    with pytest.raises(ValueError, match=r"unknown characters \['é'\]"):
        corpus.encode("café")
    with pytest.raises(TypeError, match="text must be a str, got list"):
        corpus.encode(["a"])
    with pytest.raises(ValueError, match=f"ids must be smaller than {corpus.vocab_size}, "
                                         f"got maximum 500"):
        corpus.decode([1, 500])
    with pytest.raises(ValueError, match="ids must be non-negative, got minimum -1"):
        corpus.decode([-1])
    with pytest.raises(TypeError, match="ids must hold integer indices, got dtype float64"):
        corpus.decode([1.0])
    with pytest.raises(ValueError, match=r"ids must have 1 dimension \(L,\), got shape \(1, 2\)"):
        corpus.decode([[1, 2]])
    with pytest.raises(ValueError, match="split must be one of 'train', 'val', got 'test'"):
        corpus.batch("test", 2, 8)
    with pytest.raises(ValueError, match="block_size must be smaller than the val split's "
                                         f"length {len(corpus.val)}, got {len(corpus.val)}"):
        corpus.batch("val", 2, len(corpus.val))
    with pytest.raises(ValueError, match="batch_size must be positive, got 0"):
        corpus.batch("train", 0, 8)
    with pytest.raises(ValueError, match="max_chars must be positive, got -5"):
        load_corpus(max_chars=-5)
    with pytest.raises(ValueError, match="text must hold at least 2 characters, got 1"):
        Corpus("a")


# -- synthetic 2-D sets --------------------------------------------------------------------------
@pytest.mark.parametrize("make", [xor, two_moons, spirals, linearly_separable])
def test_classification_sets_shapes_balance_and_determinism(make):
    X, y = make(n=101, rng=7)
    assert X.shape == (101, 2) and X.dtype == np.float64
    assert y.shape == (101,) and y.dtype == np.int64
    counts = np.bincount(y)
    assert counts.min() >= 1
    if make is not linearly_separable:
        assert counts.max() - counts.min() <= 1
    X2, y2 = make(n=101, rng=7)
    np.testing.assert_array_equal(X, X2)
    np.testing.assert_array_equal(y, y2)
    assert not np.array_equal(X, make(n=101, rng=8)[0])


def test_xor_and_moons_geometry():
    X, y = xor(64, noise=0.0, rng=0)
    assert set(map(tuple, X)) == {(-1.0, -1.0), (-1.0, 1.0), (1.0, -1.0), (1.0, 1.0)}
    np.testing.assert_array_equal(y, (np.sign(X[:, 0]) != np.sign(X[:, 1])).astype(int))
    X, y = two_moons(50, noise=0.0, rng=0)
    upper, lower = X[y == 0], X[y == 1]
    np.testing.assert_allclose(np.hypot(upper[:, 0], upper[:, 1]), 1.0, rtol=1e-12)
    np.testing.assert_allclose(np.hypot(lower[:, 0] - 1.0, lower[:, 1] - 0.5), 1.0, rtol=1e-12)
    assert upper[:, 1].min() >= 0.0 and lower[:, 1].max() <= 0.5


def test_spirals_classes_and_radius():
    X, y = spirals(400, classes=5, noise=0.1, rng=1)
    assert np.bincount(y).tolist() == [80] * 5
    assert np.linalg.norm(X, axis=1).max() <= 1.0


def test_linearly_separable_is_separated_with_margin():
    X, y = linearly_separable(200, rng=2, dim=3, margin=0.2)
    assert X.shape == (200, 3)
    # A perceptron converges on separable data: run it until no point is misclassified.
    signs = 2 * y - 1
    points = np.hstack([X, np.ones((200, 1))])  # (N, D + 1) with a bias column
    w = np.zeros(4)
    for _ in range(2000):
        wrong = np.flatnonzero(signs * (points @ w) <= 0)
        if wrong.size == 0:
            break
        w += signs[wrong[0]] * points[wrong[0]]
    assert np.all(signs * (points @ w) > 0)


def test_gaussian_ring():
    X, centres = gaussian_ring(2000, modes=6, radius=3.0, std=0.0, rng=0)
    assert X.shape == (2000, 2) and centres.shape == (6, 2)
    np.testing.assert_allclose(np.linalg.norm(centres, axis=1), 3.0, rtol=1e-12)
    distances = np.linalg.norm(X[:, None] - centres[None], axis=2)  # (N, M)
    assert np.all(distances.min(axis=1) < 1e-12)
    assert np.all(np.bincount(distances.argmin(axis=1), minlength=6) > 250)
    X, _ = gaussian_ring(500, std=0.05, rng=1)
    spread = np.linalg.norm(X, axis=1)
    assert abs(spread.mean() - 2.0) < 0.02


def test_regression_1d():
    x, y = regression_1d(50, fn="sin", noise=0.0, rng=0)
    assert x.shape == (50, 1) and y.shape == (50, 1)
    assert np.all(np.diff(x[:, 0]) >= 0) and x.min() >= -3.0 and x.max() <= 3.0
    np.testing.assert_array_equal(y, np.sin(x))
    x, y = regression_1d(2000, fn=lambda v: 2.0 * v, noise=0.5, rng=1, low=0.0, high=1.0)
    assert abs(np.std(y - 2.0 * x) - 0.5) < 0.05


# -- sequence tasks ------------------------------------------------------------------------------
def test_copy_and_reverse_tasks():
    x, y, vocab = copy_task(20, length=6, rng=0)
    assert vocab == SEQUENCE_VOCAB and vocab[PAD] == "<pad>"
    assert x.shape == (20, 6) and x.dtype == np.int64 and np.all((x >= 1) & (x <= 10))
    np.testing.assert_array_equal(x, y)
    x, y, _ = reverse_task(30, length=7, rng=1, min_length=2)
    lengths = (x != PAD).sum(axis=1)
    assert lengths.min() >= 2 and lengths.max() <= 7 and len(set(lengths)) > 1
    for row, target, size in zip(x, y, lengths):
        assert np.all(row[size:] == PAD) and np.all(target[size:] == PAD)
        assert decode_sequence(target) == decode_sequence(row)[::-1]


@settings(max_examples=15, deadline=None)
@given(length=st.integers(1, 6), seed=st.integers(0, 2**32 - 1))
def test_addition_task_answers_are_correct_sums(length, seed):
    x, y, vocab = addition_task(40, length=length, rng=seed)
    assert x.shape == (40, 2 * length + 2) and y.shape == (40, length + 1)
    assert x.dtype == np.int64 and y.dtype == np.int64 and x.max() < len(vocab)
    for problem, answer in zip(x, y):
        match = re.fullmatch(r"(0|[1-9]\d*)\+(0|[1-9]\d*)=", decode_sequence(problem))
        assert match, decode_sequence(problem)
        assert len(match[1]) <= length and len(match[2]) <= length
        assert decode_sequence(answer) == str(int(match[1]) + int(match[2]))
        # padding only at the right end
        assert np.all(np.diff((problem == PAD).astype(int)) >= 0)
        assert np.all(np.diff((answer == PAD).astype(int)) >= 0)


def test_addition_task_example_and_variety():
    x, y, vocab = addition_task(500, length=3, rng=0)
    problems = [decode_sequence(row) for row in x]
    assert {len(p.split("+")[0]) for p in problems} == {1, 2, 3}
    assert decode_sequence(np.array([2, 3, 4, 11, 5, 6, 12, 0])) == "123+45="


# -- bad arguments of the generators -------------------------------------------------------------
@pytest.mark.parametrize("call, error, message", [
    (lambda: xor(0), ValueError, "n must be positive, got 0"),
    (lambda: two_moons(-3), ValueError, "n must be positive, got -3"),
    (lambda: spirals(2.5), TypeError, "n must be an integer, got float 2.5"),
    (lambda: xor(10, noise=-0.1), ValueError, r"noise must lie in \[0.0, inf\], got -0.1"),
    (lambda: two_moons(10, noise="big"), TypeError, "noise must be a real number, got str 'big'"),
    (lambda: spirals(10, classes=1), ValueError, "classes must be at least 2, got 1"),
    (lambda: linearly_separable(10, margin=-1.0), ValueError,
     r"margin must lie in \[0.0, inf\], got -1.0"),
    (lambda: gaussian_ring(10, radius=0.0), ValueError,
     r"radius must lie in \(0.0, inf\], got 0.0"),
    (lambda: gaussian_ring(10, modes=0), ValueError, "modes must be positive, got 0"),
    (lambda: regression_1d(10, fn="tan"), ValueError,
     "fn must be a callable or one of 'sin', 'cubic', 'abs', 'step', got 'tan'"),
    (lambda: regression_1d(10, fn=lambda v: v[:, 0]), ValueError,
     r"fn must return an array of the input's shape \(10, 1\), got shape \(10,\)"),
    (lambda: regression_1d(10, low=1.0, high=1.0), ValueError,
     r"high must lie in \(1.0, inf\], got 1.0"),
    (lambda: copy_task(5, length=0), ValueError, "length must be positive, got 0"),
    (lambda: reverse_task(5, length=3, min_length=4), ValueError,
     "min_length must be at most length=3, got 4"),
    (lambda: addition_task(5, length=18), ValueError, "length must be at most 17"),
    (lambda: xor(5, rng="seed"), TypeError, "rng must be None, an int seed or a "
                                            "numpy.random.Generator, got str"),
    (lambda: decode_sequence([1, 13]), ValueError, r"ids must lie in \[0, 13\), got values"),
])
def test_generators_reject_bad_arguments(call, error, message):
    with pytest.raises(error, match=message):
        call()
