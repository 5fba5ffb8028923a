"""Draft models for speculative sampling.

The default model has no smaller sibling offline, so its draft is the model
itself cut short: the first L decoder layers, then the same final norm and
head (early exit). It shares the weights (nothing is copied, so online weight
updates reach the draft too) and, because its first L layers are the target's
first L layers, it reuses the target's prompt cache instead of encoding the
prompt again. `load_draft` loads a separate smaller model instead, which must
use the very same tokenizer.
"""

from __future__ import annotations

import copy

from webagent.errors import ModelError


def self_draft(model, layers: int):
    """A causal LM that runs only the first `layers` decoder layers of `model` (shared weights)."""
    inner = getattr(model, "model", None)
    blocks = getattr(inner, "layers", None)
    config = getattr(inner, "config", None)
    if blocks is None or config is None or not hasattr(config, "num_hidden_layers"):
        raise ModelError(f"cannot build a self-draft for {type(model).__name__}: no `model.layers` decoder stack")
    total = len(blocks)
    if not 1 <= layers < total:
        raise ModelError(f"a self-draft needs 1 to {total - 1} layers of this {total}-layer model, not {layers}")
    # Shallow copies whose module tables are fresh dicts: the same layer objects,
    # but the inner model loops over `layers[: config.num_hidden_layers]`.
    draft_inner = copy.copy(inner)
    draft_inner.__dict__["_modules"] = dict(inner._modules)
    draft_inner.__dict__["config"] = copy.copy(config)
    draft_inner.config.num_hidden_layers = layers
    draft = copy.copy(model)
    draft.__dict__["_modules"] = dict(model._modules)
    draft._modules["model"] = draft_inner
    draft.__dict__["config"] = draft_inner.config
    return draft


def check_same_tokenizer(target_tokenizer, draft_tokenizer, draft_name: str) -> None:
    """Speculative sampling compares the two models token by token: the vocabularies must be identical."""
    if target_tokenizer.get_vocab() != draft_tokenizer.get_vocab():
        raise ModelError(f"draft model {draft_name} uses a different tokenizer from the target; it cannot draft for it")


def load_draft(name: str, target_tokenizer, *, dtype: str = "float32"):
    """(name, model) of a separate draft model with the target's tokenizer."""
    from webagent.models.loading import load

    draft_name, tokenizer, model = load(name, dtype=dtype)
    check_same_tokenizer(target_tokenizer, tokenizer, draft_name)
    return draft_name, model
