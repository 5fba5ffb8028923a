"""Feedback → store, memory and tuner: the one learning path.

The web agent's steps and the `Online` API's generations both end here. A
lesson is written to the store the moment it is given (so nothing confirmed is
lost if the process dies), a confirmed or corrected output becomes an exemplar
in memory, and the online tuner is told that new training signal arrived.
"""

from __future__ import annotations

from dataclasses import dataclass

from webagent.memory import Exemplar, ExemplarMemory
from webagent.store import Store


@dataclass(frozen=True)
class Lesson:
    """One piece of feedback on one output, with what learning needs to use it."""

    kind: str  # confirm | reject | correct
    proposed: str  # what the model proposed
    output: str  # the right output: the proposal when confirmed, the correction when corrected
    prompt: str  # the full prompt the right output should follow (training input)
    exemplar: Exemplar | None  # the state and right output, for memory (None for reject)
    source: str  # person | oracle | reward | api
    episode_id: int | None = None
    step_id: int | None = None
    confidence: float | None = None  # the step's confidence when it was judged (calibrates auto-approval)
    audited: bool = False  # an audit: auto-approval would have confirmed it without asking


class Learner:
    """Routes lessons; any of memory and tuner may be absent (learning switched off)."""

    def __init__(self, store: Store, memory: ExemplarMemory | None = None, tuner=None) -> None:
        self.store = store
        self.memory = memory
        self.tuner = tuner  # webagent.learning.tuner.OnlineTuner or None

    def learn(self, lesson: Lesson) -> int:
        feedback_id = self.store.add_feedback(
            episode_id=lesson.episode_id,
            step_id=lesson.step_id,
            kind=lesson.kind,
            proposed=lesson.proposed,
            action=lesson.output,
            source=lesson.source,
            prompt=lesson.prompt,
            confidence=lesson.confidence,
            audited=lesson.audited,
        )
        if self.memory is not None and lesson.exemplar is not None and lesson.kind in ("confirm", "correct"):
            self.memory.add(lesson.exemplar)
        if self.tuner is not None:
            self.tuner.notify()
        return feedback_id
