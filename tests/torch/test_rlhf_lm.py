import copy

import numpy as np
import pytest
import torch

from companion.torch.models.gpt import GPT, GPTConfig
from companion.torch.rlhf_lm import char_entropy, distinct_fraction, rl_finetune, sample_responses


def test_char_entropy_and_distinct():
    assert char_entropy([[0, 0], [0, 0]]) == 0.0
    assert char_entropy([[0, 1], [2, 3]]) == pytest.approx(2.0)
    assert distinct_fraction(np.array([[1, 2], [1, 2], [3, 4], [5, 6]])) == 0.75
    with pytest.raises(ValueError):
        distinct_fraction(np.array([1, 2]))


def test_rl_finetune_raises_reward_and_kl_penalty_limits_drift():
    torch.manual_seed(0)
    ref = GPT(GPTConfig(vocab_size=6, block_size=8, n_layer=1, n_head=1, n_embd=8, dropout=0.0))
    prompt = torch.tensor([0])
    reward = lambda y: (y == 3).sum(dim=1).float()
    results = {}
    for beta in (0.3, 0.0):
        policy = copy.deepcopy(ref)
        hist = rl_finetune(policy, ref, reward, prompt, beta, steps=40, batch_size=32,
                           length=4, lr=3e-2, seed=0)
        results[beta] = hist
        assert np.mean(hist["reward"][-5:]) > np.mean(hist["reward"][:3]) + 0.5
    assert np.mean(results[0.3]["kl"][-5:]) < np.mean(results[0.0]["kl"][-5:])
    out = sample_responses(ref, prompt, 3, 4)
    assert out.shape == (3, 5) and (out[:, 0] == 0).all()
    with pytest.raises(ValueError):
        rl_finetune(copy.deepcopy(ref), ref, reward, prompt, -1.0, steps=1)
