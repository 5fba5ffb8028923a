"""Supervisors: whoever confirms, rejects or corrects the agent's proposals.

A person (the UI), a MiniWoB++ oracle standing in for a person, and reward-only
supervision all answer the same two questions: what do you say about this
proposed step (before it runs), and what do you say about the finished episode.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from webagent.actions import Action
from webagent.browser.observation import Observation
from webagent.candidates import Candidate
from webagent.errors import WebAgentError
from webagent.policy import Decision

VERDICTS = ("confirm", "reject", "correct", "stop")


@dataclass(frozen=True)
class Proposal:
    """One proposed step, as a supervisor sees it before it runs."""

    instruction: str
    observation: Observation
    candidates: tuple[Candidate, ...]
    history: tuple[Action, ...]
    decision: Decision
    task: str = ""
    index: int = 0


@dataclass(frozen=True)
class Verdict:
    kind: str  # confirm | reject | correct | stop
    action: Action | None = None  # the right action, for correct

    def __post_init__(self) -> None:
        if self.kind not in VERDICTS:
            raise WebAgentError(f"unknown verdict {self.kind!r}; expected one of {', '.join(VERDICTS)}")
        if self.kind == "correct" and self.action is None:
            raise WebAgentError("a correction must name the right action")


CONFIRM = Verdict("confirm")
REJECT = Verdict("reject")
STOP = Verdict("stop")


class Supervisor(Protocol):
    name: str

    def review(self, proposal: Proposal) -> Verdict | None:
        """Judge a step before it runs; None means no opinion (run it as proposed)."""
        ...

    def review_episode(self, actions: Sequence[Action], reward: float | None) -> Sequence[Verdict | None]:
        """Judge each step of a finished episode afterwards (None: no opinion)."""
        ...


class OracleSupervisor:
    """A simulated person: confirms proposals the oracle agrees with, corrects the rest."""

    name = "oracle"

    def __init__(self, oracle: Callable[[str, Observation, tuple[Action, ...]], Action]) -> None:
        self.oracle = oracle

    def review(self, proposal: Proposal) -> Verdict | None:
        try:
            right = self.oracle(proposal.instruction, proposal.observation, proposal.history)
        except WebAgentError:
            return None  # the oracle cannot tell on this page: let the step run
        return CONFIRM if right == proposal.decision.action else Verdict("correct", right)

    def review_episode(self, actions: Sequence[Action], reward: float | None) -> Sequence[Verdict | None]:
        return [None] * len(actions)


class RewardSupervisor:
    """Reward-only supervision: a rewarded episode confirms all its steps."""

    name = "reward"

    def review(self, proposal: Proposal) -> Verdict | None:
        return None

    def review_episode(self, actions: Sequence[Action], reward: float | None) -> Sequence[Verdict | None]:
        return [CONFIRM if (reward or 0) > 0 else None for _ in actions]


def oracle_supervisor(task: str) -> OracleSupervisor:
    from webagent.envs.oracles import ORACLES

    if task not in ORACLES:
        raise WebAgentError(f"no oracle for MiniWoB++ task {task!r}; oracle supervision covers {len(ORACLES)} tasks")
    return OracleSupervisor(ORACLES[task])


def make_supervisor(name: str, task: str = "") -> Supervisor | None:
    if name == "oracle":
        return oracle_supervisor(task)
    if name == "reward":
        return RewardSupervisor()
    if name == "none":
        return None
    raise WebAgentError(f"unknown supervisor {name!r}; choose oracle, reward or none")
