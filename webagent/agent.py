"""The agent loop: observe → rank → decide → act → record, until done.

An episode ends when the environment reports done, at the step limit, or when
the same action repeats `loop_repeats` times in a row (a loop). A failed action
does not end it: its error is shown in the next observation.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from webagent.actions import Action
from webagent.browser.observation import Observation
from webagent.candidates import Candidate, Ranker
from webagent.envs.base import Environment
from webagent.errors import ActionError, WebAgentError
from webagent.policy import Decision, Policy
from webagent.store import Store


@dataclass(frozen=True)
class AgentConfig:
    top_k: int = 10
    max_steps: int = 12
    loop_repeats: int = 3
    screenshots: bool = False
    patience_seconds: float = 3.0  # how long to keep looking when the policy finds nothing to do


@dataclass(frozen=True)
class Step:
    index: int
    observation: Observation
    action: Action
    decision: Decision
    candidates: tuple[Candidate, ...]
    error: str | None
    latency: dict[str, float]


@dataclass(frozen=True)
class EpisodeResult:
    episode_id: int | None
    instruction: str
    steps: tuple[Step, ...]
    reward: float | None
    done: bool
    outcome: str  # success | failure | step-limit | loop | error
    error: str | None = None  # why the episode stopped, when outcome is error


@dataclass
class Agent:
    ranker: Ranker
    policy: Policy
    store: Store | None = None
    config: AgentConfig = field(default_factory=AgentConfig)

    def run_episode(
        self,
        env: Environment,
        *,
        run_id: int | None = None,
        task: str = "",
        seed: int = 0,
        on_step: Callable[[Step], None] | None = None,
    ) -> EpisodeResult:
        rng = random.Random(seed)
        episode_id = None
        if self.store is not None and run_id is not None:
            episode_id = self.store.start_episode(run_id, task=task, seed=seed, instruction=env.instruction)
        steps: list[Step] = []
        last_error: str | None = None
        outcome = "step-limit"
        error = None
        status = None
        try:
            for index in range(self.config.max_steps):
                step = self._step(env, index, steps, last_error, rng.randrange(2**31))
                steps.append(step)
                last_error = step.error
                if self.store is not None and episode_id is not None:
                    self.store.record_step(episode_id, step_row(step, self.policy, seed))
                if on_step:
                    on_step(step)
                status = env.status()
                if status.done:
                    outcome = "success" if (status.reward or 0) > 0 else "failure"
                    break
                recent = [s.action for s in steps[-self.config.loop_repeats :]]
                if len(recent) == self.config.loop_repeats and len(set(recent)) == 1:
                    outcome = "loop"
                    break
        except WebAgentError as exc:
            outcome = "error"
            error = str(exc)
        reward = status.reward if status and status.done else None
        done = bool(status and status.done)
        if self.store is not None and episode_id is not None:
            self.store.finish_episode(episode_id, reward=reward, done=done, outcome=outcome, error=error)
        return EpisodeResult(episode_id, env.instruction, tuple(steps), reward, done, outcome, error)

    def _step(self, env: Environment, index: int, history: list[Step], last_error: str | None, seed: int) -> Step:
        past = [s.action for s in history]
        deadline = time.monotonic() + self.config.patience_seconds
        while True:
            t0 = time.perf_counter()
            observation = env.observe(last_error=last_error, screenshot=self.config.screenshots)
            t1 = time.perf_counter()
            candidates = self.ranker.rank(env.instruction, observation, [a.to_dsl() for a in past], self.config.top_k)
            t2 = time.perf_counter()
            try:
                if not candidates:
                    raise ActionError(f"no element to act on at {observation.url}")
                decision = self.policy.decide(env.instruction, observation, candidates, past, seed)
                break
            except ActionError:
                # The page may still be drawing (images, menus that wait for typing
                # to pause): look again a moment later, as a person would.
                if time.monotonic() >= deadline:
                    raise
                time.sleep(0.25)
        t3 = time.perf_counter()
        error = env.act(decision.action, observation)
        t4 = time.perf_counter()
        latency = {"observe": t1 - t0, "rank": t2 - t1, "decide": t3 - t2, "act": t4 - t3}
        return Step(index, observation, decision.action, decision, tuple(candidates), error, latency)


def masked(action: Action, candidates: tuple[Candidate, ...]) -> str:
    """The action as logged: text typed into a password field is masked."""
    element = next((c.element for c in candidates if c.id == action.element_id), None)
    if action.verb == "TYPE" and element is not None and element.input_type == "password":
        return Action(action.verb, action.element_id, "•" * 8).to_dsl()
    return action.to_dsl()


def step_row(step: Step, policy: Policy, seed: int) -> dict:
    shown = masked(step.action, step.candidates)
    secret = shown != step.action.to_dsl()
    return {
        "idx": step.index,
        "url": step.observation.url,
        "title": step.observation.title,
        "observation": {"elements": len(step.observation.elements), "last_error": step.observation.last_error},
        "cleaned_html": step.observation.html,
        "action": shown,
        "raw_output": shown if secret else step.decision.raw_output,
        "confidence": step.decision.confidence,
        "prompt": step.decision.prompt,
        "candidates": [
            {
                "id": c.id,
                "score": round(c.score, 4),
                "lexical": round(c.lexical, 4),
                "semantic": round(c.semantic, 4),
                "text": c.element.describe(),
            }
            for c in step.candidates
        ],
        "error": step.error,
        "latency": {k: round(v, 4) for k, v in step.latency.items()},
        "model_version": getattr(getattr(policy, "model", None), "version", policy.name),
        "seed": seed,
    }
