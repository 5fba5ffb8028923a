"""The starting adapter: what the default model knows about the action DSL before any supervision.

A rank-R LoRA on every linear layer of the model's last decoder blocks, trained
once by ordinary backprop on what the MiniWoB++ oracles do on the dev tasks
(`scripts/train_adapter.py`), shipped as a few MB of safetensors beside this file
(`dev-lora-2.safetensors`: the second one shipped; a new file gets a new name, so the
tuned versions a store keeps for the first are never applied to it). Until one is
trained and measured better than the raw model on the dev tasks, no file is shipped
and `default` means the raw model.

It is merged into the weights at load (W += (alpha / r) · B · A, in float32,
before any cast to bfloat16), so decoding costs exactly what the raw model costs
and everything downstream (prefix reuse, MeZO, stored versions) sees one plain
model. A merged model is a different model: its name carries the adapter
(`SmolLM2-135M-Instruct+dev-lora-2`), so tuned versions stored for one are never
applied to the other.

    --adapter default   the packaged adapter, for the default model (none shipped, other models: none)
    --adapter none      the raw model
    --adapter PATH      an adapter file saved by `save`
"""

from __future__ import annotations

from pathlib import Path

from webagent.errors import ModelError

DEFAULT = "default"
NONE = "none"
DEFAULT_PATH = Path(__file__).with_name("dev-lora-2.safetensors")
TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


def resolve(adapter: str, model: str) -> Path | None:
    """The adapter file `adapter` names for `model`, or None for the raw model."""
    from webagent.models.loading import DEFAULT_MODEL

    if adapter == NONE:
        return None
    if adapter == DEFAULT:
        return DEFAULT_PATH if model == DEFAULT_MODEL and DEFAULT_PATH.exists() else None
    path = Path(adapter).expanduser()
    if not path.is_file():
        raise ModelError(f"adapter {adapter!r} is neither 'default', 'none' nor an adapter file")
    return path


def check(adapter: str, model: str) -> None:
    """Fail before anything loads when the adapter names nothing usable."""
    resolve(adapter, model)


def inject(module, *, rank: int, blocks: int, seed: int = 0) -> None:
    """Wrap every linear layer of the last `blocks` decoder blocks in a LoRA of `rank` (peft), in place."""
    import torch
    from peft import LoraConfig, inject_adapter_in_model

    from webagent.learning.params import decoder_blocks

    _, layers = decoder_blocks(module)
    if not 1 <= blocks <= len(layers):
        raise ModelError(f"an adapter on {blocks} blocks does not fit a model of {len(layers)}")
    config = LoraConfig(
        r=rank,
        lora_alpha=2 * rank,
        lora_dropout=0.0,
        target_modules=list(TARGETS),
        layers_to_transform=list(range(len(layers) - blocks, len(layers))),
    )
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        inject_adapter_in_model(config, module)


def trainable(module) -> list[tuple[str, object]]:
    """The adapter's (name, Parameter) pairs, in registration order."""
    return [(n, p) for n, p in module.named_parameters() if "lora_" in n]


def save(path: Path, module, meta: dict[str, str]) -> Path:
    """Write the adapter's A and B matrices (and what made them) as safetensors."""
    from peft.tuners.lora import LoraLayer
    from safetensors.torch import save_file

    tensors = {_plain(n): p.detach().contiguous() for n, p in trainable(module)}
    if not tensors:
        raise ModelError("the module carries no adapter to save")
    ranks = {t.shape[0] for n, t in tensors.items() if n.endswith(".lora_A")}
    scale = {m.scaling["default"] for m in module.modules() if isinstance(m, LoraLayer)}
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(path), metadata={**meta, "rank": str(ranks.pop()), "scale": str(scale.pop())})
    return path


def merge(module, path: Path) -> None:
    """Add the adapter in `path` into `module`'s weights, in place (W += scale · B · A)."""
    import torch
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            scale = float(f.metadata()["scale"])
            tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 - safe_open is not iterable
    except Exception as exc:  # noqa: BLE001 - any unreadable file is the same user error
        raise ModelError(f"adapter {path} is not readable: {exc}") from exc
    own = dict(module.named_parameters())
    with torch.no_grad():
        for name in sorted(k[: -len(".lora_A")] for k in tensors if k.endswith(".lora_A")):
            weight = own.get(f"{name}.weight")
            a, b = tensors[f"{name}.lora_A"], tensors.get(f"{name}.lora_B")
            if weight is None or b is None or weight.shape != (b.shape[0], a.shape[1]):
                raise ModelError(f"adapter {path} does not fit this model at {name}")
            weight.add_((scale * b.float() @ a.float()).to(weight.dtype))


def _plain(name: str) -> str:
    """peft's `...q_proj.lora_A.default.weight` -> the stored `...q_proj.lora_A`."""
    return name.replace(".default.weight", "")
