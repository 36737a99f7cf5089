"""The NumPy transformer block and GPT against their torch twins, in float64."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from companion.numpy.optim import Adam  # noqa: E402
from companion.numpy.transformer import GPT, TransformerBlock, sinusoidal_positional_encoding  # noqa: E402,E501
from companion.parity import check_parity  # noqa: E402
from companion.torch.models import gpt as torch_gpt  # noqa: E402
from companion.torch.models import transformer as torch_transformer  # noqa: E402

RTOL, ATOL = 1e-7, 1e-10


def _torch_block(norm_first, causal, seed=0):
    torch.manual_seed(seed)
    block = torch_transformer.TransformerBlock(12, 3, norm_first=norm_first, causal=causal)
    with torch.no_grad():  # non-trivial norms so their gradients are tested too
        for name, p in block.named_parameters():
            if "ln" in name:
                p.add_(0.3 * torch.randn_like(p))
    return block.double()


@pytest.mark.parametrize("norm_first", [True, False])
@pytest.mark.parametrize("causal", [True, False])
@pytest.mark.parametrize("B, T", [(2, 5), (1, 1), (3, 4)])
def test_block_matches_torch(norm_first, causal, B, T):
    theirs = _torch_block(norm_first, causal)
    ours = TransformerBlock.from_torch(theirs)
    check_parity(ours, theirs, np.random.default_rng(1).standard_normal((B, T, 12)))


def test_block_with_padding_mask_matches_torch_and_has_no_nan():
    theirs = _torch_block(True, False)
    ours = TransformerBlock.from_torch(theirs)
    x = np.random.default_rng(2).standard_normal((2, 4, 12))
    padding = np.array([[False, False, True, True], [True, True, True, True]])
    check_parity(ours, theirs, x, kwargs={"key_padding_mask": padding})
    assert np.isfinite(ours(x, key_padding_mask=padding)).all()
    assert np.all(ours.attn.last_weights[1] == 0)


def _torch_gpt(tie=False, seed=0, V=13):
    torch.manual_seed(seed)
    config = torch_gpt.GPTConfig(vocab_size=V, block_size=8, n_layer=2, n_head=2, n_embd=8,
                                 tie_weights=tie)
    return torch_gpt.GPT(config).double()


@pytest.mark.parametrize("tie", [False, True])
def test_gpt_logits_loss_and_gradients_match_torch(tie):
    theirs = _torch_gpt(tie)
    ours = GPT.from_torch(theirs)
    rng = np.random.default_rng(3)
    idx, targets = rng.integers(0, 13, (3, 7)), rng.integers(0, 13, (3, 7))
    logits_t, loss_t = theirs(torch.tensor(idx), torch.tensor(targets))
    loss_t.backward()
    logits, loss = ours(idx, targets)
    np.testing.assert_allclose(logits, logits_t.detach().numpy(), rtol=RTOL, atol=ATOL)
    assert loss == pytest.approx(loss_t.item(), rel=1e-12)
    ours.backward()
    theirs_grads = {n: p.grad.numpy() for n, p in theirs.named_parameters()}
    assert set(ours.grads) == set(theirs_grads)  # a tied head appears once, as tok_emb
    for name, grad in ours.grads.items():
        np.testing.assert_allclose(grad, theirs_grads[name], rtol=RTOL, atol=ATOL, err_msg=name)


def test_gpt_random_upstream_gradient():
    theirs = _torch_gpt()
    ours = GPT.from_torch(theirs)
    idx = np.random.default_rng(4).integers(0, 13, (2, 8))
    report = check_parity(ours, theirs, idx)  # outputs (logits, no loss); every weight's gradient
    assert len(report.diffs) == 1 + len(list(theirs.parameters()))


def test_adam_training_tracks_torch_step_by_step():
    theirs = _torch_gpt()
    ours = GPT.from_torch(theirs)
    opt_t = torch.optim.Adam(theirs.parameters(), lr=1e-2)
    opt = Adam(ours.parameters(), lr=1e-2)
    rng = np.random.default_rng(5)
    names = [n for n, _ in theirs.named_parameters()]
    assert names == list(ours.params)
    for _ in range(5):
        idx = rng.integers(0, 13, (4, 8))
        targets = np.roll(idx, -1, axis=1)
        opt_t.zero_grad()
        _, loss_t = theirs(torch.tensor(idx), torch.tensor(targets))
        loss_t.backward()
        opt_t.step()
        ours.zero_grad()
        _, loss = ours(idx, targets)
        ours.backward()
        opt.step(ours.gradients())
        assert loss == pytest.approx(loss_t.item(), rel=1e-9)
    for name, param in theirs.named_parameters():
        np.testing.assert_allclose(ours.params[name], param.detach().numpy(), rtol=1e-7,
                                   atol=1e-10)


def test_from_torch_rejects_mismatched_weights():
    theirs = _torch_gpt()
    model = GPT(vocab_size=13, block_size=8, n_layer=2, n_head=2, n_embd=8)
    state = {n: t.numpy() for n, t in theirs.state_dict().items()}
    state.pop("ln_f.bias")
    with pytest.raises(ValueError, match="missing keys"):
        model.load_state_dict(state)
    state = {n: t.numpy() for n, t in theirs.state_dict().items()}
    state["head.weight"] = state["head.weight"][:, :4]
    with pytest.raises(ValueError, match="shape"):
        model.load_state_dict(state)


def test_gpt_is_causal():
    ours = GPT(vocab_size=13, block_size=8, n_layer=1, n_head=2, n_embd=8, rng=0)
    idx = np.random.default_rng(6).integers(0, 13, (2, 8))
    other = idx.copy()
    other[:, 5:] = (other[:, 5:] + 1) % 13
    a, _ = ours(idx)
    b, _ = ours(other)
    np.testing.assert_array_equal(a[:, :5], b[:, :5])
    assert not np.allclose(a[:, 5:], b[:, 5:])


def test_sinusoidal_matches_torch():
    np.testing.assert_allclose(
        sinusoidal_positional_encoding(9, 6),
        torch_transformer.sinusoidal_positional_encoding(9, 6, dtype=torch.float64).numpy(),
        rtol=1e-12, atol=1e-15)
