"""RNN, LSTM and GRU against torch's built-ins in float64."""

import pytest
import torch
from torch import nn

from companion.torch.recurrent import GRU, LSTM, RNN
from companion.parity import assert_close, check_parity, random_array, twins

LAYERS = [(RNN, nn.RNN, {}), (RNN, nn.RNN, {"nonlinearity": "relu"}), (LSTM, nn.LSTM, {}),
          (GRU, nn.GRU, {})]


def input_shape(length, batch, size, batch_first):
    if batch is None:
        return (length, size)
    return (batch, length, size) if batch_first else (length, batch, size)


@pytest.mark.parametrize("ours_cls, theirs_cls, extra", LAYERS)
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("length, batch", [(5, 3), (1, 1), (4, None)])
def test_one_layer_with_default_state(ours_cls, theirs_cls, extra, batch_first, length, batch):
    ours, theirs = twins(ours_cls, theirs_cls, 3, 5, batch_first=batch_first, **extra)
    check_parity(ours, theirs, random_array(input_shape(length, batch, 3, batch_first)))


@pytest.mark.parametrize("ours_cls, theirs_cls, extra", LAYERS)
@pytest.mark.parametrize("num_layers, bidirectional, bias", [(1, False, False), (2, True, True),
                                                             (3, False, True)])
def test_given_state_stacks_and_directions(ours_cls, theirs_cls, extra, num_layers,
                                           bidirectional, bias):
    ours, theirs = twins(ours_cls, theirs_cls, 4, 3, num_layers=num_layers, bias=bias,
                         bidirectional=bidirectional, batch_first=True, **extra)
    x = random_array((2, 6, 4))
    state_shape = (num_layers * (2 if bidirectional else 1), 2, 3)
    if ours_cls is LSTM:
        check_parity(ours, theirs, x, (random_array(state_shape, 2), random_array(state_shape, 3)))
    else:
        check_parity(ours, theirs, x, random_array(state_shape, 2))


def test_unbatched_state():
    ours, theirs = twins(LSTM, nn.LSTM, 2, 3, bidirectional=True)
    check_parity(ours, theirs, random_array((4, 2)), (random_array((2, 3), 1),
                                                      random_array((2, 3), 2)))


@pytest.mark.parametrize("num_layers, bidirectional, batch", [(1, False, 2), (2, True, 2),
                                                               (2, False, None)])
def test_lstm_projection(num_layers, bidirectional, batch):
    ours, theirs = twins(LSTM, nn.LSTM, 3, 5, num_layers=num_layers, proj_size=2,
                         bidirectional=bidirectional)
    assert ours.weight_hr_l0.shape == (2, 5) and ours.weight_hh_l0.shape == (20, 2)
    K = num_layers * (2 if bidirectional else 1)
    state = (lambda size: (K, size)) if batch is None else (lambda size: (K, batch, size))
    check_parity(ours, theirs, random_array(input_shape(4, batch, 3, False)),
                 (random_array(state(2), 1), random_array(state(5), 2)))


def test_dropout_between_layers_is_off_in_eval_and_on_in_training():
    ours, theirs = twins(GRU, nn.GRU, 3, 4, num_layers=2, dropout=0.5)
    ours.eval(), theirs.eval()
    check_parity(ours, theirs, random_array((5, 2, 3)))
    ours.train()
    x = torch.tensor(random_array((5, 2, 3)))
    assert not torch.allclose(ours(x)[0], ours.eval()(x)[0])


@pytest.mark.parametrize("batch_first", [False, True])
def test_lstm_gates_reproduce_the_states(batch_first):
    lstm = LSTM(3, 4, batch_first=batch_first).double()
    x = torch.tensor(random_array(input_shape(6, 2, 3, batch_first)))
    with torch.no_grad():
        output, (h_n, c_n), gates = lstm(x, return_gates=True)
        plain_output, _ = lstm(x)
    assert set(gates) == {"input", "forget", "cell", "output"}
    time_axis = 2 if batch_first else 1
    expected_shape = (1, 2, 6, 4) if batch_first else (1, 6, 2, 4)
    assert all(g.shape == expected_shape for g in gates.values())
    i, f, g, o = (gates[k][0].movedim(time_axis - 1, 0) for k in ("input", "forget", "cell",
                                                                  "output"))  # (L, N, H)
    c = torch.zeros(2, 4, dtype=torch.float64)
    for t in range(6):
        c = f[t] * c + i[t] * g[t]
    assert_close(c.numpy(), c_n[0], "cell state rebuilt from the gates")
    assert_close((o[-1] * torch.tanh(c)).numpy(), h_n[0], "hidden state from the gates")
    assert_close(plain_output.numpy(), output, "the same output with and without gates")


def test_default_initialisation_matches_torch_draw_for_draw():
    for ours_cls, theirs_cls, extra in LAYERS:
        torch.manual_seed(3)
        theirs = theirs_cls(3, 4, num_layers=2, bidirectional=True, **extra)
        torch.manual_seed(3)
        ours = ours_cls(3, 4, num_layers=2, bidirectional=True, **extra)
        for name, value in theirs.state_dict().items():
            assert_close(ours.state_dict()[name].numpy(), value, name)


def test_bad_input_is_rejected():
    lstm = LSTM(3, 4)
    with pytest.raises(ValueError, match=r"with H_in = 3, got \(5, 2, 4\)"):
        lstm(torch.zeros(5, 2, 4))
    with pytest.raises(ValueError, match=r"h_0 must have shape .* = \(1, 2, 4\), got \(2, 4\)"):
        lstm(torch.zeros(5, 2, 3), (torch.zeros(2, 4), torch.zeros(1, 2, 4)))
    with pytest.raises(ValueError, match="proj_size must be smaller than hidden_size = 4, got 4"):
        LSTM(3, 4, proj_size=4)
    with pytest.raises(ValueError, match="nonlinearity must be 'tanh' or 'relu', got 'gelu'"):
        RNN(3, 4, nonlinearity="gelu")
