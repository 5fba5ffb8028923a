"""`webagent optimize`: the best settings in the search space, on measured success.

Each trial is a point of `webagent.space.SPACE`, scored by the success rate of
unsupervised MiniWoB++ episodes on the given tasks. Every trial uses the same
seeds (common random numbers: two configurations are compared on the same
episodes, so the noise between them is the configurations', not the seeds').
Trial 0 is the settings the study starts from (the defaults, or `--profile`),
so the baseline is measured in the same run. Every trial is a run in the store
(its full settings in the run record) and a row in `trials`; the best one is
saved as a named profile. Then the best and the baseline are both run on fresh
seeds no trial saw, because the best of many noisy trials is optimistic.

Why Optuna's TPE rather than the paper's REINFORCE: an evaluation here is tens
of episodes, so a budget is tens of trials. REINFORCE estimates a gradient of
the choice distribution from sampled evaluations and needs hundreds of them to
move; TPE models which values did well per parameter (categorical and
conditional choices natively, `multivariate` for their interactions) and
spends a small budget near the good trials. A configuration proposed again is
not run again: its measured score is reused.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field
from typing import Any

from webagent.assembly import holds_tuned_weights, load_model
from webagent.errors import DataError
from webagent.progress import Reporter
from webagent.settings import AgentSettings
from webagent.space import SPACE, Choice, apply, current
from webagent.store import Store


@dataclass(frozen=True)
class OptimizeSettings:
    tasks: tuple[str, ...]
    budget: int  # trials run (the baseline included); a repeated configuration is free
    study: str
    episodes: int = 2  # per task and trial, seeds seed .. seed+episodes-1
    seed: int = 0
    confirm_episodes: int = 5  # per task, fresh seeds, for the best and the baseline (0: skip)
    confirm_seed: int = 5000
    sampler_seed: int = 0

    def __post_init__(self) -> None:
        if not self.tasks:
            raise DataError("optimize needs at least one task")
        if self.budget < 2:
            raise DataError(f"the budget must be at least 2 trials (the baseline and one more), not {self.budget}")
        if self.episodes < 1 or self.confirm_episodes < 0:
            raise DataError("episodes must be at least 1 and confirm episodes at least 0")
        if self.confirm_seed < self.seed + self.episodes:
            raise DataError(f"confirm seeds from {self.confirm_seed} overlap the trials' seeds")


@dataclass
class Trial:
    number: int
    params: dict[str, Any]
    success: float
    episodes: int
    run_id: int | None
    seconds: float

    def changes(self, baseline: dict[str, Any]) -> str:
        """What this trial set differently from the baseline."""
        return ", ".join(f"{k}={v}" for k, v in self.params.items() if baseline.get(k) != v) or "(the baseline)"


@dataclass
class Study:
    name: str
    trials: list[Trial] = field(default_factory=list)
    confirm: dict[str, Any] = field(default_factory=dict)

    @property
    def baseline(self) -> Trial:
        return self.trials[0]

    @property
    def best(self) -> Trial:
        """The highest score; among equals the earliest (the baseline wins a tie)."""
        return max(self.trials, key=lambda t: (t.success, -t.number))

    def ranked(self) -> list[Trial]:
        return sorted(self.trials, key=lambda t: (-t.success, t.number))

    def record(self) -> dict:
        return {
            "study": self.name,
            "trials": [vars(t) for t in self.trials],
            "baseline": vars(self.baseline),
            "best": vars(self.best),
            "confirm": self.confirm,
        }


class _Within(Reporter):
    """A batch's reports folded into the study's one progress bar."""

    def __init__(self, outer: Reporter, label: str) -> None:
        self.outer, self.label = outer, label

    def describe(self, description: str) -> None:
        self.outer.describe(f"{self.label} · {description}")

    def advance(self, n: int = 1) -> None:
        self.outer.advance(n)


def _suggest(trial, space: tuple[Choice, ...]) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for choice in space:
        if choice.when is None or params.get(choice.when[0]) == choice.when[1]:
            params[choice.path] = trial.suggest_categorical(choice.path, list(choice.values))
    return params


def _in_space(params: dict[str, Any], space: tuple[Choice, ...]) -> bool:
    return all(params[c.path] in c.values for c in space if c.path in params)


class Evaluator:
    """Runs a configuration's episodes with parts loaded once: the model (another
    decoding is the same weights, `with_decoding`) and the ranker's embedder."""

    def __init__(self, base: AgentSettings, store: Store, *, model=None, embedder=None) -> None:
        from webagent.embeddings import Embedder

        self.base, self.store = base, store
        if model is None and base.uses_model:
            model = load_model(base.model, tuned=holds_tuned_weights(base, store))
        self.model = model
        self.embedder = embedder or Embedder()

    def __call__(
        self, params: dict, tasks: tuple[str, ...], *, episodes: int, seed: int, reporter: Reporter
    ) -> tuple[float, int]:
        from dataclasses import replace

        from webagent.candidates import HybridRanker
        from webagent.runs import run_miniwob

        settings = replace(apply(self.base, params), seed=seed)
        model = self.model
        if model is not None and settings.model.decoding.value != model.decoding:
            model = model.with_decoding(settings.model.decoding.value, particles=settings.model.particles)
        elif model is not None and settings.model.particles != model.particles:
            model = model.with_decoding(model.decoding, particles=settings.model.particles)
        ranker = HybridRanker(self.embedder, settings.ranker.weights())
        result = run_miniwob(
            list(tasks), settings, episodes=episodes, store=self.store, reporter=reporter, model=model, ranker=ranker
        )
        return result["mean_success_rate"], result["run_id"]


def optimize(
    base: AgentSettings,
    config: OptimizeSettings,
    store: Store,
    *,
    evaluator: Evaluator | None = None,
    reporter: Reporter | None = None,
    space: tuple[Choice, ...] = SPACE,
) -> Study:
    """Search `space` from `base` (module docstring); the best configuration is saved as
    profile `config.study` and confirmed on fresh seeds against the baseline."""
    import optuna

    reporter = reporter or Reporter()
    evaluator = evaluator or Evaluator(base, store)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        sampler = optuna.samplers.TPESampler(
            seed=config.sampler_seed, multivariate=True, group=True, n_startup_trials=min(6, config.budget // 3)
        )
    study = optuna.create_study(direction="maximize", sampler=sampler)
    baseline = current(base, space)
    if _in_space(baseline, space):
        study.enqueue_trial(baseline)
    per_trial = len(config.tasks) * config.episodes
    confirm = 2 * len(config.tasks) * config.confirm_episodes
    result = Study(config.study)
    scores: dict[tuple, float] = {}
    with reporter.running():
        reporter.start(config.budget * per_trial + confirm, f"optimize {config.study}")
        asks = 0
        while len(result.trials) < config.budget and asks < 5 * config.budget:
            asks += 1
            first = not result.trials
            if first and not _in_space(baseline, space):
                trial, params = None, baseline  # outside the space's values: measured, not told to TPE
            else:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    trial = study.ask()
                    params = _suggest(trial, space)
            key = tuple(sorted(params.items(), key=lambda kv: kv[0]))
            if key in scores:  # proposed again: its score is known
                if trial is not None:
                    study.tell(trial, scores[key])
                continue
            number = len(result.trials)
            started = time.perf_counter()
            success, run_id = evaluator(
                params,
                config.tasks,
                episodes=config.episodes,
                seed=config.seed,
                reporter=_Within(reporter, f"trial {number}"),
            )
            scores[key] = success
            if trial is not None:
                study.tell(trial, success)
            done = Trial(number, params, success, per_trial, run_id, time.perf_counter() - started)
            result.trials.append(done)
            store.add_trial(study=config.study, role="search", **vars(done))
            reporter.note(f"trial {number}: {success:.1%} · {done.changes(result.trials[0].params)}")
        best = result.best
        store.save_profile(
            config.study,
            best.params,
            source=f"optimize study {config.study!r}, trial {best.number}",
            metrics={"success": best.success, "baseline": result.baseline.success, "episodes": per_trial},
        )
        if config.confirm_episodes:
            result.confirm = _confirm(result, config, evaluator, store, reporter)
    return result


def _confirm(result: Study, config: OptimizeSettings, evaluator: Evaluator, store: Store, reporter: Reporter) -> dict:
    """The best and the baseline on seeds no trial saw."""
    out: dict[str, Any] = {"seed": config.confirm_seed, "episodes_per_task": config.confirm_episodes}
    for role, trial in (("best", result.best), ("baseline", result.baseline)):
        if role == "baseline" and result.best.number == result.baseline.number:
            out["baseline"] = out["best"]
            break
        started = time.perf_counter()
        success, run_id = evaluator(
            trial.params,
            config.tasks,
            episodes=config.confirm_episodes,
            seed=config.confirm_seed,
            reporter=_Within(reporter, f"confirm {role}"),
        )
        episodes = len(config.tasks) * config.confirm_episodes
        store.add_trial(
            study=config.study,
            number=trial.number,
            role=f"confirm-{role}",
            params=trial.params,
            success=success,
            episodes=episodes,
            run_id=run_id,
            seconds=time.perf_counter() - started,
        )
        out[role] = {"trial": trial.number, "success": success, "episodes": episodes, "run_id": run_id}
        reporter.note(f"[b]fresh seeds[/b] {role} (trial {trial.number}): {success:.1%} on {episodes} episodes")
    if result.best.number == result.baseline.number:
        reporter.advance(len(config.tasks) * config.confirm_episodes)  # nothing to compare: the bar completes
    return out


def plot(result: Study, path) -> None:
    """Success against trials: each trial, the best so far, the baseline."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    numbers = [t.number for t in result.trials]
    scores = [t.success for t in result.trials]
    best_so_far = [max(scores[: i + 1]) for i in range(len(scores))]
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.scatter(numbers, scores, label="trial", color="tab:blue")
    ax.step(numbers, best_so_far, where="post", label="best so far", color="tab:green")
    ax.axhline(result.baseline.success, linestyle="--", color="tab:gray", label="baseline (trial 0)")
    for role, color in (("best", "tab:green"), ("baseline", "tab:gray")):
        if role in result.confirm:
            ax.scatter([numbers[-1] + 1], [result.confirm[role]["success"]], marker="*", s=120, color=color)
    if result.confirm:
        ax.annotate(
            "fresh seeds",
            (numbers[-1] + 1, result.confirm["best"]["success"]),
            textcoords="offset points",
            xytext=(-20, 8),
        )
    ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    ax.set_xlabel("trial")
    ax.set_ylabel("success rate")
    ax.set_ylim(0, 1)
    ax.set_title(f"webagent optimize · {result.name}")
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
