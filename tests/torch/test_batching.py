"""as_batch: one full batch of float32 inputs and int64 labels that fit trains on."""

import numpy as np
import pytest
import torch


def test_as_batch_is_one_full_batch_that_fit_can_train_on():
    from companion.torch.batching import as_batch
    from companion.torch.training import evaluate, fit
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((12, 3)), rng.integers(0, 2, 12)
    loader = as_batch(x, y, device="cpu")
    assert len(loader) == 1
    inputs, targets = loader[0]
    assert inputs.dtype == torch.float32 and inputs.shape == (12, 3)
    assert targets.dtype == torch.int64 and targets.tolist() == y.tolist()
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 2)
    before = evaluate(model, loader, torch.nn.CrossEntropyLoss())["loss"]
    history = fit(model, loader, torch.nn.CrossEntropyLoss(),
                  torch.optim.SGD(model.parameters(), lr=0.5), 20)
    assert history.steps == 20 and history.train_loss[-1] < before


def test_as_batch_refuses_mismatched_or_float_labels():
    from companion.torch.batching import as_batch
    with pytest.raises(ValueError, match="same number of examples"):
        as_batch(np.zeros((3, 2)), np.zeros(4, dtype=int))
    with pytest.raises(TypeError, match="integer class labels"):
        as_batch(np.zeros((3, 2)), np.zeros(3))
