"""Attribution maps for image classifiers: saliency, integrated gradients and occlusion.

Each method answers "which input pixels made the model give class c this score?" for a
model mapping images (N, C, H, W) to scores (N, K) (logits). They return one number per input
element, in the input's shape, so an attribution map can be drawn over the image.

- :func:`saliency`: the gradient of the score with respect to the input (Simonyan et al.).
- :func:`integrated_gradients`: the input minus a baseline, times the gradient averaged along
  the straight path from the baseline to the input (Sundararajan et al.). Its attributions
  add up to score(x) - score(baseline) (*completeness*), up to the error of the quadrature.
- :func:`occlusion`: how much the score falls when a small patch of the image is covered
  (Zeiler and Fergus); needs only forward passes.
"""

from __future__ import annotations

import torch
from torch import nn

from companion.core.checks import positive_int, real_number
from companion.torch._inputs import as_tensor_input, module_input

__all__ = ["class_scores", "saliency", "integrated_gradients", "occlusion"]


def _check(model: nn.Module, x: torch.Tensor, target) -> torch.Tensor:
    module_input(model, "model")
    if not isinstance(x, torch.Tensor) or x.dim() < 2:
        raise ValueError(f"x must be a tensor (N, ...) with a batch dimension, got "
                         f"{getattr(x, 'shape', type(x).__name__)}")
    target = as_tensor_input(target, "target", "a class index or one per example",
                             dtype=torch.long, device=x.device).reshape(-1)
    if target.numel() == 1:
        target = target.expand(len(x))
    if target.shape != (len(x),):
        raise ValueError(f"target must be one class or one per example ({len(x)}), "
                         f"got shape {tuple(target.shape)}")
    return target


def class_scores(model: nn.Module, x: torch.Tensor, target) -> torch.Tensor:
    """score_n = model(x)[n, target_n]: the logit of each example's target class, shape (N,)."""
    target = _check(model, x, target)
    return model(x).gather(1, target[:, None])[:, 0]  # (N, K) -> (N,)


def saliency(model: nn.Module, x: torch.Tensor, target) -> torch.Tensor:
    """The gradient d score_n / d x_n of each example's target score, shape of ``x``.

    Examples do not interact in eval mode, so the gradient of the summed scores holds each
    example's own gradient. Take ``.abs()`` (and a max over channels) for the classic map.
    """
    _check(model, x, target)
    x = x.detach().clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(class_scores(model, x, target).sum(), x)
    return grad


def integrated_gradients(model: nn.Module, x: torch.Tensor, target,
                         baseline: torch.Tensor | float = 0.0, steps: int = 64,
                         batch_size: int = 1024) -> torch.Tensor:
    """Integrated gradients along the straight path from ``baseline`` to ``x``.

    IG_i(x) = (x_i - x'_i) * integral_0^1 dF/dx_i(x' + a (x - x')) da, with F the target score
    and x' the baseline. The integral is approximated by the trapezoidal rule on ``steps``
    equal intervals (``steps + 1`` gradient evaluations per example), so the attributions sum
    to F(x) - F(x') up to the quadrature error: about 1/steps**2 for a smooth model, but only
    about 1/steps for a ReLU network, whose gradient jumps where the path crosses a kink.

    Args:
        x: inputs (N, ...). target: one class, or one per example (N,).
        baseline: a tensor broadcastable to ``x`` (e.g. a black image) or a constant.
        steps: number of intervals along the path.
        batch_size: how many path points go through the model at once.

    Returns:
        attributions with the shape of ``x``.
    """
    steps = positive_int(steps, "steps")
    batch_size = positive_int(batch_size, "batch_size")
    target = _check(model, x, target)
    x = x.detach()
    if not isinstance(baseline, (torch.Tensor, int, float)) or isinstance(baseline, bool):
        raise TypeError(f"baseline must be a tensor or a number, got {type(baseline).__name__}")
    baseline = torch.as_tensor(baseline, dtype=x.dtype, device=x.device).expand_as(x)
    alphas = torch.linspace(0.0, 1.0, steps + 1, dtype=x.dtype, device=x.device)  # (S+1,)
    weights = torch.full_like(alphas, 1.0 / steps)
    weights[0] = weights[-1] = 0.5 / steps  # trapezoidal rule
    shape = (-1,) + (1,) * x.dim()  # alphas broadcast over (N, ...)
    # path[s, n] = x'_n + alpha_s (x_n - x'_n): (S+1, N, ...) flattened to ((S+1) N, ...)
    path = baseline[None] + alphas.view(shape) * (x - baseline)[None]
    path = path.reshape(-1, *x.shape[1:])
    targets = target.repeat(steps + 1)
    grads = torch.empty_like(path)
    for start in range(0, len(path), batch_size):
        chunk = path[start:start + batch_size].clone().requires_grad_(True)
        scores = class_scores(model, chunk, targets[start:start + batch_size])
        (grads[start:start + batch_size],) = torch.autograd.grad(scores.sum(), chunk)
    grads = grads.reshape(steps + 1, *x.shape)  # (S+1, N, ...)
    mean_grad = (weights.view(shape) * grads).sum(dim=0)  # (N, ...)
    return (x - baseline) * mean_grad


@torch.no_grad()
def occlusion(model: nn.Module, x: torch.Tensor, target, patch: int = 2, stride: int = 1,
              fill: float = 0.0) -> torch.Tensor:
    """Occlusion sensitivity: the fall in the target score when a patch is covered.

    A ``patch`` x ``patch`` square (all channels) is set to ``fill`` at every position on a
    grid with step ``stride``; each pixel gets the mean fall in score over the windows that
    cover it (0 for a pixel no window covers). Positive: covering it hurts the class.

    Args:
        x: images (N, C, H, W). target: one class or one per example (N,).

    Returns:
        map of shape (N, H, W).
    """
    patch, stride = positive_int(patch, "patch"), positive_int(stride, "stride")
    fill = real_number(fill, "fill")
    target = _check(model, x, target)
    if x.dim() != 4:
        raise ValueError(f"x must be images (N, C, H, W), got shape {tuple(x.shape)}")
    n, _, height, width = x.shape
    if patch > min(height, width):
        raise ValueError(f"patch {patch} is larger than the image ({height}x{width})")
    base = class_scores(model, x, target)  # (N,)
    total = torch.zeros(n, height, width, dtype=x.dtype, device=x.device)
    count = torch.zeros(height, width, dtype=x.dtype, device=x.device)
    for top in range(0, height - patch + 1, stride):
        for left in range(0, width - patch + 1, stride):
            covered = x.clone()
            covered[:, :, top:top + patch, left:left + patch] = fill
            drop = base - class_scores(model, covered, target)  # (N,)
            total[:, top:top + patch, left:left + patch] += drop[:, None, None]
            count[top:top + patch, left:left + patch] += 1
    return total / count.clamp(min=1)
