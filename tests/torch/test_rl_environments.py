import numpy as np
import pytest
import torch

from companion.torch.rl.environments import TabularMDP, grid_world
from companion.torch.rl.returns import reward_to_go


def coin_mdp(gamma=0.9):
    """State 0: the one action pays 1 and stays with probability 1/2, else ends (state 1)."""
    P = np.zeros((2, 1, 2))
    P[0, 0] = [0.5, 0.5]
    P[1, 0, 1] = 1.0
    R = np.zeros((2, 1, 2))
    R[0, 0, 0] = 1.0
    return TabularMDP(P, R, start=[1.0, 0.0], terminal=[False, True], gamma=gamma)


def test_policy_evaluation_hand_computed():
    # V = 1/2 (1 + gamma V)  =>  V = 0.5 / (1 - 0.5 gamma)
    values = coin_mdp(0.9).policy_evaluation(np.ones((2, 1)))
    np.testing.assert_allclose(values.numpy(), [0.5 / 0.55, 0.0])


def test_grid_world_transitions_by_hand():
    mdp = grid_world(("S.", ".G"), slip=0.2)
    assert mdp.n_states == 4 and mdp.terminal.tolist() == [False, False, False, True]
    # from S (0, 0), "right" (1): 0.8 + 0.05 right; up and left bump into the edge: stay
    np.testing.assert_allclose(mdp.transitions[0, 1], [0.1, 0.85, 0.05, 0.0])
    # entering G pays 1 and every step -0.02: from (0, 1) "down" reaches G with 0.85
    assert mdp.action_values(np.zeros(4))[1, 2].item() == pytest.approx(0.85 - 0.02)


def test_value_iteration_is_optimal_and_its_policy_achieves_it():
    mdp = grid_world()
    best, policy = mdp.value_iteration()
    q = mdp.action_values(best)
    torch.testing.assert_close(best[~torch.as_tensor(mdp.terminal)],
                               q.max(dim=1).values[~torch.as_tensor(mdp.terminal)])
    torch.testing.assert_close(mdp.policy_evaluation(policy), best, atol=1e-8, rtol=0)
    uniform = mdp.policy_evaluation(np.full((mdp.n_states, 4), 0.25))
    assert (best - uniform >= -1e-9).all() and (best - uniform).max() > 0.3


def test_monte_carlo_returns_match_the_exact_value():
    mdp = grid_world()
    policy = np.full((mdp.n_states, 4), 0.25)
    episodes = mdp.sample_episodes(policy, 4000, 100, rng=0)
    returns = reward_to_go(torch.as_tensor(episodes.rewards), mdp.gamma)[:, 0].numpy()
    exact = mdp.policy_evaluation(policy)[int(mdp.start.argmax())].item()
    assert abs(returns.mean() - exact) < 4 * returns.std() / np.sqrt(len(returns))
    # a step is taken exactly while the episode has not reached a terminal state
    np.testing.assert_array_equal(episodes.mask, ~mdp.terminal[episodes.states[:, :-1]])
    assert (episodes.rewards[~episodes.mask] == 0).all() and episodes.mask[:, 0].all()


def test_bad_arguments():
    with pytest.raises(ValueError, match="transitions must be probabilities"):
        TabularMDP(np.full((2, 1, 2), 0.7), np.zeros((2, 1, 2)), [1, 0], [False, True], 0.9)
    with pytest.raises(ValueError, match="gamma"):
        coin_mdp(gamma=1.0)
    with pytest.raises(ValueError, match="policy must be"):
        coin_mdp().policy_evaluation(np.ones((2, 2)))
    with pytest.raises(ValueError, match="exactly one start"):
        grid_world(("..", ".G"))
    with pytest.raises(ValueError, match="slip"):
        grid_world(slip=1.5)
    with pytest.raises(ValueError, match="n must be positive"):
        grid_world().sample_episodes(np.full((15, 4), 0.25), 0, 10)
