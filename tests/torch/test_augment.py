"""Affine augmentation: the scratch warp against torch's grid_sample, and exact pixel moves."""

import pytest
import torch
import torch.nn.functional as F

from companion.torch.augment import RandomAffine, affine_matrices, affine_warp, random_affine


@pytest.mark.parametrize("shape", [(1, 1, 8, 8), (4, 3, 5, 7), (2, 2, 9, 4)])
def test_warp_matches_grid_sample_for_random_maps(shape):
    g = torch.Generator().manual_seed(sum(shape))
    images = torch.rand(*shape, generator=g, dtype=torch.float64)
    theta = torch.randn(shape[0], 2, 3, generator=g, dtype=torch.float64) * 0.8
    expected = F.grid_sample(images, F.affine_grid(theta, list(shape), align_corners=False),
                             mode="bilinear", padding_mode="zeros", align_corners=False)
    torch.testing.assert_close(affine_warp(images, theta), expected, rtol=1e-12, atol=1e-12)


def test_identity_map_returns_the_images():
    images = torch.rand(3, 1, 8, 8, dtype=torch.float64)
    theta = affine_matrices(0.0, 1.0, (0.0, 0.0), (8, 8))
    torch.testing.assert_close(affine_warp(images, theta), images, rtol=0, atol=1e-12)


def test_whole_pixel_shifts_move_pixels_and_fill_with_zeros():
    images = torch.rand(2, 1, 6, 7, dtype=torch.float64)
    right = affine_warp(images, affine_matrices(0, 1, (1, 0), (6, 7)))
    torch.testing.assert_close(right[..., 1:], images[..., :-1], rtol=0, atol=1e-12)
    assert right[..., 0].abs().max() < 1e-12
    down = affine_warp(images, affine_matrices(0, 1, (0, 2), (6, 7)))
    torch.testing.assert_close(down[..., 2:, :], images[..., :-2, :], rtol=0, atol=1e-12)


def test_quarter_turn_is_a_clockwise_rot90():
    images = torch.rand(3, 2, 8, 8, dtype=torch.float64)
    turned = affine_warp(images, affine_matrices(90, 1, (0, 0), (8, 8)))
    torch.testing.assert_close(turned, torch.rot90(images, -1, dims=(2, 3)), rtol=0, atol=1e-12)


def test_scaling_up_spreads_a_central_blob():
    image = torch.zeros(1, 1, 8, 8, dtype=torch.float64)
    image[..., 3:5, 3:5] = 1.0
    bigger = affine_warp(image, affine_matrices(0, 2.0, (0, 0), (8, 8)))
    assert (bigger > 0.1).sum() > (image > 0.1).sum()
    torch.testing.assert_close(bigger.sum(), 4 * image.sum(), rtol=0.3, atol=0)


def test_per_image_parameters_broadcast():
    theta = affine_matrices(torch.tensor([0.0, 10.0, 20.0]), 1.0, (0.0, 0.0), (8, 8))
    assert theta.shape == (3, 2, 3)
    assert not torch.allclose(theta[0], theta[2])


def test_random_affine_is_reproducible_and_layer_is_identity_in_eval():
    images = torch.rand(5, 1, 8, 8)
    a = random_affine(images, 15, 1, (0.9, 1.1), torch.Generator().manual_seed(3))
    b = random_affine(images, 15, 1, (0.9, 1.1), torch.Generator().manual_seed(3))
    torch.testing.assert_close(a, b)
    assert not torch.allclose(a, images)
    layer = RandomAffine(15, 1, (0.9, 1.1))
    assert layer.eval()(images) is images
    assert not torch.allclose(layer.train()(images), images)
    still = random_affine(images, 0, 0, (1.0, 1.0))
    torch.testing.assert_close(still, images, rtol=0, atol=1e-6)


def test_bad_arguments_are_reported():
    with pytest.raises(ValueError, match="images"):
        affine_warp(torch.rand(8, 8), torch.zeros(1, 2, 3))
    with pytest.raises(ValueError, match="theta"):
        affine_warp(torch.rand(2, 1, 8, 8), torch.zeros(3, 2, 3))
    with pytest.raises(ValueError, match="scale"):
        affine_matrices(0, 0.0, (0, 0), (8, 8))
    with pytest.raises(ValueError, match="max_rotation"):
        RandomAffine(max_rotation=-1)
    with pytest.raises(ValueError, match="scale_range"):
        RandomAffine(scale_range=(1.2, 0.8))
