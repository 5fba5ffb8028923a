"""The store's schema, as numbered migrations.

`MIGRATIONS[i]` brings a store at schema version i to version i + 1 (sqlite's
`user_version`). A migration only ever adds: a released store is never rewritten,
so an old database opens in a new webagent. `Store` runs them under its write lock.
"""

from __future__ import annotations

from collections.abc import Callable


def _v1(db) -> None:
    db["runs"].create(
        {
            "id": int,
            "created": str,
            "command": str,
            "policy": str,
            "model": str,
            "model_version": str,
            "seed": int,
            "config": str,
        },
        pk="id",
    )
    db["episodes"].create(
        {
            "id": int,
            "run_id": int,
            "task": str,
            "seed": int,
            "instruction": str,
            "started": str,
            "finished": str,
            "steps": int,
            "reward": float,
            "done": int,
            "outcome": str,
        },
        pk="id",
        foreign_keys=[("run_id", "runs", "id")],
    )
    db["steps"].create(
        {
            "id": int,
            "episode_id": int,
            "idx": int,
            "created": str,
            "url": str,
            "title": str,
            "observation": str,
            "candidates": str,
            "prompt": str,
            "raw_output": str,
            "action": str,
            "confidence": float,
            "error": str,
            "latency": str,
            "model_version": str,
            "seed": int,
        },
        pk="id",
        foreign_keys=[("episode_id", "episodes", "id")],
    )
    db["episodes"].create_index(["run_id"])
    db["steps"].create_index(["episode_id", "idx"])


def _v2(db) -> None:
    db["episodes"].add_column("error", str)


def _v3(db) -> None:
    """Learning: feedback on steps, exemplar memory, numbered model versions."""
    db["steps"].add_column("proposed", str)  # the policy's proposal, when a supervisor changed it
    db["feedback"].create(
        {
            "id": int,
            "created": str,
            "episode_id": int,
            "step_id": int,
            "kind": str,  # confirm | reject | correct
            "proposed": str,  # what the agent proposed (DSL)
            "action": str,  # the right action (DSL): the proposal when confirmed, the correction when corrected
            "source": str,  # person | oracle | reward | api
            "prompt": str,  # the prompt the proposal was made under (training input)
        },
        pk="id",
        foreign_keys=[("episode_id", "episodes", "id"), ("step_id", "steps", "id")],
    )
    db["feedback"].create_index(["episode_id"])
    db["exemplars"].create(
        {
            "id": int,
            "created": str,
            "namespace": str,  # "web" for agent steps; the schema's name for the Online API
            "key": str,  # de-duplication key
            "query": str,  # what retrieval embeds
            "context": str,  # the abstracted state as the model saw it
            "output": str,  # the confirmed output (action DSL or JSON)
            "task": str,
            "source_step_id": int,
            "embedding": bytes,
        },
        pk="id",
    )
    db["exemplars"].create_index(["namespace", "key"], unique=True)
    db["model_versions"].create(
        {
            "id": int,
            "created": str,
            "model": str,  # the base model's name
            "version": int,
            "parent": int,
            "method": str,  # base | mezo | backprop
            "param_set": str,
            "updates": str,  # JSON list of MeZO updates (seed, projected_grad, lr, eps): the checkpoint
            "status": str,  # active | kept | rolled-back
            "metrics": str,
            "note": str,
        },
        pk="id",
    )
    db["model_versions"].create_index(["model", "version"], unique=True)


def _v4(db) -> None:
    """Mind2Web replay: one row per evaluation, one per replayed step (so a re-run resumes);
    each live step's cleaned HTML, for export in the Mind2Web format."""
    db["steps"].add_column("cleaned_html", str)
    db["replay_evals"].create(
        {
            "id": int,
            "created": str,
            "key": str,  # hash of data files, split and settings: the same key resumes
            "split": str,
            "settings": str,
            "finished": str,
            "metrics": str,
        },
        pk="id",
    )
    db["replay_evals"].create_index(["key"], unique=True)
    db["replay_steps"].create(
        {
            "id": int,
            "eval_id": int,
            "created": str,
            "annotation_id": str,
            "action_uid": str,
            "idx": int,
            "website": str,
            "domain": str,
            "subdomain": str,
            "positives": str,  # JSON list of backend_node_ids
            "positive_rank": int,  # 1-based rank of the best positive among all candidates; NULL if none
            "candidates": int,  # how many candidates were ranked
            "shown": str,  # JSON list of the top-k ids shown to the policy
            "predicted": str,  # the action (DSL), NULL when no positive was shown
            "predicted_op": str,
            "gold_op": str,
            "element_correct": int,
            "op_f1": float,
            "step_success": int,
            "raw_output": str,
            "prompt": str,
            "confidence": float,
            "error": str,
            "seconds": float,
        },
        pk="id",
        foreign_keys=[("eval_id", "replay_evals", "id")],
    )
    db["replay_steps"].create_index(["eval_id", "annotation_id", "action_uid"], unique=True)


def _v5(db) -> None:
    """Supervision panel: the confidence each verdict was given at (for calibrating auto-approval),
    the policy's own confidence and the critic's opinion that make it up, and a screenshot per step."""
    db["feedback"].add_column("confidence", float)
    db["steps"].add_column("policy_confidence", float)
    db["steps"].add_column("critic", float)
    db["steps"].add_column("screenshot", str)  # a PNG's path, relative to the database's folder


def _v6(db) -> None:
    """Episodes that end honestly on real sites: the agent's STOP answer and the final URL."""
    db["episodes"].add_column("answer", str)
    db["episodes"].add_column("final_url", str)


def _v7(db) -> None:
    """`webagent optimize`: every trial of a study over the agent's search space, and the
    named profiles (settings overrides) any command can load with --profile."""
    db["trials"].create(
        {
            "id": int,
            "created": str,
            "study": str,
            "number": int,
            "role": str,  # search | confirm-best | confirm-default
            "params": str,  # JSON: dotted AgentSettings paths -> values (webagent.space)
            "success": float,
            "episodes": int,
            "run_id": int,
            "seconds": float,
        },
        pk="id",
        foreign_keys=[("run_id", "runs", "id")],
    )
    db["trials"].create_index(["study", "number"])
    db["profiles"].create(
        {"id": int, "created": str, "name": str, "params": str, "source": str, "metrics": str},
        pk="id",
    )
    db["profiles"].create_index(["name"], unique=True)


def _v8(db) -> None:
    """Audits: a verdict on a step auto-approval would have confirmed, asked anyway (webagent.autonomy)."""
    db["feedback"].add_column("audited", int)


def _v9(db) -> None:
    """Confidence from agreement: the share of simulated annotators that chose the step's action."""
    db["steps"].add_column("agreement", float)


def _v10(db) -> None:
    """What a decision cost in prompt: its tokens, and those fed to the model (the rest came from the prefix cache)."""
    db["steps"].add_column("prompt_tokens", int)
    db["steps"].add_column("fed_tokens", int)


MIGRATIONS: list[Callable] = [_v1, _v2, _v3, _v4, _v5, _v6, _v7, _v8, _v9, _v10]


# JSON-encoded columns, decoded once on the way out of the store.
JSON_COLUMNS: dict[str, tuple[str, ...]] = {
    "runs": ("config",),
    "steps": ("observation", "candidates", "latency"),
    "model_versions": ("updates", "metrics"),
    "trials": ("params",),
    "profiles": ("params", "metrics"),
}
