"""Degenerate inputs through every layer and loss of both halves, against torch.nn.

NaN and +-inf propagate exactly as in torch (same positions, forward and backward), logits of
+-1e4 stay finite wherever torch's do, losses whose every target is ignored give torch's value
(nan for a mean) and zero gradients, and empty batches, size-1 axes and 0-d inputs either match
torch or are refused with a message naming the argument. See ``cases.py`` for the inputs.
"""

import numpy as np
import pytest
import torch

import companion.numpy as cnp
import companion.torch as ctorch
from companion.parity import check_parity, random_array, to_torch
from tests.conformance.classify import MATCH, REFUSED
from tests.degenerate.cases import ignored_cases, shape_cases, value_cases, verdicts

VALUES, SHAPES, IGNORED = (dict(generate()) for generate in (value_cases, shape_cases,
                                                             ignored_cases))


@pytest.mark.parametrize("name", sorted(VALUES))
def test_nan_inf_and_large_values_propagate_as_in_torch(name):
    assert verdicts(VALUES[name]) == {"numpy": (MATCH, ""), "torch": (MATCH, "")}


@pytest.mark.parametrize("name", sorted(IGNORED))
def test_every_target_ignored_gives_torch_loss_and_zero_gradient(name):
    assert verdicts(IGNORED[name]) == {"numpy": (MATCH, ""), "torch": (MATCH, "")}


@pytest.mark.parametrize("name", sorted(SHAPES))
def test_empty_size_one_and_scalar_shapes_match_or_are_refused(name):
    found = verdicts(SHAPES[name])
    assert all(verdict in (MATCH, REFUSED) for verdict, _ in found.values()), found


def test_refusals_of_shapes_are_the_known_few():
    """What the halves refuse outright (torch accepts these), so a new refusal is noticed."""
    refused = sorted((half, name) for name, c in SHAPES.items()
                     for half, (verdict, _) in verdicts(c).items() if verdict == REFUSED)
    assert refused == sorted(
        [(half, "BatchNorm1d (0, 3)") for half in ("numpy", "torch")])  # statistics of none


@pytest.mark.parametrize("name", ["Linear", "Conv2d", "LSTM", "LayerNorm", "CrossEntropyLoss"])
def test_numpy_half_computes_integer_and_float32_inputs_in_float64(name):
    """Integer and float32 inputs are converted, so the result is the float64 one exactly."""
    layer, shape = {"Linear": (cnp.Linear(3, 2, rng=0), (4, 3)),
                    "Conv2d": (cnp.Conv2d(2, 3, 2, rng=0), (1, 2, 4, 4)),
                    "LSTM": (cnp.LSTM(3, 2, rng=0), (4, 1, 3)),
                    "LayerNorm": (cnp.LayerNorm(3), (2, 3)),
                    "CrossEntropyLoss": (cnp.CrossEntropyLoss(), (4, 3))}[name]
    extra = (np.array([0, 2, 1, 2]),) if name == "CrossEntropyLoss" else ()
    x = np.random.default_rng(0).integers(-3, 4, shape)
    expected = layer.forward(x.astype(np.float64), *extra)
    for dtype in (np.int64, np.int32, np.float32):
        got = layer.forward(x.astype(dtype), *extra)
        np.testing.assert_array_equal(got[0] if name == "LSTM" else got,
                                      expected[0] if name == "LSTM" else expected)


@pytest.mark.parametrize("cls, args, shape", [
    (ctorch.Linear, (3, 2), (4, 3)), (ctorch.Conv2d, (2, 3, 2), (1, 2, 4, 4)),
    (ctorch.LSTM, (3, 2), (4, 1, 3)), (ctorch.LayerNorm, (3,), (2, 3)),
    (ctorch.MultiheadAttention, (4, 2), (3, 1, 4))])
def test_torch_half_in_float32_matches_torch_in_float32(cls, args, shape):
    torch.manual_seed(0)
    theirs = getattr(torch.nn, cls.__name__)(*args)
    ours = cls(*args)
    ours.load_state_dict(theirs.state_dict())
    x = torch.tensor(random_array(shape), dtype=torch.float32)
    inputs = (x, x, x) if cls is ctorch.MultiheadAttention else (x,)
    out, out_t = ours(*inputs), theirs(*inputs)
    out, out_t = (out[0], out_t[0]) if isinstance(out, tuple) else (out, out_t)
    assert out.dtype == torch.float32
    torch.testing.assert_close(out, out_t, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("half", [cnp, ctorch])
def test_fully_masked_attention_rows_are_zero_by_choice(half):
    """The documented choice: a query whose keys are all blocked gets zero weights and the output
    ``out_proj.bias`` (torch's scaled_dot_product_attention gives the same; nn.MultiheadAttention
    gives nan when it returns weights), and finite gradients everywhere."""
    torch.manual_seed(0)
    theirs = torch.nn.MultiheadAttention(4, 2, batch_first=True).double()
    with torch.no_grad():
        theirs.out_proj.bias.normal_()
    blocked = np.zeros((3, 5), dtype=bool)
    blocked[1] = True  # query 1 may attend to nothing
    q, kv = random_array((2, 3, 4), 1), random_array((2, 5, 4), 2)
    if half is cnp:
        ours = cnp.MultiheadAttention.from_torch(theirs)
        out, weights = ours.forward(q, kv, kv, attn_mask=blocked)
        grads = ours.backward(random_array(out.shape, 3))
        bias = ours.params["out_proj.bias"]
    else:
        ours = ctorch.MultiheadAttention(4, 2, batch_first=True).double()
        ours.load_state_dict(theirs.state_dict())
        q_t, kv_t = to_torch(q, True), to_torch(kv, True)
        out, weights = ours(q_t, kv_t, kv_t, attn_mask=torch.tensor(blocked))
        out.backward(torch.tensor(random_array(tuple(out.shape), 3)))
        grads = [q_t.grad.numpy(), kv_t.grad.numpy()]
        out, weights, bias = out.detach().numpy(), weights.detach().numpy(), \
            theirs.out_proj.bias.detach().numpy()
    assert not weights[:, 1].any()
    np.testing.assert_allclose(out[:, 1], np.broadcast_to(bias, (2, 4)), rtol=1e-12)
    assert all(np.isfinite(g).all() for g in grads)
    out_t, _ = theirs(*to_torch((q, kv, kv)), attn_mask=torch.tensor(blocked))
    assert torch.isnan(out_t[:, 1]).all()  # torch's own need_weights=True path
    check_parity(ours, theirs, q, kv, kv,
                 kwargs={"attn_mask": blocked, "need_weights": False}, grad_outputs=1)
