import math

import pytest
import torch

from companion.torch.models.backbone import TransformerLM, adamw, warmup_cosine


def small(causal: bool) -> TransformerLM:
    torch.manual_seed(0)
    return TransformerLM(n_tokens=7, n_outputs=6, block_size=8, n_layer=2, n_head=2, n_embd=8,
                         dropout=0.0, causal=causal, head_bias=True)


def test_logits_shape_and_causality():
    idx = torch.randint(7, (3, 8))
    changed = idx.clone()
    changed[:, 5:] = (changed[:, 5:] + 1) % 7
    causal, bidirectional = small(True), small(False)
    assert causal.logits(idx).shape == (3, 8, 6)
    torch.testing.assert_close(causal.logits(idx)[:, :5], causal.logits(changed)[:, :5])
    assert not torch.allclose(bidirectional.logits(idx)[:, :5],
                              bidirectional.logits(changed)[:, :5])


def test_initialisation_follows_gpt2():
    model = small(True)
    assert torch.all(model.head.bias == 0) and torch.all(model.ln_f.weight == 1)
    residual = model.blocks[0].attn.proj.weight
    assert residual.std().item() == pytest.approx(0.02 / math.sqrt(4), rel=0.3)
    assert model.tok_emb.weight.std().item() == pytest.approx(0.02, rel=0.3)


def test_bad_input_is_named():
    model = small(True)
    with pytest.raises(ValueError, match="idx must be an integer tensor"):
        model.logits(torch.zeros(2, 3))
    with pytest.raises(ValueError, match="block_size is 8"):
        model.logits(torch.zeros(1, 9, dtype=torch.int64))


def test_adamw_decays_only_matrices():
    model = small(True)
    decay, keep = adamw(model, 1e-3, 0.1).param_groups
    assert decay["weight_decay"] == 0.1 and keep["weight_decay"] == 0.0
    assert all(p.dim() == 2 for p in decay["params"])
    assert any(p is model.tok_emb.weight for p in keep["params"])


def test_warmup_cosine_schedule():
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
    schedule = warmup_cosine(optimizer, steps=14, warmup=4)
    rates = []
    for _ in range(16):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        schedule.step()
    assert rates[:4] == pytest.approx([0.25, 0.5, 0.75, 1.0])
    assert rates[9] == pytest.approx(0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * 0.5)))
    assert rates[14:] == pytest.approx([0.1, 0.1])
    with pytest.raises(ValueError, match="warmup"):
        warmup_cosine(optimizer, steps=10, warmup=-1)
