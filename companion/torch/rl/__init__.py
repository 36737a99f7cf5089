"""Reinforcement learning, from a bandit to RLHF on a GPT, one module per concept.

- :mod:`~companion.torch.rl.environments`: a multi-armed bandit and finite MDPs (a grid world),
  with exact policy evaluation and value iteration;
- :mod:`~companion.torch.rl.returns`: reward-to-go and GAE(lambda) advantages;
- :mod:`~companion.torch.rl.policy_gradients`: REINFORCE, PPO's clipped loss, KL-shaped rewards;
- :mod:`~companion.torch.rl.actor_critic`: policy gradients with states, a learned critic, GAE;
- :mod:`~companion.torch.rl.reward_models`: Bradley-Terry reward models and a stand-in rater;
- :mod:`~companion.torch.rl.dpo`: direct preference optimisation;
- :mod:`~companion.torch.rl.fine_tuning`: PPO and DPO on a GPT.
"""
