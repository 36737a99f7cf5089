import numpy as np
import pytest
import torch

from companion.torch.rl.actor_critic import (ESTIMATORS, episode_gradients, step_weights,
                                             train_policy)
from companion.torch.rl.environments import Episodes, grid_world


def test_step_weights_hand_computed():
    mdp = grid_world(("S.", ".G"), gamma=0.5)
    # two steps 0 -> 1 -> 3 (G), rewards 0 then 1; then padding
    episodes = Episodes(states=np.array([[0, 1, 3, 3]]), actions=np.array([[1, 2, 0]]),
                        rewards=np.array([[0.0, 1.0, 0.0]]),
                        mask=np.array([[True, True, False]]))
    values = torch.tensor([0.2, 0.6, 0.0, 5.0])  # the terminal's 5 must be ignored
    # G = (0.5, 1, 0); "return" weighs every step by G_0, the others by gamma^t = (1, 0.5, 0.25)
    w = {e: step_weights(mdp, episodes, e, values, lam=0.5).numpy() for e in ESTIMATORS}
    np.testing.assert_allclose(w["return"], [[0.5, 0.5, 0.0]])
    np.testing.assert_allclose(w["reward_to_go"], [[0.5, 0.5, 0.0]])
    np.testing.assert_allclose(w["baseline"], [[0.3, 0.2, 0.0]])
    # delta = (0 + 0.3 - 0.2, 1 + 0 - 0.6) = (0.1, 0.4); A = (0.1 + 0.25 * 0.4, 0.4)
    np.testing.assert_allclose(w["gae"], [[0.2, 0.2, 0.0]], rtol=1e-6)
    with pytest.raises(ValueError, match="needs values"):
        step_weights(mdp, episodes, "gae")
    with pytest.raises(ValueError, match="estimator"):
        step_weights(mdp, episodes, "q-learning")


def test_episode_gradients_match_autograd():
    mdp = grid_world()
    logits = torch.randn(mdp.n_states, 4, dtype=torch.float64,
                         generator=torch.Generator().manual_seed(0), requires_grad=True)
    policy = torch.softmax(logits, 1)
    episodes = mdp.sample_episodes(policy.detach(), 5, 30, rng=1)
    weights = step_weights(mdp, episodes, "reward_to_go")
    log_pi = torch.log_softmax(logits, 1)[torch.as_tensor(episodes.states[:, :-1]),
                                          torch.as_tensor(episodes.actions)]
    (weights * log_pi).sum().backward()
    ours = episode_gradients(policy.detach(), episodes, weights).sum(0)
    np.testing.assert_allclose(ours, logits.grad.numpy(), rtol=1e-10, atol=1e-12)
    with pytest.raises(ValueError, match="weights must be"):
        episode_gradients(policy.detach(), episodes, weights[:, :-1])
    with pytest.raises(TypeError, match="episodes"):
        episode_gradients(policy.detach(), "episodes", weights)


def test_every_estimator_is_unbiased_with_the_exact_critic():
    mdp = grid_world()
    logits = torch.zeros(mdp.n_states, 4, dtype=torch.float64, requires_grad=True)
    policy = torch.softmax(logits, 1)
    values = mdp.policy_evaluation(policy)
    values[int(mdp.start.argmax())].backward()  # the exact gradient of J
    episodes = mdp.sample_episodes(policy.detach(), 6000, 100, rng=0)
    variance = {}
    for estimator in ESTIMATORS:
        g = episode_gradients(policy.detach(), episodes,
                              step_weights(mdp, episodes, estimator, values.detach(), 0.9))
        g = g.reshape(len(g), -1)
        error = g.mean(0) - logits.grad.numpy().ravel()
        standard_error = g.std(0) / np.sqrt(len(g)) + 1e-12
        assert np.abs(error / standard_error).max() < 5, estimator
        variance[estimator] = g.var(0).sum()
    assert variance["reward_to_go"] < variance["return"]
    assert variance["baseline"] < variance["reward_to_go"]
    assert variance["gae"] < variance["baseline"]


def test_train_policy_learns_towards_the_optimum():
    mdp = grid_world()
    best = mdp.value_iteration()[0][int(mdp.start.argmax())].item()
    history = train_policy(mdp, "gae", iterations=60, episodes=16, seed=0)
    assert history["objective"][0] < 0.1 and history["objective"][-1] > 0.8 * best
    assert np.abs(history["values"]).max() > 0.1  # the critic was trained
    with pytest.raises(ValueError, match="estimator"):
        train_policy(mdp, "sarsa")
    with pytest.raises(TypeError, match="mdp"):
        train_policy("grid", "gae")
