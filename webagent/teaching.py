"""Turning verdicts into lessons: an observer of supervised episodes.

A rejection is taught the moment it is given (the rejected proposal never runs,
so it has no step); a confirmation or correction once its step is recorded (so
the lesson names the step); after the episode the supervisor may confirm steps
in hindsight (reward supervision). Every lesson goes to the `Learner`, which
writes it to the store and on to memory and the tuner.

`step_exemplar` is how a state and its right action become a memory exemplar,
for live steps here and for Mind2Web training steps (webagent.mind2web.replay).
"""

from __future__ import annotations

from collections.abc import Sequence

from webagent.actions import Action
from webagent.agent import EpisodeContext, EpisodeResult, Observer, Review, Step
from webagent.browser.observation import Element, Observation
from webagent.candidates import Candidate
from webagent.feedback import Learner, Lesson
from webagent.kinds import VerdictKind
from webagent.memory import Exemplar
from webagent.policy import Decision, Policy, retrieval_query, state_text
from webagent.supervision import Supervisor, Verdict


def step_exemplar(
    instruction: str,
    observation: Observation,
    ranked: Sequence[Candidate],
    history: Sequence[Action],
    right: Action,
    *,
    keep: int,
    task: str = "",
    source_step_id: int | None = None,
) -> Exemplar:
    """The state as the model would see it with the best `keep` candidates (the
    right element always among them, in place of the last) and the right action."""
    target = next((c for c in ranked if c.id == right.element_id), None)  # None: SCROLL, BACK, STOP
    kept = list(ranked[:keep])
    if target is not None and target not in kept:
        kept = [*kept[:-1], target]
    return Exemplar(
        query=retrieval_query(instruction, history, kept),
        context=state_text(instruction, observation, kept, history),
        output=right.to_dsl(),
        task=task,
        source_step_id=source_step_id,
    )


def _as_candidate(element: Element) -> Candidate:
    return Candidate(element, 0.0, 0.0, 0.0)


class Teacher(Observer):
    """Sends a supervised agent's verdicts to the learner as lessons."""

    def __init__(self, learner: Learner, policy: Policy, supervisor: Supervisor, *, exemplar_candidates: int) -> None:
        self.learner = learner
        self.policy = policy
        self.supervisor = supervisor
        self.exemplar_candidates = exemplar_candidates

    def reviewed(self, context: EpisodeContext, review: Review) -> None:
        if review.verdict is not None and review.verdict.kind == VerdictKind.REJECT:
            p = review.proposal
            self._teach(context, None, p.observation, p.candidates, p.history, p.decision, review.verdict, right=None)

    def step_done(self, context: EpisodeContext, step: Step) -> None:
        step_id = context.step_id(step.index)
        for review in step.reviews:
            verdict = review.verdict
            if verdict is not None and verdict.kind in (VerdictKind.CONFIRM, VerdictKind.CORRECT):
                self._teach_step(context, step, step_id, verdict, proposed=review.proposed)

    def episode_done(self, context: EpisodeContext, result: EpisodeResult) -> None:
        if not result.steps:
            return
        verdicts = self.supervisor.review_episode([s.action for s in result.steps], result.reward)
        for step, verdict in zip(result.steps, verdicts, strict=False):
            if verdict is not None and verdict.kind == VerdictKind.CONFIRM:
                self._teach_step(context, step, context.step_id(step.index), verdict, proposed=step.action)

    def _teach_step(self, context, step: Step, step_id, verdict: Verdict, *, proposed: Action) -> None:
        history = context.history[: step.index]
        self._teach(
            context,
            step_id,
            step.observation,
            step.candidates,
            history,
            step.decision,
            verdict,
            right=step.action,
            proposed=proposed,
        )

    def _teach(
        self,
        context: EpisodeContext,
        step_id: int | None,
        observation: Observation,
        candidates: Sequence[Candidate],
        history: Sequence[Action],
        decision: Decision,
        verdict: Verdict,
        *,
        right: Action | None,
        proposed: Action | None = None,
    ) -> None:
        """A lesson whose prompt and exemplar show the right element even when the
        ranker had left it out (a person can point at anything on the page)."""
        shown = list(candidates)
        target = observation.element(right.element_id) if right is not None and right.element_id else None
        if target is not None and all(c.id != target.id for c in shown):
            shown = [*shown[:-1], _as_candidate(target)] if shown else [_as_candidate(target)]
        exemplar = None
        if right is not None:
            exemplar = step_exemplar(
                context.instruction,
                observation,
                shown,
                history,
                right,
                keep=self.exemplar_candidates,
                task=context.task,
                source_step_id=step_id,
            )
        proposed = proposed if proposed is not None else decision.action
        lesson = Lesson(
            kind=verdict.kind,
            proposed=proposed.to_dsl(),
            output=right.to_dsl() if right is not None else "",
            prompt=self.policy.prompt(context.instruction, observation, shown, history, decision.exemplars),
            exemplar=exemplar,
            source=verdict.source,
            audited=verdict.audited,
            confidence=decision.confidence,
            episode_id=context.episode_id,
            step_id=step_id,
        )
        self.learner.learn(lesson)
