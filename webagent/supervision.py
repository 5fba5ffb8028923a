"""Supervisors: whoever confirms, rejects or corrects the agent's proposals.

A person (the UI), a MiniWoB++ oracle standing in for a person, and reward-only
supervision all answer the same two questions: what do you say about this
proposed step (before it runs), and what do you say about the finished episode.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Protocol

from webagent.actions import Action
from webagent.browser.observation import Observation
from webagent.candidates import Candidate
from webagent.errors import WebAgentError
from webagent.kinds import Source, SupervisorKind, VerdictKind, parse
from webagent.policy import Decision


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
    """What a supervisor said about one proposal, and who said it (the feedback row's source)."""

    kind: VerdictKind
    action: Action | None = None  # the right action, for correct
    source: str = ""  # person | oracle | reward | auto (webagent.kinds.Source)
    audited: bool = False  # asked although it cleared the threshold: an audit (webagent.autonomy)

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", parse(VerdictKind, self.kind, "verdict"))
        if self.kind == VerdictKind.CORRECT and self.action is None:
            raise WebAgentError("a correction must name the right action")

    def by(self, source: str) -> Verdict:
        """This verdict, given by `source`."""
        return replace(self, source=source)


CONFIRM = Verdict(VerdictKind.CONFIRM)
REJECT = Verdict(VerdictKind.REJECT)
STOP = Verdict(VerdictKind.STOP)


class Supervisor(Protocol):
    name: str

    def review(self, proposal: Proposal) -> Verdict | None:
        """Judge a step before it runs; None means no opinion (run it as proposed)."""
        ...

    def review_episode(self, actions: Sequence[Action], reward: float | None) -> Sequence[Verdict | None]:
        """Judge each step of a finished episode afterwards (None: no opinion)."""
        ...


Oracle = Callable[[str, Observation, tuple[Action, ...]], Action]
AlsoRight = Callable[[str, Observation, tuple[Action, ...], Action], bool]  # another right action


class OracleSupervisor:
    """A simulated person: confirms proposals the oracle agrees with, corrects the rest.

    Given one oracle it judges every proposal with it; given a table of oracles
    by task it judges each proposal with its task's oracle (`Proposal.task`), so
    one supervisor serves a run over many tasks."""

    name = Source.ORACLE

    def __init__(self, oracle: Oracle | dict[str, Oracle], also_right: AlsoRight | dict[str, AlsoRight] | None = None):
        self.oracles = oracle if isinstance(oracle, dict) else None
        self.oracle = None if isinstance(oracle, dict) else oracle
        self.also_right = also_right

    def _oracle(self, task: str) -> Oracle | None:
        return self.oracle if self.oracles is None else self.oracles.get(task)

    def agrees(self, proposal: Proposal) -> tuple[bool, Action] | None:
        """Whether the proposed action is right, and the oracle's own; None where the
        oracle cannot tell. Where a task has several right actions (`also_right`), any
        of them agrees."""
        oracle = self._oracle(proposal.task)
        if oracle is None:
            return None
        args = (proposal.instruction, proposal.observation, proposal.history)
        action = proposal.decision.action
        also = self.also_right.get(proposal.task) if isinstance(self.also_right, dict) else self.also_right
        try:
            right = oracle(*args)
            agreed = right == action or (also is not None and also(*args, action))
        except WebAgentError:
            return None  # the oracle cannot tell on this page
        return agreed, right

    def review(self, proposal: Proposal) -> Verdict | None:
        judged = self.agrees(proposal)
        if judged is None:
            return None  # let the step run
        agreed, right = judged
        if agreed:
            return CONFIRM.by(self.name)
        return Verdict(VerdictKind.CORRECT, right, source=self.name)

    def review_episode(self, actions: Sequence[Action], reward: float | None) -> Sequence[Verdict | None]:
        return [None] * len(actions)


class RewardSupervisor:
    """Reward-only supervision: a rewarded episode confirms all its steps."""

    name = Source.REWARD

    def review(self, proposal: Proposal) -> Verdict | None:
        return None

    def review_episode(self, actions: Sequence[Action], reward: float | None) -> Sequence[Verdict | None]:
        return [CONFIRM.by(self.name) if (reward or 0) > 0 else None for _ in actions]


def check_oracles(tasks: Sequence[str]) -> None:
    """Fail at once (before anything loads) when a task has no oracle to supervise it."""
    from webagent.envs.oracles import ORACLES

    missing = [t for t in tasks if t not in ORACLES]
    if missing:
        raise WebAgentError(
            f"no oracle for MiniWoB++ task {', '.join(map(repr, missing))}; oracle supervision covers "
            f"{', '.join(sorted(ORACLES))}"
        )


def oracle_supervisor(task: str | None = None) -> OracleSupervisor:
    """The oracle of one task, or (task None) every task's oracle by the proposal's task."""
    from webagent.envs.oracles import ALSO_RIGHT, ORACLES

    if task is None:
        return OracleSupervisor(dict(ORACLES), dict(ALSO_RIGHT))
    check_oracles([task])
    return OracleSupervisor(ORACLES[task], ALSO_RIGHT.get(task))


def make_supervisor(kind: str) -> Supervisor | None:
    """The supervisor a settings name stands for (a person's is made by the panel)."""
    kind = parse(SupervisorKind, kind, "supervisor")
    if kind == SupervisorKind.ORACLE:
        return oracle_supervisor()
    if kind == SupervisorKind.REWARD:
        return RewardSupervisor()
    if kind == SupervisorKind.PERSON:
        raise WebAgentError("a person supervises through the panel (webagent ui)")
    return None
