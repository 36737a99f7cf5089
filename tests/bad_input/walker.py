"""Feed wrong types, ranks, sizes and out-of-range values to the public API, and judge the error.

Every public layer of ``companion.numpy`` and ``companion.torch`` starts from a valid call taken
from PyTorch's own samples (``module_db``); every public function or other class starts from a
valid call listed in :data:`VALID`. One argument at a time is then replaced by a bad value. A probe
passes when the package raises ``ValueError``/``TypeError`` whose message names the argument, or
when it accepts a value that ``torch.nn`` accepts too. It fails when the package crashes with any
other error (an ``IndexError`` inside NumPy, an ``AttributeError`` inside torch), raises without
naming the argument, or accepts a value of the wrong type.

Every public class and function of the three packages (the names in the ``__all__`` of each
public module that the module defines) is probed, or listed in :data:`NOT_PROBED` with the
reason.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import pkgutil
import re
import warnings

import numpy as np
import torch

import companion.data as cdata
from companion.data import episodes, masking, memory, subsets, text
import companion.numpy as cnp
import companion.numpy.autograd as ag
from companion.numpy.autograd import broadcasting
import companion.numpy.transformer as cnp_transformer
import companion.torch as ctorch
from companion.numpy import neighbours, ngram, precision, shapley, training as np_training
from companion.numpy import prototypes as np_prototypes
from companion.torch import (augment, batching, checkpoints, distributed, fairness, heads,
                             initialisation, interpret, learning_curves, prototypes,
                             regularization, scaling)
from companion.torch.models import (attention_only, autoencoder, bert, cnn, gan, gpt, mlp,
                                    recurrent_lm, residual, seq2seq, transfer, transformer)
from companion.torch.nas import benchmark, darts, space, strategies
from companion.torch.rl import (actor_critic, dpo, environments, fine_tuning, policy_gradients,
                                returns, reward_models)
from tests.conformance.classify import module_samples, to_numpy, twin_module_infos

activations, attention, device, dropout, ctraining = (importlib.import_module(
    f"companion.torch.{name}") for name in ("activations", "attention", "device", "dropout",
                                            "training"))  # modules, not the names they export

WRONG_TYPES = {"a string": "bad", "None": None, "a list of strings": ["a", "b"]}


@dataclasses.dataclass
class Probe:
    target: str  # e.g. "companion.numpy.LSTM.forward"
    argument: str
    bad: str  # what was fed
    ok: bool
    detail: str = ""


def names_argument(error: Exception, argument: str) -> bool:
    return isinstance(error, (ValueError, TypeError)) and re.search(
        rf"\b{re.escape(argument)}\b", str(error)) is not None


def _accepts(call) -> bool:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            call()
    except Exception:  # noqa: BLE001 - any refusal
        return False
    return True


def judge(target, argument, bad, call, reference=None, others=()) -> Probe:
    """Run ``call``; ``reference`` (torch.nn's own behaviour) says whether acceptance is fine.

    A clear refusal that names another argument of the same call (``others``, e.g. ``dim`` for
    a 0-d input to Softmax) is fine too: the two arguments do not fit together.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            call()
    except Exception as error:  # noqa: BLE001 - every exception is judged
        ok = names_argument(error, argument) or any(names_argument(error, name)
                                                    for name in others)
        return Probe(target, argument, bad, ok, "" if ok else f"{type(error).__name__}: {error}")
    if reference is None:
        return Probe(target, argument, bad, bad not in WRONG_TYPES,
                     "accepted a value of the wrong type" if bad in WRONG_TYPES else "")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            reference()
    except Exception:  # noqa: BLE001 - torch refuses, so we must have refused too
        return Probe(target, argument, bad, False, "accepted what torch.nn refuses")
    return Probe(target, argument, bad, True)


def _bad_tensors(x, half: str) -> dict:
    """Wrong rank, size and (for indices) range variants of a valid input ``x`` (a tensor)."""
    variants = {}
    if x.dim() >= 1:
        variants["one more axis"] = x.unsqueeze(0).unsqueeze(0)
        variants["0-d"] = x.reshape(-1)[0].detach().clone() if x.numel() else torch.tensor(1.0)
        grown = list(x.shape)
        grown[-1] += 1
        variants["last axis one longer"] = torch.zeros(grown, dtype=x.dtype)
    if not x.is_floating_point() and x.numel():
        variants["index far out of range"] = torch.full_like(x, 10_000)
        variants["negative index"] = torch.full_like(x, -7)
    if x.is_floating_point():
        variants["integer dtype"] = torch.zeros(x.shape, dtype=torch.int64)
    return {k: (to_numpy(v) if half == "numpy" else v) for k, v in variants.items()}


def layer_probes() -> list[Probe]:
    """Bad constructor arguments and bad forward inputs for every twin layer."""
    probes = []
    for info in twin_module_infos():
        name = info.module_cls.__name__
        training, sample = module_samples(info)[0]
        args, kwargs = sample.constructor_input.args, sample.constructor_input.kwargs
        f_args = list(sample.forward_input.args)
        if "input" in sample.forward_input.kwargs:
            f_args.insert(0, sample.forward_input.kwargs["input"])
        for half, package in (("numpy", cnp), ("torch", ctorch)):
            cls = getattr(package, name)
            convert = to_numpy if half == "numpy" else (lambda v: v)
            target = f"companion.{half}.{name}"
            # constructor: each named parameter with a value of the wrong type
            params = [p for p in inspect.signature(cls.__init__).parameters.values()
                      if p.name not in ("self", "device", "dtype", "rng")
                      and not p.name.startswith("_")  # torch's private arguments
                      and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
            bound = inspect.signature(info.module_cls.__init__).bind_partial(None, *args, **kwargs)
            given = {k: v for k, v in bound.arguments.items() if k != "self"}
            for p in params:
                if p.name not in inspect.signature(info.module_cls.__init__).parameters:
                    continue
                for label, value in WRONG_TYPES.items():
                    if value is None and p.default is None:
                        continue
                    trial = {**{k: convert(v) for k, v in given.items()}, p.name: value}
                    reference_trial = {**given, p.name: value}
                    probes.append(judge(f"{target}()", p.name, label,
                                        lambda c=cls, t=trial: c(**t),
                                        lambda t=reference_trial: info.module_cls(**t)))
            # forward: each positional input made bad in turn
            forward_names = [p.name for p in inspect.signature(cls.forward).parameters.values()
                             if p.name != "self"]
            try:
                twin = cls(*convert(args), **{k: convert(v) for k, v in kwargs.items()})
            except (ValueError, TypeError):
                continue  # this configuration is refused clearly (see the conformance suite)
            if half == "torch":
                twin = twin.double()
            others = {p.name for p in params} | set(forward_names)
            reference = info.module_cls(*args, **kwargs).double()
            inputs = [convert(a) for a in f_args]
            if name.endswith("Loss"):
                forward_names = ["input", "target"]
            for k, x in enumerate(f_args):
                if not isinstance(x, torch.Tensor) or k >= len(forward_names):
                    continue
                argument = forward_names[k]
                bad_values = {**WRONG_TYPES, **_bad_tensors(x, half)}
                reference_bad = {**WRONG_TYPES, **_bad_tensors(x, "torch")}
                if half == "numpy":  # integers are converted to float64, by design
                    bad_values.pop("integer dtype", None)
                for label, value in bad_values.items():
                    trial = inputs[:k] + [value] + inputs[k + 1:]
                    reference_trial = f_args[:k] + [reference_bad[label]] + f_args[k + 1:]
                    call = ((lambda t=twin, a=trial: t.forward(*a)) if half == "numpy"
                            else (lambda t=twin, a=trial: t(*a)))
                    probes.append(judge(f"{target}.forward", argument, label, call,
                                        lambda r=reference, a=reference_trial: r(*a), others))
    return probes


# valid calls of the public functions and the other classes: (callable, args, kwargs)
VALID = {
    "companion.numpy.im2col": (cnp.im2col, (np.zeros((1, 2, 5, 5)), (3, 3)), {}),
    "companion.numpy.col2im": (cnp.col2im, (np.zeros((1, 2, 3, 3, 3, 3)), (1, 2, 5, 5), (3, 3)),
                               {}),
    "companion.numpy.causal_mask": (cnp.causal_mask, (4,), {}),
    "companion.numpy.scaled_dot_product_attention": (
        cnp.scaled_dot_product_attention, (np.zeros((2, 3, 4)),) * 3, {}),
    "companion.numpy.SGD": (cnp.SGD, ([np.zeros(3)],), {"lr": 0.1}),
    "companion.numpy.RMSprop": (cnp.RMSprop, ([np.zeros(3)],), {}),
    "companion.numpy.Adam": (cnp.Adam, ([np.zeros(3)],), {}),
    "companion.numpy.AdamW": (cnp.AdamW, ([np.zeros(3)],), {}),
    "companion.numpy.StepLR": (cnp.StepLR, (cnp.SGD([np.zeros(3)], lr=0.1), 3), {}),
    "companion.numpy.CosineAnnealingLR": (cnp.CosineAnnealingLR,
                                          (cnp.SGD([np.zeros(3)], lr=0.1), 10), {}),
    "companion.numpy.LinearWarmup": (cnp.LinearWarmup, (cnp.SGD([np.zeros(3)], lr=0.1),), {}),
    "companion.numpy.Dropout": (cnp.Dropout, (), {}),
    "companion.numpy.Flatten": (cnp.Flatten, (), {}),
    "companion.torch.scaled_dot_product_attention": (
        ctorch.scaled_dot_product_attention, (torch.zeros(2, 3, 4),) * 3, {}),
    "companion.torch.Dropout": (ctorch.Dropout, (), {}),
    "companion.torch.Flatten": (ctorch.Flatten, (), {}),
    "companion.data.xor": (cdata.xor, (), {}),
    "companion.data.two_moons": (cdata.two_moons, (), {}),
    "companion.data.spirals": (cdata.spirals, (), {}),
    "companion.data.gaussian_ring": (cdata.gaussian_ring, (), {}),
    "companion.data.linearly_separable": (cdata.linearly_separable, (), {}),
    "companion.data.regression_1d": (cdata.regression_1d, (), {}),
    "companion.data.copy_task": (cdata.copy_task, (), {}),
    "companion.data.reverse_task": (cdata.reverse_task, (), {}),
    "companion.data.addition_task": (cdata.addition_task, (), {}),
    "companion.data.split_indices": (cdata.split_indices, ("val",), {}),
    "companion.data.load_digits": (cdata.load_digits, (), {}),
    "companion.data.sample_episode": (episodes.sample_episode, (np.arange(40) % 4, [0, 1], 2, 3), {}),
    "companion.data.mask_tokens": (masking.mask_tokens, (np.arange(20) % 5, 5, 6), {}),
    "companion.numpy.transformer.SelfAttention": (cnp_transformer.SelfAttention, (8, 2), {}),
    "companion.numpy.transformer.FeedForward": (cnp_transformer.FeedForward, (8, 16), {}),
    "companion.numpy.transformer.TransformerBlock": (cnp_transformer.TransformerBlock, (8, 2), {}),
    "companion.numpy.transformer.GPT": (cnp_transformer.GPT, (11, 6),
                                        {"n_layer": 1, "n_head": 2, "n_embd": 8}),
    "companion.numpy.transformer.sinusoidal_positional_encoding": (
        cnp_transformer.sinusoidal_positional_encoding, (5, 8), {}),
    "companion.torch.models.bert.MaskedLMConfig": (bert.MaskedLMConfig, (11,), {}),
    "companion.torch.models.seq2seq.AdditiveAttention": (seq2seq.AdditiveAttention, (4, 6, 5), {}),
    "companion.torch.models.seq2seq.Seq2Seq": (seq2seq.Seq2Seq, (7, 4, 5), {}),
    "companion.torch.models.seq2seq.sequence_lengths": (
        seq2seq.sequence_lengths, (torch.tensor([[3, 4, 0], [5, 0, 0]]),), {}),
    "companion.torch.models.mlp.mlp": (mlp.mlp, (4, [5, 6], 3), {}),
    "companion.torch.models.mlp.DeepMLP": (mlp.DeepMLP, (4, 5, 3, 2), {}),
    "companion.torch.models.mlp.count_parameters": (mlp.count_parameters, (torch.nn.Linear(2, 3),),
                                                    {}),
    "companion.numpy.training.accuracy": (np_training.accuracy, (np.zeros((4, 3)), np.zeros(4, int)),
                                          {}),
    "companion.torch.accuracy": (ctorch.accuracy, (torch.zeros(4, 3), torch.zeros(4).long()), {}),
    "companion.numpy.ngram.NGramModel": (ngram.NGramModel, (3, 5), {}),
    "companion.numpy.ngram.KneserNeyModel": (ngram.KneserNeyModel, (3, 5), {}),
    "companion.torch.models.gpt.GPTConfig": (gpt.GPTConfig, (), {"vocab_size": 11}),
    "companion.torch.models.transformer.SelfAttention": (transformer.SelfAttention, (8, 2), {}),
    "companion.torch.models.transformer.FeedForward": (transformer.FeedForward, (8, 16), {}),
    "companion.torch.models.transformer.TransformerBlock": (transformer.TransformerBlock, (8, 2),
                                                            {}),
    "companion.torch.models.transformer.TransformerLM": (transformer.TransformerLM,
                                                         (11, 11, 6, 1, 2, 8, 0.0, True, True), {}),
    "companion.torch.models.transformer.sinusoidal_positional_encoding": (
        transformer.sinusoidal_positional_encoding, (5, 8), {}),
    "companion.torch.nas.space.edges": (space.edges, (4,), {}),
    "companion.torch.nas.space.all_genotypes": (space.all_genotypes, (3,), {}),
    "companion.torch.nas.space.canonical": (space.canonical, (("skip", "conv3x3", "none"),), {}),
    "companion.torch.nas.space.parse_genotype": (space.parse_genotype, ("skip|conv3x3|none",), {}),
    "companion.torch.nas.space.make_op": (space.make_op, ("conv3x3", 4), {}),
    "companion.torch.nas.space.Cell": (space.Cell, (("skip", "conv3x3", "none"), 4), {}),
    "companion.torch.nas.strategies.random_genotype": (
        strategies.random_genotype, (3, ("skip", "none")), {"rng": 0}),
    "companion.torch.nas.strategies.mutate": (
        strategies.mutate, (("skip", "none", "skip"), ("skip", "none")), {"rng": 0}),
}


# tiny fixtures for the calls below
_net = torch.nn.Sequential(torch.nn.Linear(4, 5), torch.nn.ReLU(), torch.nn.Linear(5, 3))
_x4, _y4 = torch.randn(6, 4), torch.arange(6) % 3
_images = torch.zeros(2, 1, 6, 6)
_theta = torch.eye(2, 3).expand(2, 2, 3).clone()
_attn_only = attention_only.AttentionOnlyTransformer(7, 8, n_layer=1, n_head=2, n_embd=8)
_w = np.random.default_rng(0).normal(size=(5, 3))
_ag = ag.Tensor(np.ones((2, 3)), requires_grad=True)
_ag_root = (_ag * 2.0).sum()
_bg = np.zeros((3, 3))
_f = lambda rows: np.asarray(rows).sum(axis=1)  # noqa: E731 - a model for the Shapley calls
_masks = np.array([[True, False, True]])
_lin = cnp.Linear(2, 3)
_adam = torch.optim.SGD(_net.parameters(), lr=0.0)
_mdp = environments.grid_world()
_net_images = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(36, 3))
_gpt = gpt.GPT(gpt.GPTConfig(vocab_size=11, block_size=6, n_layer=1, n_head=2, n_embd=8))
_generator, _discriminator = gan.Generator(2, 3, hidden=(4,)), gan.Discriminator(3, hidden=(4,))
_policy = torch.zeros(_mdp.rewards.shape[:2])  # (S, A) logits
_episodes = _mdp.sample_episodes(torch.softmax(_policy, 1).numpy(), 2, 5, rng=0)
_corpus = text.Corpus("abcdefghij " * 20)
_bert = bert.MaskedLM(bert.MaskedLMConfig(_corpus.vocab_size + 1, block_size=8, n_layer=1,
                                          n_head=2, n_embd=8))
_p = torch.log_softmax(torch.zeros(4, 3), dim=1)[:, 0]

VALID.update({
    "companion.data.first_symbol_task": (memory.first_symbol_task, (), {"n": 4, "length": 6}),
    "companion.numpy.autograd.concatenate": (ag.concatenate, ([_ag, _ag],), {}),
    "companion.numpy.autograd.stack": (ag.stack, ([_ag, _ag],), {}),
    "companion.numpy.autograd.cross_entropy": (ag.cross_entropy, (_ag, np.array([0, 2])), {}),
    "companion.numpy.autograd.Neuron": (ag.Neuron, (3,), {}),
    "companion.numpy.autograd.Layer": (ag.Layer, (3, 2), {}),
    "companion.numpy.autograd.MLP": (ag.MLP, (3, [4, 2]), {}),
    "companion.numpy.neighbours.cosine_similarity": (neighbours.cosine_similarity, (_w,), {}),
    "companion.numpy.neighbours.nearest_neighbours": (neighbours.nearest_neighbours, (_w,),
                                                      {"k": 2}),
    "companion.numpy.neighbours.partner_rank": (neighbours.partner_rank, (_w, [(0, 1)]), {}),
    "companion.numpy.neighbours.principal_components": (neighbours.principal_components, (_w,),
                                                        {}),
    "companion.numpy.neighbours.same_group_rate": (neighbours.same_group_rate,
                                                   (_w, [0, 0, 1, 1, 1]), {}),
    "companion.numpy.ngram.NeighbourCountModel": (ngram.NeighbourCountModel, (5,), {}),
    "companion.numpy.precision.round_to_bfloat16": (precision.round_to_bfloat16, (np.zeros(3),),
                                                    {}),
    "companion.numpy.prototypes.prototypes": (np_prototypes.prototypes,
                                              (np.zeros((4, 3)), np.array([0, 1, 0, 1]), 2), {}),
    "companion.numpy.prototypes.prototype_logits": (np_prototypes.prototype_logits,
                                                    (np.zeros((2, 3)), np.zeros((2, 3))), {}),
    "companion.numpy.shapley.all_coalitions": (shapley.all_coalitions, (3,), {}),
    "companion.torch.relu": (activations.relu, (_x4,), {}),
    "companion.torch.sigmoid": (activations.sigmoid, (_x4,), {}),
    "companion.torch.log_sigmoid": (activations.log_sigmoid, (_x4,), {}),
    "companion.torch.tanh": (activations.tanh, (_x4,), {}),
    "companion.torch.gelu": (activations.gelu, (_x4,), {}),
    "companion.torch.softmax": (activations.softmax, (_x4, 1), {}),
    "companion.torch.log_softmax": (activations.log_softmax, (_x4, 1), {}),
    "companion.torch.masked_softmax": (attention.masked_softmax, (_x4,), {}),
    "companion.torch.dropout": (dropout.dropout, (_x4, 0.5), {}),
    "companion.torch.fairness.group_error_rates": (fairness.group_error_rates,
                                                   (_y4, _y4, np.arange(6) % 2), {}),
    "companion.torch.fairness.error_gap": (fairness.error_gap, ({0: 0.1, 1: 0.3},), {}),
    "companion.torch.fairness.weighted_cross_entropy": (fairness.weighted_cross_entropy,
                                                        (torch.zeros(6, 3), _y4, torch.ones(6)),
                                                        {}),
    "companion.torch.heads.offset_targets": (heads.offset_targets, (2, 5), {}),
    "companion.torch.initialisation.init_std": (initialisation.init_std, (3, 4, "kaiming"), {}),
    "companion.torch.initialisation.initialise_": (initialisation.initialise_, (_net,), {}),
    "companion.torch.initialisation.linear_layers": (initialisation.linear_layers, (_net,), {}),
    "companion.torch.interpret.class_scores": (interpret.class_scores, (_net, _x4, _y4), {}),
    "companion.torch.interpret.saliency": (interpret.saliency, (_net, _x4, _y4), {}),
    "companion.torch.interpret.integrated_gradients": (interpret.integrated_gradients,
                                                       (_net, _x4, _y4), {"steps": 4}),
    "companion.torch.learning_curves.balanced_subset": (learning_curves.balanced_subset,
                                                        (np.arange(12) % 3, 6, 0), {}),
    "companion.torch.learning_curves.held_out_accuracy": (learning_curves.held_out_accuracy,
                                                          (_net, _x4, _y4), {}),
    "companion.torch.learning_curves.train_classifier": (learning_curves.train_classifier,
                                                         (torch.nn.Linear(4, 3), _x4, _y4, 1, 0.1),
                                                         {}),
    "companion.torch.models.attention_only.AttentionOnlyTransformer": (
        attention_only.AttentionOnlyTransformer, (7, 8), {"n_layer": 1, "n_head": 2, "n_embd": 8}),
    "companion.torch.models.attention_only.periodic_random_tokens": (
        attention_only.periodic_random_tokens, (2, 8, 5, 2, 3), {"rng": 0}),
    "companion.torch.models.autoencoder.Autoencoder": (autoencoder.Autoencoder, (4, 2), {}),
    "companion.torch.models.autoencoder.reconstruction_error": (
        autoencoder.reconstruction_error, (autoencoder.Autoencoder(4, 2), _x4), {}),
    "companion.torch.models.bert.MaskedLM": (bert.MaskedLM, (bert.MaskedLMConfig(11),), {}),
    "companion.torch.models.cnn.conv_net": (cnn.conv_net, (), {"channels": (2,)}),
    "companion.torch.models.cnn.layer_outputs": (cnn.layer_outputs,
                                                 (cnn.conv_net(channels=(2,)),
                                                  torch.zeros(1, 1, 8, 8)),
                                                 {}),
    "companion.torch.models.gan.Generator": (gan.Generator, (2, 3), {"hidden": (4,)}),
    "companion.torch.models.gan.Discriminator": (gan.Discriminator, (3,), {"hidden": (4,)}),
    "companion.torch.models.gpt.GPT": (gpt.GPT, (_gpt.config,), {}),
    "companion.torch.models.recurrent_lm.RecurrentLM": (recurrent_lm.RecurrentLM, (7, 4, 5), {}),
    "companion.torch.models.recurrent_lm.sequence_loss": (
        recurrent_lm.sequence_loss, (recurrent_lm.RecurrentLM(7, 4, 5), np.arange(10) % 7),
        {"chunk": 4}),
    "companion.torch.models.residual.ResidualBlock": (residual.ResidualBlock, (4,), {}),
    "companion.torch.models.residual.BlockStack": (residual.BlockStack, (3, 4, 2, 2), {}),
    "companion.torch.models.residual.weight_gradient_norms": (residual.weight_gradient_norms,
                                                              (_net,), {}),
    "companion.torch.models.transfer.BodyHead": (transfer.BodyHead, (torch.nn.Flatten(), 4, 3), {}),
    "companion.torch.models.transfer.freeze": (transfer.freeze, (torch.nn.Linear(2, 2),), {}),
    "companion.torch.models.transfer.trainable_parameters": (transfer.trainable_parameters,
                                                             (_net,), {}),
    "companion.torch.models.transformer.check_sizes": (transformer.check_sizes,
                                                       (gpt.GPTConfig(vocab_size=11),), {}),
    "companion.torch.nas.darts.MixedOp": (darts.MixedOp, (2,), {}),
    "companion.torch.nas.darts.MixedCell": (darts.MixedCell, (2,), {"n_nodes": 3}),
    "companion.torch.nas.space.genotype_str": (space.genotype_str, (("skip", "none", "skip"),), {}),
    "companion.torch.nas.space.ReLUConv": (space.ReLUConv, (2, 3), {}),
    "companion.torch.nas.space.CellNetwork": (space.CellNetwork,
                                              (space.Cell(("skip", "none", "skip"), 2), 2), {}),
    "companion.torch.prototypes.ConvEmbedding": (prototypes.ConvEmbedding, (2, 4), {}),
    "companion.torch.prototypes.prototypes": (prototypes.prototypes,
                                              (torch.zeros(4, 3), torch.tensor([0, 1, 0, 1]), 2),
                                              {}),
    "companion.torch.prototypes.prototype_logits": (prototypes.prototype_logits,
                                                    (torch.zeros(2, 3), torch.zeros(2, 3)), {}),
    "companion.torch.prototypes.prototypical_loss": (
        prototypes.prototypical_loss, (torch.zeros(4, 3), torch.tensor([0, 1, 0, 1]),
                                       torch.zeros(2, 3), torch.tensor([0, 1]), 2), {}),
    "companion.torch.regularization.weight_parameters": (regularization.weight_parameters,
                                                         (_net,), {}),
    "companion.torch.regularization.l2_penalty": (regularization.l2_penalty, (_net,), {}),
    "companion.torch.regularization.l1_penalty": (regularization.l1_penalty, (_net,), {}),
    "companion.torch.regularization.penalized": (regularization.penalized,
                                                 (torch.nn.functional.cross_entropy, _net),
                                                 {"l2": 0.1}),
    "companion.torch.regularization.weight_norm": (regularization.weight_norm, (_net,), {}),
    "companion.torch.regularization.near_zero_fraction": (regularization.near_zero_fraction,
                                                          (_net,), {}),
    "companion.torch.rl.dpo.dpo_loss": (dpo.dpo_loss, (_p, _p, _p, _p, 0.1), {}),
    "companion.torch.rl.dpo.kl_regularised_optimum": (dpo.kl_regularised_optimum,
                                                      (np.full(3, 1 / 3), np.arange(3.0), 0.5), {}),
    "companion.torch.rl.environments.GaussianBandit": (environments.GaussianBandit,
                                                       ([0.0, 1.0],), {}),
    "companion.torch.rl.fine_tuning.char_entropy": (fine_tuning.char_entropy,
                                                    (torch.tensor([[1, 2, 2]]),), {}),
    "companion.torch.rl.fine_tuning.distinct_fraction": (fine_tuning.distinct_fraction,
                                                         (torch.tensor([[1, 2], [1, 2]]),), {}),
    "companion.torch.rl.policy_gradients.reinforce_loss": (policy_gradients.reinforce_loss,
                                                           (_p, torch.ones(4)), {}),
    "companion.torch.rl.policy_gradients.ppo_clip_loss": (policy_gradients.ppo_clip_loss,
                                                          (_p, _p, torch.ones(4)), {}),
    "companion.torch.rl.policy_gradients.kl_penalised_rewards": (
        policy_gradients.kl_penalised_rewards,
        (torch.ones(2), torch.zeros(2, 3), torch.zeros(2, 3), 0.1),
        {}),
    "companion.torch.rl.returns.reward_to_go": (returns.reward_to_go, (torch.ones(2, 3), 0.9), {}),
    "companion.torch.rl.returns.gae_advantages": (returns.gae_advantages,
                                                  (torch.ones(2, 3), torch.zeros(2, 4), 0.9, 0.95),
                                                  {}),
    "companion.torch.rl.reward_models.BagOfTokensReward": (reward_models.BagOfTokensReward, (5,),
                                                           {}),
    "companion.torch.rl.reward_models.bradley_terry_loss": (reward_models.bradley_terry_loss,
                                                            (torch.zeros(3), torch.ones(3)), {}),
    "companion.torch.interpret.occlusion": (interpret.occlusion, (_net_images, _images, 1), {}),
    "companion.torch.rl.fine_tuning.sample_responses": (fine_tuning.sample_responses,
                                                        (_gpt, torch.tensor([1, 2]), 2, 3), {}),
    "companion.torch.models.gpt.evaluate_loss": (gpt.evaluate_loss, (_gpt, np.arange(20) % 11), {}),
    "companion.torch.models.gpt.stream_log_probs": (gpt.stream_log_probs,
                                                    (_gpt, np.arange(20) % 11), {}),
    "companion.torch.rl.environments.TabularMDP": (
        environments.TabularMDP, (np.full((2, 1, 2), 0.5), np.zeros((2, 1, 2)),
                                  np.array([1.0, 0.0]), np.array([False, True]), 0.9), {}),
    "companion.torch.rl.reward_models.TransformerReward": (
        reward_models.TransformerReward, (transformer.TransformerLM(11, 11, 6, 1, 2, 8, 0.0, True,
                                                                    True),), {}),
    "companion.torch.rl.actor_critic.step_weights": (
        actor_critic.step_weights, (_mdp, _episodes, "gae", np.zeros(len(_mdp.rewards))), {}),
    "companion.torch.rl.actor_critic.episode_gradients": (
        actor_critic.episode_gradients, (_policy, _episodes, torch.ones(_episodes.rewards.shape)),
        {}),
    "companion.torch.checkpoints.checkpoint_path": (checkpoints.checkpoint_path,
                                                    (_corpus, gpt.GPTConfig(vocab_size=11), 1),
                                                    {}),
    "companion.torch.checkpoints.shipped_path": (checkpoints.shipped_path,
                                                 (_corpus, gpt.GPTConfig(vocab_size=11), 1), {}),
    "companion.torch.models.bert.masked_lm_batch": (bert.masked_lm_batch,
                                                    (_corpus, "train", 2, 8, 0), {}),
    "companion.torch.models.bert.masked_lm_accuracy": (
        bert.masked_lm_accuracy, (_bert, np.zeros((2, 8), int), np.where(np.eye(2, 8), 3, -100)),
        {}),
    "companion.torch.prototypes.few_shot_accuracy": (
        prototypes.few_shot_accuracy, (torch.nn.Flatten(), torch.zeros(12, 1, 2, 2),
                                       np.arange(12) % 3, [0, 1], 1),
        {"n_query": 2, "episodes": 2, "rng": 0}),
    "companion.torch.training.seed_everything": (ctraining.seed_everything, (0,), {}),
    "companion.torch.training.adamw": (ctraining.adamw, (_net, 0.1, 0.01), {}),
    "companion.torch.training.warmup_cosine": (ctraining.warmup_cosine, (_adam, 10, 2), {}),
    "companion.torch.distributed.shard": (distributed.shard, (np.arange(8), 0, 2), {}),
    "companion.torch.distributed.parallelize": (distributed.parallelize,
                                                (torch.nn.Linear(2, 2), "ddp"), {}),
    "companion.numpy.autograd.broadcasts_to": (broadcasting.broadcasts_to, ((1, 3), (2, 3)), {}),
    "companion.numpy.shapley.shapley_kernel_weight": (shapley.shapley_kernel_weight,
                                                      (3, np.array([1, 2])), {}),
    "companion.torch.models.gan.class_coverage": (gan.class_coverage, (np.eye(3),), {}),
    "companion.torch.models.gan.frechet_distance": (gan.frechet_distance,
                                                    (_w, _w[::-1].copy()), {}),
    "companion.torch.models.gan.mode_coverage": (gan.mode_coverage, (_w[:, :2], _w[:2, :2], 0.1),
                                                 {}),
    "companion.torch.rl.environments.grid_world": (environments.grid_world, (), {}),
    "companion.numpy.autograd.topological_order": (ag.topological_order, (_ag_root,), {}),
    "companion.numpy.autograd.trace": (ag.trace, (_ag_root,), {}),
    "companion.numpy.autograd.to_mermaid": (ag.to_mermaid, (_ag_root,), {}),
    "companion.numpy.shapley.coalition_values": (shapley.coalition_values,
                                                 (_f, np.ones(3), _bg, _masks), {}),
    "companion.numpy.shapley.exact_shapley": (shapley.exact_shapley, (_f, np.ones(3), _bg), {}),
    "companion.numpy.shapley.kernel_shap": (shapley.kernel_shap, (_f, np.ones(3), _bg, 8),
                                            {"rng": 0}),
    "companion.torch.distributed.TrainConfig": (distributed.TrainConfig, (), {}),
    "companion.torch.distributed.make_model": (distributed.make_model,
                                               (distributed.TrainConfig(hidden=4),), {}),
    "companion.torch.distributed.global_batches": (distributed.global_batches,
                                                   (20, distributed.TrainConfig(batch_size=8)), {}),
    "companion.numpy.training.minibatches": (np_training.minibatches, (10, 3), {}),
    "companion.numpy.training.ArrayLoader": (np_training.ArrayLoader,
                                             (np.zeros((4, 2)), np.zeros(4)), {}),
    "companion.torch.rl.policy_gradients.score_function_gradients": (
        policy_gradients.score_function_gradients, (np.zeros(3), np.array([0, 2]),
                                                    np.array([1.0, 0.0])), {}),
    "companion.torch.heads.attention_maps": (heads.attention_maps,
                                             (_attn_only, torch.zeros(2, 8).long()), {}),
    "companion.torch.heads.chance_score": (heads.chance_score, (torch.tensor([[-1, 0, 1]]),), {}),
    "companion.torch.heads.head_scores": (heads.head_scores, (torch.full((1, 1, 2, 3, 3), 1 / 3),
                                                              torch.tensor([[-1, 0, 1]])), {}),
    "companion.torch.heads.induction_targets": (heads.induction_targets,
                                                (torch.tensor([2, 3]), 6), {}),
    "companion.torch.heads.previous_match_targets": (heads.previous_match_targets,
                                                     (torch.zeros(2, 5).long(), [0]), {}),
    "companion.torch.initialisation.layer_statistics": (initialisation.layer_statistics,
                                                        (_net, _x4, _y4), {}),
    "companion.torch.augment.RandomAffine": (augment.RandomAffine, (), {}),
    "companion.torch.augment.affine_matrices": (augment.affine_matrices,
                                                (10.0, 1.0, (1.0, 0.0), (6, 6)), {}),
    "companion.torch.augment.affine_warp": (augment.affine_warp, (_images, _theta), {}),
    "companion.torch.augment.random_affine": (augment.random_affine, (_images,), {}),
})


_supernet = space.CellNetwork(darts.MixedCell(2, n_nodes=3), 2, num_classes=3)
_darts_batch = (torch.zeros(2, 1, 8, 8), torch.tensor([0, 1]))

VALID.update({
    "companion.data.first_per_class": (subsets.first_per_class,
                                       (np.zeros((6, 2)), np.arange(6) % 3, 1), {}),
    "companion.numpy.autograd.unbroadcast": (ag.unbroadcast, (np.zeros((2, 3)), (1, 3)), {}),
    "companion.numpy.training.train_step": (
        np_training.train_step, (_lin, cnp.MSELoss(), cnp.SGD(_lin.parameters(), lr=0.0),
                                 np.zeros((4, 2)), np.zeros((4, 3))), {}),
    "companion.numpy.training.evaluate": (
        np_training.evaluate, (_lin, np_training.ArrayLoader(np.zeros((4, 2)), np.zeros((4, 3)))),
        {"loss_fn": cnp.MSELoss()}),
    "companion.torch.batching.as_batch": (batching.as_batch,
                                          (np.zeros((4, 2)), np.zeros(4, int)), {}),
    "companion.torch.rl.reward_models.CountingOracle": (reward_models.CountingOracle, ([1, 2],),
                                                        {}),
    "companion.torch.rl.reward_models.pair_accuracy": (
        reward_models.pair_accuracy, (reward_models.BagOfTokensReward(5), torch.zeros(3, 4).long(),
                                      torch.ones(3, 4).long(), torch.tensor([True, False, True])),
        {}),
    "companion.torch.models.gan.gan_step": (
        gan.gan_step, (_generator, _discriminator, torch.optim.SGD(_generator.parameters(), lr=0.0),
                       torch.optim.SGD(_discriminator.parameters(), lr=0.0), torch.zeros(4, 3)),
        {}),
    "companion.torch.training.evaluate": (ctraining.evaluate, (_net, [(_x4, _y4)]),
                                          {"loss_fn": torch.nn.functional.cross_entropy}),
    "companion.torch.nas.darts.unrolled_alpha_grad": (
        darts.unrolled_alpha_grad, (_supernet, _supernet.cell.alpha, _darts_batch, _darts_batch,
                                    0.1), {}),
    "companion.torch.rl.fine_tuning.preference_pairs": (
        fine_tuning.preference_pairs, (_gpt, reward_models.CountingOracle([1, 2]),
                                       torch.tensor([1, 2]), 2), {"length": 3}),
    "companion.torch.nas.benchmark.Benchmark": (benchmark.Benchmark, (), {}),
    "companion.torch.scaling.load_sweep": (scaling.load_sweep, (), {}),
    "companion.torch.scaling.non_embedding_parameters": (scaling.non_embedding_parameters,
                                                         (_gpt,), {}),
})


_TRAINS = "runs a training loop or an architecture search"
_PROCESSES = "spawns worker processes that train"
_NO_ARGUMENTS = "takes no arguments"
_RECORD = "a dataclass that stores what it is given, with no checks of its own"
_ANY_LABELS = "group labels may be any values (np.unique), so a list of strings is a valid call"

# public callables the walker does not probe, each with the reason; the completeness test
# fails for a public callable that is neither probed nor listed here, and for a stale entry
NOT_PROBED = {
    "companion.numpy.training.fit": _TRAINS,
    "companion.torch.training.fit": _TRAINS,
    "companion.torch.training.train_steps": _TRAINS,
    "companion.torch.checkpoints.cached_tiny_gpt": "trains a GPT, or loads one trained before",
    "companion.torch.checkpoints.ship": _TRAINS,
    "companion.torch.distributed.train_mlp": _TRAINS,
    "companion.torch.learning_curves.learning_curve": _TRAINS,
    "companion.torch.models.attention_only.train_attention_only": _TRAINS,
    "companion.torch.models.autoencoder.train_autoencoder": _TRAINS,
    "companion.torch.models.bert.train_masked_lm": _TRAINS,
    "companion.torch.models.gan.train_gan": _TRAINS,
    "companion.torch.models.gpt.train_tiny_gpt": _TRAINS,
    "companion.torch.models.recurrent_lm.train_language_model": _TRAINS,
    "companion.torch.nas.benchmark.build_table": _TRAINS,
    "companion.torch.nas.benchmark.train_architecture": _TRAINS,
    "companion.torch.scaling.train_run": _TRAINS,
    "companion.torch.scaling.converge": _TRAINS,
    "companion.torch.nas.darts.darts_search": _TRAINS,
    "companion.torch.nas.strategies.random_search": _TRAINS,
    "companion.torch.nas.strategies.regularized_evolution": _TRAINS,
    "companion.torch.nas.strategies.reinforce_controller": _TRAINS,
    "companion.torch.prototypes.train_prototypical": _TRAINS,
    "companion.torch.prototypes.train_instance_episodes": _TRAINS,
    "companion.torch.rl.actor_critic.train_policy": _TRAINS,
    "companion.torch.rl.fine_tuning.dpo_finetune": _TRAINS,
    "companion.torch.rl.fine_tuning.rl_finetune": _TRAINS,
    "companion.torch.rl.fine_tuning.supervised_finetune": _TRAINS,
    "companion.torch.rl.policy_gradients.train_reinforce": _TRAINS,
    "companion.torch.rl.reward_models.train_reward_model": _TRAINS,
    "companion.torch.distributed.train_data_parallel": _PROCESSES,
    "companion.torch.distributed.main": "torchrun's entry point: takes command-line words",
    "companion.torch.device.default_device": _NO_ARGUMENTS,
    "companion.torch.distributed.free_port": _NO_ARGUMENTS,
    "companion.torch.models.transfer.conv_body": _NO_ARGUMENTS,
    "companion.torch.nas.space.Zero": _NO_ARGUMENTS,
    "companion.torch.nas.space.Identity": _NO_ARGUMENTS,
    "companion.torch.nas.space.AvgPool": _NO_ARGUMENTS,
    "companion.torch.nas.benchmark.digits_tensors": "takes only a device, which the walker skips",
    "companion.numpy.container.Sequential": "takes only *layers; the walker varies named arguments",
    "companion.torch.nas.benchmark.Recipe": _RECORD,
    "companion.torch.scaling.Recipe": _RECORD,
    "companion.torch.nas.darts.DartsResult": _RECORD,
    "companion.torch.nas.strategies.SearchResult": _RECORD,
    "companion.torch.learning_curves.LearningCurve": _RECORD,
    "companion.torch.rl.environments.Episodes": _RECORD,
    "companion.torch.device.to_device": "passes what is not a tensor through unchanged, by design",
    "companion.torch.fairness.group_balanced_weights": _ANY_LABELS,
    "companion.torch.fairness.group_balanced_sampler": _ANY_LABELS,
}


def _run(fn, kwargs):
    """Call ``fn``; a generator is run through, since its checks run at the first ``next``."""
    result = fn(**kwargs)
    return list(result) if inspect.isgenerator(result) else result


def function_probes() -> list[Probe]:
    """Each argument of each call in :data:`VALID` replaced by a value of the wrong type."""
    probes = []
    for target, (fn, args, kwargs) in VALID.items():
        signature = inspect.signature(fn)
        bound = signature.bind(*args, **kwargs)
        for p in signature.parameters.values():
            if p.name in ("self", "rng", "seed", "device") or p.kind in (p.VAR_POSITIONAL,
                                                                          p.VAR_KEYWORD):
                continue
            for label, value in WRONG_TYPES.items():
                if value is None and (p.default is None or p.name not in bound.arguments
                                      and p.default is inspect.Parameter.empty):
                    continue
                if value is None and (p.default is None or "None" in str(p.annotation)):
                    continue  # None is a documented value here
                trial = {**bound.arguments, p.name: value}
                probes.append(judge(target, p.name, label, lambda f=fn, t=trial: _run(f, t)))
    return probes


def public_callables() -> set[str]:
    """Dotted names of the public classes and functions of the three packages: the names in the
    ``__all__`` of each public module (no part of its name starts with ``_``) defined there."""
    names = set()
    for package in (cnp, ctorch, cdata):
        modules = [package.__name__] + [m.name for m in pkgutil.walk_packages(
            package.__path__, package.__name__ + ".")]
        for module_name in modules:
            if any(part.startswith("_") for part in module_name.split(".")):
                continue
            module = importlib.import_module(module_name)
            for name in getattr(module, "__all__", ()):
                thing = getattr(module, name)
                if callable(thing) and getattr(thing, "__module__", None) == module_name:
                    names.add(f"{module_name}.{name}")
    return names


def _dotted(thing) -> str:
    return f"{thing.__module__}.{thing.__qualname__}"


def probed_callables(probes: list[Probe]) -> set[str]:
    """Dotted names (where each is defined) of the callables that ``probes`` exercised."""
    names = set()
    for probe in probes:
        target = probe.target.split("(")[0].removesuffix(".forward")
        if target in VALID:
            names.add(_dotted(VALID[target][0]))
        else:  # a layer, e.g. companion.numpy.Tanh
            half, _, name = target.removeprefix("companion.").partition(".")
            names.add(_dotted(getattr(cnp if half == "numpy" else ctorch, name)))
    return names


def all_probes() -> list[Probe]:
    torch.manual_seed(0)
    return layer_probes() + function_probes()


if __name__ == "__main__":
    import collections
    found = all_probes()
    failed = [p for p in found if not p.ok]
    print(f"{len(found)} probes, {len(failed)} fail")
    by_target = collections.Counter(p.target for p in failed)
    for target, n in by_target.most_common():
        print(f"{n:4d} {target}")
    for p in failed[:400]:
        print(f"- {p.target} {p.argument} <- {p.bad}: {p.detail[:150]}")
