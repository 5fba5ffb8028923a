"""Write stored episodes (MiniWoB++, scripted sites, supervised sessions) in the
Mind2Web format, so the replay evaluator and other Mind2Web tools can read them.

Per step: the cleaned HTML as the agent saw it (ids kept as backend_node_id),
the acted element as the positive candidate, the other ranked elements as
negatives (tag and attributes read from their node in the cleaned HTML), and
the operation. Steps whose action failed are left out: they changed nothing.
The raw HTML is not stored, so `raw_html` repeats the cleaned HTML; text typed
into a password field is stored masked, and exported so.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from urllib.parse import urlparse

from webagent.actions import parse_action
from webagent.errors import DataError, GrammarError
from webagent.mind2web.elements import element_from_node, nodes_by_id
from webagent.mind2web.records import ActionStep, CandidateRecord, Operation, Task
from webagent.store import Store

LOCAL_HOSTS = ("127.0.0.1", "localhost", "0.0.0.0", "")


def _candidate(node, positive: bool) -> CandidateRecord:
    attrs = {k: v if isinstance(v, str) else " ".join(v) for k, v in node.attrs.items()}
    node_id = str(attrs.pop("backend_node_id"))
    return CandidateRecord(
        backend_node_id=node_id,
        tag=node.name,
        attributes=(("backend_node_id", node_id), *attrs.items()),
        is_original_target=positive,
        is_top_level_target=positive,
    )


def action_repr(node, op: Operation) -> str:
    """Mind2Web's human-readable action: "[tag]  text -> OP: value"."""
    el = element_from_node(node)
    attrs = dict(el.attributes)
    text = el.text or el.label or el.placeholder or attrs.get("name") or attrs.get("id") or ""
    return f"[{el.role or el.tag}]  {text} -> {op.op}" + (f": {op.value}" if op.op != "CLICK" else "")


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "task"


def episode_task(store: Store, episode_id: int) -> Task:
    """One stored episode as a Mind2Web task, or a DataError saying why it cannot be one."""
    episode = store.episode(episode_id)
    if episode is None:
        raise DataError(f"no episode {episode_id} in {store.path}")
    name = episode["task"] or ""
    annotation_id = f"ep{episode_id}-{_slug(name)}" + (f"-s{episode['seed']}" if episode["seed"] is not None else "")
    steps, reprs, url = [], [], ""
    for row in store.steps(episode_id):
        where = f"episode {episode_id} step {row['idx']}"
        if row["error"]:
            continue
        if not row.get("cleaned_html"):
            raise DataError(f"{where} has no cleaned HTML (recorded before store schema 4)")
        try:
            action = parse_action(row["action"] or "")
        except GrammarError as exc:
            raise DataError(f"{where}: {exc}") from exc
        if action.element_id is None or (action.verb == "PRESS" and action.argument != "Enter"):
            continue  # STOP, SCROLL, BACK and other keys: Mind2Web has no such operation
        nodes = nodes_by_id(row["cleaned_html"])
        target = nodes.get(action.element_id)
        if target is None:
            raise DataError(f"{where}: the acted element [{action.element_id}] is not in its cleaned HTML")
        ranked = [str(c["id"]) for c in (row["candidates"] or [])]
        if action.verb == "PRESS":  # Enter on an element: Mind2Web's ENTER, which it scores as a CLICK
            op = Operation("CLICK", "ENTER", "")
        else:
            op = Operation(action.verb, action.verb, action.argument or "")
        steps.append(
            ActionStep(
                action_uid=f"{annotation_id}-{row['idx']}",
                cleaned_html=row["cleaned_html"],
                raw_html=row["cleaned_html"],
                operation=op,
                pos_candidates=(_candidate(target, True),),
                neg_candidates=tuple(
                    _candidate(nodes[i], False) for i in dict.fromkeys(ranked) if i != action.element_id and i in nodes
                ),
            )
        )
        reprs.append(action_repr(target, op))
        url = url or row["url"] or ""
    if not steps:
        raise DataError(f"episode {episode_id} has no step that acted")
    host = urlparse(url).hostname or ""
    local = host in LOCAL_HOSTS
    return Task(
        annotation_id=annotation_id,
        website=name if local and name else host,
        domain="miniwob" if "/miniwob/" in url else (host if not local else "local"),
        subdomain=name,
        confirmed_task=episode["instruction"] or "",
        action_reprs=tuple(reprs),
        actions=tuple(steps),
    )


def task_json(task: Task, *, json_strings: bool = False) -> dict:
    """A task as Mind2Web writes it; with `json_strings`, the operation and the candidate
    lists are JSON strings, as in the distributed test splits. Attributes are always one."""

    def candidates(cands: Sequence[CandidateRecord]):
        value = [
            {
                "tag": c.tag,
                "attributes": json.dumps(dict(c.attributes), ensure_ascii=False),
                "is_original_target": c.is_original_target,
                "is_top_level_target": c.is_top_level_target,
                "backend_node_id": c.backend_node_id,
            }
            for c in cands
        ]
        return json.dumps(value, ensure_ascii=False) if json_strings else value

    def encode(value):
        return json.dumps(value, ensure_ascii=False) if json_strings else value

    return {
        "annotation_id": task.annotation_id,
        "website": task.website,
        "domain": task.domain,
        "subdomain": task.subdomain,
        "confirmed_task": task.confirmed_task,
        "action_reprs": list(task.action_reprs),
        "actions": [
            {
                "action_uid": s.action_uid,
                "raw_html": s.raw_html,
                "cleaned_html": s.cleaned_html,
                "operation": encode(
                    {"op": s.operation.op, "original_op": s.operation.original_op, "value": s.operation.value}
                ),
                "pos_candidates": candidates(s.pos_candidates),
                "neg_candidates": candidates(s.neg_candidates),
            }
            for s in task.actions
        ],
    }


def write_split(
    tasks: Iterable[Task], out: str | Path, split: str, *, json_strings: bool = False, per_file: int = 200
) -> list[Path]:
    """Write OUT/SPLIT/SPLIT_0.json, SPLIT_1.json, ... (JSON lists of `per_file` tasks)."""
    folder = Path(out) / split
    folder.mkdir(parents=True, exist_ok=True)
    written, batch = [], []

    def flush() -> None:
        path = folder / f"{split}_{len(written)}.json"
        path.write_text(json.dumps(batch, ensure_ascii=False) + "\n", encoding="utf-8")
        written.append(path)
        batch.clear()

    for task in tasks:
        batch.append(task_json(task, json_strings=json_strings))
        if len(batch) >= per_file:
            flush()
    if batch or not written:
        flush()
    return written


def export_mind2web(
    store: Store,
    out: str | Path,
    *,
    split: str = "train",
    episode_ids: Sequence[int] | None = None,
    json_strings: bool = False,
    errors: list[DataError] | None = None,
) -> list[Path]:
    """Export episodes (all of the store's when none are named) as one split. An episode
    that cannot be exported raises, or with an `errors` list is recorded there and skipped."""
    ids = list(episode_ids) if episode_ids is not None else store.episode_ids()
    tasks = []
    for episode_id in ids:
        try:
            tasks.append(episode_task(store, episode_id))
        except DataError as exc:
            if errors is None:
                raise
            errors.append(exc)
    if not tasks:
        raise DataError(f"no episode to export from {store.path}")
    return write_split(tasks, out, split, json_strings=json_strings)
