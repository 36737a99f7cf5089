"""The array autograd engine against torch.autograd in float64, with random upstream gradients."""

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import given, settings, strategies as st

from companion.numpy.autograd import (Tensor, Value, concatenate, cross_entropy, stack, to_mermaid,
                                      trace, unbroadcast)
from companion.parity import Function, assert_close, check_parity, random_array, to_torch


def engine(fn):
    """``fn`` on our Tensors as a parity Function: backward gives each input Tensor's grad."""
    graph = {}

    def forward(*arrays):
        graph["inputs"] = [Tensor(a, requires_grad=True) for a in arrays]
        graph["output"] = fn(*graph["inputs"])
        return graph["output"].data

    def grad(upstream, inputs, output):
        graph["output"].backward(upstream[0])
        return [x.grad for x in graph["inputs"]]

    function = Function(forward, grad)
    function.graph = graph  # the Tensors of the last call, for further checks
    return function


def positive(shape, seed=0):
    return 0.5 + np.abs(random_array(shape, seed))


def away_from_zero(shape, seed=0):
    x = random_array(shape, seed)
    return x + 0.2 * np.sign(x)


BINARY = {
    "add (3,1)+(1,4)": (lambda a, b: a + b, lambda a, b: a + b, (3, 1), (1, 4)),
    "sub (2,3,4)-(4,)": (lambda a, b: a - b, lambda a, b: a - b, (2, 3, 4), (4,)),
    "mul (2,3,4)*(4,)": (lambda a, b: a * b, lambda a, b: a * b, (2, 3, 4), (4,)),
    "mul scalar*tensor": (lambda a, b: a * b, lambda a, b: a * b, (), (3, 4)),
    "mul (5,1,3)*(4,1)": (lambda a, b: a * b, lambda a, b: a * b, (5, 1, 3), (4, 1)),
    "div (3,4)/(3,1)": (lambda a, b: a / b, lambda a, b: a / b, (3, 4), (3, 1)),
    "pow tensor (3,4)**(4,)": (lambda a, b: a ** b, lambda a, b: a ** b, (3, 4), (4,)),
    "matmul (3,4)@(4,5)": (lambda a, b: a @ b, lambda a, b: a @ b, (3, 4), (4, 5)),
    "matmul batched broadcast": (lambda a, b: a @ b, lambda a, b: a @ b, (2, 1, 3, 4), (5, 4, 2)),
    "matmul (2,3,4)@(4,5)": (lambda a, b: a @ b, lambda a, b: a @ b, (2, 3, 4), (4, 5)),
    "matmul vec@vec": (lambda a, b: a @ b, lambda a, b: a @ b, (4,), (4,)),
    "matmul vec@mat": (lambda a, b: a @ b, lambda a, b: a @ b, (4,), (4, 3)),
    "matmul mat@vec": (lambda a, b: a @ b, lambda a, b: a @ b, (3, 4), (4,)),
    "matmul batch@vec": (lambda a, b: a @ b, lambda a, b: a @ b, (2, 3, 4), (4,)),
    "matmul vec@batch": (lambda a, b: a @ b, lambda a, b: a @ b, (4,), (2, 4, 3)),
}


@pytest.mark.parametrize("name", list(BINARY))
def test_binary_op(name):
    ours_fn, torch_fn, shape_a, shape_b = BINARY[name]
    a = positive(shape_a, 1) if "pow" in name else random_array(shape_a, 1)
    b = away_from_zero(shape_b, 2)
    check_parity(engine(ours_fn), torch_fn, a, b)


UNARY = {
    "neg": (lambda x: -x, lambda x: -x, random_array),
    "pow 3": (lambda x: x ** 3, lambda x: x ** 3, random_array),
    "pow -0.5": (lambda x: x ** -0.5, lambda x: x ** -0.5, positive),
    "rsub": (lambda x: 2.0 - x, lambda x: 2.0 - x, random_array),
    "radd array": (lambda x: np.ones((2, 1, 1)) + x, lambda x: to_torch(np.ones((2, 1, 1))) + x,
                   random_array),
    "rtruediv": (lambda x: 2.0 / x, lambda x: 2.0 / x, away_from_zero),
    "rpow": (lambda x: 2.0 ** x, lambda x: 2.0 ** x, random_array),
    "exp": (lambda x: x.exp(), torch.exp, random_array),
    "log": (lambda x: x.log(), torch.log, positive),
    "sqrt": (lambda x: x.sqrt(), torch.sqrt, positive),
    "tanh": (lambda x: x.tanh(), torch.tanh, random_array),
    "relu": (lambda x: x.relu(), torch.relu, away_from_zero),
    "sigmoid": (lambda x: x.sigmoid(), torch.sigmoid, random_array),
    "sum all": (lambda x: x.sum(), torch.sum, random_array),
    "sum 0": (lambda x: x.sum(0), lambda x: x.sum(0), random_array),
    "sum (0,2)": (lambda x: x.sum((0, 2)), lambda x: x.sum((0, 2)), random_array),
    "sum -1 keepdims": (lambda x: x.sum(-1, keepdims=True), lambda x: x.sum(-1, keepdim=True),
                        random_array),
    "mean all": (lambda x: x.mean(), torch.mean, random_array),
    "mean 1": (lambda x: x.mean(1), lambda x: x.mean(1), random_array),
    "mean (1,2) keepdims": (lambda x: x.mean((1, 2), keepdims=True),
                            lambda x: x.mean((1, 2), keepdim=True), random_array),
    "var -1": (lambda x: x.var(-1), lambda x: x.var(-1), random_array),
    "var -1 biased keepdims": (lambda x: x.var(-1, keepdims=True, correction=0),
                               lambda x: x.var(-1, keepdim=True, correction=0), random_array),
    "var all": (lambda x: x.var(), lambda x: x.var(), random_array),
    "max all": (lambda x: x.max(), torch.amax, random_array),
    "max 1": (lambda x: x.max(1), lambda x: x.amax(1), random_array),
    "max -1 keepdims": (lambda x: x.max(-1, keepdims=True), lambda x: x.amax(-1, keepdim=True),
                        random_array),
    "max (0,2)": (lambda x: x.max((0, 2)), lambda x: x.amax((0, 2)), random_array),
    "softmax 1": (lambda x: x.softmax(1), lambda x: x.softmax(1), random_array),
    "softmax -1": (lambda x: x.softmax(-1), lambda x: x.softmax(-1), random_array),
    "log_softmax -1": (lambda x: x.log_softmax(-1), lambda x: x.log_softmax(-1), random_array),
    "log_softmax 0": (lambda x: x.log_softmax(0), lambda x: x.log_softmax(0), random_array),
    "reshape": (lambda x: x.reshape(4, 6), lambda x: x.reshape(4, 6), random_array),
    "reshape tuple -1": (lambda x: x.reshape((3, -1)), lambda x: x.reshape(3, -1), random_array),
    "transpose (1,2,0)": (lambda x: x.transpose(1, 2, 0), lambda x: x.permute(1, 2, 0),
                          random_array),
    "transpose (-1,0,1)": (lambda x: x.transpose((-1, 0, 1)), lambda x: x.permute(-1, 0, 1),
                           random_array),
    "transpose reversed": (lambda x: x.transpose(), lambda x: x.permute(2, 1, 0), random_array),
    "swapaxes": (lambda x: x.swapaxes(-2, -1), lambda x: x.transpose(-2, -1), random_array),
    "index int": (lambda x: x[1], lambda x: x[1], random_array),
    "index slices": (lambda x: x[:, 1:, ::2], lambda x: x[:, 1:, ::2], random_array),
    "index ellipsis None": (lambda x: x[..., None, -1], lambda x: x[..., None, -1], random_array),
    "index repeated rows": (lambda x: x[[0, 1, 0, 0]], lambda x: x[[0, 1, 0, 0]], random_array),
    "index pairs": (lambda x: x[np.array([0, 1, 1]), :, np.array([3, 0, 3])],
                    lambda x: x[torch.tensor([0, 1, 1]), :, torch.tensor([3, 0, 3])],
                    random_array),
    "index mixed": (lambda x: x[1, np.array([[0, 2], [2, 2]])],
                    lambda x: x[1, torch.tensor([[0, 2], [2, 2]])], random_array),
    "masked_fill": (lambda x: x.masked_fill(np.array([True, False, False, True]), 0.5),
                    lambda x: x.masked_fill(torch.tensor([True, False, False, True]), 0.5),
                    random_array),
}


@pytest.mark.parametrize("name", list(UNARY))
def test_unary_op(name):
    ours_fn, torch_fn, make = UNARY[name]
    check_parity(engine(ours_fn), torch_fn, make((2, 3, 4), 3))


def test_matrix_transpose_property():
    check_parity(engine(lambda x: x.T @ x), lambda x: x.T @ x, random_array((5, 3), 4))


def test_embedding_lookup_adds_gradients_of_repeated_ids():
    ids = np.array([[0, 3, 3], [4, 0, 3]])                  # (B, T)
    check_parity(engine(lambda w: w[ids]), lambda w: w[torch.from_numpy(ids)],
                 random_array((6, 4), 5))


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_concatenate_and_stack(axis):
    arrays = [random_array((2, 3), 6), random_array((2, 3), 7), random_array((2, 3), 8)]
    check_parity(engine(lambda *t: concatenate(t, axis)), lambda *t: torch.cat(t, axis), *arrays)
    check_parity(engine(lambda *t: stack(t, axis)), lambda *t: torch.stack(t, axis), *arrays)


def test_causal_mask_then_softmax():
    mask = np.triu(np.ones((4, 4), dtype=bool), k=1)         # (T, T), True above the diagonal
    check_parity(engine(lambda x: x.masked_fill(mask, -np.inf).softmax(-1)),
                 lambda x: x.masked_fill(torch.from_numpy(mask), -torch.inf).softmax(-1),
                 random_array((2, 4, 4), 9))


@pytest.mark.parametrize("shape", [(5, 3), (1, 7), (2, 4, 6)])
def test_cross_entropy(shape):
    targets = np.random.default_rng(10).integers(0, shape[-1], shape[:-1])
    flat = torch.from_numpy(targets.reshape(-1))
    check_parity(engine(lambda x: cross_entropy(x, targets)),
                 lambda x: TF.cross_entropy(x.reshape(-1, shape[-1]), flat),
                 random_array(shape, 11))


def test_stable_for_huge_logits():
    x = Tensor([[1e4, -1e4, 0.0], [-1e4, -1e4, 1e4]], requires_grad=True)
    for out in (x.sigmoid(), x.softmax(-1), x.log_softmax(-1), cross_entropy(x, [1, 0])):
        out.backward(np.ones(out.shape))
        assert np.all(np.isfinite(out.data)) and np.all(np.isfinite(x.grad))


def test_max_splits_ties_like_amax():
    x = np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]])
    check_parity(engine(lambda t: t.max(1)), lambda t: t.amax(1), x)
    check_parity(engine(lambda t: t.max()), lambda t: t.amax(), x)


# -- composed models ----------------------------------------------------------------------------
def test_two_layer_mlp_with_cross_entropy():
    rng = np.random.default_rng(12)
    targets = rng.integers(0, 3, 8)

    def ours(x, w1, b1, w2, b2):
        return cross_entropy((x @ w1.T + b1).relu() @ w2.T + b2, targets)

    def theirs(x, w1, b1, w2, b2):
        return TF.cross_entropy(TF.linear(TF.linear(x, w1, b1).relu(), w2, b2),
                                torch.from_numpy(targets))

    shapes = [(8, 5), (7, 5), (7,), (3, 7), (3,)]
    check_parity(engine(ours), theirs, *[random_array(s, 13 + i) for i, s in enumerate(shapes)])


def layer_norm(x, weight, bias, eps=1e-5):
    mean = x.mean(-1, keepdims=True)                          # (B, T, 1)
    var = x.var(-1, keepdims=True, correction=0)              # (B, T, 1)
    return (x - mean) / (var + eps).sqrt() * weight + bias


def test_causal_self_attention_block_with_layer_norm():
    B, T, D = 2, 5, 6
    mask = np.triu(np.ones((T, T), dtype=bool), k=1)          # True where a query may not look

    def ours(x, ln_w, ln_b, w_qkv, w_out):
        h = layer_norm(x, ln_w, ln_b)                         # (B, T, D)
        qkv = h @ w_qkv.T                                     # (B, T, 3D)
        q, k, v = qkv[..., :D], qkv[..., D:2 * D], qkv[..., 2 * D:]
        att = q @ k.swapaxes(-2, -1) * D ** -0.5              # (B, T, T)
        att = att.masked_fill(mask, -np.inf).softmax(-1)
        return x + (att @ v) @ w_out.T                        # (B, T, D)

    def theirs(x, ln_w, ln_b, w_qkv, w_out):
        h = TF.layer_norm(x, (D,), ln_w, ln_b)
        q, k, v = (h @ w_qkv.T).split(D, dim=-1)
        att = TF.scaled_dot_product_attention(q, k, v, is_causal=True)
        return x + att @ w_out.T

    shapes = [(B, T, D), (D,), (D,), (3 * D, D), (D, D)]
    check_parity(engine(ours), theirs, *[random_array(s, 20 + i) for i, s in enumerate(shapes)])


def test_training_an_mlp_on_xor():
    x = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    y = np.array([0, 1, 1, 0])
    rng = np.random.default_rng(0)
    params = [Tensor(rng.uniform(-0.7, 0.7, (8, 2)), requires_grad=True),
              Tensor(np.zeros(8), requires_grad=True),
              Tensor(rng.uniform(-0.35, 0.35, (2, 8)), requires_grad=True),
              Tensor(np.zeros(2), requires_grad=True)]
    w1, b1, w2, b2 = params
    for _ in range(500):
        loss = cross_entropy((x @ w1.T + b1).tanh() @ w2.T + b2, y)
        for p in params:
            p.zero_grad()
        loss.backward()
        for p in params:
            p.data -= 0.5 * p.grad
    assert loss.item() < 0.05


# -- broadcasting as a property ----------------------------------------------------------------
@st.composite
def broadcastable_shapes(draw):
    full = draw(st.lists(st.integers(1, 4), min_size=0, max_size=4))
    shapes = []
    for _ in range(2):
        dropped = draw(st.integers(0, len(full)))
        shapes.append(tuple(1 if draw(st.booleans()) else n for n in full[dropped:]))
    return shapes


@settings(max_examples=25, deadline=None)
@given(broadcastable_shapes(), st.sampled_from(["+", "*"]))
def test_broadcasting_gradients_take_the_operand_shapes(shapes, op):
    fn = (lambda a, b: a + b) if op == "+" else (lambda a, b: a * b)
    ours = engine(fn)
    check_parity(ours, fn, random_array(shapes[0], 30), random_array(shapes[1], 31))
    a, b = ours.graph["inputs"]
    assert a.grad.shape == shapes[0] and b.grad.shape == shapes[1]


def test_unbroadcast_sums_added_and_stretched_axes():
    grad = np.arange(24.0).reshape(2, 3, 4)
    assert_close(unbroadcast(grad, (3, 1)), grad.sum(0).sum(1, keepdims=True), "(3, 1)")
    assert unbroadcast(grad, ()).shape == ()


# -- accumulation, graph bookkeeping -------------------------------------------------------------
def test_backward_twice_accumulates_on_leaves_like_torch():
    x_np, w_np, g = random_array((3, 4), 40), random_array((4, 2), 41), random_array((3, 2), 42)
    x, w = Tensor(x_np, requires_grad=True), Tensor(w_np, requires_grad=True)
    x_t, w_t = to_torch(x_np, True), to_torch(w_np, True)
    hidden, out = None, None
    for _ in range(2):
        hidden = (x @ w).tanh()
        out = hidden * x[:, :2]
        out.backward(g)
        out_t = (x_t @ w_t).tanh() * x_t[:, :2]
        out_t.backward(to_torch(g))
    assert_close(x.grad, x_t.grad, "x after two passes")
    assert_close(w.grad, w_t.grad, "w after two passes")
    once = hidden.grad.copy()
    out.backward(g)                                           # same graph, a third pass
    assert_close(hidden.grad, once, "interior nodes hold the latest pass")
    assert_close(w.grad, 1.5 * w_t.grad.numpy(), "w after three passes")
    w.zero_grad()
    assert w.grad is None


def test_both_engines_share_one_graph_walk_and_one_gradient_rule():
    w, x = Tensor(np.ones((2, 3)), requires_grad=True), np.arange(3.0)
    out = (w @ x).tanh().sum()
    nodes, edges = trace(out)
    assert nodes[-1] is out and w in nodes and len(edges) == 4  # w, x -> @ -> tanh -> sum
    text = to_mermaid(out)
    assert '"shape (2, 3)"' in text and '(("@"))' in text and '(("tanh"))' in text
    v = Value(0.5)
    for engine_leaf, loss in ((w, lambda: (w @ x).tanh().sum()), (v, lambda: (v * v).tanh())):
        loss().backward()
        first = np.array(engine_leaf.grad, dtype=float)
        loss().backward()                                     # leaves accumulate
        np.testing.assert_allclose(engine_leaf.grad, 2 * first)
        engine_leaf.zero_grad()                               # and are cleared explicitly
        loss().backward()
        np.testing.assert_allclose(engine_leaf.grad, first)


def test_leaf_gradient_is_a_writable_copy():
    x = Tensor(np.ones((2, 3)), requires_grad=True)
    g = np.ones(())
    x.sum().backward(g)
    x.grad *= 2.0
    assert np.all(x.grad == 2.0) and g == 1.0


def test_constants_and_detached_tensors_get_no_gradient():
    w = Tensor(random_array((3,), 50), requires_grad=True)
    c = Tensor(random_array((3,), 51))
    out = (w * c + w.detach() * 2.0).sum()
    out.backward()
    assert c.grad is None and c.requires_grad is False
    assert_close(w.grad, c.data, "only the attached path counts")
    assert (c * 2.0)._prev == (), "tensors that need no gradient record no graph"


def test_input_data_is_copied():
    array = np.zeros(3)
    t = Tensor(array, requires_grad=True)
    t.data += 1.0
    assert np.all(array == 0.0) and t.data.dtype == np.float64


def test_deep_graph_needs_no_recursion():
    x = Tensor(np.ones(2), requires_grad=True)
    out = x
    for _ in range(5000):
        out = out * 1.0
    out.sum().backward()
    assert_close(x.grad, np.ones(2), "gradient through 5000 nodes")


# -- errors written for people -----------------------------------------------------------------
def test_bad_inputs():
    with pytest.raises(TypeError, match="data must be a numeric array, got str"):
        Tensor("abc")
    with pytest.raises(TypeError, match="requires_grad must be a bool, got int"):
        Tensor([1.0], requires_grad=1)
    with pytest.raises(TypeError, match="got a Tensor; use tensor.detach"):
        Tensor(Tensor([1.0]))
    with pytest.raises(TypeError, match="other must be a numeric array"):
        Tensor([1.0]) + "x"
    with pytest.raises(ValueError, match=r"cannot multiply shapes \(2, 3\) and \(4, 5\)"):
        Tensor(np.ones((2, 3))) @ Tensor(np.ones((4, 5)))
    with pytest.raises(ValueError, match=r"at least one dimension, got shapes \(\) and \(3,\)"):
        Tensor(2.0) @ Tensor(np.ones(3))
    with pytest.raises(TypeError, match="mask must be a boolean array, got dtype int64"):
        Tensor(np.ones(3)).masked_fill(np.array([1, 0, 1]), 0.0)
    with pytest.raises(ValueError, match=r"mask must broadcast to the tensor's shape \(3,\)"):
        Tensor(np.ones(3)).masked_fill(np.ones((2, 3), dtype=bool), 0.0)
    with pytest.raises(TypeError, match="not with a Tensor"):
        Tensor(np.ones(3))[Tensor([0.0])]
    with pytest.raises(ValueError, match="targets must be smaller than 3, got maximum 3"):
        cross_entropy(Tensor(np.ones((2, 3))), [0, 3])
    with pytest.raises(ValueError, match=r"targets must have shape \(2,\)"):
        cross_entropy(Tensor(np.ones((2, 3))), [0, 1, 2])
    with pytest.raises(ValueError, match="concatenate needs at least one tensor"):
        concatenate([])


def test_bad_backward_calls():
    x = Tensor(np.ones((2, 3)), requires_grad=True)
    with pytest.raises(ValueError, match=r"only for a one-element output; .* shape \(2, 3\)"):
        (x * 2.0).backward()
    with pytest.raises(ValueError, match=r"grad must have the output's shape \(2, 3\), got \(3,\)"):
        (x * 2.0).backward(np.ones(3))
    with pytest.raises(ValueError, match="needs a tensor that requires grad"):
        Tensor(np.ones(())).backward()
