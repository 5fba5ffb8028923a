"""`webagent learn`: supervised training episodes with held-out evaluation.

Per task: every `eval_every` training episodes, or after each number in
`eval_at` (and before the first episode either way), the
agent runs `eval_seeds` fresh seeds that training never sees, unsupervised, and
the success rate is one point of the learning curve. Episodes that were cut
short (`running`, `interrupted`) count for neither curve. Training episodes run
under a supervisor whose feedback goes to memory and the tuner; how often the
supervisor had to step in is the other curve.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

from webagent.assembly import assemble
from webagent.errors import DataError
from webagent.kinds import Outcome
from webagent.progress import Reporter
from webagent.settings import AgentSettings
from webagent.store import Store

EVAL_SEED_BASE = 100_000  # held-out seeds start here; training seeds start at settings.seed


@dataclass(frozen=True)
class CurveSettings:
    """How a learning run is measured (the agent itself is `AgentSettings`)."""

    episodes: int = 50  # supervised training episodes per task
    eval_every: int = 10
    eval_seeds: int = 20
    eval_at: tuple[int, ...] = ()  # evaluate after these many training episodes (0, 10, 25, 50), not every N

    def __post_init__(self) -> None:
        if self.eval_every < 1 or self.episodes < 0 or self.eval_seeds < 0:
            raise DataError("--eval-every must be ≥ 1, --episodes and --eval-seeds ≥ 0")
        if any(n < 0 or n > self.episodes for n in self.eval_at):
            raise DataError(f"--eval-at {','.join(map(str, self.eval_at))}: each must be between 0 and --episodes")

    @property
    def points(self) -> list[int]:
        """After how many training episodes success is measured, in order, 0 first."""
        every = range(self.eval_every, self.episodes + 1, self.eval_every)
        return sorted({0, *(self.eval_at or every)})


def learn_miniwob(
    tasks: Sequence[str],
    settings: AgentSettings,
    curve_settings: CurveSettings,
    *,
    store: Store,
    model=None,
    reporter: Reporter | None = None,
    on_point: Callable[[dict], None] | None = None,
) -> dict:
    """Train and evaluate on each task in turn; returns the curves (JSON-ready).

    Two agents over the same parts: the trainer (supervised, taught) and the
    evaluator (nobody asked, nothing taught), so evaluation never learns."""
    from webagent.browser.session import BrowserSession
    from webagent.envs.miniwob import MiniWoBEnv, MiniWoBServer

    reporter = reporter or Reporter()
    c = curve_settings
    parts = assemble(settings, store, model=model)
    trainer, evaluator = parts.agent(), parts.agent(supervised=False)
    run_id = parts.start_run(f"learn {' '.join(tasks)}", learn=asdict(c), tasks=list(tasks))
    points = c.points
    total = len(tasks) * (c.episodes + len(points) * c.eval_seeds)
    curves: dict[str, dict] = {}
    try:
        with (
            BrowserSession(settings.browser_config()) as session,
            MiniWoBServer() as server,
            reporter.running(),
        ):
            reporter.start(total, "learning")
            for task in tasks:
                env = MiniWoBEnv(session, server, task)
                curve = {"evals": [], "train": []}
                curves[task] = curve

                def evaluate(trained: int, task=task, env=env, curve=curve) -> None:
                    if parts.tuner is not None:
                        parts.tuner.wait_idle()
                    wins = 0
                    for j in range(c.eval_seeds):
                        seed = EVAL_SEED_BASE + j
                        reporter.describe(f"{task} eval after {trained} (seed {seed})")
                        env.reset(seed)
                        result = evaluator.run_episode(env, run_id=run_id, task=task, seed=seed)
                        wins += result.outcome == Outcome.SUCCESS
                        reporter.advance()
                    point = {
                        "task": task,
                        "episodes": trained,
                        "success_rate": wins / max(c.eval_seeds, 1),
                        "model_version": parts.policy.version,
                        "memory": len(parts.memory) if parts.memory is not None else 0,
                    }
                    curve["evals"].append(point)
                    reporter.note(
                        f"[b]{task}[/b] after {trained} episodes: success {point['success_rate']:.0%} on "
                        f"{c.eval_seeds} held-out seeds · model {point['model_version']} · memory {point['memory']}"
                    )
                    if on_point:
                        on_point(point)

                evaluate(0)
                for i in range(c.episodes):
                    seed = settings.seed + i
                    reporter.describe(f"{task} training episode {i + 1} (seed {seed})")
                    env.reset(seed)
                    result = trainer.run_episode(env, run_id=run_id, task=task, seed=seed)
                    curve["train"].append(
                        {
                            "episode": i + 1,
                            "seed": seed,
                            "outcome": result.outcome,
                            "reward": result.reward,
                            "steps": len(result.steps),
                            "interventions": sum(s.interventions for s in result.steps),
                        }
                    )
                    reporter.advance()
                    if i + 1 in points:
                        evaluate(i + 1)
    finally:
        parts.close()
    return {
        "run_id": run_id,
        "settings": {"agent": settings.record(), "learn": asdict(c)},
        "tasks": curves,
        "summary": summarize_curves(curves),
    }


def summarize_curves(curves: dict[str, dict]) -> dict:
    """Per task: first/last held-out success and interventions in the first vs last 10 episodes."""
    per_task = {}
    for task, curve in curves.items():
        evals = curve["evals"]
        interventions = [t["interventions"] for t in curve["train"]]
        first = statistics.fmean(interventions[:10]) if interventions else 0.0
        last = statistics.fmean(interventions[-10:]) if interventions else 0.0
        per_task[task] = {
            "success_before": evals[0]["success_rate"] if evals else None,
            "success_after": evals[-1]["success_rate"] if evals else None,
            "interventions_first10": first,
            "interventions_last10": last,
            "intervention_drop": (first / last) if last > 0 else (float("inf") if first > 0 else 1.0),
        }
    after = [t["success_after"] for t in per_task.values() if t["success_after"] is not None]
    before = [t["success_before"] for t in per_task.values() if t["success_before"] is not None]
    return {
        "tasks": per_task,
        "mean_success_before": statistics.fmean(before) if before else None,
        "mean_success_after": statistics.fmean(after) if after else None,
    }


def curves_from_store(store: Store, run_id: int) -> dict:
    """Rebuild a learn run's curves from the store alone (for a run that was
    interrupted before it wrote its JSON): held-out episodes are those with seeds
    from EVAL_SEED_BASE up, and the training episodes before them set their x."""
    run = store.run(run_id)
    episodes = store.run_episodes(run_id)
    interventions = store.interventions_by_episode()
    curves: dict[str, dict] = {}
    pending: dict[str, list[dict]] = {}
    for e in episodes:
        curve = curves.setdefault(e["task"], {"evals": [], "train": []})
        if e["outcome"] in _UNFINISHED:  # cut short: neither a training episode nor a held-out result
            continue
        held_out = (e["seed"] or 0) >= EVAL_SEED_BASE
        if held_out:
            pending.setdefault(e["task"], []).append(e)
            continue
        _flush(curve, pending.pop(e["task"], []))
        curve["train"].append(
            {
                "episode": len(curve["train"]) + 1,
                "seed": e["seed"],
                "outcome": e["outcome"],
                "reward": e["reward"],
                "steps": e["steps"],
                "interventions": interventions.get(e["id"], 0),
            }
        )
    for task, rest in pending.items():
        _flush(curves[task], rest)
    config = run["config"] or {}
    settings = {"agent": config.get("settings", {}), "learn": config.get("learn", {})}
    return {"run_id": run_id, "settings": settings, "tasks": curves, "summary": summarize_curves(curves)}


_UNFINISHED = (Outcome.RUNNING, Outcome.INTERRUPTED)


def _flush(curve: dict, evals: list[dict]) -> None:
    finished = [e for e in evals if e["outcome"] not in _UNFINISHED]
    if finished:
        wins = sum(e["outcome"] == "success" for e in finished)
        curve["evals"].append(
            {"episodes": len(curve["train"]), "success_rate": wins / len(finished), "seeds": len(finished)}
        )
