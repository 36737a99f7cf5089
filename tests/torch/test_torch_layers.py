"""Linear, Conv2d, pooling, normalisation, dropout, embedding and activations against torch."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st
from torch import nn

import companion.torch.activations as act
from companion.torch.conv import Conv2d
from companion.torch.dropout import Dropout
from companion.torch.embedding import Embedding
from companion.torch.linear import Flatten, Linear
from companion.torch.normalization import BatchNorm1d, BatchNorm2d, LayerNorm
from companion.torch.pooling import AvgPool2d, MaxPool2d
from companion.parity import assert_close, check_parity, random_array, twins


@pytest.mark.parametrize("ours_cls, theirs_cls, args, kwargs", [
    (Linear, nn.Linear, (7, 5), {}),
    (Conv2d, nn.Conv2d, (4, 6, 3), {"groups": 2}),
    (Embedding, nn.Embedding, (9, 4), {"padding_idx": 2}),
    (BatchNorm2d, nn.BatchNorm2d, (3,), {}),
    (LayerNorm, nn.LayerNorm, ((2, 3),), {}),
])
def test_default_initialisation_matches_torch_draw_for_draw(ours_cls, theirs_cls, args, kwargs):
    torch.manual_seed(5)
    theirs = theirs_cls(*args, **kwargs)
    torch.manual_seed(5)
    ours = ours_cls(*args, **kwargs)
    theirs_state, ours_state = theirs.state_dict(), ours.state_dict()
    assert list(ours_state) == list(theirs_state)
    for name, value in theirs_state.items():
        assert_close(ours_state[name].double().numpy(), value.double(), name)


@pytest.mark.parametrize("shape", [(4, 7), (1, 7), (2, 3, 7), (7,)])
@pytest.mark.parametrize("bias", [True, False])
def test_linear(shape, bias):
    ours, theirs = twins(Linear, nn.Linear, 7, 5, bias=bias)
    check_parity(ours, theirs, random_array(shape))


@pytest.mark.parametrize("start, end, shape", [(1, -1, (2, 3, 4, 5)), (0, 1, (2, 3, 4)),
                                               (2, 3, (1, 2, 3, 4, 5))])
def test_flatten(start, end, shape):
    check_parity(Flatten(start, end), nn.Flatten(start, end), random_array(shape))


@pytest.mark.parametrize("kwargs, shape", [
    ({"kernel_size": 3}, (2, 4, 7, 9)),
    ({"kernel_size": (2, 3), "stride": (2, 1), "padding": (1, 2)}, (3, 4, 7, 6)),
    ({"kernel_size": 3, "dilation": 2, "padding": 2, "stride": 2}, (1, 4, 9, 8)),
    ({"kernel_size": 1, "bias": False}, (2, 4, 5, 5)),
    ({"kernel_size": 3, "groups": 2, "padding": "same", "dilation": (1, 2)}, (2, 4, 6, 7)),
    ({"kernel_size": 2, "padding": "same"}, (1, 4, 5, 5)),
    ({"kernel_size": 3, "padding": "valid"}, (4, 7, 7)),
    ({"kernel_size": 3, "padding": 1, "padding_mode": "reflect"}, (2, 4, 5, 6)),
    ({"kernel_size": 3, "padding": 2, "padding_mode": "circular"}, (2, 4, 5, 6)),
    ({"kernel_size": 3, "padding": 1, "padding_mode": "replicate"}, (1, 4, 3, 3)),
])
@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel lengths")
def test_conv2d(kwargs, shape):
    ours, theirs = twins(Conv2d, nn.Conv2d, 4, 6, **kwargs)
    check_parity(ours, theirs, random_array(shape))


@settings(max_examples=15, deadline=None)
@given(n=st.integers(1, 2), c_in=st.integers(1, 3), c_out=st.integers(1, 3),
       h=st.integers(3, 8), w=st.integers(3, 8), k=st.integers(1, 3), s=st.integers(1, 3),
       p=st.integers(0, 2), d=st.integers(1, 2))
def test_conv2d_random_geometry(n, c_in, c_out, h, w, k, s, p, d):
    if h + 2 * p < d * (k - 1) + 1 or w + 2 * p < d * (k - 1) + 1:
        return
    ours, theirs = twins(Conv2d, nn.Conv2d, c_in, c_out, k, stride=s, padding=p, dilation=d)
    check_parity(ours, theirs, random_array((n, c_in, h, w)))


def test_conv2d_rejects_bad_input():
    conv = Conv2d(3, 4, 3)
    with pytest.raises(ValueError, match=r"C = 3 channels, got shape \(1, 2, 5, 5\)"):
        conv(torch.zeros(1, 2, 5, 5))
    with pytest.raises(ValueError, match="input must have 3 or 4 dimensions"):
        conv(torch.zeros(5, 5))
    with pytest.raises(ValueError, match="input is too small for the kernel along H"):
        conv(torch.zeros(1, 3, 2, 2))
    with pytest.raises(ValueError, match="padding='same' needs stride 1"):
        Conv2d(3, 4, 3, stride=2, padding="same")
    with pytest.raises(ValueError, match="divisible by groups"):
        Conv2d(3, 4, 3, groups=2)


@pytest.mark.parametrize("kwargs, shape", [
    ({"kernel_size": 2}, (2, 3, 6, 8)),
    ({"kernel_size": 3, "stride": 2, "padding": 1}, (2, 3, 7, 7)),
    ({"kernel_size": (2, 3), "stride": (1, 2), "dilation": (2, 1)}, (1, 2, 7, 8)),
    ({"kernel_size": 3, "stride": 2, "ceil_mode": True}, (2, 2, 8, 7)),
    ({"kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": True}, (1, 2, 6, 6)),
    ({"kernel_size": 1}, (3, 5, 5)),
    ({"kernel_size": 2, "stride": 3, "padding": 1, "ceil_mode": True}, (1, 2, 5, 8)),
])
def test_max_pool2d(kwargs, shape):
    check_parity(MaxPool2d(**kwargs), nn.MaxPool2d(**kwargs), random_array(shape))
    check_parity(MaxPool2d(**kwargs, return_indices=True),
                 nn.MaxPool2d(**kwargs, return_indices=True), random_array(shape), backward=False)


@pytest.mark.parametrize("kwargs, shape", [
    ({"kernel_size": 2}, (2, 3, 6, 8)),
    ({"kernel_size": 3, "stride": 2, "padding": 1}, (2, 3, 7, 7)),
    ({"kernel_size": 3, "stride": 2, "padding": 1, "count_include_pad": False}, (2, 3, 7, 6)),
    ({"kernel_size": 3, "stride": 2, "ceil_mode": True}, (2, 2, 8, 7)),
    ({"kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": True}, (1, 2, 6, 6)),
    ({"kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": True,
      "count_include_pad": False}, (1, 2, 6, 5)),
    ({"kernel_size": (2, 3), "divisor_override": 5}, (3, 5, 5)),
    ({"kernel_size": 2, "stride": 3, "padding": 1, "ceil_mode": True}, (1, 2, 5, 8)),
])
def test_avg_pool2d(kwargs, shape):
    check_parity(AvgPool2d(**kwargs), nn.AvgPool2d(**kwargs), random_array(shape))


def test_pooling_rejects_bad_arguments():
    with pytest.raises(ValueError, match="padding must be at most half of kernel_size"):
        MaxPool2d(2, padding=2)
    with pytest.raises(ValueError, match="input is too small for the kernel along H"):
        AvgPool2d(4)(torch.zeros(1, 1, 3, 3))


@pytest.mark.parametrize("cls, theirs_cls, shape", [
    (BatchNorm1d, nn.BatchNorm1d, (6, 3)), (BatchNorm1d, nn.BatchNorm1d, (4, 3, 5)),
    (BatchNorm2d, nn.BatchNorm2d, (2, 3, 4, 5)), (BatchNorm2d, nn.BatchNorm2d, (1, 3, 1, 2)),
])
@pytest.mark.parametrize("momentum", [0.1, None])
def test_batch_norm_training_running_stats_and_eval(cls, theirs_cls, shape, momentum):
    ours, theirs = twins(cls, theirs_cls, 3, momentum=momentum)
    for step in range(3):
        check_parity(ours, theirs, random_array(shape, seed=10 + step, scale=2.0) + step)
        for name in ("running_mean", "running_var", "num_batches_tracked"):
            assert_close(getattr(ours, name).numpy(), getattr(theirs, name), name)
    ours.eval(), theirs.eval()
    check_parity(ours, theirs, random_array(shape, seed=20))
    assert ours.num_batches_tracked.item() == 3


@pytest.mark.parametrize("affine, track, bias", [(False, True, True), (True, False, True),
                                               (True, True, False)])
def test_batch_norm_options(affine, track, bias):
    ours, theirs = twins(BatchNorm2d, nn.BatchNorm2d, 3, affine=affine, track_running_stats=track,
                         bias=bias)
    check_parity(ours, theirs, random_array((2, 3, 4, 4)))
    ours.eval(), theirs.eval()
    check_parity(ours, theirs, random_array((2, 3, 4, 4), seed=3))


def test_batch_norm_rejects_bad_input():
    with pytest.raises(ValueError, match=r"input must have shape \(N, C, H, W\) with C = 3"):
        BatchNorm2d(3)(torch.zeros(2, 4, 3, 3))
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        BatchNorm1d(3)(torch.zeros(1, 3))


@pytest.mark.parametrize("normalized, shape, kwargs", [
    (5, (3, 5), {}), ((3, 4), (2, 3, 4), {}), (6, (1, 1, 6), {"bias": False}),
    (4, (2, 4), {"elementwise_affine": False}), (3, (3,), {"eps": 1e-3}),
])
def test_layer_norm(normalized, shape, kwargs):
    ours, theirs = twins(LayerNorm, nn.LayerNorm, normalized, **kwargs)
    check_parity(ours, theirs, random_array(shape))
    with pytest.raises(ValueError, match="input must have shape"):
        ours(torch.zeros(2, 7))


def test_dropout_scales_survivors_and_is_identity_in_eval():
    layer = Dropout(p=0.25)
    torch.manual_seed(0)
    x = torch.randn(200, 50, dtype=torch.float64, requires_grad=True)
    y = layer(x)
    kept = y != 0
    assert abs(kept.double().mean().item() - 0.75) < 0.01
    assert_close(y[kept].detach().numpy(), x[kept] / 0.75, "survivors")
    grad = torch.tensor(random_array(tuple(x.shape)))
    y.backward(grad)
    assert_close(x.grad.numpy(), grad * kept / 0.75, "gradient through the mask")
    layer.eval()
    assert layer(x) is x
    with pytest.raises(ValueError, match=r"p must lie in \[0.0, 1.0\], got 1.5"):
        Dropout(1.5)


@pytest.mark.parametrize("kwargs", [{}, {"padding_idx": 1}, {"padding_idx": -2},
                                    {"scale_grad_by_freq": True, "padding_idx": 0}])
@pytest.mark.parametrize("shape", [(3, 4), (1,), (2, 1, 3)])
def test_embedding(kwargs, shape):
    ours, theirs = twins(Embedding, nn.Embedding, 6, 5, **kwargs)
    idx = np.random.default_rng(0).integers(0, 6, size=shape)
    idx.flat[0] = ours.padding_idx or 0              # a padding index and a repeated index
    check_parity(ours, theirs, idx)


def test_embedding_max_norm_renormalises_like_torch():
    ours, theirs = twins(Embedding, nn.Embedding, 6, 4, max_norm=1.0, randomize=False)
    idx = np.array([[0, 2, 2], [5, 1, 0]])
    check_parity(ours, theirs, idx)
    assert_close(ours.weight.detach().numpy(), theirs.weight, "renormalised weight")


def test_embedding_rejects_bad_indices():
    layer = Embedding(4, 2)
    with pytest.raises(ValueError, match=r"indices in \[0, 4\), got values in \[0, 4\]"):
        layer(torch.tensor([0, 4]))
    with pytest.raises(TypeError, match="integer indices, got dtype torch.float32"):
        layer(torch.tensor([0.0]))


@pytest.mark.parametrize("ours, theirs", [
    (act.ReLU(), nn.ReLU()), (act.Sigmoid(), nn.Sigmoid()), (act.Tanh(), nn.Tanh()),
    (act.GELU(), nn.GELU()), (act.GELU("tanh"), nn.GELU("tanh")),
    (act.Softmax(dim=1), nn.Softmax(dim=1)), (act.LogSoftmax(dim=-1), nn.LogSoftmax(dim=-1)),
    (act.Softmax(dim=0), nn.Softmax(dim=0)),
])
@pytest.mark.parametrize("shape, scale", [((4, 5), 3.0), ((1, 1), 1.0), ((2, 3, 7), 1e-4)])
def test_activations(ours, theirs, shape, scale):
    check_parity(ours, theirs, random_array(shape, scale=scale))


@pytest.mark.parametrize("fn, reference", [
    (act.sigmoid, torch.sigmoid), (act.tanh, torch.tanh),
    (act.log_sigmoid, nn.functional.logsigmoid),
    (lambda x: act.softmax(x, 0), lambda x: torch.softmax(x, 0)),
    (lambda x: act.log_softmax(x, 0), lambda x: torch.log_softmax(x, 0)),
])
def test_activations_are_finite_and_exact_for_huge_and_zero_inputs(fn, reference):
    values = np.array([-1e4, -50.0, -1e-9, 0.0, 1e-9, 50.0, 1e4])
    check_parity(fn, reference, values)
    x = torch.tensor(values, requires_grad=True)
    fn(x).backward(torch.ones_like(x))
    assert torch.isfinite(x.grad).all()


def test_softmax_without_dim_is_refused():
    # torch's implicit dim is deprecated; both halves refuse it (tests/test_mirror.py)
    with pytest.raises(TypeError, match="Softmax dim must be an integer, got NoneType None"):
        act.Softmax()
    with pytest.raises(TypeError, match="LogSoftmax dim must be an integer, got NoneType None"):
        act.LogSoftmax()
