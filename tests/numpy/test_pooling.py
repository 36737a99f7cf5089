"""Scratch MaxPool2d and AvgPool2d against torch in float64."""

import numpy as np
import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from companion.numpy.gradcheck import numerical_gradient
from companion.numpy.pooling import AvgPool2d, MaxPool2d
from companion.parity import assert_close, check_parity, check_rejects, random_array, to_torch

MAX_CONFIGS = [  # (N, C, H, W, kernel_size, stride, padding, dilation)
    (2, 3, 8, 8, 2, None, 0, 1),
    (1, 1, 7, 9, 3, None, 0, 1),  # batch 1, odd sizes, leftover rows dropped
    (2, 2, 8, 7, (2, 3), 1, 0, 1),  # non-square kernel, overlapping windows
    (2, 3, 9, 9, 3, 2, 1, 1),  # stride 2, padding 1
    (2, 2, 9, 8, 4, 2, 2, 1),  # padding 2
    (2, 2, 9, 9, 2, 1, 1, 2),  # dilation 2
    (2, 2, 6, 7, (3, 2), (1, 2), (1, 0), (2, 1)),  # everything per axis
    (2, 3, 5, 4, 1, 1, 0, 1),  # 1x1 kernel
]

AVG_CONFIGS = [  # (N, C, H, W, kernel_size, stride, padding, count_include_pad)
    (2, 3, 8, 8, 2, None, 0, True),
    (1, 1, 7, 9, 3, None, 0, True),
    (2, 2, 8, 7, (2, 3), 1, 0, True),
    (2, 3, 9, 9, 3, 2, 1, True),
    (2, 3, 9, 9, 3, 2, 1, False),  # border windows divide by their real pixels only
    (2, 2, 9, 8, 4, 2, 2, True),
    (2, 2, 9, 8, (4, 3), (2, 1), (2, 1), False),
    (2, 3, 5, 4, 1, 1, 0, True),
]


@pytest.mark.parametrize("n, c, h, w, kernel, stride, padding, dilation", MAX_CONFIGS)
def test_max_pool_matches_torch(n, c, h, w, kernel, stride, padding, dilation):
    theirs = torch.nn.MaxPool2d(kernel, stride, padding, dilation)
    check_parity(MaxPool2d.from_torch(theirs), theirs, random_array((n, c, h, w), seed=2))


@pytest.mark.parametrize("n, c, h, w, kernel, stride, padding, count_include_pad", AVG_CONFIGS)
def test_avg_pool_matches_torch(n, c, h, w, kernel, stride, padding, count_include_pad):
    theirs = torch.nn.AvgPool2d(kernel, stride, padding, count_include_pad=count_include_pad)
    check_parity(AvgPool2d.from_torch(theirs), theirs, random_array((n, c, h, w), seed=2))


CEIL_CONFIGS = [  # (H, W, kernel_size, stride, padding): ceil_mode adds a last, partial window
    (8, 7, 3, 2, 0),
    (6, 6, 3, 2, 1),
    (5, 8, 2, 3, 1),  # the window ceil would add starts in the right padding: torch drops it
    (7, 10, (3, 2), (2, 3), (1, 0)),
]


@pytest.mark.parametrize("h, w, kernel, stride, padding", CEIL_CONFIGS)
@pytest.mark.parametrize("make", [
    lambda k, s, p: torch.nn.MaxPool2d(k, s, p, ceil_mode=True),
    lambda k, s, p: torch.nn.MaxPool2d(k, s, p, dilation=(1, 2), ceil_mode=True),
    lambda k, s, p: torch.nn.AvgPool2d(k, s, p, ceil_mode=True),
    lambda k, s, p: torch.nn.AvgPool2d(k, s, p, ceil_mode=True, count_include_pad=False),
    lambda k, s, p: torch.nn.AvgPool2d(k, s, p, ceil_mode=True, divisor_override=3),
])
def test_ceil_mode_matches_torch(h, w, kernel, stride, padding, make):
    theirs = make(kernel, stride, padding)
    ours = (MaxPool2d if isinstance(theirs, torch.nn.MaxPool2d) else AvgPool2d).from_torch(theirs)
    assert ours.ceil_mode
    x = random_array((2, 3, h, w), seed=h + w)
    floor_shape = type(ours)(kernel, stride, padding).forward(x).shape
    check_parity(ours, theirs, x)
    if (h, w) != (5, 8):
        assert ours.forward(x).shape != floor_shape, "ceil_mode changes nothing here"


def test_avg_pool_divisor_override_matches_torch():
    theirs = torch.nn.AvgPool2d(3, 2, 1, divisor_override=5)
    check_parity(AvgPool2d.from_torch(theirs), theirs, random_array((2, 3, 7, 8), seed=3))


def test_max_pool_ties_send_the_gradient_to_the_first_maximum():
    # integer values tie often, inside windows and where overlapping windows share a pixel
    x = np.random.default_rng(4).integers(0, 3, (2, 2, 7, 6)).astype(np.float64)
    for kernel, stride, padding in [(2, 2, 0), (3, 1, 1), ((2, 3), (1, 2), (1, 0))]:
        theirs = torch.nn.MaxPool2d(kernel, stride, padding)
        check_parity(MaxPool2d.from_torch(theirs), theirs, x)


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 3), c=st.integers(1, 3),
       kernel=st.tuples(st.integers(1, 4), st.integers(1, 4)),
       stride=st.tuples(st.integers(1, 3), st.integers(1, 3)),
       padding=st.tuples(st.integers(0, 2), st.integers(0, 2)),
       dilation=st.tuples(st.integers(1, 2), st.integers(1, 2)),
       extra=st.tuples(st.integers(0, 4), st.integers(0, 4)), average=st.booleans(),
       count_include_pad=st.booleans(), ceil_mode=st.booleans())
def test_pooling_matches_torch_on_random_configurations(n, c, kernel, stride, padding, dilation,
                                                        extra, average, count_include_pad,
                                                        ceil_mode):
    padding = tuple(min(p, k // 2) for p, k in zip(padding, kernel))  # torch's limit
    if average:
        dilation = (1, 1)
    h, w = (max(1, d * (k - 1) + 1 - 2 * p) + e
            for k, p, d, e in zip(kernel, padding, dilation, extra))
    if average:
        theirs = torch.nn.AvgPool2d(kernel, stride, padding, ceil_mode,
                                    count_include_pad=count_include_pad)
        ours = AvgPool2d.from_torch(theirs)
    else:
        theirs = torch.nn.MaxPool2d(kernel, stride, padding, dilation, ceil_mode=ceil_mode)
        ours = MaxPool2d.from_torch(theirs)
    x = random_array((n, c, h, w), seed=n + h + w)
    # a dilated window can read padding only (max -inf): torch then sends its gradient to an
    # index past the end of the plane, into another channel, so there is nothing to compare
    assume(average or np.isfinite(ours.forward(x)).all())
    check_parity(ours, theirs, x)


def test_max_pool_input_gradient_by_finite_differences():
    layer = MaxPool2d((2, 3), stride=(1, 2), padding=(1, 1), dilation=(2, 1))
    x = random_array((2, 2, 6, 5), seed=5)  # distinct values: the maximum is locally stable
    projection = random_array(layer.forward(x).shape, seed=6)
    grad_x = layer.backward(projection)
    numeric = numerical_gradient(lambda: np.sum(layer.forward(x) * projection), x)
    np.testing.assert_allclose(grad_x, numeric, rtol=1e-6, atol=1e-8)


def test_from_torch_copies_the_configuration():
    ours = MaxPool2d.from_torch(torch.nn.MaxPool2d((3, 2), (1, 2), (1, 0), (2, 1)))
    assert (ours.kernel_size, ours.stride, ours.padding, ours.dilation) == (
        (3, 2), (1, 2), (1, 0), (2, 1))
    assert MaxPool2d(3).stride == (3, 3)
    ours = AvgPool2d.from_torch(torch.nn.AvgPool2d(4, 2, 1, count_include_pad=False))
    assert (ours.kernel_size, ours.stride, ours.padding, ours.count_include_pad) == (
        (4, 4), (2, 2), (1, 1), False)
    assert ours.params == {} and ours.grads == {}


def test_max_pool_keeps_large_values_finite():
    x = random_array((1, 2, 6, 6), seed=7, scale=1e4)
    out = MaxPool2d(3, 2, 1).forward(x)
    assert np.all(np.isfinite(out))
    assert_close(out, torch.nn.functional.max_pool2d(to_torch(x), 3, 2, 1), "max pool of 1e4")



def test_max_pool_lets_a_nan_win_its_window_like_torch():
    x = random_array((1, 2, 4, 4), seed=7)
    x[0, 0, 1, 0] = np.nan  # third offset of the first window: the gradient must go there
    theirs = torch.nn.MaxPool2d(2)
    check_parity(MaxPool2d.from_torch(theirs), theirs, x)
    assert np.isnan(MaxPool2d(2).forward(x)[0, 0, 0, 0])

@pytest.mark.parametrize("theirs", [torch.nn.MaxPool2d(3), torch.nn.AvgPool2d(3)])
def test_too_small_an_input_is_refused_like_torch(theirs):
    ours = (MaxPool2d if isinstance(theirs, torch.nn.MaxPool2d) else AvgPool2d).from_torch(theirs)
    check_rejects(ours, theirs, np.zeros((1, 1, 2, 8)))


@pytest.mark.parametrize("theirs", [torch.nn.MaxPool2d(3, 2, 1), torch.nn.AvgPool2d(2, 1),
                                    torch.nn.MaxPool2d(2, ceil_mode=True)])
def test_unbatched_input_matches_torch(theirs):
    ours = (MaxPool2d if isinstance(theirs, torch.nn.MaxPool2d) else AvgPool2d).from_torch(theirs)
    check_parity(ours, theirs, random_array((3, 7, 5), seed=2))


@pytest.mark.parametrize("layer", [MaxPool2d, AvgPool2d])
def test_bad_inputs_are_named(layer):
    pool = layer(3)
    with pytest.raises(ValueError, match=r"input must have 3 or 4 dimensions \(N, C, H, W\) or "
                                         r"unbatched \(C, H, W\), got shape \(8, 8\)"):
        pool.forward(np.zeros((8, 8)))
    with pytest.raises(ValueError, match=r"input is too small for the kernel along H: H \+ 2 \* "
                                         r"padding must be at least the dilated kernel size 3, "
                                         r"got 2 \+ 2 \* 0 = 2"):
        pool.forward(np.zeros((1, 1, 2, 8)))
    with pytest.raises(RuntimeError, match=f"{layer.__name__}.backward was called before forward"):
        pool.backward(np.zeros((1, 1, 2, 2)))
    pool.forward(np.zeros((1, 1, 6, 6)))
    with pytest.raises(ValueError, match=rf"grad_output must have the shape of {layer.__name__}'s "
                                         r"output \(1, 1, 2, 2\), got \(1, 1, 3, 3\)"):
        pool.backward(np.zeros((1, 1, 3, 3)))
    with pytest.raises(ValueError, match=r"padding must be at most half of kernel_size \(3, 3\), "
                                         r"got padding \(2, 2\)"):
        layer(3, padding=2)
    with pytest.raises(ValueError, match="kernel_size must be positive, got 0"):
        layer((2, 0))
    with pytest.raises(ValueError, match="stride must be positive, got 0"):
        layer(2, stride=0)


@pytest.mark.parametrize("theirs, shape", [
    (torch.nn.MaxPool2d(2, return_indices=True), (2, 3, 6, 5)),
    (torch.nn.MaxPool2d(3, 2, 1, dilation=(1, 2), return_indices=True), (1, 2, 7, 9)),
    (torch.nn.MaxPool2d(2, ceil_mode=True, return_indices=True), (3, 5, 5))])
def test_return_indices_matches_torch(theirs, shape):
    """The flat h * W + w position of each maximum, as torch returns it (ties: the first)."""
    ours = MaxPool2d.from_torch(theirs)
    x = np.round(random_array(shape, seed=4), 1)  # rounding makes ties in some windows
    report = check_parity(ours, theirs, x)
    assert "output 1" in report  # the indices were compared
    assert ours.forward(x)[1].dtype.kind == "i"


def test_unsupported_options_are_refused():
    with pytest.raises(TypeError, match="return_indices must be True or False"):
        MaxPool2d(2, return_indices="yes")
    with pytest.raises(ValueError, match="divisor_override must be positive, got 0"):
        AvgPool2d(2, divisor_override=0)
