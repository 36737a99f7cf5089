"""The masked language model: shapes, bidirectionality, the masked loss, training, parity."""

import math

import numpy as np
import pytest
import torch

from companion.data.text import Corpus
from companion.data.masking import IGNORE_INDEX
from companion.numpy.transformer import TransformerBlock as NumpyBlock
from companion.parity import check_parity
from companion.torch.models.bert import (
    MaskedLM,
    MaskedLMConfig,
    masked_lm_accuracy,
    masked_lm_batch,
    train_masked_lm,
)

V = 11


def _model(seed=0, **kwargs):
    torch.manual_seed(seed)
    return MaskedLM(MaskedLMConfig(V, block_size=16, n_layer=2, n_head=2, n_embd=16,
                                   **kwargs)).double().eval()


def test_shapes_mask_token_and_loss_at_init():
    model = _model()
    idx = torch.randint(0, V + 1, (4, 12))  # V is the mask id and is a valid input
    logits, loss = model(idx)
    assert logits.shape == (4, 12, V) and loss is None
    labels = torch.full((4, 12), IGNORE_INDEX)
    labels[:, 3] = torch.randint(0, V, (4,))
    _, loss = model(idx, labels)
    assert abs(loss.item() - math.log(V)) < 0.05


def test_loss_counts_only_chosen_positions():
    model = _model()
    idx = torch.randint(0, V, (2, 8))
    labels = torch.full((2, 8), IGNORE_INDEX)
    labels[0, 2], labels[1, 5] = 3, 7
    logits, loss = model(idx, labels)
    logp = torch.log_softmax(logits, dim=-1)
    expected = -(logp[0, 2, 3] + logp[1, 5, 7]) / 2
    torch.testing.assert_close(loss, expected, rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError, match="at least one"):
        model(idx, torch.full((2, 8), IGNORE_INDEX))


def test_every_position_sees_the_future():
    model = _model()
    idx = torch.randint(0, V, (2, 10))
    other = idx.clone()
    other[:, 9] = (other[:, 9] + 1) % V
    a, _ = model(idx)
    b, _ = model(other)
    assert not torch.allclose(a[:, 0], b[:, 0])  # the first position reads the last token


def test_blocks_match_the_numpy_encoder_block():
    model = _model(seed=3)
    x = torch.randn(2, 7, 16, dtype=torch.float64)
    block = model.blocks[0]
    ours = NumpyBlock.from_torch(block)
    assert ours.attn.causal is False
    check_parity(ours, block, x.numpy(), rtol=1e-9, atol=1e-12)  # and every gradient


def test_fill_in_changes_only_masked_positions():
    model = _model()
    idx = torch.randint(0, V, (3, 9))
    idx[:, 4] = V
    filled = model.fill_in(idx)
    assert (filled[:, 4] < V).all()
    keep = torch.ones(9, dtype=torch.bool)
    keep[4] = False
    assert torch.equal(filled[:, keep], idx[:, keep])


def test_rejects_bad_input():
    model = _model()
    with pytest.raises(ValueError, match="block_size"):
        model(torch.zeros(1, 17, dtype=torch.long))
    with pytest.raises(ValueError, match="labels"):
        model(torch.zeros(1, 4, dtype=torch.long), torch.zeros(1, 5, dtype=torch.long))
    with pytest.raises(TypeError, match="MaskedLMConfig"):
        MaskedLM({"vocab_size": V})


def test_training_learns_a_periodic_text():
    corpus = Corpus("abcdefg" * 400)
    config = MaskedLMConfig(corpus.vocab_size, block_size=14, n_layer=1, n_head=2, n_embd=16)
    rng = np.random.default_rng(0)
    held_out = masked_lm_batch(corpus, "val", 32, 14, rng)
    model, history = train_masked_lm(corpus, config, steps=150, batch_size=16, lr=1e-2,
                                     eval_every=75, eval_data=held_out)
    assert history.eval_step == [75, 150] and len(history.val_metrics["accuracy"]) == 2
    assert np.mean(history.step_loss[-10:]) < 0.5 * np.mean(history.step_loss[:10])
    assert masked_lm_accuracy(model, *held_out) > 0.4  # chance is 1/7


def test_training_is_reproducible():
    corpus = Corpus("the quick brown fox jumps over the lazy dog. " * 20)
    config = MaskedLMConfig(corpus.vocab_size, block_size=8, n_layer=1, n_head=1, n_embd=8)
    _, a = train_masked_lm(corpus, config, steps=5, batch_size=4, seed=7)
    _, b = train_masked_lm(corpus, config, steps=5, batch_size=4, seed=7)
    assert a.step_loss == b.step_loss


def test_replace_probs_reach_the_batches():
    corpus = Corpus("the quick brown fox jumps over the lazy dog. " * 20)
    mask_id = corpus.vocab_size
    inputs, labels = masked_lm_batch(corpus, "train", 64, 16, 0, replace_probs=(1.0, 0.0, 0.0))
    assert (inputs[labels != IGNORE_INDEX] == mask_id).all()  # every chosen position masked
    inputs, labels = masked_lm_batch(corpus, "train", 64, 16, 0, replace_probs=(0.0, 0.0, 1.0))
    assert (inputs[labels != IGNORE_INDEX] == labels[labels != IGNORE_INDEX]).all()
    config = MaskedLMConfig(corpus.vocab_size, block_size=8, n_layer=1, n_head=1, n_embd=8)
    _, a = train_masked_lm(corpus, config, steps=3, batch_size=4, replace_probs=(1.0, 0.0, 0.0))
    _, b = train_masked_lm(corpus, config, steps=3, batch_size=4)
    assert a.step_loss != b.step_loss  # the rule changes the training batches
    with pytest.raises(ValueError, match="replace_probs"):
        train_masked_lm(corpus, config, steps=1, batch_size=4, replace_probs=(0.5, 0.0, 0.0))
