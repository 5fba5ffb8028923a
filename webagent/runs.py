"""Batches of episodes: assemble the agent once, run, record, summarise."""

from __future__ import annotations

import dataclasses
import statistics
import time
from collections.abc import Sequence

from webagent.agent import EpisodeResult
from webagent.assembly import assemble
from webagent.browser.session import BrowserSession
from webagent.capture import Capture
from webagent.envs.miniwob import MiniWoBEnv, MiniWoBServer
from webagent.envs.scripted import ScriptedEnv, ScriptedTask
from webagent.errors import BrowserError, WebAgentError
from webagent.kinds import Outcome
from webagent.progress import Reporter
from webagent.settings import AgentSettings
from webagent.store import Store
from webagent.workflows import Workflow, WorkflowPolicy


def episode_row(result: EpisodeResult, task: str, seed: int) -> dict:
    return {
        "task": task,
        "seed": seed,
        "episode_id": result.episode_id,
        "instruction": result.instruction,
        "reward": result.reward,
        "outcome": result.outcome,
        "steps": len(result.steps),
        "actions": [s.action.to_dsl() for s in result.steps],
        "error": result.error,
        "answer": result.answer,
        "final_url": result.final_url,
    }


def summarize(per_task: dict[str, list[dict]]) -> dict:
    """Per-task and mean success from episode rows."""
    tasks = {}
    for name, rows in per_task.items():
        n = max(len(rows), 1)
        tasks[name] = {
            "episodes": len(rows),
            "success_rate": sum(r["outcome"] == Outcome.SUCCESS for r in rows) / n,
            "mean_reward": sum(r["reward"] or 0.0 for r in rows) / n,
            "mean_steps": sum(r["steps"] for r in rows) / n,
            "episodes_detail": rows,
        }
    mean = statistics.fmean(t["success_rate"] for t in tasks.values()) if tasks else 0.0
    return {"tasks": tasks, "mean_success_rate": mean}


def _capturing(agent, settings: AgentSettings, session) -> tuple:
    """The agent with a `Capture` observer when the settings ask for traces or screenshots."""
    capture = Capture(settings.capture, session)
    if capture.enabled:
        agent = dataclasses.replace(agent, observers=(*agent.observers, capture))
    return agent, capture


def _mark(row: dict) -> str:
    return "[green]✓[/green]" if row["outcome"] == Outcome.SUCCESS else "[red]✗[/red]"


def run_miniwob(
    tasks: Sequence[str],
    settings: AgentSettings,
    *,
    episodes: int,
    store: Store,
    reporter: Reporter | None = None,
    model=None,
    ranker=None,
) -> dict:
    """`episodes` seeded episodes per task (seeds settings.seed, +1, ...); `model`, `ranker`:
    already loaded parts to use (else the settings' are loaded)."""
    reporter = reporter or Reporter()
    parts = assemble(settings, store, model=model, ranker=ranker)
    agent = parts.agent()
    run_id = parts.start_run(f"miniwob {' '.join(tasks)}", tasks=list(tasks), episodes=episodes)
    per_task: dict[str, list[dict]] = {t: [] for t in tasks}
    try:
        with (
            BrowserSession(settings.browser_config()) as session,
            MiniWoBServer() as server,
            reporter.running(),
        ):
            reporter.start(len(tasks) * episodes, "episodes")
            agent, capture = _capturing(agent, settings, session)
            for task in tasks:
                env = MiniWoBEnv(session, server, task)
                for i in range(episodes):
                    seed = settings.seed + i
                    reporter.describe(f"{task} seed {seed}")
                    try:
                        capture.begin()
                        env.reset(seed)
                        row = episode_row(agent.run_episode(env, run_id=run_id, task=task, seed=seed), task, seed)
                    except Exception as exc:  # noqa: BLE001 - one task that cannot start or run never ends the batch
                        why = str(exc) if isinstance(exc, WebAgentError) else f"{type(exc).__name__}: {exc}"
                        capture.discard()
                        row = {"task": task, "seed": seed, "reward": None, "outcome": Outcome.ERROR, "steps": 0}
                        per_task[task].append({**row, "actions": [], "error": why})
                        reporter.note(f"[red]✗[/red] {task} seed {seed}: could not run: {why}")
                        reporter.advance()
                        continue
                    per_task[task].append(row)
                    reporter.note(
                        f"{_mark(row)} {task} seed {seed}: {row['outcome']} reward={row['reward']} "
                        f"steps={row['steps']} · {' ; '.join(row['actions'])}"
                    )
                    reporter.advance()
    finally:
        parts.close()
    return {"run_id": run_id, "settings": settings.record(), **parts.describe(), **summarize(per_task)}


def sweep_miniwob(
    tasks: dict[str, str | None],
    settings: AgentSettings,
    *,
    store: Store,
    seed: int = 0,
    reporter: Reporter | None = None,
) -> list[dict]:
    """One episode of each task, whatever happens: a row per task with `status`
    `ran` (its outcome and reward), `unsupported` (why: given in `tasks`, or a page
    with nothing the actions can reach) or `error` (the exception's type and
    message). Nothing one task does ends the sweep; a browser that dies is started
    again for the next task."""
    reporter = reporter or Reporter()
    parts = assemble(settings, store)
    agent = parts.agent()
    run_id = parts.start_run("miniwob sweep", tasks=list(tasks), episodes=1)
    rows: list[dict] = []
    session = None
    try:
        with MiniWoBServer() as server, reporter.running():
            reporter.start(len(tasks), "tasks")
            for task, unsupported in tasks.items():
                reporter.describe(task)
                row = {"task": task, "seed": seed, "status": "ran", "why": None, "outcome": None, "reward": None}
                start = time.perf_counter()
                try:
                    if unsupported:
                        row.update(status="unsupported", why=unsupported)
                    else:
                        if session is None:
                            session = BrowserSession(settings.browser_config()).start()
                        session.new_context()  # nothing a task left behind reaches the next
                        row.update(_sweep_one(agent, session, server, task, seed, run_id))
                except Exception as exc:  # noqa: BLE001 - the sweep records every failure and goes on
                    row.update(status="error", why=f"{type(exc).__name__}: {exc}".splitlines()[0][:300])
                if row["status"] == "error" and session is not None and not _usable(session):
                    session.close()  # the next task gets a fresh browser
                    session = None
                row["seconds"] = round(time.perf_counter() - start, 2)
                rows.append(row)
                mark = {"ran": "[green]ran[/green]", "unsupported": "[yellow]unsupported[/yellow]"}
                reporter.note(f"{mark.get(row['status'], '[red]error[/red]')} {task}: {row['outcome'] or row['why']}")
                reporter.advance()
    finally:
        if session is not None:
            session.close()
        parts.close()
    return rows


def _usable(session: BrowserSession) -> bool:
    try:
        session.new_context()
    except Exception:  # noqa: BLE001 - any failure means: start another
        return False
    return session.responsive()


def _sweep_one(agent, session, server, task: str, seed: int, run_id) -> dict:
    env = MiniWoBEnv(session, server, task)
    env.reset(seed)
    if not env.observe().actionable:
        return {"status": "unsupported", "why": "the page has no element the actions can reach (canvas or coordinates)"}
    result = agent.run_episode(env, run_id=run_id, task=task, seed=seed)
    if result.outcome == Outcome.ERROR:
        return {"status": "error", "why": result.error, "outcome": str(result.outcome), "steps": len(result.steps)}
    return {
        "outcome": str(result.outcome),
        "reward": result.reward,
        "steps": len(result.steps),
        "actions": [s.action.to_dsl() for s in result.steps],
    }


def run_scripted(
    tasks: Sequence[ScriptedTask], settings: AgentSettings, *, store: Store, reporter: Reporter | None = None
) -> dict:
    """One episode per task, each from its start URL."""
    reporter = reporter or Reporter()
    parts = assemble(settings, store)
    agent = parts.agent()
    run_id = parts.start_run("run", tasks=[t.name for t in tasks])
    per_task: dict[str, list[dict]] = {}

    def show(step) -> None:
        note = f"  [red]{step.error}[/red]" if step.error else ""
        reporter.note(f"  step {step.index}: {step.action} (confidence {step.decision.confidence:.2f}){note}")

    try:
        with BrowserSession(settings.browser_config()) as session:
            agent, capture = _capturing(agent, settings, session)
            for task in tasks:
                env = ScriptedEnv(session, task)
                try:
                    capture.begin()
                    env.reset(settings.seed)
                except BrowserError as exc:
                    capture.discard()
                    reporter.note(f"[red]✗[/red] {task.name}: {exc}")
                    error_row = {"task": task.name, "reward": None, "outcome": Outcome.ERROR, "steps": 0}
                    per_task[task.name] = [{**error_row, "error": str(exc), "could_not_start": True}]
                    continue
                reporter.note(f"[b]{store.secrets.mask(task.instruction)}[/b] @ {task.url}")
                result = agent.run_episode(env, run_id=run_id, task=task.name, seed=settings.seed, on_step=show)
                reporter.note(f"→ {result.outcome} (reward {result.reward})")
                row = episode_row(result, task.name, settings.seed)
                # Without until_text / until_url nothing can tell success from failure.
                row["can_tell"] = bool(task.until_text or task.until_url) or result.outcome == Outcome.ERROR
                per_task[task.name] = [row]
    finally:
        parts.close()
    return {"run_id": run_id, "settings": settings.record(), **parts.describe(), **summarize(per_task)}


def rerun_workflow(
    workflow: Workflow,
    task: ScriptedTask,
    settings: AgentSettings,
    *,
    store: Store,
    fallback: bool = True,
    reporter: Reporter | None = None,
) -> dict:
    """One episode of `task` decided by the workflow's steps, matched on the page as it
    is (webagent.workflows); a step that cannot be matched goes to the settings'
    policy when `fallback`, else fails. The result says how each step was decided."""
    reporter = reporter or Reporter()
    parts = assemble(settings, store)
    policy = WorkflowPolicy(workflow, parts.policy if fallback else None)
    agent = dataclasses.replace(parts.agent(), policy=policy)
    run_id = parts.start_run("rerun", tasks=[task.name], workflow=policy.describe())

    def show(step) -> None:
        how = policy.log[-1]["how"] if policy.log else ""
        note = f"  [red]{step.error}[/red]" if step.error else ""
        reporter.note(f"  step {step.index + 1}: {step.action} ({how}){note}")

    try:
        with BrowserSession(settings.browser_config()) as session:
            env = ScriptedEnv(session, task)
            env.reset(settings.seed)
            reporter.note(f"[b]{store.secrets.mask(task.instruction)}[/b] @ {task.url}")
            result = agent.run_episode(env, run_id=run_id, task=task.name, seed=settings.seed, on_step=show)
    finally:
        parts.close()
    row = episode_row(result, task.name, settings.seed)
    row["can_tell"] = bool(task.until_text or task.until_url) or result.outcome == Outcome.ERROR
    decided = [entry for entry in policy.log if entry["how"] != "end"]
    return {
        "run_id": run_id,
        "settings": settings.record(),
        **parts.describe(),
        "workflow_steps": len(workflow.steps),
        "matched": sum(entry["how"] == "matched" for entry in decided),
        "fell_back": sum(entry["how"] == "fallback" for entry in decided),
        "decisions": policy.log,
        **summarize({task.name: [row]}),
    }
