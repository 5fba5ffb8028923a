"""Which stored model version a command decides with, and putting it in place.

Tuning (`webagent tune`, `learn --tune`, the panel) records numbered versions in
the store and marks one active. Every command that runs the agent decides with
the active version by default, so what was learned reaches `run` and `miniwob`
too; `--model-version base` (or a number) says otherwise. A version is rebuilt
from the base weights and its update list (webagent.learning.checkpoints).
"""

from __future__ import annotations

from webagent.errors import DataError
from webagent.settings import ACTIVE_VERSION, BASE_VERSION
from webagent.store import Store


def resolve_version(store: Store, model_name: str, wanted: str) -> dict | None:
    """The stored version row `wanted` names (active, base or a number); None for the base weights."""
    if wanted == BASE_VERSION:
        return None
    rows = store.model_versions(model_name)
    if wanted == ACTIVE_VERSION:
        row = next((r for r in rows if r["status"] == "active"), None)
    else:
        row = next((r for r in rows if r["version"] == int(wanted)), None)
        if row is None:
            known = ", ".join(str(r["version"]) for r in rows) or "none"
            raise DataError(f"no version {wanted} of {model_name} in {store.path} (stored: {known})")
    return row if row is not None and row["version"] != 0 else None


def tensor_dir(store: Store):
    """Where backprop versions keep their tensors (beside the database)."""
    return store.path.parent / f"{store.path.stem}-tensors"


def apply_version(model, store: Store, row: dict) -> None:
    """Make `model` (at its base weights) decide as stored version `row` does."""
    from webagent.learning.checkpoints import rebuild, updates_from_json
    from webagent.learning.decision import ensure_head

    with model.lock:
        work = rebuild(model.model, row["param_set"], updates_from_json(row["updates"]), root=tensor_dir(store))
        state = work.state_dict()
        ensure_head(model.model, state)  # a decision head is carried, not merged
        model.model.load_state_dict(state)
        model.weights_changed(f"{model.name}@v{row['version']}")
