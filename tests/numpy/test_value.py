"""The scalar autograd engine against torch.autograd in float64."""

import math

import numpy as np
import pytest
import torch

from companion.numpy.autograd import MLP, Neuron, Value, to_mermaid, trace
from companion.parity import assert_close

INPUTS = (1.3, -0.7, 0.4)          # a, b, c; c > 0 so that log(c) is defined


def reuse(a, b, c):
    """micrograd's sanity check: z is used five times, q three times."""
    z = 2 * a + 2 + a
    q = z.relu() + z * a
    h = (z * z).relu()
    return h + q + q * a + b * c


def smooth(a, b, c):
    return (a * b + c.exp()).tanh() / (b ** 2 + 1) - 3 * a.sigmoid()


def kinks(a, b, c):
    return (a - b).relu() ** 3 + (2.0 / (c.exp() + 1)).log() - (-a) * b + (b - a).relu()


def reflected(a, b, c):
    return 1 - a / b + (a * a * a).sigmoid() * c.log() - 2.5 / (c + a) + (-b).sigmoid() ** -1.5


def logistic_loss(a, b, c):
    p = (a * 0.8 - b * 1.7 + c).sigmoid()
    return -(c * p.log() + (1 - c) * (1 - p).log())


@pytest.mark.parametrize("expression", [reuse, smooth, kinks, reflected, logistic_loss])
def test_expression_matches_torch(expression):
    ours = [Value(x) for x in INPUTS]
    theirs = [torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in INPUTS]
    out, out_t = expression(*ours), expression(*theirs)
    out.backward()
    out_t.backward()
    assert_close(out.data, out_t, "forward value")
    for name, v, t in zip("abc", ours, theirs):
        assert_close(v.grad, t.grad, f"gradient of {name}")


def test_backward_twice_accumulates_on_leaves_like_torch():
    a, b = Value(0.9), Value(-1.2)
    t_a, t_b = (torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in (0.9, -1.2))
    hidden, hidden_t = (a * b).tanh(), (t_a * t_b).tanh()
    out, out_t = hidden * a, hidden_t * t_a
    out_t.backward(retain_graph=True)
    out_t.backward()
    out.backward()
    once = (a.grad, b.grad, hidden.grad)
    out.backward()
    assert_close(a.grad, t_a.grad, "a after two backward passes")
    assert_close(b.grad, t_b.grad, "b after two backward passes")
    assert a.grad == 2 * once[0] and b.grad == 2 * once[1]
    assert hidden.grad == once[2], "interior nodes hold the latest pass, not a sum"
    a.zero_grad()                                     # explicit, one node at a time
    assert a.grad == 0.0 and b.grad == 2 * once[1]


def test_two_outputs_sharing_a_node_add_their_gradients_into_the_leaf():
    x = Value(0.3)
    shared = x.tanh()
    (shared * 2).backward()
    (shared * 3).backward()
    assert_close(x.grad, 5 * (1 - math.tanh(0.3) ** 2), "sum of both passes")


def test_deep_graph_needs_no_recursion():
    x = Value(0.5)
    total = sum((x * 1.0 for _ in range(5000)), Value(0.0))
    total.backward()
    assert x.grad == pytest.approx(5000.0)


def test_sigmoid_is_stable_for_large_inputs():
    for x in (-1e4, 1e4):
        v = Value(x)
        out = v.sigmoid()
        out.backward()
        assert math.isfinite(out.data) and math.isfinite(v.grad)


def test_trace_and_mermaid_show_every_node():
    a, b = Value(2.0, label="a"), Value(-3.0, label="b")
    c = a * b
    c.label = "c"
    d = c + a
    d.label = "d"
    d.backward()
    nodes, edges = trace(d)
    assert set(nodes) == {a, b, c, d}
    assert set(edges) == {(a, c), (b, c), (c, d), (a, d)}
    text = to_mermaid(d)
    assert text.startswith("flowchart LR")
    for line in ('"a | data 2.0000 | grad -2.0000"', '"b | data -3.0000 | grad 2.0000"',
                 '"c | data -6.0000 | grad 1.0000"', '"d | data -4.0000 | grad 1.0000"',
                 '(("*"))', '(("+"))'):
        assert line in text
    assert text.count("-->") == 2 + len(edges)       # op -> result, operand -> op


def test_mlp_matches_torch():
    net = MLP(3, [4, 4, 2], rng=0)
    x = [0.5, -1.0, 2.0]
    out = net(x)
    loss = sum(o * w for o, w in zip(out, (0.7, -1.3)))
    net.zero_grad()
    loss.backward()
    x_t = torch.tensor(x, dtype=torch.float64)
    weights = []
    for i, layer in enumerate(net.layers):
        w = torch.tensor([[p.data for p in n.w] for n in layer.neurons], dtype=torch.float64,
                         requires_grad=True)
        b = torch.tensor([n.b.data for n in layer.neurons], dtype=torch.float64,
                         requires_grad=True)
        weights.append((w, b))
        x_t = w @ x_t + b
        x_t = x_t.tanh() if i < len(net.layers) - 1 else x_t
    assert_close([o.data for o in out], x_t, "output")
    (x_t * torch.tensor([0.7, -1.3], dtype=torch.float64)).sum().backward()
    for layer, (w, b) in zip(net.layers, weights):
        assert_close([[p.grad for p in n.w] for n in layer.neurons], w.grad, "weight grads")
        assert_close([n.b.grad for n in layer.neurons], b.grad, "bias grads")
    assert len(net.parameters()) == 4 * 4 + 4 * 5 + 2 * 5


def test_neuron_init_follows_torch_bound():
    n = Neuron(16, rng=np.random.default_rng(1))
    assert all(abs(p.data) <= 0.25 for p in n.parameters())


@pytest.mark.parametrize("bad, match", [("2", "data must be a real number"),
                                        (None, "data must be a real number"),
                                        (True, "data must be a real number")])
def test_bad_data(bad, match):
    with pytest.raises(TypeError, match=match):
        Value(bad)


def test_bad_operations():
    with pytest.raises(TypeError, match="data must be a real number, got str"):
        Value(1.0) + "x"
    with pytest.raises(TypeError, match="exponent must be a constant real number, got Value"):
        Value(2.0) ** Value(3.0)
    with pytest.raises(ValueError, match="negative base .* integer exponent, got 0.5"):
        Value(-2.0) ** 0.5
    with pytest.raises(ValueError, match="log needs a positive input, got 0.0"):
        Value(0.0).log()
    with pytest.raises(ValueError, match="direction must be one of"):
        to_mermaid(Value(1.0), direction="XY")
    with pytest.raises(ValueError, match="x must hold 3 inputs, got 2"):
        Neuron(3, rng=0)([1.0, 2.0])
