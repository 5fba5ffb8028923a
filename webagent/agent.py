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
from webagent.browser.observation import Element, Observation
from webagent.candidates import Candidate, Ranker
from webagent.envs.base import Environment
from webagent.errors import ActionError, WebAgentError
from webagent.feedback import Learner, Lesson
from webagent.memory import Exemplar
from webagent.policy import Decision, Policy, retrieval_query, state_text
from webagent.store import Store
from webagent.supervision import Proposal, Supervisor, Verdict


@dataclass(frozen=True)
class AgentConfig:
    top_k: int = 10
    max_steps: int = 12
    loop_repeats: int = 3
    screenshots: bool = False
    patience_seconds: float = 3.0  # how long to keep looking when the policy finds nothing to do
    exemplar_candidates: int = 5  # candidates kept in a remembered exemplar (the right one always among them)


@dataclass(frozen=True)
class Step:
    index: int
    observation: Observation
    action: Action
    decision: Decision
    candidates: tuple[Candidate, ...]
    error: str | None
    latency: dict[str, float]
    reviews: tuple[tuple[Action, Verdict | None], ...] = ()  # each proposal and what the supervisor said

    @property
    def proposed(self) -> Action:
        """The policy's first proposal (the executed action may be a correction)."""
        return self.reviews[0][0] if self.reviews else self.action

    @property
    def interventions(self) -> int:
        """How often the supervisor had to step in: rejections and corrections."""
        return sum(1 for _, v in self.reviews if v is not None and v.kind in ("reject", "correct"))


@dataclass(frozen=True)
class EpisodeResult:
    episode_id: int | None
    instruction: str
    steps: tuple[Step, ...]
    reward: float | None
    done: bool
    outcome: str  # success | failure | step-limit | loop | error | stopped
    error: str | None = None  # why the episode stopped, when outcome is error


@dataclass
class Agent:
    ranker: Ranker
    policy: Policy
    store: Store | None = None
    config: AgentConfig = field(default_factory=AgentConfig)
    supervisor: Supervisor | None = None
    learner: Learner | None = None

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
        step_ids: list[int | None] = []
        try:
            for index in range(self.config.max_steps):
                step = self._step(env, index, steps, last_error, rng.randrange(2**31), task, episode_id)
                steps.append(step)
                last_error = step.error
                step_id = None
                if self.store is not None and episode_id is not None:
                    step_id = self.store.record_step(episode_id, step_row(step, self.policy, seed))
                step_ids.append(step_id)
                self._teach_step(env.instruction, steps, episode_id, step_id, task)
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
        except _Stopped:
            outcome = "stopped"
        except WebAgentError as exc:
            outcome = "error"
            error = str(exc)
        reward = status.reward if status and status.done else None
        done = bool(status and status.done)
        if self.store is not None and episode_id is not None:
            self.store.finish_episode(episode_id, reward=reward, done=done, outcome=outcome, error=error)
        self._teach_episode(env.instruction, steps, reward, episode_id, step_ids, task)
        return EpisodeResult(episode_id, env.instruction, tuple(steps), reward, done, outcome, error)

    def _step(
        self,
        env: Environment,
        index: int,
        history: list[Step],
        last_error: str | None,
        seed: int,
        task: str = "",
        episode_id: int | None = None,
    ) -> Step:
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
        action, decision, reviews = self._review(
            env.instruction, observation, candidates, past, decision, seed, task, episode_id
        )
        t4 = time.perf_counter()
        error = env.act(action, observation)
        t5 = time.perf_counter()
        latency = {"observe": t1 - t0, "rank": t2 - t1, "decide": t3 - t2, "review": t4 - t3, "act": t5 - t4}
        return Step(index, observation, action, decision, tuple(candidates), error, latency, reviews)

    def _review(self, instruction, observation, candidates, past, decision, seed, task, episode_id=None):
        """Ask the supervisor; on a rejection the policy proposes its next-best
        action (the rejected element is no longer offered). Returns the action to
        run, the last decision, and every (proposal, verdict) pair. A rejection is
        stored as it is given: the step it belongs to may never run."""
        if self.supervisor is None:
            return decision.action, decision, ()
        reviews: list[tuple[Action, Verdict | None]] = []
        shown = list(candidates)
        while True:
            proposal = Proposal(instruction, observation, tuple(shown), tuple(past), decision, task, len(past))
            verdict = self.supervisor.review(proposal)
            reviews.append((decision.action, verdict))
            if verdict is None or verdict.kind == "confirm":
                return decision.action, decision, tuple(reviews)
            if verdict.kind == "correct":
                return verdict.action, decision, tuple(reviews)
            if verdict.kind == "stop":
                raise _Stopped
            if self.learner is not None:
                lesson = self._lesson(instruction, observation, shown, past, decision, "reject", decision.action, None)
                self.learner.learn(_placed(lesson, episode_id, None, task))
            shown = [c for c in shown if c.id != decision.action.element_id]
            if not shown:
                raise _Stopped
            decision = self.policy.decide(instruction, observation, shown, past, seed)

    # -- learning ------------------------------------------------------------
    def _lesson(self, instruction, observation, candidates, history, decision, kind, proposed, right) -> Lesson:
        """A lesson whose prompt and exemplar show the right element even when the
        ranker had left it out (a person can point at anything on the page)."""
        shown = list(candidates)
        target = observation.element(right.element_id) if right is not None else None
        if target is not None and all(c.id != target.id for c in shown):
            shown = [*shown[:-1], _as_candidate(target)] if shown else [_as_candidate(target)]
        prompt = ""
        if hasattr(self.policy, "prompt"):
            prompt = self.policy.prompt(instruction, observation, shown, history, decision.exemplars)
        exemplar = None
        if target is not None:
            kept = shown[: self.config.exemplar_candidates]
            if all(c.id != target.id for c in kept):
                kept = [*kept[:-1], next(c for c in shown if c.id == target.id)]
            exemplar = Exemplar(
                query=retrieval_query(instruction, history, shown),
                context=state_text(instruction, observation, kept, history),
                output=right.to_dsl(),
            )
        return Lesson(
            kind=kind,
            proposed=proposed.to_dsl(),
            output=right.to_dsl() if right is not None else "",
            prompt=prompt,
            exemplar=exemplar,
            source=self.supervisor.name if self.supervisor else "",
            confidence=decision.confidence,
        )

    def _teach(self, instruction, steps, index, kind, proposed, episode_id, step_id, task) -> None:
        step = steps[index]
        history = [s.action for s in steps[:index]]
        lesson = self._lesson(
            instruction, step.observation, step.candidates, history, step.decision, kind, proposed, step.action
        )
        self.learner.learn(_placed(lesson, episode_id, step_id, task))

    def _teach_step(self, instruction, steps, episode_id, step_id, task) -> None:
        if self.learner is None or self.supervisor is None:
            return
        for proposed, verdict in steps[-1].reviews:
            if verdict is not None and verdict.kind in ("confirm", "correct"):
                self._teach(instruction, steps, len(steps) - 1, verdict.kind, proposed, episode_id, step_id, task)

    def _teach_episode(self, instruction, steps, reward, episode_id, step_ids, task) -> None:
        if self.learner is None or self.supervisor is None or not steps:
            return
        verdicts = self.supervisor.review_episode([s.action for s in steps], reward)
        for i, verdict in enumerate(verdicts[: len(steps)]):
            if verdict is not None and verdict.kind == "confirm":
                self._teach(instruction, steps, i, "confirm", steps[i].action, episode_id, step_ids[i], task)


class _Stopped(Exception):
    """The supervisor stopped the episode."""


def _as_candidate(element: Element) -> Candidate:
    return Candidate(element, 0.0, 0.0, 0.0)


def _placed(lesson: Lesson, episode_id, step_id, task) -> Lesson:
    from dataclasses import replace

    exemplar = replace(lesson.exemplar, task=task, source_step_id=step_id) if lesson.exemplar else None
    return replace(lesson, episode_id=episode_id, step_id=step_id, exemplar=exemplar)


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
        "proposed": masked(step.proposed, step.candidates) if step.proposed != step.action else None,
        "raw_output": shown if secret else step.decision.raw_output,
        "confidence": step.decision.confidence,
        "policy_confidence": step.decision.policy_confidence,
        "critic": step.decision.critic,
        "screenshot": step.observation.screenshot,  # PNG bytes; the store saves a file and keeps its path
        "prompt": step.decision.prompt,
        "candidates": [
            {
                "id": c.id,
                "score": round(c.score, 4),
                "lexical": round(c.lexical, 4),
                "semantic": round(c.semantic, 4),
                "text": c.element.describe(),
                "box": [round(v, 1) for v in c.element.box],
            }
            for c in step.candidates
        ],
        "error": step.error,
        "latency": {k: round(v, 4) for k, v in step.latency.items()},
        "model_version": getattr(getattr(policy, "model", None), "version", policy.name),
        "seed": seed,
    }
