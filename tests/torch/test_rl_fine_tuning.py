import copy

import numpy as np
import pytest
import torch

from companion.torch.models.gpt import GPT, GPTConfig
from companion.torch.rl.fine_tuning import (char_entropy, distinct_fraction, dpo_finetune,
                                            rl_finetune, sample_responses)
from companion.torch.rl.policy_gradients import reinforce_loss
from companion.torch.rl.reward_models import CountingOracle

CONFIG = GPTConfig(vocab_size=6, block_size=8, n_layer=1, n_head=1, n_embd=8, dropout=0.0)
PROMPT = torch.tensor([0])


def tiny_gpt(seed=0):
    torch.manual_seed(seed)
    return GPT(CONFIG)


def count_threes(y):
    return (y == 3).sum(dim=1).float()


def mean_threes(model, n=400):
    ids = sample_responses(model, PROMPT, n, 4, torch.Generator().manual_seed(7))
    return count_threes(ids[:, 1:]).mean().item()


def test_char_entropy_and_distinct():
    assert char_entropy([[0, 0], [0, 0]]) == 0.0
    assert char_entropy([[0, 1], [2, 3]]) == pytest.approx(2.0)
    assert distinct_fraction(np.array([[1, 2], [1, 2], [3, 4], [5, 6]])) == 0.75
    with pytest.raises(ValueError):
        distinct_fraction(np.array([1, 2]))


def test_rl_finetune_raises_reward_and_kl_penalty_limits_drift():
    ref = tiny_gpt()
    results = {}
    for beta in (0.3, 0.0):
        policy = copy.deepcopy(ref)
        hist = rl_finetune(policy, ref, count_threes, PROMPT, beta, iterations=15,
                           batch_size=32, length=4, lr=3e-2, seed=0)
        results[beta] = hist
        assert set(hist) == {"reward", "kl", "ref_logp", "clip_fraction"}
        assert np.mean(hist["reward"][-5:]) > np.mean(hist["reward"][:3]) + 0.5
    assert np.mean(results[0.3]["kl"][-5:]) < np.mean(results[0.0]["kl"][-5:])
    out = sample_responses(ref, PROMPT, 3, 4)
    assert out.shape == (3, 5) and (out[:, 0] == 0).all()


def test_first_ppo_epoch_is_the_reinforce_gradient():
    # one batch, one epoch: rho = 1, nothing is clipped, and the gradient of the clipped
    # surrogate (a mean over B * L tokens) is the REINFORCE gradient on the shaped reward / L
    policy, ref = tiny_gpt(0), tiny_gpt(1)  # a reference that differs, so the KL term counts
    start = copy.deepcopy(policy)
    small = lambda y: 0.01 * count_threes(y)  # small enough that no gradient is norm-clipped
    hist = rl_finetune(policy, ref, small, PROMPT, 0.05, iterations=1, batch_size=16, length=4,
                       epochs=1, seed=3)
    assert hist["clip_fraction"] == [0.0]
    ids = sample_responses(start, PROMPT, 16, 4, torch.Generator().manual_seed(3))
    logp = start.sequence_log_prob(ids)
    with torch.no_grad():
        shaped = small(ids[:, 1:]) - 0.05 * (logp - ref.sequence_log_prob(ids))
    (reinforce_loss(logp, shaped, shaped.mean()) / 4).backward()
    norm = torch.sqrt(sum((p.grad ** 2).sum() for p in start.parameters()))
    assert 0 < norm < 1
    for (name, p), q in zip(policy.named_parameters(), start.parameters()):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-4, atol=1e-9,
                                   err_msg=name)


def test_ppo_clip_limits_how_far_one_batch_moves_the_policy():
    ref = tiny_gpt()
    drift = {}
    for clip in (0.02, 0.9):
        policy = copy.deepcopy(ref)
        hist = rl_finetune(policy, ref, count_threes, PROMPT, 0.0, iterations=2, batch_size=32,
                           length=4, lr=3e-2, epochs=8, clip=clip, seed=0)
        drift[clip] = hist["kl"][1]  # KL to the start after one batch of 8 epochs
        assert hist["clip_fraction"][0] > 0
    assert drift[0.02] < 0.5 * drift[0.9]


def test_rl_finetune_rejects_bad_arguments():
    ref = tiny_gpt()
    with pytest.raises(ValueError, match="beta"):
        rl_finetune(copy.deepcopy(ref), ref, count_threes, PROMPT, -1.0, iterations=1)
    with pytest.raises(ValueError, match="clip"):
        rl_finetune(copy.deepcopy(ref), ref, count_threes, PROMPT, 0.1, clip=1.5)
    with pytest.raises(ValueError, match="epochs"):
        rl_finetune(copy.deepcopy(ref), ref, count_threes, PROMPT, 0.1, epochs=0)
    with pytest.raises(ValueError, match="prompt"):
        rl_finetune(copy.deepcopy(ref), ref, count_threes, torch.tensor(0), 0.1)
    with pytest.raises(ValueError, match="reward_fn"):
        rl_finetune(copy.deepcopy(ref), ref, lambda y: count_threes(y)[:1], PROMPT, 0.1,
                    iterations=1, length=4)


def test_dpo_finetune_moves_towards_the_raters_preference():
    ref = tiny_gpt()
    oracle = CountingOracle([3])
    policies = {}
    for name, rater in [("likes 3", oracle), ("dislikes 3", lambda a, b, rng:
                                                ~oracle.compare(a, b, rng))]:
        policy = copy.deepcopy(ref)
        hist = dpo_finetune(policy, ref, rater, PROMPT, 0.5, pairs=400, steps=40,
                            batch_size=64, length=4, lr=3e-2, seed=0)
        assert set(hist) == {"loss", "accuracy", "chosen", "rejected"}
        assert np.mean(hist["loss"][-5:]) < np.mean(hist["loss"][:5]) - 0.05
        assert np.mean(hist["accuracy"][-5:]) > 0.65
        assert np.mean(hist["chosen"][-5:]) > np.mean(hist["rejected"][-5:])
        policies[name] = policy
    all_threes = torch.tensor([[0, 3, 3, 3, 3]])
    gain = {k: (p.sequence_log_prob(all_threes) - ref.sequence_log_prob(all_threes)).item()
            for k, p in policies.items()}
    assert gain["likes 3"] > 1.0 and gain["dislikes 3"] < -1.0
    assert mean_threes(policies["likes 3"]) > mean_threes(ref) + 0.5
    assert mean_threes(policies["dislikes 3"]) < mean_threes(ref) - 0.3


def test_dpo_finetune_rejects_bad_arguments():
    ref = tiny_gpt()
    oracle = CountingOracle([3])
    with pytest.raises(ValueError, match="beta"):
        dpo_finetune(copy.deepcopy(ref), ref, oracle, PROMPT, 0.0)
    with pytest.raises(TypeError, match="rater"):
        dpo_finetune(copy.deepcopy(ref), ref, "oracle", PROMPT, 0.1)
    with pytest.raises(ValueError, match="rater must return"):
        dpo_finetune(copy.deepcopy(ref), ref, lambda a, b, rng: np.ones(3, bool), PROMPT, 0.1,
                     pairs=5, length=4)


def test_supervised_finetune_raises_the_demonstrations_likelihood():
    from companion.torch.rl.fine_tuning import supervised_finetune
    model = tiny_gpt()
    demos = torch.tensor([[3, 3, 1, 3]] * 8 + [[3, 2, 3, 3]] * 8)
    before = model.sequence_log_prob(torch.cat([PROMPT.expand(16, 1), demos], 1)).mean().item()
    losses = supervised_finetune(model, PROMPT, demos, steps=60, batch_size=8, lr=3e-2)
    after = model.sequence_log_prob(torch.cat([PROMPT.expand(16, 1), demos], 1)).mean().item()
    assert after > before + 2.0 and losses[-1] < losses[0] - 0.5
    assert mean_threes(model) > mean_threes(tiny_gpt()) + 1.0
    with pytest.raises(ValueError, match="responses"):
        supervised_finetune(model, PROMPT, torch.zeros(0, 4, dtype=torch.long))


def test_rl_finetune_with_a_critic_learns_values_and_records_metrics():
    from companion.torch.rl.reward_models import TransformerReward
    ref = tiny_gpt()
    policy, critic = copy.deepcopy(ref), TransformerReward(ref)
    hist = rl_finetune(policy, ref, count_threes, PROMPT, 0.1, iterations=15, batch_size=32,
                       length=4, lr=3e-2, critic=critic, lam=0.9,
                       metrics={"gold": lambda y: (y == 3).sum(1), "twos": lambda y: (y == 2).sum(1)})
    assert np.mean(hist["reward"][-5:]) > np.mean(hist["reward"][:3]) + 0.5
    np.testing.assert_allclose(hist["gold"], hist["reward"])  # the same score, through metrics
    assert len(hist["twos"]) == 15
    # the critic learned: its value of the start is near the mean return of the last batches
    start = critic.scores(PROMPT[None])[0, -1].item()
    assert abs(start - np.mean(hist["reward"][-3:])) < 0.5 * np.mean(hist["reward"][-3:])
    with pytest.raises(ValueError, match="lam"):
        rl_finetune(copy.deepcopy(ref), ref, count_threes, PROMPT, 0.1, critic=critic, lam=2.0)


def test_preference_pairs_feed_dpo_and_are_ordered_by_the_rater():
    from companion.torch.rl.fine_tuning import preference_pairs
    ref = tiny_gpt()
    oracle = CountingOracle([3], temperature=0.05)  # almost noiseless
    chosen, rejected = preference_pairs(ref, oracle, PROMPT, 300, length=4, seed=0)
    assert chosen.shape == rejected.shape == (300, 5) and (chosen[:, 0] == 0).all()
    gap = oracle.score(chosen[:, 1:].numpy()) - oracle.score(rejected[:, 1:].numpy())
    assert (gap >= 0).all() and (gap > 0).mean() > 0.3
    policy = copy.deepcopy(ref)
    hist = dpo_finetune(policy, ref, None, PROMPT, 0.5, steps=40, lr=3e-2, length=4,
                        data=(chosen, rejected))
    assert np.mean(hist["accuracy"][-5:]) > 0.65
    assert mean_threes(policy) > mean_threes(ref) + 0.3
    with pytest.raises(ValueError, match="data"):
        dpo_finetune(policy, ref, None, PROMPT, 0.5, data=(chosen, rejected[:5]))
