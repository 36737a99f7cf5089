"""The twins mirror each other: wherever ``companion.numpy`` and ``companion.torch`` both have a
module, it exposes the same names with the same signatures, and the layers they share refuse bad
arguments by the same rules. Every intended difference is listed below with its reason; the
modules compared are those present on both sides, so renames on either side are followed."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import numpy as np
import pytest
import torch

import companion.numpy
import companion.torch

# Each half's own way to seed and place parameters, accepted by every layer constructor.
FRAMEWORK_PARAMETERS = {"numpy": {"rng"}, "torch": {"device", "dtype"}}

TORCH_FUNCTIONS = ("torch's functional forms; the scratch half's stable functions are NumPy maths "
                   "in companion.core.functional, and its layers compute their own derivatives")

# (module, half): names only that half defines, and why.
ONLY_IN = {
    ("activations", "torch"): ({"relu", "sigmoid", "log_sigmoid", "tanh", "gelu", "softmax",
                                "log_softmax"}, TORCH_FUNCTIONS),
    ("dropout", "torch"): ({"dropout"}, TORCH_FUNCTIONS),
    ("attention", "numpy"): ({"causal_mask", "scaled_dot_product_attention_backward"},
                             "the scratch half builds the causal mask itself and writes the "
                             "backward pass that torch's autograd derives"),
    ("attention", "torch"): ({"masked_softmax"}, "a softmax whose fully masked rows give zeros, "
                             "which the scratch half gets from core.functional.softmax"),
    ("conv", "numpy"): ({"im2col", "col2im", "window_config"},
                        "the scratch convolution's building blocks (torch has unfold and fold)"),
    ("conv", "torch"): ({"check_image"}, "torch layers also take unbatched (C, H, W) images"),
    ("prototypes", "torch"): ({"prototypical_loss", "ConvEmbedding", "train_prototypical",
                               "train_instance_episodes", "few_shot_accuracy"},
                              "the embedding is trained in torch only"),
    ("training", "numpy"): ({"minibatches", "ArrayLoader", "train_step"},
                           "the scratch half batches its own arrays (torch has DataLoader) and "
                           "shows the single step the training-loop chapter draws"),
    ("training", "torch"): ({"seed_everything", "train_steps", "adamw", "warmup_cosine"},
                           "seeding torch and its GPUs, and the step-based loop and AdamW recipe "
                           "of the models trained in torch only (language models, prototypes, NAS, "
                           "data-parallel)"),
}

# (module, name, half): constructor or function parameters only that half has, and why.
EXTRA_PARAMETERS = {
    ("activations", "ReLU", "torch"): ({"inplace"}, "in place would overwrite the input that a "
                                       "scratch backward needs"),
    ("dropout", "Dropout", "torch"): ({"inplace"}, "in place would overwrite the input, as "
                                      "for ReLU"),
    ("attention", "scaled_dot_product_attention", "torch"): (
        {"dropout_p", "enable_gqa"}, "attention dropout and grouped-query heads exist in the "
                                     "torch twin only"),
    ("conv", "Conv2d", "torch"): ({"groups", "padding_mode"}, "grouped and non-zero padded "
                                  "convolutions exist in the torch twin only"),
    ("embedding", "Embedding", "torch"): (
        {"max_norm", "norm_type", "scale_grad_by_freq", "sparse", "_weight", "_freeze"},
        "torch's renormalisation and sparse-gradient options, in the torch twin only"),
    **{("losses", loss, "torch"): ({"size_average", "reduce"}, "torch's deprecated reduction "
                                   "arguments, kept so the twin is a drop-in replacement")
       for loss in ("MSELoss", "CrossEntropyLoss", "NLLLoss", "BCEWithLogitsLoss")},
}


def public_modules(package) -> dict[str, object]:
    """Module name relative to ``package`` -> module, for every public (sub)module."""
    found = {}
    for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
        relative = info.name[len(package.__name__) + 1:]
        if not any(part.startswith("_") for part in relative.split(".")):
            found[relative] = importlib.import_module(info.name)
    return found


def public_api(module) -> dict[str, object]:
    """Public classes and functions that ``module`` (or, for a package, its submodules) defines."""
    home = module.__name__
    return {name: obj for name, obj in vars(module).items()
            if not name.startswith("_") and (inspect.isclass(obj) or inspect.isfunction(obj))
            and (obj.__module__ == home
                 or (hasattr(module, "__path__") and obj.__module__.startswith(home + ".")))}


def parameters(obj, drop: set[str]) -> list[tuple[str, object]]:
    """(name, default) of a function's or constructor's parameters, in order, less ``drop``."""
    target = obj.__init__ if inspect.isclass(obj) else obj
    return [(p.name, p.default) for p in inspect.signature(target).parameters.values()
            if p.name not in drop and p.name != "self"
            and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]


HALVES = {"numpy": public_modules(companion.numpy), "torch": public_modules(companion.torch)}
SHARED = sorted(set(HALVES["numpy"]) & set(HALVES["torch"]))


def test_the_layers_exist_on_both_sides():
    layers = {"activations", "attention", "conv", "dropout", "embedding", "linear", "losses",
              "normalization", "pooling", "recurrent"}
    assert layers <= set(SHARED)


@pytest.mark.parametrize("module", SHARED)
def test_shared_modules_define_the_same_names(module):
    names = {half: set(public_api(HALVES[half][module])) for half in HALVES}
    assert names["numpy"] & names["torch"], f"{module}: the two halves share no name"
    for half, other in (("numpy", "torch"), ("torch", "numpy")):
        allowed = ONLY_IN.get((module, half), (set(), ""))[0]
        only_here = names[half] - names[other]
        assert only_here - allowed == set(), f"{module}: only in companion.{half}, not allowed"
        assert allowed - only_here == set(), f"{module}: stale allow-list entry for {half}"


@pytest.mark.parametrize("module", SHARED)
def test_shared_names_have_the_same_signatures(module):
    apis = {half: public_api(HALVES[half][module]) for half in HALVES}
    for name in sorted(set(apis["numpy"]) & set(apis["torch"])):
        signature = {}
        for half in HALVES:
            extra = EXTRA_PARAMETERS.get((module, name, half), (set(), ""))[0]
            everything = parameters(apis[half][name], set())
            assert extra <= {p for p, _ in everything}, f"stale allow-list entry for {name}"
            signature[half] = parameters(apis[half][name], extra | FRAMEWORK_PARAMETERS[half])
        assert signature["numpy"] == signature["torch"], f"{module}.{name}"


def test_every_allow_list_entry_names_a_shared_module_and_a_reason():
    for (module, *_), (names, reason) in list(ONLY_IN.items()) + list(EXTRA_PARAMETERS.items()):
        assert module in SHARED and names and len(reason) > 20


def test_the_signature_check_sees_a_difference():
    def ours(x, dim=1, rng=None): ...
    def theirs(x, axis=1, device=None): ...
    assert parameters(ours, {"rng"}) != parameters(theirs, {"device"})
    assert parameters(ours, {"rng"}) == parameters(lambda x, dim=1: x, set())


# The same argument rules on both sides: the same result, or the same error with the same message.

def run(half: str, layer, x):
    """Call a layer of either half on the float64 array ``x``; returns a NumPy array."""
    if half == "numpy":
        return layer.forward(np.asarray(x, dtype=np.float64))
    return layer.double()(torch.as_tensor(np.asarray(x, dtype=np.float64))).detach().numpy()


def outcome(action):
    """What ``action()`` does: ("ok", result) or (exception type, message). A forward argument
    is called ``x`` in the scratch half and ``input`` in torch's, so messages say "x" for both."""
    try:
        return "ok", action()
    except (TypeError, ValueError) as error:
        message = str(error)
        return type(error), "x" + message[5:] if message.startswith("input ") else message


def assert_same_outcome(make, x=None):
    """``make(package)`` builds a layer; both halves must agree on building it and calling it."""
    results = {}
    for half, package in (("numpy", companion.numpy), ("torch", companion.torch)):
        built = outcome(lambda: make(package))
        results[half] = built if built[0] != "ok" or x is None else outcome(
            lambda: run(half, built[1], x))
    kinds = {half: result[0] for half, result in results.items()}
    assert kinds["numpy"] == kinds["torch"], results
    if kinds["numpy"] == "ok":
        if x is not None:
            np.testing.assert_allclose(results["numpy"][1], results["torch"][1], rtol=1e-12)
    else:
        assert results["numpy"][1] == results["torch"][1]
    return results["numpy"]


def test_linear_takes_zero_features_as_torch_does():
    for half, package in (("numpy", companion.numpy), ("torch", companion.torch)):
        empty = package.Linear(0, 3)
        out = run(half, empty, np.zeros((2, 0)))
        bias = empty.params["bias"] if half == "numpy" else empty.bias.detach().numpy()
        np.testing.assert_array_equal(out, np.broadcast_to(bias, (2, 3)))  # y = b
        assert run(half, package.Linear(3, 0), np.ones((2, 3))).shape == (2, 0)
    assert_same_outcome(lambda p: p.Linear(-1, 3))


@pytest.mark.parametrize("layer", ["Softmax", "LogSoftmax"])
def test_softmax_wants_an_integer_dim_on_both_sides(layer):
    x = np.random.default_rng(0).normal(size=(2, 3, 4))
    for bad in (None, 1.0, True):
        assert assert_same_outcome(lambda p: getattr(p, layer)(bad))[0] is TypeError
    for dim, data in ((-3, x), (2, x), (0, np.float64(1.0))):  # a 0-d input takes dim -1 or 0, as torch
        assert assert_same_outcome(lambda p: getattr(p, layer)(dim), data)[0] == "ok"
    for dim, data in ((3, x), (-4, x), (1, np.float64(1.0))):
        assert assert_same_outcome(lambda p: getattr(p, layer)(dim), data)[0] is ValueError


@pytest.mark.parametrize("start, end, shape", [(1, -1, (2, 3, 4)), (0, 0, ()), (2, 1, (2, 3, 4)),
                                               (3, -1, (2, 3, 4)), (-4, 0, (2, 3, 4))])
def test_flatten_follows_the_same_rules(start, end, shape):
    x = np.arange(np.prod(shape), dtype=np.float64).reshape(shape)
    assert_same_outcome(lambda p: p.Flatten(start, end), x)


@pytest.mark.parametrize("bad", ["a", 1.0, None, False])
def test_flatten_refuses_non_integer_dims_at_construction(bad):
    assert assert_same_outcome(lambda p: p.Flatten(bad))[0] is TypeError
    assert assert_same_outcome(lambda p: p.Flatten(1, bad))[0] is TypeError


@pytest.mark.parametrize("layer, kwargs", [
    ("MaxPool2d", {"kernel_size": 3, "stride": 2, "ceil_mode": True}),
    ("MaxPool2d", {"kernel_size": 2, "stride": 3, "padding": 1, "ceil_mode": True}),
    ("AvgPool2d", {"kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": True}),
    ("AvgPool2d", {"kernel_size": 3, "stride": 2, "ceil_mode": True, "count_include_pad": False}),
    ("MaxPool2d", {"kernel_size": 3, "padding": 2}),
    ("AvgPool2d", {"kernel_size": 5}),
])
def test_pooling_follows_the_same_rules(layer, kwargs):
    x = np.random.default_rng(1).normal(size=(2, 3, 8, 7))
    assert_same_outcome(lambda p: getattr(p, layer)(**kwargs), x[:, :, :4, :4]
                        if kwargs["kernel_size"] == 5 else x)
