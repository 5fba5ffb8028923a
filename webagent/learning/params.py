"""Which weights learning may move: a small spec string names a parameter set.

    all        every parameter (tied embeddings count once)
    last:N     the last N decoder blocks
    norms      the norm weights and every bias
    lora:R     a rank-R LoRA adapter (peft) on the attention q/v projections
    head:R     a rank-R residual map on the final hidden state, trained on the
               decision alone (webagent.learning.decision)

The order is the module's registration order, so a seed always draws the same
noise for the same tensor. LoRA is injected into the module in place (the
wrapped projections compute base + B·A, with B = 0 at first, so outputs do not
change); the live model never carries adapters: `plain_tensors` merges them
into the q/v weights, which is what gets copied into the model that decodes.
The decision head cannot be merged (the output layer is tied to the embeddings):
the live model carries it, and `copy_into` gives it one when the tensors need it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from webagent.errors import DataError

LORA_TARGETS = ("q_proj", "v_proj")
LORA_INIT_SEED = 0  # the adapter's A matrices are drawn with this seed, so a rebuild draws the same ones
_SPEC = re.compile(r"^(all|norms|last:(\d+)|lora:(\d+)|head:(\d+))$")


_SIZED = ("last", "lora", "head")


@dataclass(frozen=True)
class ParamSpec:
    kind: str  # all | last | norms | lora | head
    n: int = 0  # blocks for last, rank for lora and head

    def __str__(self) -> str:
        return f"{self.kind}:{self.n}" if self.kind in _SIZED else self.kind


def parse_spec(spec: str) -> ParamSpec:
    found = _SPEC.match(spec.strip())
    if found is None:
        raise DataError(f"unknown parameter set {spec!r}; expected all, norms, last:N, lora:R or head:R")
    kind = found.group(1).split(":")[0]
    n = int(found.group(2) or found.group(3) or found.group(4) or 0)
    if kind in _SIZED and n < 1:
        raise DataError(f"parameter set {spec!r} needs N >= 1")
    return ParamSpec(kind, n)


def decoder_blocks(module) -> tuple[str, list]:
    """(prefix, blocks) of the decoder's block list (`model.layers` for Llama-style models)."""
    import torch

    best: tuple[str, torch.nn.ModuleList] | None = None
    for name, child in module.named_modules():
        is_blocks = isinstance(child, torch.nn.ModuleList) and name.split(".")[-1] in ("layers", "h", "blocks")
        if is_blocks and (best is None or len(child) > len(best[1])):
            best = (name, child)
    if best is None:
        raise DataError(f"cannot find the decoder blocks of {type(module).__name__} (no layers/h/blocks list)")
    return best[0], list(best[1])


def has_lora(module) -> bool:
    return any("lora_A" in name for name, _ in module.named_parameters())


def inject_lora(module, rank: int) -> None:
    """Wrap the q/v projections with a LoRA adapter of `rank`, in place (once)."""
    import torch
    from peft import LoraConfig, inject_adapter_in_model

    if has_lora(module):
        ranks = {p.shape[0] for n, p in module.named_parameters() if "lora_A" in n}
        if ranks != {rank}:
            raise DataError(f"module already carries a LoRA adapter of rank {sorted(ranks)}, not {rank}")
        return
    frozen = {name: p.requires_grad for name, p in module.named_parameters()}
    config = LoraConfig(r=rank, lora_alpha=2 * rank, lora_dropout=0.0, target_modules=list(LORA_TARGETS))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(LORA_INIT_SEED)
        inject_adapter_in_model(config, module)
    # peft freezes everything else; the caller decides what trains (backprop sets its own flags).
    for name, p in module.named_parameters():
        p.requires_grad_(frozen.get(name.replace(".base_layer", ""), True))


def select_parameters(module, spec: str) -> list[tuple[str, object]]:
    """The (name, Parameter) pairs `spec` names, in registration order. `lora:R`
    and `head:R` inject their adapter into `module` first (in place) and return only its params."""
    from webagent.learning.decision import HEAD_NAME, inject_head

    parsed = parse_spec(spec)
    if parsed.kind == "lora":
        inject_lora(module, parsed.n)
        return [(n, p) for n, p in module.named_parameters() if "lora_" in n]
    if parsed.kind == "head":
        inject_head(module, parsed.n)
        return [(n, p) for n, p in module.named_parameters() if HEAD_NAME in n]
    named = [(n, p) for n, p in module.named_parameters() if "lora_" not in n and HEAD_NAME not in n]
    if parsed.kind == "all":
        return named
    if parsed.kind == "norms":
        norm_names = {
            f"{mname}.{pname}" if mname else pname
            for mname, mod in module.named_modules()
            if "norm" in type(mod).__name__.lower()
            for pname, _ in mod.named_parameters(recurse=False)
        }
        return [(n, p) for n, p in named if n in norm_names or n.endswith(".bias")]
    prefix, blocks = decoder_blocks(module)
    if parsed.n > len(blocks):
        raise DataError(f"parameter set {spec!r} asks for {parsed.n} blocks; the model has {len(blocks)}")
    first = len(blocks) - parsed.n
    wanted = tuple(f"{prefix}.{i}." for i in range(first, len(blocks)))
    return [(n, p) for n, p in named if n.startswith(wanted)]


def shadow_copy(module, spec: str):
    """A copy of `module` to train `spec` on while `module` goes on deciding.

    For head:R the copy shares every weight of `module` but the head's: the head reads
    the frozen model's output and training never writes a weight below it, so one set
    of the model's weights serves both, and the tuner costs the head and its cached
    hidden states rather than a second model. The other sets move weights the live
    model decides with, so they get a full copy."""
    import copy

    from webagent.learning.decision import HEAD_NAME

    if parse_spec(spec).kind != "head":
        return copy.deepcopy(module)
    shared = {id(p): p for name, p in module.named_parameters() if HEAD_NAME not in name}
    return copy.deepcopy(module, shared)  # deepcopy returns what its memo already holds


def first_trainable_block(module, params) -> int | None:
    """The index of the lowest decoder block any of `params` lives in, if all of them
    live in decoder blocks; None when some live elsewhere (embeddings, final norm).
    Below that block the forward pass cannot change, so its output can be cached."""
    prefix, blocks = decoder_blocks(module)
    pattern = re.compile(rf"^{re.escape(prefix)}\.(\d+)\.")
    indices = []
    for name, _ in params:
        found = pattern.match(name)
        if found is None:
            return None
        indices.append(int(found.group(1)))
    return min(indices) if indices else None


def plain_tensors(module, params) -> dict[str, object]:
    """The tensors of the plain (adapter-free) model that `params` determine, by the
    plain model's parameter names: the params themselves, or for LoRA the q/v
    weights with the adapter merged in (W + scale·B·A)."""
    import torch

    if not any("lora_" in n for n, _ in params):
        return {n: p.detach() for n, p in params}
    from peft.tuners.lora import LoraLayer

    out = {}
    with torch.no_grad():
        for name, mod in module.named_modules():
            if isinstance(mod, LoraLayer) and "default" in mod.lora_A:
                base = mod.get_base_layer().weight
                out[f"{name}.weight"] = base + mod.get_delta_weight("default").to(base.dtype)
    return out


def copy_into(module, tensors: dict[str, object]) -> None:
    """Overwrite `module`'s parameters named in `tensors` (a plain model's names), in
    place; a decision head among them is first given to a module without one."""
    import torch

    from webagent.learning.decision import ensure_head

    ensure_head(module, tensors)
    own = dict(module.named_parameters())
    missing = [n for n in tensors if n not in own]
    if missing:
        raise DataError(f"{type(module).__name__} has no parameter {missing[0]!r} to copy into")
    with torch.no_grad():
        for name, value in tensors.items():
            own[name].copy_(value)
