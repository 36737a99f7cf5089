import math

import numpy as np
import pytest
import torch

from companion.torch.rl.dpo import dpo_loss, kl_regularised_optimum


def test_dpo_hand_computed_and_gradient():
    # margin = (-1 + 1.5) - (-2 + 1.5) = 1; beta * margin = 0.5
    chosen = torch.tensor([-1.0], requires_grad=True)
    loss = dpo_loss(chosen, torch.tensor([-2.0]), torch.tensor([-1.5]), torch.tensor([-1.5]),
                    beta=0.5)
    assert loss.item() == pytest.approx(math.log1p(math.exp(-0.5)))
    loss.backward()  # d/dx -log sigmoid(0.5 x) at x = 1: -0.5 sigmoid(-0.5)
    assert chosen.grad.item() == pytest.approx(-0.5 / (1 + math.exp(0.5)))


def test_dpo_rejects_bad_arguments():
    z = torch.zeros(2)
    with pytest.raises(ValueError, match="beta"):
        dpo_loss(z, z, z, z, beta=0.0)
    with pytest.raises(ValueError, match="beta"):
        dpo_loss(z, z, z, z, beta=-1.0)
    with pytest.raises(ValueError, match="ref_logp_rejected must have the shape"):
        dpo_loss(z, z, z, torch.zeros(3), beta=0.1)
    with pytest.raises(ValueError, match="empty"):
        dpo_loss(*(torch.zeros(0),) * 4, beta=0.1)


def test_kl_regularised_optimum_hand_computed():
    np.testing.assert_allclose(kl_regularised_optimum([0.5, 0.5], [0.0, math.log(3)], 1.0),
                               [0.25, 0.75])
    np.testing.assert_allclose(kl_regularised_optimum([0.2, 0.8], [1e4, 0.0], 1e-2), [1.0, 0.0])
    with pytest.raises(ValueError, match="beta"):
        kl_regularised_optimum([0.5, 0.5], [0.0, 1.0], -1.0)
    with pytest.raises(ValueError, match="one shape"):
        kl_regularised_optimum([0.5, 0.5], [0.0, 1.0, 2.0], 1.0)
