"""Checkpoints as seeds: a model version is (base model, parameter set, list of steps).

A MeZO step is four numbers and a seed (`MezoUpdate`), so a whole tuning history
is a few kilobytes of JSON in the store instead of a copy of the weights, and any
version can be rebuilt from the base model by replaying its list (bit-identical:
the replay regenerates the same noise and repeats the same float operations).

Backprop steps cannot be replayed from seeds; a backprop round is stored as a
`TensorSnapshot`: a safetensors file of the trained parameters' values, next to
the database, which the replay loads in its place in the list.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from webagent.errors import DataError
from webagent.learning.mezo import MezoUpdate, apply_update

_MEZO_FIELDS = ("seed", "projected_grad", "lr", "eps", "loss_plus", "loss_minus")


@dataclass(frozen=True)
class TensorSnapshot:
    """The trained parameters' values after a step that seeds cannot describe."""

    path: str  # a safetensors file, relative to the checkpoint root (the database's folder)


Update = MezoUpdate | TensorSnapshot


def updates_to_json(updates: Iterable[Update]) -> list[dict]:
    out = []
    for u in updates:
        if isinstance(u, MezoUpdate):
            out.append(asdict(u))
        elif isinstance(u, TensorSnapshot):
            out.append({"tensors": u.path})
        else:
            raise DataError(f"cannot serialise checkpoint entry {u!r}")
    return out


def updates_from_json(data: Iterable[dict]) -> list[Update]:
    out: list[Update] = []
    for number, entry in enumerate(data):
        if "tensors" in entry:
            out.append(TensorSnapshot(str(entry["tensors"])))
        elif all(k in entry for k in _MEZO_FIELDS):
            out.append(
                MezoUpdate(
                    seed=int(entry["seed"]),
                    **{k: float(entry[k]) for k in _MEZO_FIELDS if k != "seed"},
                )
            )
        else:
            raise DataError(f"checkpoint entry {number} is neither a MeZO update nor a tensor file: {entry!r}")
    return out


def save_tensors(params: Sequence[tuple[str, object]], path: Path) -> None:
    from safetensors.torch import save_file

    path.parent.mkdir(parents=True, exist_ok=True)
    save_file({n: p.detach().contiguous().clone() for n, p in params}, str(path))


def load_tensors(params: Sequence[tuple[str, object]], path: Path) -> None:
    """Overwrite `params` with the values stored in `path` (every name must be there)."""
    import torch
    from safetensors.torch import load_file

    try:
        stored = load_file(str(path))
    except OSError as exc:
        raise DataError(f"cannot read checkpoint tensors {path}: {exc}") from exc
    missing = [n for n, _ in params if n not in stored]
    if missing:
        raise DataError(f"checkpoint tensors {path} lack {missing[0]!r}")
    with torch.no_grad():
        for name, p in params:
            p.copy_(stored[name])


def replay(params: Sequence[tuple[str, object]], updates: Iterable[Update], *, root: Path | None = None) -> None:
    """Apply a stored list of steps to `params` in place, in order."""
    for u in updates:
        if isinstance(u, MezoUpdate):
            apply_update(params, u)
        else:
            if root is None:
                raise DataError(f"checkpoint names tensor file {u.path}; pass the folder it lives in")
            load_tensors(params, root / u.path)


def rebuild(base_module, param_spec: str, updates: Iterable[Update], *, root: Path | None = None):
    """A new module equal to the version `updates` describe, built from `base_module`
    (left untouched). LoRA adapters are merged, so the result is a plain model like
    the live one."""
    from webagent.learning.params import copy_into, plain_tensors, select_parameters

    work = copy.deepcopy(base_module)
    params = select_parameters(work, param_spec)
    replay(params, updates, root=root)
    if not any("lora_" in n for n, _ in params):
        return work
    plain = copy.deepcopy(base_module)
    copy_into(plain, plain_tensors(work, params))
    return plain
