"""RecurrentLM, sequence_loss and generation: shapes, carried state, layer parity, losses."""

import warnings

import numpy as np
import pytest
import torch
from torch import nn

from companion.torch.models.recurrent_lm import RecurrentLM, sequence_loss


def make(rnn=None, layers=2):
    torch.manual_seed(0)
    kwargs = {} if rnn is None else {"rnn": rnn}
    return RecurrentLM(7, 5, 6, num_layers=layers, **kwargs).double()


def test_shapes_and_layer_chain():
    model = make(layers=3)
    logits, state = model(torch.randint(0, 7, (4, 9)))
    assert logits.shape == (4, 9, 7)
    assert len(state) == 3 and all(h.shape == c.shape == (1, 4, 6) for h, c in state)
    assert [type(m).__name__ for m in model.children()] == ["Embedding", "ModuleList", "Linear"]


def test_carried_state_equals_one_long_run():
    model = make()
    tokens = torch.randint(0, 7, (3, 10))
    whole, _ = model(tokens)
    first, state = model(tokens[:, :4])
    second, _ = model(tokens[:, 4:], state)
    torch.testing.assert_close(torch.cat([first, second], dim=1), whole, rtol=1e-12, atol=1e-12)


def test_package_lstm_and_fused_lstm_compute_the_same_function():
    ours, fused = make(), make(nn.LSTM)
    fused.load_state_dict(ours.state_dict())
    tokens = torch.randint(0, 7, (2, 8))
    torch.testing.assert_close(ours(tokens)[0], fused(tokens)[0], rtol=1e-10, atol=1e-12)


def test_sequence_loss_scores_exactly_the_stated_targets():
    model = make()
    ids = np.random.default_rng(0).integers(0, 7, 50)
    loss, n = sequence_loss(model, ids, chunk=8)
    assert n == 48
    with torch.no_grad():
        logits, _ = model(torch.as_tensor(ids[:48]).view(6, 8))
    expected = nn.functional.cross_entropy(logits.reshape(48, 7),
                                           torch.as_tensor(ids[1:49]))
    assert loss == pytest.approx(expected.item(), rel=1e-12)
    assert model.training  # mode restored
    with pytest.raises(ValueError, match="more than chunk"):
        sequence_loss(model, ids[:8], chunk=8)


def test_sequence_loss_takes_read_only_ids_without_a_warning():
    ids = np.random.default_rng(0).integers(0, 7, 50)
    ids.flags.writeable = False  # as the corpus's splits are
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sequence_loss(make(), ids, chunk=8)


def test_generate_is_reproducible_and_greedy_at_low_temperature():
    model = make()
    a = model.generate([1, 2], 12, generator=torch.Generator().manual_seed(3))
    b = model.generate([1, 2], 12, generator=torch.Generator().manual_seed(3))
    assert a.dtype == np.int64 and a.shape == (12,) and (a == b).all()
    assert ((0 <= a) & (a < 7)).all()
    greedy = model.generate([1, 2], 6, temperature=1e-6)
    tokens = [1, 2]
    with torch.no_grad():
        for _ in range(6):
            logits, _ = model(torch.tensor([tokens]))
            tokens.append(int(logits[0, -1].argmax()))
    assert greedy.tolist() == tokens[2:]


def test_bad_inputs():
    model = make()
    with pytest.raises(ValueError, match=r"\(N, T\)"):
        model(torch.zeros(5, dtype=torch.long))
    with pytest.raises(ValueError, match="one entry per layer"):
        model(torch.zeros(1, 3, dtype=torch.long), [None])
    with pytest.raises(ValueError, match="prompt"):
        model.generate([], 3)
    with pytest.raises(ValueError, match="temperature"):
        model.generate([1], 3, temperature=0.0)


# -- an Elman model and its training loop --------------------------------------------------------
from companion.data.text import Corpus  # noqa: E402
from companion.torch.models.recurrent_lm import train_language_model  # noqa: E402
from companion.torch.recurrent import RNN  # noqa: E402

TEXT = "the cat sat on the mat. The dog sat on the log; 3 cats, 12 dogs.\n" * 8


def test_package_rnn_and_fused_rnn_compute_the_same_function_and_carry_state():
    ours, fused = make(RNN), make(nn.RNN)
    fused.load_state_dict(ours.state_dict())
    tokens = torch.randint(0, 7, (2, 8))
    logits, state = ours(tokens)
    assert len(state) == 2 and all(h.shape == (1, 2, 6) for h in state)
    torch.testing.assert_close(logits, fused(tokens)[0], rtol=1e-10, atol=1e-12)
    first, state = ours(tokens[:, :3])
    second, _ = ours(tokens[:, 3:], state)
    torch.testing.assert_close(torch.cat([first, second], dim=1), logits, rtol=1e-12, atol=1e-12)
    assert ours.generate([1], 5, generator=torch.Generator().manual_seed(0)).shape == (5,)


def lm(corpus, seed=0):
    torch.manual_seed(seed)
    return RecurrentLM(corpus.vocab_size, 4, 8, num_layers=1, rnn=nn.RNN).double()


def test_train_language_model_is_the_plain_loop_and_records_norms_before_clipping():
    corpus = Corpus(TEXT)
    model, reference = lm(corpus), lm(corpus)
    sgd = torch.optim.SGD(model.parameters(), lr=0.5)
    history, norms = train_language_model(model, corpus, sgd, steps=4, batch_size=3,
                                          block_size=6, clip_norm=0.05, rng=1)
    optimizer = torch.optim.SGD(reference.parameters(), lr=0.5)
    rng, expected_norms, losses = np.random.default_rng(1), [], []
    for _ in range(4):
        x, y = (torch.as_tensor(a) for a in corpus.batch("train", 3, 6, rng))
        logits, _ = reference(x)
        loss = nn.functional.cross_entropy(logits.reshape(-1, corpus.vocab_size), y.reshape(-1))
        optimizer.zero_grad()
        loss.backward()
        expected_norms.append(float(nn.utils.clip_grad_norm_(reference.parameters(), 0.05)))
        optimizer.step()
        losses.append(loss.item())
    np.testing.assert_allclose(norms, expected_norms, rtol=1e-12)
    np.testing.assert_allclose(history.step_loss, losses, rtol=1e-12)
    for p, q in zip(model.parameters(), reference.parameters()):
        torch.testing.assert_close(p, q, rtol=1e-12, atol=1e-14)
    assert norms.min() > 0.05                     # so every step above was clipped


def test_clipping_bounds_the_step_and_no_clipping_leaves_it():
    corpus = Corpus(TEXT)
    for clip, bounded in ((1e-3, True), (None, False)):
        model = lm(corpus)
        before = torch.cat([p.detach().flatten().clone() for p in model.parameters()])
        _, norms = train_language_model(model, corpus, torch.optim.SGD(model.parameters(), lr=1.0),
                                        steps=1, batch_size=2, block_size=5, clip_norm=clip, rng=0)
        after = torch.cat([p.detach().flatten() for p in model.parameters()])
        step = float((after - before).norm())    # SGD with lr 1 moves by the (clipped) gradient
        if bounded:
            assert step == pytest.approx(1e-3, rel=1e-4) and norms[0] > 1e-2
        else:
            assert step == pytest.approx(norms[0], rel=1e-9)


def test_train_language_model_refuses_bad_arguments():
    corpus = Corpus(TEXT)
    model = lm(corpus)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="clip_norm"):
        train_language_model(model, corpus, optimizer, 1, clip_norm=0.0)
    with pytest.raises(ValueError, match="steps"):
        train_language_model(model, corpus, optimizer, 0)
