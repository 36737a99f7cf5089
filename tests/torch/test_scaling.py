import dataclasses
import json

import pytest

from companion.data.text import Corpus
from companion.torch import scaling
from companion.torch.models.gpt import GPT

CORPUS = Corpus("the cat sat on the mat. " * 40)
TINY = scaling.Recipe(widths=(4, 8), block_size=8, batch_size=4, first_steps=2, max_steps=8,
                      seeds=(0, 1), eval_chars=100)


def test_non_embedding_parameters_are_the_blocks_and_final_norm():
    config = TINY.config(CORPUS.vocab_size, 8)
    model = GPT(config)
    outside = sum(p.numel() for name, p in model.named_parameters()
                  if not name.startswith(("blocks.", "ln_f.")))
    # token and position embeddings and the head (tied or not): everything not counted
    assert outside > 0
    assert scaling.non_embedding_parameters(model) + outside == model.num_parameters()
    # each block: four C x C attention and two C x 4C MLP matrices, their biases, two norms
    C = config.n_embd
    per_block = 12 * C * C + 13 * C
    assert scaling.non_embedding_parameters(model) == config.n_layer * per_block + 2 * C
    with pytest.raises(TypeError, match="model must be a GPT"):
        scaling.non_embedding_parameters("model")


def test_wider_models_get_smaller_steps_up_to_a_cap():
    recipe = scaling.Recipe()
    rates = [recipe.lr(w) for w in recipe.widths]
    assert rates == sorted(rates, reverse=True) and max(rates) == recipe.lr_max
    assert recipe.lr(64) == pytest.approx(recipe.lr_scale / 64)


def test_converge_doubles_until_the_gain_is_small_then_trains_the_other_seeds(monkeypatch):
    losses = {2: 3.0, 4: 2.0, 8: 1.99, 16: 1.5}  # the 4 -> 8 doubling gains 0.5 %
    monkeypatch.setattr(scaling, "train_run", lambda corpus, recipe, width, steps, seed: {
        "width": width, "steps": steps, "seed": seed, "val_loss": losses[steps] + seed})
    runs = scaling.converge(CORPUS, dataclasses.replace(TINY, max_steps=16), 4, log=lambda r: 0)
    assert [(r["steps"], r["seed"]) for r in runs] == [(2, 0), (4, 0), (8, 0), (8, 1)]
    # never past max_steps, converged or not
    runs = scaling.converge(CORPUS, dataclasses.replace(TINY, tolerance=0.0), 4, log=lambda r: 0)
    assert [(r["steps"], r["seed"]) for r in runs] == [(2, 0), (4, 0), (8, 0), (8, 1)]


def test_a_run_is_reproducible_and_scored_on_both_splits():
    first = scaling.train_run(CORPUS, TINY, 4, steps=3, seed=0)
    assert first == {**scaling.train_run(CORPUS, TINY, 4, steps=3, seed=0),
                     "seconds": first["seconds"]}
    other = scaling.train_run(CORPUS, TINY, 4, steps=3, seed=1)
    assert other["val_loss"] != first["val_loss"]
    assert first["N"] == scaling.non_embedding_parameters(GPT(TINY.config(CORPUS.vocab_size, 4)))
    assert {"train_loss", "val_loss"} <= first.keys()


def test_main_trains_the_widths_asked_for_and_keeps_the_others(tmp_path, monkeypatch):
    def fake(corpus, recipe, width, log):
        return [{"width": width, "steps": 1, "seed": 0, "val_loss": 1.0}]

    monkeypatch.setattr(scaling, "converge", fake)
    out = tmp_path / "sweep.json"
    scaling.main(["--out", str(out), "--widths", "5"])
    scaling.main(["--out", str(out), "--widths", "9"])
    sweep = scaling.load_sweep(out)
    assert [r["width"] for r in sweep["runs"]] == [5, 9]
    assert sweep["recipe"] == scaling.Recipe()


def test_the_shipped_sweep_is_complete():
    sweep = scaling.load_sweep()
    recipe, runs = sweep["recipe"], sweep["runs"]
    assert recipe == scaling.Recipe()
    for width in recipe.widths:
        ladder = [r["steps"] for r in runs if r["width"] == width and r["seed"] == 0]
        assert ladder == [recipe.first_steps * 2**i for i in range(len(ladder))]
        assert ladder[-1] <= recipe.max_steps
        last = [r for r in runs if r["width"] == width and r["steps"] == ladder[-1]]
        assert sorted(r["seed"] for r in last) == list(recipe.seeds)
        # a ladder stops at max_steps or at the first doubling that gained less than tolerance
        losses = [r["val_loss"] for r in runs if r["width"] == width and r["seed"] == 0]
        gains = [(a - b) / b for a, b in zip(losses, losses[1:])]
        assert all(g >= recipe.tolerance for g in gains[:-1])
        assert gains[-1] < recipe.tolerance or ladder[-1] * 2 > recipe.max_steps


def test_a_file_that_is_not_a_sweep_is_refused_by_name(tmp_path):
    for text in ("[1, 2]", json.dumps({"runs": []}), "not json"):
        path = tmp_path / "other.json"
        path.write_text(text)
        with pytest.raises(ValueError, match="other.json"):
            scaling.load_sweep(path)
    with pytest.raises(ValueError, match="path must name a sweep file"):
        scaling.load_sweep(tmp_path / "missing.json")
