"""One MeZO step: a forward-only (zeroth-order) SGD step, memory of inference.

After Malladi et al. 2023, "Fine-Tuning Language Models with Just Forward Passes"
(princeton-nlp/MeZO, `zo_step`/`zo_update`): draw z ~ N(0, I) from a seed, evaluate
the loss at θ + εz and θ − εz by perturbing the weights in place (+1, −2, +1 times
εz, so they return to θ), take the projected gradient g = (L+ − L−) / 2ε and move
θ ← θ − lr·g·z, regenerating z from the seed instead of storing it. The step is
therefore fully described by (seed, g, lr, ε): a few numbers, not a tensor.

z comes from a private `torch.Generator`, never the global RNG, so a step is
reproducible and nothing else in the process (sampling, dropout) shifts it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from webagent.errors import ModelError


@dataclass(frozen=True)
class MezoUpdate:
    seed: int
    projected_grad: float
    lr: float
    eps: float
    loss_plus: float
    loss_minus: float


def _tensors(params: Sequence) -> list:
    """Accept (name, param) pairs (as select_parameters returns) or bare tensors."""
    return [p[1] if isinstance(p, tuple) else p for p in params]


def _add_noise(tensors: list, seed: int, scale: float) -> None:
    """θ += scale·z, z drawn tensor by tensor from a generator seeded with `seed`."""
    import torch

    generator = torch.Generator(device="cpu").manual_seed(seed)
    with torch.no_grad():
        for t in tensors:
            z = torch.randn(t.shape, generator=generator, dtype=t.dtype, device="cpu").to(t.device)
            t.add_(z, alpha=scale)


def mezo_step(
    params: Sequence, loss_fn: Callable[[], float], *, seed: int, eps: float, lr: float, clip: float | None = None
) -> MezoUpdate:
    """One MeZO step on `params` in place. `loss_fn()` evaluates the loss at the
    current weights (under inference mode; it may be non-differentiable). With `clip`,
    the projected gradient is clipped to [-clip, clip] (the stored update carries the
    clipped value, so a replay rebuilds exactly what was applied)."""
    tensors = _tensors(params)
    _add_noise(tensors, seed, eps)
    loss_plus = float(loss_fn())
    _add_noise(tensors, seed, -2 * eps)
    loss_minus = float(loss_fn())
    _add_noise(tensors, seed, eps)
    projected_grad = (loss_plus - loss_minus) / (2 * eps)
    if not math.isfinite(projected_grad):
        raise ModelError(f"MeZO step with seed {seed}: the loss is not finite (L+ = {loss_plus}, L- = {loss_minus})")
    if clip is not None:
        projected_grad = max(-clip, min(clip, projected_grad))
    update = MezoUpdate(seed, projected_grad, lr, eps, loss_plus, loss_minus)
    _add_noise(tensors, seed, -lr * projected_grad)
    return update


def apply_update(params: Sequence, update: MezoUpdate, *, exact: bool = True) -> None:
    """Replay a stored step without evaluating any loss. With `exact` the
    perturbation cycle is replayed too (three more draws of z, no forward pass),
    so the result is bit-identical to the live run rather than equal within float
    rounding: +εz −2εz +εz does not cancel exactly in float32."""
    tensors = _tensors(params)
    if exact:
        _add_noise(tensors, update.seed, update.eps)
        _add_noise(tensors, update.seed, -2 * update.eps)
        _add_noise(tensors, update.seed, update.eps)
    _add_noise(tensors, update.seed, -update.lr * update.projected_grad)
