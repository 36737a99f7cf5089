"""Environments: a multi-armed bandit (no state) and finite Markov decision processes.

A finite MDP has S states, A actions, transition probabilities P(s' | s, a), rewards r(s, a, s'),
a start distribution rho(s), terminal states (absorbing, worth nothing) and a discount gamma in
[0, 1). A policy pi(a | s) is an (S, A) table. Its value V(s) = E[sum_t gamma^t r_t | s_0 = s]
solves the Bellman equation, a linear system (Sutton & Barto 2018, ch. 4):

    V = r_pi + gamma P_pi V,   r_pi(s) = sum_{a,s'} pi(a | s) P(s' | s, a) r(s,a,s'),
    P_pi(s, s') = sum_a pi(a | s) P(s' | s, a),

with the rows of terminal states set to zero, so that V = 0 there. Value iteration finds the best
value V*(s) = max_a sum_s' P(s' | s, a) (r(s,a,s') + gamma V*(s')) by repeating that update.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch

from companion.core.checks import as_float_array, as_rng, positive_int, real_number

__all__ = ["GaussianBandit", "TabularMDP", "Episodes", "grid_world"]


class GaussianBandit:
    """K arms; pulling arm a pays mu_a + sigma * N(0, 1).

    Args:
        means: (K,) expected reward of each arm.
        noise: sigma, the standard deviation of the reward noise.
    """

    def __init__(self, means, noise: float = 1.0):
        self.means = as_float_array(means, "means", ndim=1, shape_hint="(K,)")
        if len(self.means) < 2:
            raise ValueError(f"means must hold at least 2 arms, got shape {self.means.shape}")
        self.noise = real_number(noise, "noise", low=0.0)

    @property
    def n_arms(self) -> int:
        return len(self.means)

    def pull(self, actions, rng=None) -> np.ndarray:
        """Rewards (N,) for the arms ``actions`` (N,) int, with noise drawn from ``rng``."""
        actions = np.asarray(actions)
        return self.means[actions] + self.noise * as_rng(rng).standard_normal(actions.shape)


@dataclasses.dataclass
class Episodes:
    """N episodes of at most H steps, padded after they end (H is the longest one's length).

    Attributes:
        states: (N, H + 1) int, s_0 .. s_H; after a terminal state the episode stays there.
        actions: (N, H) int, a_t (0 where the episode had ended).
        rewards: (N, H) float, r_t = r(s_t, a_t, s_t+1) (0 where the episode had ended).
        mask: (N, H) bool, True where step t was taken.
    """

    states: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    mask: np.ndarray


class TabularMDP:
    """A finite MDP given by its tables (see the module docstring for the maths).

    Args:
        transitions: (S, A, S) P(s' | s, a); each [s, a] row sums to 1.
        rewards: (S, A, S) r(s, a, s').
        start: (S,) the distribution of s_0.
        terminal: (S,) bool, the absorbing states where episodes end.
        gamma: the discount in [0, 1).
    """

    def __init__(self, transitions, rewards, start, terminal, gamma: float):
        self.transitions = as_float_array(transitions, "transitions", ndim=3,
                                          shape_hint="(S, A, S)")
        S, A, S2 = self.transitions.shape
        if S != S2 or S == 0 or A == 0:
            raise ValueError(f"transitions must be (S, A, S) with S, A >= 1, got shape "
                             f"{self.transitions.shape}")
        if (self.transitions < 0).any() or not np.allclose(self.transitions.sum(-1), 1.0):
            raise ValueError("transitions must be probabilities: non-negative, each [s, a] row "
                             "summing to 1")
        self.rewards = as_float_array(rewards, "rewards", ndim=3)
        if self.rewards.shape != self.transitions.shape:
            raise ValueError(f"rewards must have the shape of transitions {(S, A, S)}, got "
                             f"{self.rewards.shape}")
        self.start = as_float_array(start, "start", ndim=1)
        if self.start.shape != (S,) or not np.isclose(self.start.sum(), 1.0):
            raise ValueError(f"start must be a distribution over the {S} states, got shape "
                             f"{self.start.shape} summing to {self.start.sum():g}")
        self.terminal = np.asarray(terminal)
        if not (self.terminal.dtype == bool or np.issubdtype(self.terminal.dtype, np.integer)):
            raise TypeError(f"terminal must hold booleans, got dtype {self.terminal.dtype}")
        self.terminal = self.terminal.astype(bool)
        if self.terminal.shape != (S,):
            raise ValueError(f"terminal must be ({S},) bool, got shape {self.terminal.shape}")
        self.gamma = real_number(gamma, "gamma", low=0.0, high=1.0, high_inclusive=False)

    @property
    def n_states(self) -> int:
        return self.transitions.shape[0]

    @property
    def n_actions(self) -> int:
        return self.transitions.shape[1]

    def _policy(self, policy) -> torch.Tensor:
        policy = torch.as_tensor(policy, dtype=torch.float64)
        if policy.shape != (self.n_states, self.n_actions):
            raise ValueError(f"policy must be (S, A) = {(self.n_states, self.n_actions)}, got "
                             f"{tuple(policy.shape)}")
        return policy

    def policy_evaluation(self, policy) -> torch.Tensor:
        """Exact V_pi (S,), float64, by solving the Bellman equation; differentiable in policy.

        Args:
            policy: (S, A) pi(a | s), a tensor (gradients flow through it) or an array.
        """
        policy = self._policy(policy)
        P = torch.as_tensor(self.transitions)  # (S, A, S)
        expected = (P * torch.as_tensor(self.rewards)).sum(-1)  # (S, A)
        live = torch.as_tensor(~self.terminal, dtype=torch.float64)  # (S,)
        r_pi = live * (policy * expected).sum(-1)  # (S,)
        P_pi = live[:, None] * torch.einsum("sa,sat->st", policy, P)  # (S, S)
        eye = torch.eye(self.n_states, dtype=torch.float64)
        return torch.linalg.solve(eye - self.gamma * P_pi, r_pi)  # (S,)

    def action_values(self, values) -> torch.Tensor:
        """Q(s, a) = sum_s' P(s' | s, a) (r(s,a,s') + gamma V(s')): (S,) -> (S, A)."""
        values = torch.as_tensor(values, dtype=torch.float64)
        if values.shape != (self.n_states,):
            raise ValueError(f"values must be ({self.n_states},), got {tuple(values.shape)}")
        P, R = torch.as_tensor(self.transitions), torch.as_tensor(self.rewards)
        return (P * (R + self.gamma * values)).sum(-1)  # (S, A, S) -> (S, A)

    def value_iteration(self, tol: float = 1e-10, max_iterations: int = 10_000):
        """(V*, pi*): the optimal values (S,) and a greedy deterministic policy (S, A)."""
        live = torch.as_tensor(~self.terminal, dtype=torch.float64)
        values = torch.zeros(self.n_states, dtype=torch.float64)
        for _ in range(positive_int(max_iterations, "max_iterations")):
            new = live * self.action_values(values).max(dim=1).values  # (S,)
            done = (new - values).abs().max().item() < tol
            values = new
            if done:
                break
        best = self.action_values(values).argmax(dim=1)  # (S,)
        return values, torch.eye(self.n_actions, dtype=torch.float64)[best]

    def sample_episodes(self, policy, n: int, horizon: int, rng=None) -> Episodes:
        """Run ``n`` episodes of the policy (S, A) for at most ``horizon`` steps, all at once.

        Episodes stop at a terminal state; ones still running after ``horizon`` steps are cut
        there (the lost return is at most gamma^horizon max|r| / (1 - gamma)). The arrays have
        H = the length of the longest episode (at most ``horizon``) steps.
        """
        policy = self._policy(policy).detach().numpy()
        n, horizon, rng = positive_int(n, "n"), positive_int(horizon, "horizon"), as_rng(rng)
        states = np.zeros((n, horizon + 1), dtype=np.int64)
        actions = np.zeros((n, horizon), dtype=np.int64)
        rewards = np.zeros((n, horizon))
        mask = np.zeros((n, horizon), dtype=bool)
        s = rng.choice(self.n_states, size=n, p=self.start)  # (N,)
        policy_cdf, transition_cdf = policy.cumsum(-1), self.transitions.cumsum(-1)
        for t in range(horizon):
            states[:, t] = s
            live = ~self.terminal[s]  # (N,)
            if not live.any():  # every episode has ended: drop the empty steps
                return Episodes(states[:, :t + 1], actions[:, :t], rewards[:, :t], mask[:, :t])
            a = (rng.random((n, 1)) > policy_cdf[s]).sum(1).clip(max=self.n_actions - 1)
            nxt = (rng.random((n, 1)) > transition_cdf[s, a]).sum(1).clip(max=self.n_states - 1)
            actions[:, t] = np.where(live, a, 0)
            rewards[:, t] = np.where(live, self.rewards[s, a, nxt], 0.0)
            mask[:, t] = live
            s = np.where(live, nxt, s)
        states[:, horizon] = s
        return Episodes(states, actions, rewards, mask)


MOVES = ((-1, 0), (0, 1), (1, 0), (0, -1))  # up, right, down, left


def grid_world(layout=("...G", ".#.X", "....", "S..."), slip: float = 0.2,
               gamma: float = 0.9, goal_reward: float = 1.0, pit_reward: float = -1.0,
               step_reward: float = -0.02) -> TabularMDP:
    """A grid world as a :class:`TabularMDP`: one state per open cell, four actions.

    Cells: ``S`` start, ``G`` goal (terminal, entering it pays ``goal_reward``), ``X`` pit
    (terminal, ``pit_reward``), ``#`` wall, ``.`` open. Actions 0-3 move up, right, down, left;
    with probability ``slip`` the move is replaced by one of the four drawn uniformly. A move into
    a wall or off the grid stays put. Every step also pays ``step_reward``.

    Returns:
        The MDP, with ``cells`` (S, 2) the (row, column) of each state and ``layout`` attached.
    """
    if not isinstance(layout, (tuple, list)):
        raise TypeError(f"layout must be a tuple of row strings, got {type(layout).__name__}")
    rows = [str(row) for row in layout]
    if not rows or len({len(row) for row in rows}) != 1:
        raise ValueError(f"layout must be equal-length strings, got {layout!r}")
    if sum(row.count("S") for row in rows) != 1:
        raise ValueError("layout must hold exactly one start cell 'S'")
    slip = real_number(slip, "slip", low=0.0, high=1.0)
    goal_reward, pit_reward, step_reward = (real_number(value, name) for name, value in (
        ("goal_reward", goal_reward), ("pit_reward", pit_reward), ("step_reward", step_reward)))
    cells = [(i, j) for i, row in enumerate(rows) for j, c in enumerate(row) if c != "#"]
    index = {cell: k for k, cell in enumerate(cells)}
    S, A = len(cells), len(MOVES)
    kind = [rows[i][j] for i, j in cells]
    P, R = np.zeros((S, A, S)), np.zeros((S, A, S))
    for s, (i, j) in enumerate(cells):
        for a in range(A):
            for move, p in enumerate(np.full(A, slip / A) + (1 - slip) * np.eye(A)[a]):
                target = (i + MOVES[move][0], j + MOVES[move][1])
                nxt = index.get(target, s)  # a wall or the edge: stay
                P[s, a, nxt] += p
        R[s] = step_reward
    for s, c in enumerate(kind):
        R[:, :, s] += {"G": goal_reward, "X": pit_reward}.get(c, 0.0)
    mdp = TabularMDP(P, R, start=np.eye(S)[kind.index("S")],
                     terminal=np.isin(kind, ["G", "X"]), gamma=gamma)
    mdp.cells, mdp.layout = np.array(cells), tuple(rows)
    return mdp
