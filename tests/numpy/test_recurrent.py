"""Parity of the scratch RNN, LSTM and GRU with torch.nn in float64, through time."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from companion.numpy.gradcheck import numerical_gradient
from companion.numpy.recurrent import GRU, LSTM, RNN
from companion.parity import check_parity, random_array

KINDS = {
    "rnn_tanh": (RNN, torch.nn.RNN, {"nonlinearity": "tanh"}),
    "rnn_relu": (RNN, torch.nn.RNN, {"nonlinearity": "relu"}),
    "lstm": (LSTM, torch.nn.LSTM, {}),
    "gru": (GRU, torch.nn.GRU, {}),
}


def recurrent_case(kind, T, N, I, H, batch_first=False, with_hx=False, bias=True,
                   unbatched=False, seed=0, num_layers=1, bidirectional=False, dropout=0.0,
                   proj_size=0):
    """Torch's layer (in eval mode), our copy of it, the input and the initial state (None
    unless with_hx). check_parity compares the output and every final state, back-propagates a
    random gradient into each, and compares the gradients of x, of the initial state and of every
    parameter."""
    ours_cls, torch_cls, extra = KINDS[kind]
    torch.manual_seed(seed)
    if proj_size:
        extra = {**extra, "proj_size": proj_size}
    theirs = torch_cls(I, H, bias=bias, batch_first=batch_first, num_layers=num_layers,
                       bidirectional=bidirectional, dropout=dropout, **extra).double().eval()
    ours = ours_cls.from_torch(theirs)
    K = num_layers * (2 if bidirectional else 1)
    sizes = [proj_size or H, H][:2 if kind == "lstm" else 1]  # h_0 (projected), and c_0
    x_shape = (T, I) if unbatched else (N, T, I) if batch_first else (T, N, I)
    states = [random_array((K, size) if unbatched else (K, N, size), seed + 2 + k)
              for k, size in enumerate(sizes)]
    hx = (tuple(states) if kind == "lstm" else states[0]) if with_hx else None
    return ours, theirs, random_array(x_shape, seed + 1), hx


@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("with_hx", [False, True])
def test_parity_with_torch(kind, batch_first, with_hx):
    check_parity(*recurrent_case(kind, T=6, N=4, I=5, H=7, batch_first=batch_first,
                                 with_hx=with_hx))


@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize("T, N, I, H", [(1, 3, 4, 5), (5, 1, 3, 4), (1, 1, 1, 1), (7, 3, 5, 9)])
def test_parity_edge_shapes(kind, T, N, I, H):
    check_parity(*recurrent_case(kind, T, N, I, H, batch_first=True, with_hx=True, seed=3))


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_parity_without_bias(kind):
    ours, theirs, x, hx = recurrent_case(kind, T=4, N=3, I=2, H=5, with_hx=True, bias=False)
    check_parity(ours, theirs, x, hx)
    assert set(ours.params) == {"weight_ih_l0", "weight_hh_l0"}


@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize("with_hx", [False, True])
@pytest.mark.parametrize("batch_first", [False, True])
def test_parity_unbatched(kind, with_hx, batch_first):
    """An unbatched (T, I) sequence ignores batch_first, as in torch."""
    check_parity(*recurrent_case(kind, T=5, N=1, I=3, H=4, batch_first=batch_first,
                                 with_hx=with_hx, unbatched=True))


@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize("num_layers, bidirectional", [(2, False), (1, True), (3, True)])
@pytest.mark.parametrize("with_hx", [False, True])
def test_parity_stacked_and_bidirectional(kind, num_layers, bidirectional, with_hx):
    """Stacked layers (dropout inactive in eval) and both directions match torch.nn."""
    check_parity(*recurrent_case(kind, T=5, N=3, I=4, H=6, batch_first=True, with_hx=with_hx,
                                 seed=5, num_layers=num_layers, bidirectional=bidirectional,
                                 dropout=0.3 if num_layers > 1 else 0.0))


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_parity_stacked_unbatched_without_bias(kind):
    ours, theirs, x, hx = recurrent_case(kind, T=4, N=1, I=3, H=2, with_hx=True, bias=False,
                                         unbatched=True, num_layers=2, bidirectional=True)
    check_parity(ours, theirs, x, hx)
    assert sorted(ours.params) == sorted(f"weight_{w}_l{k}{d}" for w in ("ih", "hh")
                                         for k in (0, 1) for d in ("", "_reverse"))


@pytest.mark.parametrize("num_layers, bidirectional, unbatched", [(1, False, False),
                                                                   (2, True, False),
                                                                   (2, False, True)])
@pytest.mark.parametrize("with_hx", [False, True])
def test_lstm_projection_matches_torch(num_layers, bidirectional, unbatched, with_hx):
    ours, theirs, x, hx = recurrent_case("lstm", T=4, N=3, I=2, H=5, with_hx=with_hx,
                                         num_layers=num_layers, bidirectional=bidirectional,
                                         unbatched=unbatched, proj_size=3)
    check_parity(ours, theirs, x, hx)
    assert ours.params["weight_hr_l0"].shape == (3, 5)
    assert ours.params["weight_hh_l0"].shape == (20, 3)


def test_stacked_bidirectional_dropout_finite_differences():
    """Training-mode dropout between layers: gradients match central differences (fixed masks)."""
    lstm = LSTM(2, 3, num_layers=2, bidirectional=True, dropout=0.4, rng=0)
    x, h0, c0 = random_array((3, 2, 2), 1), random_array((4, 2, 3), 2), random_array((4, 2, 3), 3)
    p_out, p_h, p_c = (random_array(shape, k) for k, shape in
                       ((4, (3, 2, 6)), (5, (4, 2, 3)), (6, (4, 2, 3))))

    def loss():
        lstm.rng = np.random.default_rng(7)  # the same dropout masks on every call
        out, (h_n, c_n) = lstm.forward(x, (h0, c0))
        return np.sum(p_out * out) + np.sum(p_h * h_n) + np.sum(p_c * c_n)

    loss()
    assert lstm._cache["masks"][1] is not None and not lstm._cache["masks"][1].all()
    lstm.zero_grad()
    grad_x, (grad_h0, grad_c0) = lstm.backward(p_out, p_h, p_c)
    analytic = {"x": grad_x, "h0": grad_h0, "c0": grad_c0, **lstm.grads}
    arrays = {"x": x, "h0": h0, "c0": c0, **lstm.params}
    for name, array in arrays.items():
        np.testing.assert_allclose(analytic[name], numerical_gradient(loss, array), rtol=1e-6,
                                   atol=1e-8, err_msg=name)


@pytest.mark.parametrize("cls", [RNN, LSTM, GRU])
def test_dropout_acts_between_layers_in_training_only(cls):
    x = random_array((4, 3, 2), 0)
    layer = cls(2, 5, num_layers=2, dropout=1.0, rng=0)
    second = cls(5, 5, rng=0)
    second.load_state_dict({name.replace("_l1", "_l0"): value for name, value in
                            layer.params.items() if "_l1" in name})
    out, _ = layer.forward(x)  # dropout 1 zeroes every input of the second layer
    np.testing.assert_allclose(out, second.forward(np.zeros((4, 3, 5)))[0], rtol=1e-12)
    grad_x = layer.backward(random_array(out.shape, 1))
    assert not grad_x.any()  # nothing reaches the input through zeroed units
    layer.eval()
    assert not np.allclose(layer.forward(x)[0], out)


def test_stacked_gates_have_a_leading_layer_axis():
    gru = GRU(2, 3, num_layers=2, bidirectional=True, batch_first=True, rng=0)
    out, h_n = gru.forward(random_array((4, 5, 2), 0))
    gates = gru.gates
    assert {k: v.shape for k, v in gates.items()} == {k: (4, 4, 5, 3)
                                                      for k in ("reset", "update", "new")}
    # layer 1, reverse direction (k = 3) reads time backwards: its h_t follows from h_{t+1}
    z, n, h = gates["update"][3], gates["new"][3], out[:, :, 3:]  # (N, T, H) each
    np.testing.assert_allclose(h[:, :-1], (1 - z[:, :-1]) * n[:, :-1] + z[:, :-1] * h[:, 1:],
                               rtol=1e-12)
    np.testing.assert_allclose(h[:, 0], h_n[3], rtol=1e-12)


@settings(max_examples=12, deadline=None)
@given(kind=st.sampled_from(sorted(KINDS)), T=st.integers(1, 5), N=st.integers(1, 4),
       I=st.integers(1, 5), H=st.integers(1, 6), batch_first=st.booleans(),
       with_hx=st.booleans(), seed=st.integers(0, 1000))
def test_parity_random_shapes(kind, T, N, I, H, batch_first, with_hx, seed):
    check_parity(*recurrent_case(kind, T, N, I, H, batch_first, with_hx, seed=seed))


def test_lstm_finite_differences():
    """Gradients of a random projection of (output, h_n, c_n) match central differences."""
    lstm = LSTM(2, 3, rng=0)
    x, h0, c0 = random_array((3, 2, 2), 1), random_array((1, 2, 3), 2), random_array((1, 2, 3), 3)
    p_out = random_array((3, 2, 3), 4)
    p_h, p_c = random_array((1, 2, 3), 5), random_array((1, 2, 3), 6)

    def loss():
        out, (h_n, c_n) = lstm.forward(x, (h0, c0))
        return np.sum(p_out * out) + np.sum(p_h * h_n) + np.sum(p_c * c_n)

    loss()
    lstm.zero_grad()
    grad_x, (grad_h0, grad_c0) = lstm.backward(p_out, p_h, p_c)
    analytic = {"x": grad_x, "h0": grad_h0, "c0": grad_c0, **lstm.grads}
    arrays = {"x": x, "h0": h0, "c0": c0, **lstm.params}
    for name, array in arrays.items():
        np.testing.assert_allclose(analytic[name], numerical_gradient(loss, array), rtol=1e-6,
                                   atol=1e-8, err_msg=name)


def test_lstm_gates_describe_the_cell():
    lstm = LSTM(3, 4, batch_first=True, rng=1)
    x = random_array((2, 5, 3), 7)
    out, (h_n, c_n) = lstm.forward(x)
    gates = lstm.gates
    assert set(gates) == {"input", "forget", "candidate", "output", "cell"}
    assert all(value.shape == (2, 5, 4) for value in gates.values())
    i, f, g, o, c = (gates[k] for k in ("input", "forget", "candidate", "output", "cell"))
    np.testing.assert_allclose(out, o * np.tanh(c), rtol=1e-12)
    np.testing.assert_allclose(c[:, 1:], f[:, 1:] * c[:, :-1] + i[:, 1:] * g[:, 1:], rtol=1e-12)
    np.testing.assert_allclose(c[:, -1], c_n[0], rtol=1e-12)
    # the first step starts from zero state: gates are the activated input projection
    w, b = lstm.params["weight_ih_l0"], lstm.params["bias_ih_l0"] + lstm.params["bias_hh_l0"]
    a = x[:, 0] @ w.T + b  # (N, 4H)
    np.testing.assert_allclose(i[:, 0], 1 / (1 + np.exp(-a[:, :4])), rtol=1e-12)
    np.testing.assert_allclose(g[:, 0], np.tanh(a[:, 8:12]), rtol=1e-12)


def test_gru_and_rnn_gates():
    gru = GRU(2, 3, rng=0)
    gru.forward(random_array((4, 5, 2), 0))
    assert {k: v.shape for k, v in gru.gates.items()} == {
        "reset": (5, 4, 3), "update": (5, 4, 3), "new": (5, 4, 3)}
    assert RNN(2, 3).gates == {}


@pytest.mark.parametrize("cls", [RNN, LSTM, GRU])
def test_large_inputs_stay_finite(cls):
    layer = cls(3, 4, rng=0)
    x = random_array((6, 2, 3), 0, scale=1e4)
    out, _ = layer.forward(x)
    grad_x = layer.backward(random_array(out.shape, 1))
    assert np.all(np.isfinite(out)) and np.all(np.isfinite(grad_x))
    assert all(np.all(np.isfinite(g)) for g in layer.grads.values())


def test_init_follows_torch_bounds_and_seed():
    lstm = LSTM(5, 16, rng=3)
    assert {k: v.shape for k, v in lstm.params.items()} == {
        "weight_ih_l0": (64, 5), "weight_hh_l0": (64, 16), "bias_ih_l0": (64,),
        "bias_hh_l0": (64,)}
    assert all(np.abs(v).max() <= 0.25 for v in lstm.params.values())
    np.testing.assert_array_equal(lstm.params["weight_hh_l0"],
                                  LSTM(5, 16, rng=3).params["weight_hh_l0"])


def test_backward_accumulates_until_zero_grad():
    gru = GRU(2, 3, rng=0)
    out, _ = gru.forward(random_array((3, 2, 2), 0))
    grad = random_array(out.shape, 1)
    gru.backward(grad)
    once = gru.grads["weight_hh_l0"].copy()
    gru.backward(grad)
    np.testing.assert_allclose(gru.grads["weight_hh_l0"], 2 * once)
    gru.zero_grad()
    assert not gru.grads["weight_hh_l0"].any()


# -- errors ------------------------------------------------------------------------------------

def test_bad_input_rank_and_size():
    lstm = LSTM(3, 4)
    with pytest.raises(ValueError,
                       match=r"input must have 2 or 3 dimensions .*got shape \(2, 3, 4, 3\)"):
        lstm.forward(np.zeros((2, 3, 4, 3)))
    with pytest.raises(ValueError, match=r"input must have input_size = 3 .*got shape \(5, 2, 4\)"):
        lstm.forward(np.zeros((5, 2, 4)))
    with pytest.raises(ValueError, match=r"at least one time step"):
        lstm.forward(np.zeros((0, 2, 3)))
    with pytest.raises(TypeError, match=r"input must be a numeric array"):
        lstm.forward([["a"]])


def test_bad_hidden_states():
    gru = GRU(3, 4, batch_first=True)
    x = np.zeros((2, 5, 3))
    with pytest.raises(ValueError, match=r"hx must have shape \(1, 2, 4\) .*got \(1, 5, 4\)"):
        gru.forward(x, np.zeros((1, 5, 4)))
    with pytest.raises(ValueError,
                       match=r"hx must have shape \(1, 4\) .*unbatched.*got \(1, 1, 4\)"):
        gru.forward(np.zeros((5, 3)), np.zeros((1, 1, 4)))
    lstm = LSTM(3, 4)
    with pytest.raises(TypeError, match=r"hx must be a tuple \(h_0, c_0\) for LSTM, got ndarray"):
        lstm.forward(np.zeros((5, 2, 3)), np.zeros((1, 2, 4)))
    with pytest.raises(ValueError, match=r"c_0 must have shape \(1, 2, 4\) .*got \(2, 4\)"):
        lstm.forward(np.zeros((5, 2, 3)), (np.zeros((1, 2, 4)), np.zeros((2, 4))))


def test_bad_backward_calls():
    rnn = RNN(3, 4)
    with pytest.raises(RuntimeError, match=r"RNN.backward called before forward"):
        rnn.backward(np.zeros((5, 2, 4)))
    rnn.forward(np.zeros((5, 2, 3)))
    with pytest.raises(ValueError, match=r"grad_output must have the output's shape "
                                         r"\(5, 2, 4\), got \(2, 5, 4\)"):
        rnn.backward(np.zeros((2, 5, 4)))
    with pytest.raises(ValueError, match=r"grad_h_n must have shape \(1, 2, 4\)"):
        rnn.backward(np.zeros((5, 2, 4)), np.zeros((2, 4)))


def test_bad_configuration():
    with pytest.raises(ValueError, match=r"nonlinearity must be 'tanh' or 'relu', got 'sigmoid'"):
        RNN(3, 4, nonlinearity="sigmoid")
    with pytest.raises(ValueError, match=r"num_layers must be positive, got 0"):
        LSTM(3, 4, num_layers=0)
    with pytest.raises(TypeError, match=r"bidirectional must be True or False, got int 1"):
        GRU(3, 4, bidirectional=1)
    with pytest.raises(ValueError, match=r"dropout must lie in \[0.0, 1.0\], got 1.5"):
        GRU(3, 4, dropout=1.5)
    with pytest.raises(ValueError, match=r"proj_size must be smaller than hidden_size = 4, got 4"):
        LSTM(3, 4, proj_size=4)
    with pytest.raises(ValueError, match=r"proj_size must be non-negative, got -1"):
        LSTM(3, 4, proj_size=-1)
    with pytest.raises(ValueError, match=r"hidden_size must be positive, got 0"):
        RNN(3, 0)
    with pytest.raises(TypeError, match=r"batch_first must be True or False, got str 'yes'"):
        RNN(3, 4, batch_first="yes")
