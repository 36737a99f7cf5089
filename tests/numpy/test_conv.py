"""Scratch Conv2d, im2col and col2im against torch in float64."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from companion.core.shapes import output_size_2d
from companion.numpy.conv import Conv2d, col2im, im2col
from companion.numpy.gradcheck import numerical_gradient
from companion.parity import assert_close, check_parity, check_rejects, random_array, to_torch


def torch_twin(*args, **kwargs):
    """A float64 torch Conv2d with a random non-zero bias, and its scratch copy."""
    torch.manual_seed(0)
    theirs = torch.nn.Conv2d(*args, **kwargs).double()
    if theirs.bias is not None:
        with torch.no_grad():
            theirs.bias.copy_(torch.randn(theirs.out_channels, dtype=torch.float64))
    return Conv2d.from_torch(theirs), theirs


CONFIGS = [  # (N, C_in, C_out, H, W, kernel_size, stride, padding, dilation, bias)
    (2, 3, 4, 8, 8, 3, 1, 0, 1, True),
    (1, 1, 8, 8, 8, 3, 1, 1, 1, True),  # batch 1, digit-sized
    (3, 2, 5, 7, 9, 3, 1, 1, 1, True),  # odd, non-square image
    (2, 3, 4, 9, 7, (2, 3), 1, 0, 1, True),  # non-square kernel
    (2, 3, 4, 9, 9, 3, 2, 1, 1, True),  # stride 2
    (2, 2, 3, 8, 7, 3, (2, 1), (1, 2), 1, True),  # stride and padding per axis
    (2, 3, 4, 6, 6, 3, 1, 2, 1, True),  # padding 2
    (2, 3, 4, 9, 9, 3, 1, 0, 2, True),  # dilation 2
    (2, 3, 4, 9, 8, 3, 2, 2, 2, True),  # all three at once
    (2, 3, 4, 8, 8, 3, 1, 1, 1, False),  # no bias
    (2, 5, 3, 6, 7, 1, 1, 0, 1, True),  # 1x1 kernel
    (2, 3, 4, 5, 5, 5, 1, 0, 1, True),  # kernel as large as the image
    (1, 2, 2, 1, 1, 3, 1, 1, 1, True),  # 1x1 image, padded
]


@pytest.mark.parametrize("n, c_in, c_out, h, w, kernel, stride, padding, dilation, bias", CONFIGS)
def test_matches_torch(n, c_in, c_out, h, w, kernel, stride, padding, dilation, bias):
    ours, theirs = torch_twin(c_in, c_out, kernel, stride, padding, dilation, bias=bias)
    check_parity(ours, theirs, random_array((n, c_in, h, w), seed=3))


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 3), c_in=st.integers(1, 3), c_out=st.integers(1, 3),
       kernel=st.tuples(st.integers(1, 3), st.integers(1, 3)),
       stride=st.tuples(st.integers(1, 3), st.integers(1, 3)),
       padding=st.tuples(st.integers(0, 2), st.integers(0, 2)),
       dilation=st.tuples(st.integers(1, 2), st.integers(1, 2)),
       extra=st.tuples(st.integers(0, 4), st.integers(0, 4)), bias=st.booleans())
def test_matches_torch_on_random_configurations(n, c_in, c_out, kernel, stride, padding,
                                                dilation, extra, bias):
    # smallest valid image plus a few pixels, so the dilated kernel always fits
    h, w = (max(1, d * (k - 1) + 1 - 2 * p) + e
            for k, p, d, e in zip(kernel, padding, dilation, extra))
    ours, theirs = torch_twin(c_in, c_out, kernel, stride, padding, dilation, bias=bias)
    check_parity(ours, theirs, random_array((n, c_in, h, w), seed=n + h + w))


def test_gradients_accumulate_until_zero_grad():
    ours, theirs = torch_twin(2, 3, 3, padding=1)
    x, grad = random_array((2, 2, 5, 5), seed=4), random_array((2, 3, 5, 5), seed=5)
    ours.forward(x)
    ours.backward(grad)
    once = {name: g.copy() for name, g in ours.grads.items()}
    ours.backward(grad)
    for name, g in ours.grads.items():
        assert_close(g, 2 * once[name], f"accumulated gradient of {name}")
    ours.zero_grad()
    assert all(not g.any() for g in ours.grads.values())


def test_input_gradient_by_finite_differences():
    layer = Conv2d(2, 3, (2, 3), stride=(2, 1), padding=(1, 2), dilation=(1, 2), rng=0)
    x = random_array((2, 2, 5, 4), seed=6)
    projection = random_array(layer.forward(x).shape, seed=7)

    def loss():  # a random projection of the output, never a plain sum
        return np.sum(layer.forward(x) * projection)

    layer.forward(x)
    layer.zero_grad()
    grad_x = layer.backward(projection)
    np.testing.assert_allclose(grad_x, numerical_gradient(loss, x), rtol=1e-6, atol=1e-8)
    for name, param in layer.params.items():
        np.testing.assert_allclose(layer.grads[name], numerical_gradient(loss, param), rtol=1e-6,
                                   atol=1e-8, err_msg=f"gradient of {name}")


WINDOWS = [  # (kernel_size, stride, padding, dilation)
    ((3, 3), (1, 1), (1, 1), (1, 1)),
    ((2, 3), (2, 1), (0, 2), (2, 1)),
    ((1, 1), (3, 2), (0, 0), (1, 1)),
    ((3, 2), (2, 3), (2, 1), (2, 2)),
]


@pytest.mark.parametrize("kernel, stride, padding, dilation", WINDOWS)
def test_im2col_is_torch_unfold(kernel, stride, padding, dilation):
    x = random_array((2, 3, 7, 6), seed=8)
    cols = im2col(x, kernel, stride, padding, dilation)
    h_out, w_out = output_size_2d(x.shape, kernel, stride, padding, dilation)
    assert cols.shape == (2, 3) + kernel + (h_out, w_out)
    unfolded = torch.nn.functional.unfold(to_torch(x), kernel, dilation, padding, stride)
    assert_close(cols.reshape(2, -1, h_out * w_out), unfolded, "im2col against unfold")


@pytest.mark.parametrize("kernel, stride, padding, dilation", WINDOWS)
def test_col2im_is_the_adjoint_of_im2col(kernel, stride, padding, dilation):
    x_shape = (2, 3, 7, 6)
    h_out, w_out = output_size_2d(x_shape, kernel, stride, padding, dilation)
    a = random_array((2, 3) + kernel + (h_out, w_out), seed=9)
    b = random_array(x_shape, seed=10)
    back = col2im(a, x_shape, kernel, stride, padding, dilation)
    assert back.shape == x_shape
    lhs = np.sum(back * b)  # <col2im(A), B>
    rhs = np.sum(a * im2col(b, kernel, stride, padding, dilation))  # <A, im2col(B)>
    np.testing.assert_allclose(lhs, rhs, rtol=1e-12)
    folded = torch.nn.functional.fold(to_torch(a.reshape(2, -1, h_out * w_out)), x_shape[2:],
                                      kernel, dilation, padding, stride)
    assert_close(back, folded, "col2im against fold")


def test_initial_weights_follow_torch_distribution():
    layer = Conv2d(16, 32, (3, 2), rng=np.random.default_rng(1))
    bound = 1 / np.sqrt(16 * 3 * 2)  # U(-1/sqrt(fan_in), 1/sqrt(fan_in)), fan_in = C_in kH kW
    weight, bias = layer.params["weight"], layer.params["bias"]
    assert weight.shape == (32, 16, 3, 2) and bias.shape == (32,)
    assert np.abs(weight).max() <= bound and np.abs(bias).max() <= bound
    assert np.abs(weight).max() > 0.99 * bound
    np.testing.assert_allclose(weight.std(), bound / np.sqrt(3), rtol=0.05)
    again = Conv2d(16, 32, (3, 2), rng=np.random.default_rng(1))
    np.testing.assert_array_equal(weight, again.params["weight"])
    assert set(Conv2d(4, 6, 3, bias=False).params) == {"weight"}


@pytest.mark.parametrize("shape", [(2, 2, 8, 8), (1, 3, 8, 2), (3, 8, 8, 8, 1)])
def test_bad_input_is_refused_like_torch(shape):
    ours, theirs = torch_twin(3, 4, 3)
    check_rejects(ours, theirs, np.zeros(shape))


@pytest.mark.parametrize("padding", ["same", "valid"])
@pytest.mark.parametrize("kernel, dilation", [(3, 1), ((2, 4), 1), ((2, 3), (2, 1))])
def test_string_padding_matches_torch(padding, kernel, dilation):
    ours, theirs = torch_twin(3, 4, kernel, padding=padding, dilation=dilation)
    check_parity(ours, theirs, random_array((2, 3, 7, 8), seed=4))


@pytest.mark.parametrize("padding", [1, "same"])
def test_unbatched_input_matches_torch(padding):
    ours, theirs = torch_twin(3, 4, (2, 3), padding=padding)
    check_parity(ours, theirs, random_array((3, 6, 5), seed=5))


def test_bad_inputs_are_named():
    layer = Conv2d(3, 4, 3)
    with pytest.raises(ValueError, match=r"input must have 3 or 4 dimensions \(N, C_in, H, W\) "
                                         r"or unbatched \(C_in, H, W\), got shape \(8, 8\)"):
        layer.forward(np.zeros((8, 8)))
    with pytest.raises(ValueError, match=r"input must have C_in = 3 along axis -3, "
                                         r"got shape \(2, 2, 8, 8\)"):
        layer.forward(np.zeros((2, 2, 8, 8)))
    with pytest.raises(ValueError, match=r"padding must be 'valid', 'same'.*got 'full'"):
        Conv2d(3, 4, 3, padding="full")
    with pytest.raises(ValueError, match=r"padding='same' needs stride 1, got stride=2"):
        Conv2d(3, 4, 3, padding="same", stride=2)
    with pytest.raises(ValueError, match=r"input is too small for the kernel along W: W \+ 2 \* "
                                         r"padding must be at least the dilated kernel size 3, "
                                         r"got 2 \+ 2 \* 0 = 2"):
        layer.forward(np.zeros((1, 3, 8, 2)))
    with pytest.raises(ValueError, match=r"dilated kernel size 5, got 2 \+ 2 \* 1 = 4"):
        Conv2d(1, 1, 3, padding=1, dilation=2).forward(np.zeros((1, 1, 2, 2)))
    with pytest.raises(TypeError, match="input must be a numeric array, got list with dtype <U1"):
        layer.forward([["a"]])
    with pytest.raises(RuntimeError, match="Conv2d.backward was called before forward"):
        layer.backward(np.zeros((1, 4, 6, 6)))
    layer.forward(np.zeros((1, 3, 8, 8)))
    with pytest.raises(ValueError, match=r"grad_output must have the shape of Conv2d's "
                                         r"output \(1, 4, 6, 6\), got \(1, 4, 8, 8\)"):
        layer.backward(np.zeros((1, 4, 8, 8)))


@pytest.mark.parametrize("kwargs, error, message", [
    (dict(in_channels=0), ValueError, "in_channels must be positive, got 0"),
    (dict(out_channels=2.5), TypeError, "out_channels must be an integer, got float 2.5"),
    (dict(kernel_size=(0, 3)), ValueError, "kernel_size must be positive, got 0"),
    (dict(kernel_size=(3, 3, 3)), ValueError,
     r"kernel_size must be an int or a pair of ints, got \(3, 3, 3\)"),
    (dict(stride=0), ValueError, "stride must be positive, got 0"),
    (dict(padding=-1), ValueError, "padding must be non-negative, got -1"),
    (dict(dilation=(1, 0)), ValueError, "dilation must be positive, got 0"),
])
def test_bad_sizes_are_named(kwargs, error, message):
    config = dict(in_channels=2, out_channels=3, kernel_size=3) | kwargs
    with pytest.raises(error, match=message):
        Conv2d(**config)


def test_from_torch_refuses_what_it_cannot_copy():
    with pytest.raises(ValueError, match="groups = 1 only, got groups = 2"):
        Conv2d.from_torch(torch.nn.Conv2d(4, 4, 3, groups=2))
    with pytest.raises(ValueError, match="padding_mode = 'zeros' only, got 'reflect'"):
        Conv2d.from_torch(torch.nn.Conv2d(4, 4, 3, padding=1, padding_mode="reflect"))
