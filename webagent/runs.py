"""Batches of episodes: build the parts once, run, record, summarise."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from webagent.agent import Agent, AgentConfig, EpisodeResult
from webagent.browser.session import BrowserConfig, BrowserSession
from webagent.build import make_policy, make_ranker
from webagent.envs.miniwob import MiniWoBEnv, MiniWoBServer
from webagent.envs.scripted import ScriptedEnv, ScriptedTask
from webagent.errors import BrowserError
from webagent.store import Store


def _progress(console):
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )


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
    }


def summarize(per_task: dict[str, list[dict]]) -> dict:
    """Per-task and mean success from episode rows."""
    tasks = {}
    for name, rows in per_task.items():
        n = max(len(rows), 1)
        tasks[name] = {
            "episodes": len(rows),
            "success_rate": sum(r["outcome"] == "success" for r in rows) / n,
            "mean_reward": sum(r["reward"] or 0.0 for r in rows) / n,
            "mean_steps": sum(r["steps"] for r in rows) / n,
            "episodes_detail": rows,
        }
    mean = statistics.fmean(t["success_rate"] for t in tasks.values()) if tasks else 0.0
    return {"tasks": tasks, "mean_success_rate": mean}


@dataclass(frozen=True)
class RunSettings:
    """What a batch of episodes runs with; serialised into its run record."""

    policy: str = "model"
    model: str = "default"
    top_k: int = 10
    max_steps: int = 12
    seed: int = 0
    headless: bool = True
    decoding: str = "plain"  # plain | speculative | smc
    particles: int = 8  # SMC particles
    draft_model: str | None = None  # speculative: a smaller model with the same tokenizer (else a self-draft)


def _setup(settings: RunSettings, store: Store, command: str):
    policy = make_policy(
        settings.policy,
        model=settings.model,
        decoding=settings.decoding,
        particles=settings.particles,
        draft_model=settings.draft_model,
    )
    config = AgentConfig(top_k=settings.top_k, max_steps=settings.max_steps)
    agent = Agent(make_ranker(), policy, store, config)
    lm = getattr(policy, "model", None)
    run_id = store.start_run(
        command=command,
        policy=policy.name,
        model=getattr(lm, "name", ""),
        model_version=getattr(lm, "version", policy.name),
        seed=settings.seed,
        config={
            "run": asdict(settings),
            "agent": asdict(config),
            "policy": asdict(policy.config) if hasattr(policy, "config") else {},
        },
    )
    return agent, run_id


def run_miniwob(tasks: Sequence[str], settings: RunSettings, *, episodes: int, store: Store, console=None) -> dict:
    """`episodes` seeded episodes per task (seeds settings.seed, +1, ...)."""
    agent, run_id = _setup(settings, store, f"miniwob {' '.join(tasks)}")
    per_task: dict[str, list[dict]] = {t: [] for t in tasks}
    with (
        BrowserSession(BrowserConfig(headless=settings.headless)) as session,
        MiniWoBServer() as server,
        _progress(console) as progress,
    ):
        bar = progress.add_task("episodes", total=len(tasks) * episodes)
        for task in tasks:
            env = MiniWoBEnv(session, server, task)
            for i in range(episodes):
                episode_seed = settings.seed + i
                progress.update(bar, description=f"{task} seed {episode_seed}")
                env.reset(episode_seed)
                result = agent.run_episode(env, run_id=run_id, task=task, seed=episode_seed)
                row = episode_row(result, task, episode_seed)
                per_task[task].append(row)
                mark = "[green]✓[/green]" if row["outcome"] == "success" else "[red]✗[/red]"
                progress.console.print(
                    f"{mark} {task} seed {episode_seed}: {row['outcome']} reward={row['reward']} "
                    f"steps={row['steps']} · {' ; '.join(row['actions'])}",
                    markup=True,
                    highlight=False,
                )
                progress.advance(bar)
    return {"run_id": run_id, "settings": asdict(settings), **summarize(per_task)}


def run_scripted(tasks: Sequence[ScriptedTask], settings: RunSettings, *, store: Store, console=None) -> dict:
    """One episode per task, each from its start URL."""
    agent, run_id = _setup(settings, store, "run")
    per_task: dict[str, list[dict]] = {}
    with BrowserSession(BrowserConfig(headless=settings.headless)) as session:
        for task in tasks:
            env = ScriptedEnv(session, task)
            try:
                env.reset()
            except BrowserError as exc:
                console.print(f"[red]✗[/red] {task.name}: {exc}")
                per_task[task.name] = [
                    {"task": task.name, "reward": None, "outcome": "error", "steps": 0, "error": str(exc)}
                ]
                continue

            def show(step, console=console):
                note = f"  [red]{step.error}[/red]" if step.error else ""
                console.print(f"  step {step.index}: {step.action} (confidence {step.decision.confidence:.2f}){note}")

            console.print(f"[b]{task.instruction}[/b] @ {task.url}")
            result = agent.run_episode(env, run_id=run_id, task=task.name, seed=settings.seed, on_step=show)
            console.print(f"→ {result.outcome} (reward {result.reward})")
            per_task[task.name] = [episode_row(result, task.name, settings.seed)]
    return {"run_id": run_id, "settings": asdict(settings), **summarize(per_task)}
