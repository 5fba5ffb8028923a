"""The rows the store hands out, as typed dicts.

`Store` returns plain dicts (sqlite-utils rows, JSON columns decoded once on the
way out: `schema.JSON_COLUMNS`), so callers index them as before; these types
say which keys a row has and what each decoded column holds, for readers and
type checkers. One per table, the columns of every migration.
"""

from __future__ import annotations

from typing import Any, TypedDict


class RunRow(TypedDict):
    id: int
    created: str
    command: str
    policy: str
    model: str
    model_version: str
    seed: int
    config: dict[str, Any]  # {"settings": AgentSettings.record(), the parts as built, the command's own}


class EpisodeRow(TypedDict):
    id: int
    run_id: int
    task: str
    seed: int | None
    instruction: str
    started: str
    finished: str | None
    steps: int | None
    reward: float | None
    done: int | None
    outcome: str | None  # webagent.kinds.Outcome
    error: str | None
    answer: str | None  # the agent's STOP answer
    final_url: str | None


class StepRow(TypedDict):
    id: int
    episode_id: int
    idx: int
    created: str
    url: str
    title: str
    observation: dict[str, Any] | None  # what the step saw (target, events, ...)
    candidates: list[dict[str, Any]] | None  # the shown candidates, ranked
    prompt: str
    raw_output: str
    action: str  # DSL
    proposed: str | None  # the policy's proposal, when a supervisor changed it
    confidence: float | None
    policy_confidence: float | None
    critic: float | None
    agreement: float | None  # share of annotators agreeing (webagent.agreement)
    error: str | None
    latency: dict[str, float] | None  # seconds per stage
    prompt_tokens: int | None  # the decision's prompt, in tokens (None: no model decided)
    fed_tokens: int | None  # of them, read by the model; the rest came from the prefix cache
    model_version: str
    seed: int | None
    cleaned_html: str | None
    screenshot: str | None  # a PNG's path, relative to the store's folder


class FeedbackRow(TypedDict):
    id: int
    created: str
    episode_id: int | None
    step_id: int | None
    kind: str  # confirm | reject | correct
    proposed: str
    action: str
    source: str  # webagent.kinds.Source
    prompt: str
    confidence: float | None
    audited: int | None  # 1: asked although it cleared the threshold (sampled, or while audits suspend auto-approval)


class ModelVersionRow(TypedDict):
    id: int
    created: str
    model: str
    version: int
    parent: int | None
    method: str
    param_set: str
    updates: list[Any]
    status: str
    metrics: dict[str, Any]
    note: str


class TrialRow(TypedDict):
    id: int
    created: str
    study: str
    number: int
    role: str  # search | confirm-best | confirm-baseline
    params: dict[str, Any]  # dotted AgentSettings paths -> values (webagent.space)
    success: float
    episodes: int
    run_id: int | None
    seconds: float


class ProfileRow(TypedDict):
    id: int
    created: str
    name: str
    params: dict[str, Any]
    source: str
    metrics: dict[str, Any]
