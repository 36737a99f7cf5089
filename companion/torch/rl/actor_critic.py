"""Policy gradients with states: REINFORCE, a learned value baseline, and actor-critic with GAE.

A tabular softmax policy pi(a | s) = softmax(theta[s])_a over a :class:`TabularMDP` has the
objective J(theta) = sum_s rho(s) V_pi(s). The policy-gradient theorem (Sutton & Barto 2018,
ch. 13) gives, for episodes tau ~ pi,

    grad J = E_tau[ sum_t w_t grad log pi(a_t | s_t) ]

for each of these weights w_t (the ``estimator``):

- ``"return"``: w_t = G_0, the whole episode's discounted return, at every step (REINFORCE as
  first written);
- ``"reward_to_go"``: w_t = gamma^t G_t, only the rewards from step t on (the rewards before t
  cannot depend on a_t, so dropping them changes nothing on average);
- ``"baseline"``: w_t = gamma^t (G_t - V(s_t)), with a learned state value V (the critic);
- ``"gae"``: w_t = gamma^t A_t, the GAE(lambda) advantage from V's TD residuals (actor-critic).

The first three are unbiased whatever V is; GAE is unbiased when V = V_pi and otherwise trades
a bias for less variance. The critic V (S,) is fit by least squares to G_t (``"baseline"``) or
to the lambda-return A_t + V(s_t) (``"gae"``).
"""

from __future__ import annotations

import numpy as np
import torch

from companion.core.checks import as_float_array, positive_int, real_number
from companion.torch.rl.environments import Episodes, TabularMDP
from companion.torch.rl.returns import gae_advantages, reward_to_go

__all__ = ["ESTIMATORS", "step_weights", "episode_gradients", "train_policy"]

ESTIMATORS = ("return", "reward_to_go", "baseline", "gae")


def _check(mdp, episodes):
    if not isinstance(mdp, TabularMDP):
        raise TypeError(f"mdp must be a TabularMDP, got {type(mdp).__name__}")
    if not isinstance(episodes, Episodes):
        raise TypeError(f"episodes must be Episodes, got {type(episodes).__name__}")


def step_weights(mdp: TabularMDP, episodes: Episodes, estimator: str, values=None,
                 lam: float = 0.95) -> torch.Tensor:
    """The weights w_t of the module docstring, for every step of every episode: (N, H).

    They are 0 after an episode ends.

    Args:
        mdp: the environment (its discount gamma and terminal states).
        episodes: N episodes of at most H steps.
        estimator: one of :data:`ESTIMATORS` (see the module docstring).
        values: (S,) the critic V, needed by ``"baseline"`` and ``"gae"``; terminal states
            count as 0 whatever it holds.
        lam: GAE's lambda in [0, 1].
    """
    _check(mdp, episodes)
    if estimator not in ESTIMATORS:
        raise ValueError(f"estimator must be one of {ESTIMATORS}, got {estimator!r}")
    rewards = torch.as_tensor(episodes.rewards)  # (N, H)
    mask = torch.as_tensor(episodes.mask, dtype=rewards.dtype)  # (N, H)
    returns = reward_to_go(rewards, mdp.gamma)  # (N, H)
    if estimator == "return":
        return returns[:, :1] * mask
    if estimator == "reward_to_go":
        psi = returns
    else:
        if values is None:
            raise ValueError(f"estimator {estimator!r} needs values (S,)")
        if not isinstance(values, torch.Tensor):
            values = as_float_array(values, "values")
        values = torch.as_tensor(values, dtype=rewards.dtype).detach()
        if values.shape != (mdp.n_states,):
            raise ValueError(f"values must be ({mdp.n_states},), got {tuple(values.shape)}")
        values = values * torch.as_tensor(~mdp.terminal, dtype=rewards.dtype)
        state_values = values[torch.as_tensor(episodes.states)]  # (N, H + 1)
        psi = (returns - state_values[:, :-1] if estimator == "baseline"
               else gae_advantages(rewards, state_values, mdp.gamma, lam))
    discount = mdp.gamma ** torch.arange(rewards.shape[1], dtype=rewards.dtype)  # (H,)
    return discount * psi * mask


def episode_gradients(policy, episodes: Episodes, weights) -> np.ndarray:
    """One estimate of grad J per episode, in closed form for a tabular softmax policy.

    g_i = sum_t w_it (onehot(a_it) - pi(. | s_it)) in row s_it of an (S, A) array, since
    d log pi(a | s) / d theta[s'] = [s = s'] (onehot(a) - pi(. | s)).

    Args:
        policy: (S, A) pi(a | s). episodes: N episodes. weights: (N, H) w_it, e.g.
            :func:`step_weights` (0 where an episode had ended).

    Returns:
        (N, S, A); their mean estimates grad J.
    """
    if not isinstance(episodes, Episodes):
        raise TypeError(f"episodes must be Episodes, got {type(episodes).__name__}")
    policy = as_float_array(policy, "policy", ndim=2, shape_hint="(S, A)")
    weights = as_float_array(weights, "weights", ndim=2, shape_hint="(N, H)")
    N, H = episodes.actions.shape
    if weights.shape != (N, H):
        raise ValueError(f"weights must be (N, H) = {(N, H)}, got {weights.shape}")
    S, A = policy.shape
    states = episodes.states[:, :H]  # (N, H)
    score = np.eye(A)[episodes.actions] - policy[states]  # (N, H, A)
    grads = np.zeros((N, S, A))
    rows = np.repeat(np.arange(N), H)  # (N H,)
    np.add.at(grads, (rows, states.ravel()), (weights[..., None] * score).reshape(N * H, A))
    return grads


def train_policy(mdp: TabularMDP, estimator: str, iterations: int = 100, episodes: int = 16,
                 horizon: int = 100, lr: float = 0.1, value_lr: float = 0.1,
                 lam: float = 0.95, seed: int = 0) -> dict:
    """Learn a tabular softmax policy (logits start at zero) by policy gradient and Adam.

    Each iteration samples ``episodes`` episodes, takes one Adam step on the policy with
    -(1/N) sum_{i,t} w_it log pi(a_it | s_it), and, for ``"baseline"`` and ``"gae"``,
    one Adam step on the critic V (S,) (starting at zero) towards its targets.

    Returns:
        dict with ``objective`` (iterations,) the exact J after each step (by policy
        evaluation, so the curve carries no evaluation noise), ``logits`` (S, A) and
        ``values`` (S,) (zeros when no critic is used).
    """
    if not isinstance(mdp, TabularMDP):
        raise TypeError(f"mdp must be a TabularMDP, got {type(mdp).__name__}")
    if estimator not in ESTIMATORS:
        raise ValueError(f"estimator must be one of {ESTIMATORS}, got {estimator!r}")
    iterations = positive_int(iterations, "iterations")
    episodes, horizon = positive_int(episodes, "episodes"), positive_int(horizon, "horizon")
    lam = real_number(lam, "lam", low=0.0, high=1.0)
    rng = np.random.default_rng(seed)
    logits = torch.zeros(mdp.n_states, mdp.n_actions, dtype=torch.float64, requires_grad=True)
    values = torch.zeros(mdp.n_states, dtype=torch.float64, requires_grad=True)
    actor = torch.optim.Adam([logits], lr=lr)
    critic = torch.optim.Adam([values], lr=value_lr)
    start = torch.as_tensor(mdp.start)
    objective = []
    for _ in range(iterations):
        policy = torch.softmax(logits, dim=1)  # (S, A)
        batch = mdp.sample_episodes(policy.detach(), episodes, horizon, rng)
        weights = step_weights(mdp, batch, estimator, values.detach(), lam)  # (N, H)
        states = torch.as_tensor(batch.states[:, :-1])  # (N, H)
        log_pi = torch.log_softmax(logits, dim=1)[states, torch.as_tensor(batch.actions)]
        actor.zero_grad()
        (-(weights * log_pi).sum() / episodes).backward()
        actor.step()
        if estimator in ("baseline", "gae"):
            mask = torch.as_tensor(batch.mask, dtype=torch.float64)
            rewards = torch.as_tensor(batch.rewards)
            if estimator == "baseline":
                targets = reward_to_go(rewards, mdp.gamma)  # (N, H)
            else:
                live = values.detach() * torch.as_tensor(~mdp.terminal, dtype=torch.float64)
                state_values = live[torch.as_tensor(batch.states)]  # (N, H + 1)
                targets = (gae_advantages(rewards, state_values, mdp.gamma, lam)
                           + state_values[:, :-1])
            error = (values[states] - targets) * mask  # (N, H)
            critic.zero_grad()
            ((error ** 2).sum() / mask.sum().clamp(min=1)).backward()
            critic.step()
        with torch.no_grad():
            objective.append(float(start @ mdp.policy_evaluation(torch.softmax(logits, 1))))
    return {"objective": np.array(objective), "logits": logits.detach().numpy().copy(),
            "values": values.detach().numpy().copy()}
