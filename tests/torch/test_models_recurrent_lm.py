"""RecurrentLM, sequence_loss and generation: shapes, carried state, layer parity, losses."""

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
    with pytest.raises(ValueError, match="one \\(h, c\\) pair per layer"):
        model(torch.zeros(1, 3, dtype=torch.long), [None])
    with pytest.raises(ValueError, match="prompt"):
        model.generate([], 3)
    with pytest.raises(ValueError, match="temperature"):
        model.generate([1], 3, temperature=0.0)
