"""Fine-tuning a language model with a reward or with preferences: PPO with a KL penalty, and DPO.

The pieces are in :mod:`companion.torch.rl.policy_gradients` (PPO's loss, the KL-shaped rewards),
:mod:`companion.torch.rl.reward_models` (the rater) and :mod:`companion.torch.rl.dpo`; this module
runs them on a GPT.

A policy pi_theta (a :class:`companion.torch.models.gpt.GPT`) writes responses y = y_1..y_L of
a fixed length L after a fixed prompt x; pi_ref is the frozen model it started from.

:func:`rl_finetune` is PPO (Schulman et al. 2017) on the KL-penalised reward of Ziegler et al.
(2019). Each iteration samples a batch of B responses from the current policy, which becomes
pi_old, and scores each with the shaped reward and its advantage::

    R_i = r(y_i) - beta (log pi_old(y_i | x) - log pi_ref(y_i | x))   (the per-token KL
          penalties of :func:`~companion.torch.rl.policy_gradients.kl_penalised_rewards`, summed)
    A_i = R_i - mean_j R_j            (divided by std_j R_j if ``normalise``)

then takes ``epochs`` Adam steps on the same batch, minimising the clipped surrogate over
every response token t, with the per-token ratio rho_it = pi_theta(y_it | x, y_i<t) /
pi_old(y_it | x, y_i<t)::

    loss = -mean_{i,t} min(rho_it A_i, clip(rho_it, 1 - eps, 1 + eps) A_i)

The batch mean stands in for the learned value function (critic) of full PPO, so every token of
a response shares its response's advantage. On the first epoch rho = 1 and the step is the
REINFORCE step; the clip stops later epochs from pushing a token's probability further than a
factor 1 +- eps from where the batch was sampled. The mean of R over samples estimates
E_pi[r] - beta KL(pi || pi_ref); beta = 0 is plain reward maximisation.

:func:`dpo_finetune` is DPO (Rafailov et al. 2023) offline: pairs of responses are sampled
once from pi_ref, a rater says which of each pair it prefers, and the policy minimises
-log sigmoid(beta [(log pi_theta - log pi_ref)(y_w) - (log pi_theta - log pi_ref)(y_l)]) over
that fixed data set, with no reward model and no sampling from pi_theta. If the rater follows
Bradley-Terry with reward r, both methods aim at the same optimum pi* ~ pi_ref exp(r / beta).

Diagnostics: :func:`char_entropy` (entropy of the pooled character frequencies, bits) and
:func:`distinct_fraction` (share of distinct responses in a batch), the two numbers that show a
collapse of diversity.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.nn import functional as F

from companion.core.checks import as_index_array, as_rng, positive_int, real_number
from companion.torch.rl.dpo import dpo_loss
from companion.torch.rl.policy_gradients import kl_penalised_rewards, ppo_clip_loss
from companion.torch.rl.returns import gae_advantages

__all__ = ["sample_responses", "supervised_finetune", "rl_finetune", "preference_pairs",
           "dpo_finetune", "char_entropy", "distinct_fraction"]


def _check_prompt(prompt) -> torch.Tensor:
    if not isinstance(prompt, torch.Tensor) or prompt.dim() != 1 or prompt.numel() == 0:
        shape = tuple(prompt.shape) if isinstance(prompt, torch.Tensor) else type(prompt).__name__
        raise ValueError(f"prompt must be a non-empty 1-D tensor of ids (P,), got {shape}")
    return prompt


def sample_responses(model, prompt: torch.Tensor, n: int, length: int,
                     generator: torch.Generator | None = None) -> torch.Tensor:
    """n responses of ``length`` tokens after ``prompt`` (P,): returns (n, P + length) ids."""
    if not callable(getattr(model, "generate", None)):
        raise TypeError(f"model must be a language model with a generate method, got "
                        f"{type(model).__name__}")
    idx = _check_prompt(prompt).reshape(1, -1).expand(positive_int(n, "n"), -1)  # (n, P)
    return model.generate(idx, positive_int(length, "length"), generator=generator)


def supervised_finetune(model, prompt: torch.Tensor, responses: torch.Tensor, steps: int = 100,
                        batch_size: int = 32, lr: float = 1e-3, seed: int = 0) -> list[float]:
    """Supervised fine-tuning (SFT): raise log p(demonstration | prompt) with Adam, in place.

    Minimises -mean_{i,t} log p(y_it | x, y_i<t) over random minibatches of the demonstrations
    (only the response tokens are scored; gradients clipped to norm 1). Dropout is off.

    Args:
        model: a GPT. prompt: (P,) ids. responses: (N, L) demonstration ids.
        steps: Adam steps. batch_size: demonstrations per step. lr: Adam's learning rate.
        seed: seeds the minibatches.

    Returns:
        The loss (nats per response token) of every step.
    """
    P = _check_prompt(prompt).numel()
    if not isinstance(responses, torch.Tensor) or responses.dim() != 2 or len(responses) == 0:
        shape = tuple(responses.shape) if isinstance(responses, torch.Tensor) else None
        raise ValueError(f"responses must be a non-empty (N, L) tensor of ids, got {shape}")
    ids = torch.cat([prompt.expand(len(responses), P), responses], dim=1)  # (N, P + L)
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    model.eval()
    losses = []
    for _ in range(positive_int(steps, "steps")):
        pick = torch.randint(len(ids), (min(positive_int(batch_size, "batch_size"), len(ids)),),
                             generator=generator)
        loss = -model.token_log_probs(ids[pick.to(ids.device)])[:, P - 1:].mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        losses.append(loss.item())
    return losses


def rl_finetune(policy, reference, reward_fn, prompt: torch.Tensor, beta: float,
                iterations: int = 30, batch_size: int = 32, length: int = 10,
                lr: float = 1e-3, epochs: int = 4, clip: float = 0.2,
                normalise: bool = False, critic=None, lam: float = 0.95,
                metrics: dict | None = None, seed: int = 0) -> dict:
    """Fine-tune ``policy`` in place with KL-penalised PPO (see the module docstring).

    The policy stays in eval mode (no dropout), so that pi_theta = pi_old at the first epoch.

    With a ``critic`` (e.g. a :class:`~companion.torch.rl.reward_models.TransformerReward` made
    from the policy), the advantages are per token instead: the per-token KL-shaped rewards of
    :func:`~companion.torch.rl.policy_gradients.kl_penalised_rewards`, the critic's values
    V(s_t) = ``critic.scores`` at the last context position before token t (0 after the last
    token), and GAE(lambda) with gamma = 1 (:func:`~companion.torch.rl.returns.gae_advantages`);
    each epoch also takes an Adam step (rate ``lr``) on the critic's squared error to the
    lambda-returns A_t + V(s_t).

    Args:
        policy: a GPT, trained in place with Adam (gradients clipped to norm 1).
        reference: the frozen GPT it started from.
        reward_fn: maps (B, length) response ids (a CPU LongTensor) to (B,) rewards.
        prompt: (P,) ids conditioning every response.
        beta: KL coefficient >= 0 (0 removes the penalty).
        iterations: batches sampled from the policy. batch_size: B responses per batch.
        length: L tokens per response. lr: Adam's learning rate.
        epochs: Adam steps on each batch (each on the whole batch).
        clip: PPO's eps in (0, 1).
        normalise: divide the advantages by their standard deviation over the batch.
        critic: None (the batch mean is the baseline) or a model with ``scores`` (B, T) -> (B, T).
        lam: GAE's lambda in [0, 1], used with a critic.
        metrics: optional {name: fn}, each fn mapping (B, length) response ids to (B,) numbers;
            the batch mean of each is recorded under its name (e.g. a gold score).
        seed: seeds the sampling.

    Returns:
        dict of per-iteration lists, over the batch sampled from pi_old: ``reward`` (mean r),
        ``kl`` (mean log pi_old - log pi_ref, an estimate of KL(pi_old || pi_ref) in nats),
        ``ref_logp`` (mean log pi_ref(y | x)) and ``clip_fraction`` (share of the response
        tokens whose ratio lay outside [1 - eps, 1 + eps] when an epoch took its gradient,
        averaged over the epochs), and one list per entry of ``metrics``.
    """
    beta = real_number(beta, "beta", low=0.0)
    lam = real_number(lam, "lam", low=0.0, high=1.0)
    metrics = dict(metrics or {})
    clip = real_number(clip, "clip", low=0.0, high=1.0, low_inclusive=False,
                       high_inclusive=False)
    epochs = positive_int(epochs, "epochs")
    P = _check_prompt(prompt).numel()
    generator = torch.Generator(device=prompt.device).manual_seed(seed)
    optimizer = torch.optim.Adam(policy.parameters(), lr=lr)
    reference.eval()
    policy.eval()  # dropout off throughout, so that rho = 1 at the first epoch
    critic_optimizer = None if critic is None else torch.optim.Adam(critic.parameters(), lr=lr)
    history = {"reward": [], "kl": [], "ref_logp": [], "clip_fraction": [],
               **{name: [] for name in metrics}}
    for _ in range(positive_int(iterations, "iterations")):
        ids = sample_responses(policy, prompt, batch_size, length, generator)  # (B, P + L)
        with torch.no_grad():
            old_token_logp = policy.token_log_probs(ids)[:, P - 1:]  # (B, L)
            old_logp = old_token_logp.sum(dim=1)  # (B,)
            reward = torch.as_tensor(reward_fn(ids[:, P:].cpu()), dtype=old_logp.dtype)
            if reward.shape != old_logp.shape:
                raise ValueError(f"reward_fn must return ({len(ids)},) rewards, got shape "
                                 f"{tuple(reward.shape)}")
            ref_token_logp = reference.token_log_probs(ids)[:, P - 1:]  # (B, L)
            token_rewards = kl_penalised_rewards(reward.to(old_logp.device), old_token_logp,
                                                 ref_token_logp, beta)  # (B, L)
            if critic is None:
                shaped = token_rewards.sum(dim=1)  # (B,)
                token_advantages = (shaped - shaped.mean())[:, None].expand_as(token_rewards)
            else:
                values = F.pad(critic.scores(ids)[:, P - 1:-1], (0, 1))  # (B, L + 1), V(s_L) = 0
                token_advantages = gae_advantages(token_rewards, values, 1.0, lam)  # (B, L)
                targets = token_advantages + values[:, :-1]  # (B, L)
            if normalise:
                token_advantages = token_advantages / (token_advantages.std() + 1e-8)
        clipped = 0.0
        for _ in range(epochs):
            token_logp = policy.token_log_probs(ids)[:, P - 1:]  # (B, L)
            loss = ppo_clip_loss(token_logp.reshape(-1), old_token_logp.reshape(-1),
                                 token_advantages.reshape(-1), clip)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(policy.parameters(), 1.0)
            optimizer.step()
            ratio = torch.exp(token_logp.detach() - old_token_logp)  # (B, L)
            clipped += ((ratio - 1).abs() > clip).float().mean().item() / epochs
            if critic is not None:
                critic_loss = F.mse_loss(critic.scores(ids)[:, P - 1:-1], targets)
                critic_optimizer.zero_grad(set_to_none=True)
                critic_loss.backward()
                torch.nn.utils.clip_grad_norm_(critic.parameters(), 1.0)
                critic_optimizer.step()
        for name, fn in metrics.items():
            history[name].append(float(torch.as_tensor(fn(ids[:, P:].cpu())).double().mean()))
        history["reward"].append(reward.mean().item())
        ref_logp = ref_token_logp.sum(dim=1)  # (B,)
        history["kl"].append((old_logp - ref_logp).mean().item())
        history["ref_logp"].append(ref_logp.mean().item())
        history["clip_fraction"].append(clipped)
    return history


def _label_pairs(model, rater, prompt, n, length, generator, rng):
    """Two responses per pair from ``model``, ordered (chosen, rejected) by the rater."""
    compare = getattr(rater, "compare", rater)
    if not callable(compare):
        raise TypeError(f"rater must have a compare method or be callable, got "
                        f"{type(rater).__name__}")
    n, P = positive_int(n, "pairs"), prompt.numel()
    model.eval()
    first, second = (sample_responses(model, prompt, n, length, generator)
                     for _ in range(2))  # (N, P + L) each
    first_wins = np.asarray(compare(first[:, P:].cpu().numpy(), second[:, P:].cpu().numpy(),
                                    rng))
    if first_wins.shape != (n,):
        raise ValueError(f"the rater must return ({n},) preferences, got shape "
                         f"{first_wins.shape}")
    keep = torch.as_tensor(first_wins, dtype=torch.bool, device=first.device)[:, None]  # (N, 1)
    return torch.where(keep, first, second), torch.where(keep, second, first)


def preference_pairs(model, rater, prompt: torch.Tensor, pairs: int, length: int = 10,
                     seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """A preference data set: ``pairs`` pairs of responses from ``model``, labelled by ``rater``.

    Args:
        model: a GPT to sample from. rater: as for :func:`dpo_finetune`.
        prompt: (P,) ids. pairs: N. length: L tokens per response. seed: seeds the sampling
            and the rater's noise.

    Returns:
        (chosen, rejected), each (N, P + L) ids (prompt included), for
        :func:`~companion.torch.rl.reward_models.train_reward_model` and for ``dpo_finetune``'s
        ``data``, so that a reward model and DPO can learn from the same pairs.
    """
    if not callable(getattr(model, "generate", None)):
        raise TypeError(f"model must be a language model with a generate method, got "
                        f"{type(model).__name__}")
    _check_prompt(prompt)
    generator = torch.Generator(device=prompt.device).manual_seed(seed)
    return _label_pairs(model, rater, prompt, pairs, positive_int(length, "length"), generator,
                        as_rng(seed))


def dpo_finetune(policy, reference, rater, prompt: torch.Tensor, beta: float,
                 pairs: int = 2000, steps: int = 200, batch_size: int = 64, length: int = 10,
                 lr: float = 1e-3, seed: int = 0, data=None) -> dict:
    """Fine-tune ``policy`` in place with offline DPO on rater-labelled pairs from ``reference``.

    Draws ``pairs`` pairs (a_i, b_i) of responses from pi_ref once, asks the rater which of each
    it prefers, then takes ``steps`` Adam steps on :func:`companion.torch.rl.dpo.dpo_loss` over
    random minibatches of that fixed data set. Sampling from pi_ref rather than from the policy
    is the original DPO recipe and makes the data independent of training: the rater is asked
    once, as people are when a preference data set is collected.

    Args:
        policy: a GPT, trained in place with Adam (gradients clipped to norm 1).
        reference: the frozen GPT it started from.
        rater: an object with a ``compare(a, b, rng)`` method, or such a function: given
            (N, length) NumPy ids of two responses per pair and a NumPy generator, returns (N,)
            bool, True where it prefers a_i (e.g. a :class:`companion.torch.rl.reward_models.CountingOracle`).
        prompt: (P,) ids conditioning every response.
        beta: DPO's beta > 0.
        pairs: N labelled pairs. steps: Adam steps. batch_size: pairs per step.
        length: tokens per response. lr: Adam's learning rate.
        seed: seeds the sampling of the pairs, the rater's noise and the minibatches.
        data: None, or (chosen, rejected) (N, P + L) ids from :func:`preference_pairs` to train
            on instead of sampling ``pairs`` new pairs (``rater`` is then not used).

    Returns:
        dict of per-step lists over the minibatch: ``loss``; ``accuracy`` (share of pairs whose
        implicit reward beta (log pi - log pi_ref) ranks the chosen response higher);
        ``chosen`` and ``rejected`` (mean log pi - log pi_ref of each, nats).
    """
    beta = real_number(beta, "beta", low=0.0, low_inclusive=False)
    batch_size = positive_int(batch_size, "batch_size")
    P = _check_prompt(prompt).numel()
    generator = torch.Generator(device=prompt.device).manual_seed(seed)
    reference.eval()
    if data is None:
        chosen, rejected = _label_pairs(reference, rater, prompt, pairs, length, generator,
                                        as_rng(seed))
    else:
        chosen, rejected = data
        if (not isinstance(chosen, torch.Tensor) or chosen.shape != rejected.shape
                or chosen.dim() != 2 or len(chosen) == 0 or chosen.shape[1] <= P):
            raise ValueError("data must be two non-empty (N, P + L) id tensors of one shape")
    pairs = len(chosen)
    with torch.no_grad():
        ref_chosen = reference.sequence_log_prob(chosen, prompt_length=P)  # (N,)
        ref_rejected = reference.sequence_log_prob(rejected, prompt_length=P)  # (N,)
    optimizer = torch.optim.Adam(policy.parameters(), lr=lr)
    policy.train()
    history = {"loss": [], "accuracy": [], "chosen": [], "rejected": []}
    for _ in range(positive_int(steps, "steps")):
        pick = torch.randint(pairs, (min(batch_size, pairs),), generator=generator,
                             device=generator.device)
        logp_chosen = policy.sequence_log_prob(chosen[pick], prompt_length=P)  # (b,)
        logp_rejected = policy.sequence_log_prob(rejected[pick], prompt_length=P)  # (b,)
        loss = dpo_loss(logp_chosen, logp_rejected, ref_chosen[pick], ref_rejected[pick], beta)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(policy.parameters(), 1.0)
        optimizer.step()
        up_chosen = (logp_chosen.detach() - ref_chosen[pick])  # (b,)
        up_rejected = (logp_rejected.detach() - ref_rejected[pick])  # (b,)
        history["loss"].append(loss.item())
        history["accuracy"].append((up_chosen > up_rejected).float().mean().item())
        history["chosen"].append(up_chosen.mean().item())
        history["rejected"].append(up_rejected.mean().item())
    policy.eval()
    return history


def char_entropy(ids) -> float:
    """Entropy (bits) of the frequencies of all tokens in ``ids`` (any shape), pooled."""
    ids = as_index_array(np.asarray(ids), "ids").ravel()
    if ids.size == 0:
        raise ValueError("ids must not be empty")
    counts = np.unique(ids, return_counts=True)[1]
    p = counts / counts.sum()
    return float(-(p * np.log2(p)).sum())


def distinct_fraction(ids) -> float:
    """Number of distinct rows of ``ids`` (B, T) divided by B."""
    ids = np.asarray(ids)
    if ids.ndim != 2 or len(ids) == 0:
        raise ValueError(f"ids must be a non-empty (B, T) array, got shape {ids.shape}")
    return len(np.unique(ids, axis=0)) / len(ids)
