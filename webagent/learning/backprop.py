"""The comparison point for MeZO: an ordinary first-order fine-tune of the same
parameters on the same examples and the same loss (`--method backprop`).

It needs activations kept for the backward pass and optimizer state (AdamW: two
more copies of the trained parameters), which is what MeZO avoids; in exchange
each step follows the true gradient instead of a one-sample estimate of it.
"""

from __future__ import annotations

from collections.abc import Sequence

from webagent.errors import DataError, ModelError

OPTIMIZERS = ("adamw", "sgd")


def backprop_train(
    params: Sequence[tuple[str, object]],
    objective,
    *,
    steps: int,
    lr: float,
    optimizer: str = "adamw",
    first_batch: int = 0,
) -> list[float]:
    """`steps` optimizer steps over `objective`'s batches in turn (starting at
    `first_batch`); returns the loss of each step. Only `params` get gradients."""
    import math

    import torch

    if optimizer not in OPTIMIZERS:
        raise DataError(f"unknown optimizer {optimizer!r}; choose one of {', '.join(OPTIMIZERS)}")
    module = objective.module
    flags = {name: p.requires_grad for name, p in module.named_parameters()}
    trained = {id(p) for _, p in params}
    for p in module.parameters():
        p.requires_grad_(id(p) in trained)
    tensors = [p for _, p in params]
    opt = (
        torch.optim.AdamW(tensors, lr=lr, weight_decay=0.0) if optimizer == "adamw" else torch.optim.SGD(tensors, lr=lr)
    )
    losses = []
    try:
        with torch.enable_grad():
            for step in range(steps):
                total, weight, _, _ = objective.batch_terms((first_batch + step) % len(objective.batches))
                loss = total / weight
                value = float(loss.detach())
                if not math.isfinite(value):
                    raise ModelError(f"backprop step {step}: the loss is not finite ({value})")
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                losses.append(value)
    finally:
        for name, p in module.named_parameters():
            p.requires_grad_(flags.get(name, False))
            p.grad = None
    return losses
