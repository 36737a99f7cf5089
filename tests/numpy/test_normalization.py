"""BatchNorm1d, BatchNorm2d and LayerNorm against torch in float64, running statistics included."""

import numpy as np
import pytest
import torch

from companion.numpy.normalization import BatchNorm1d, BatchNorm2d, LayerNorm
from companion.parity import assert_close, check_parity, check_rejects, random_array


def randomise_affine(module, seed=0):
    """Non-trivial weight and bias, so their gradients and effect are tested."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for param in module.parameters():
            param.copy_(torch.randn(param.shape, generator=generator, dtype=param.dtype))
    return module.double()


def assert_buffers_match(ours, theirs):
    torch_buffers = dict(theirs.named_buffers())
    assert set(ours.buffers) == set(torch_buffers)
    for name, value in torch_buffers.items():
        assert_close(ours.buffers[name], value, f"buffer {name}")


BATCH_NORMS = [
    (torch.nn.BatchNorm1d, BatchNorm1d, (6, 3)),
    (torch.nn.BatchNorm1d, BatchNorm1d, (4, 3, 5)),
    (torch.nn.BatchNorm1d, BatchNorm1d, (1, 3, 2)),
    (torch.nn.BatchNorm2d, BatchNorm2d, (2, 3, 5, 4)),
    (torch.nn.BatchNorm2d, BatchNorm2d, (1, 2, 3, 1)),
]
OPTIONS = [{}, {"momentum": None}, {"momentum": 0.3, "eps": 1e-3}, {"affine": False},
           {"track_running_stats": False}, {"bias": False}]


@pytest.mark.parametrize("torch_cls, ours_cls, shape", BATCH_NORMS)
@pytest.mark.parametrize("options", OPTIONS)
def test_batch_norm_training_then_eval(torch_cls, ours_cls, shape, options):
    theirs = randomise_affine(torch_cls(shape[1], **options))
    ours = ours_cls.from_torch(theirs)
    for step in range(3):  # running statistics after several training steps
        check_parity(ours, theirs, random_array(shape, seed=step, scale=2.0) + step, seed=10 + step)
        assert_buffers_match(ours, theirs)
    theirs.eval()
    ours.eval()
    check_parity(ours, theirs, random_array(shape, seed=7), seed=20)
    assert_buffers_match(ours, theirs)


def test_batch_norm_from_torch_copies_running_statistics_in_eval():
    theirs = randomise_affine(torch.nn.BatchNorm2d(3))
    with torch.no_grad():
        for step in range(4):
            theirs(torch.randn(5, 3, 2, 2, dtype=torch.float64) * 3 + step)
    theirs.eval()
    ours = BatchNorm2d.from_torch(theirs)
    assert not ours.training and int(ours.buffers["num_batches_tracked"]) == 4
    check_parity(ours, theirs, random_array((2, 3, 4, 4), seed=1))


@pytest.mark.parametrize("normalized_shape, shape", [(5, (3, 5)), (5, (1, 5)), ((4,), (2, 3, 4)),
                                                     ((3, 4), (2, 3, 4)), (1, (2, 1)), (6, (6,))])
@pytest.mark.parametrize("options", [{}, {"eps": 1e-3}, {"bias": False},
                                     {"elementwise_affine": False}])
def test_layer_norm(normalized_shape, shape, options):
    theirs = randomise_affine(torch.nn.LayerNorm(normalized_shape, **options))
    ours = LayerNorm.from_torch(theirs)
    check_parity(ours, theirs, random_array(shape, seed=3, scale=4.0) + 1.0)


@pytest.mark.parametrize("theirs, shape", [(torch.nn.BatchNorm1d(3), (2, 4)),
                                           (torch.nn.BatchNorm1d(3), (1, 3)),
                                           (torch.nn.BatchNorm2d(3), (2, 3)),
                                           (torch.nn.LayerNorm((3, 4)), (3, 5))])
def test_bad_input_is_refused_like_torch(theirs, shape):
    ours = {torch.nn.BatchNorm1d: BatchNorm1d, torch.nn.BatchNorm2d: BatchNorm2d,
            torch.nn.LayerNorm: LayerNorm}[type(theirs)].from_torch(theirs)
    check_rejects(ours, theirs, np.zeros(shape))


def test_bad_inputs():
    with pytest.raises(ValueError, match=(r"input must have 2 or 3 dimensions \(N, C\) or "
                                          r"\(N, C, L\), got shape \(2, 3, 4, 5\)")):
        BatchNorm1d(3).forward(np.zeros((2, 3, 4, 5)))
    with pytest.raises(ValueError, match=(r"input must have 4 dimensions \(N, C, H, W\), got shape "
                                          r"\(2, 3\)")):
        BatchNorm2d(3).forward(np.zeros((2, 3)))
    with pytest.raises(ValueError, match=(r"input must have num_features \(channels\) = 3 along "
                                          r"axis 1, got shape \(2, 4\)")):
        BatchNorm1d(3).forward(np.zeros((2, 4)))
    with pytest.raises(ValueError, match=r"more than 1 value per channel .* got shape \(1, 3\)"):
        BatchNorm1d(3).forward(np.zeros((1, 3)))
    with pytest.raises(TypeError, match="input must be a numeric array"):
        BatchNorm2d(3).forward([[["a"]]])
    with pytest.raises(ValueError, match=(r"input must end with normalized_shape \(3, 4\), got "
                                          r"shape \(3, 5\)")):
        LayerNorm((3, 4)).forward(np.zeros((3, 5)))
    with pytest.raises(ValueError, match=(r"input must end with normalized_shape \(2, 3\), got "
                                          r"shape \(3,\)")):
        LayerNorm((2, 3)).forward(np.zeros(3))
    with pytest.raises(RuntimeError, match="BatchNorm1d.backward was called before forward"):
        BatchNorm1d(3).backward(np.zeros((2, 3)))


def test_bad_arguments():
    with pytest.raises(ValueError, match="num_features must be positive, got -2"):
        BatchNorm1d(-2)
    with pytest.raises(ValueError, match=r"momentum must lie in \[0.0, 1.0\], got 1.5"):
        BatchNorm2d(3, momentum=1.5)
    with pytest.raises(ValueError, match=r"eps must lie in \(0.0, inf\], got 0.0"):
        LayerNorm(3, eps=0.0)
    with pytest.raises(TypeError, match=("normalized_shape must be an int or a non-empty tuple of "
                                         "ints, got 'D'")):
        LayerNorm("D")
    with pytest.raises(ValueError, match="normalized_shape must be positive, got 0"):
        LayerNorm((3, 0))
