"""ResidualBlock, BlockStack and weight_gradient_norms."""

import pytest
import torch
import torch.nn.functional as F

from companion.torch.models.residual import BlockStack, ResidualBlock, weight_gradient_norms
from companion.torch.training import seed_everything


def test_block_matches_functional_formula_with_and_without_skip():
    seed_everything(0)
    block = ResidualBlock(6)
    x = torch.randn(3, 6, dtype=torch.float64)
    block.double()
    branch = F.linear(F.relu(F.linear(x, block.linear1.weight, block.linear1.bias)),
                      block.linear2.weight, block.linear2.bias)
    torch.testing.assert_close(block(x), F.relu(x + branch), rtol=1e-12, atol=1e-12)
    block.skip = False
    torch.testing.assert_close(block(x), F.relu(branch), rtol=1e-12, atol=1e-12)


def test_block_with_zero_branch_is_relu_identity():
    block = ResidualBlock(4)
    with torch.no_grad():
        block.linear2.weight.zero_()
        block.linear2.bias.zero_()
    x = torch.rand(5, 4)                                                    # non-negative
    torch.testing.assert_close(block(x), x)


def test_stacks_share_parameter_shapes_and_differ_only_in_skips():
    seed_everything(1)
    plain = BlockStack(10, 8, 3, 4, skip=False)
    seed_everything(1)
    residual = BlockStack(10, 8, 3, 4, skip=True)
    for (n1, p1), (n2, p2) in zip(plain.named_parameters(), residual.named_parameters()):
        assert n1 == n2 and torch.equal(p1, p2)
    x = torch.randn(2, 10)
    assert residual(x).shape == (2, 4) and not torch.equal(plain(x), residual(x))


def test_gradient_norms_in_order_and_vanish_without_skips():
    seed_everything(0)
    x, y = torch.randn(32, 16), torch.randint(0, 3, (32,))
    norms = {}
    for skip in (False, True):
        seed_everything(0)
        net = BlockStack(16, 16, 8, 3, skip=skip)
        F.cross_entropy(net(x), y).backward()
        norms[skip] = weight_gradient_norms(net)
        assert len(norms[skip]) == 2 * 8 + 2
        assert norms[skip][-1] == pytest.approx(net.output_layer.weight.grad.norm().item())
    assert norms[True][0] > 100 * norms[False][0]


def test_gradient_norms_need_a_backward_pass():
    with pytest.raises(ValueError, match="no gradient"):
        weight_gradient_norms(BlockStack(4, 4, 1, 2))
