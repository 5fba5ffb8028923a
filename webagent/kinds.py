"""The closed sets of names the parts agree on, as string enums.

Each is a `StrEnum`: a member *is* its string (`Outcome.SUCCESS == "success"`),
so store rows, JSON and CLI options keep the plain names, while code names a
member instead of repeating a literal in several files. `parse` gives the one
error message for a name that is not in the set, listing the valid ones.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TypeVar

from webagent.errors import DataError

E = TypeVar("E", bound=StrEnum)


class VerdictKind(StrEnum):
    CONFIRM = "confirm"
    REJECT = "reject"
    CORRECT = "correct"
    STOP = "stop"


class Outcome(StrEnum):
    """How an episode ended."""

    SUCCESS = "success"
    FAILURE = "failure"
    STEP_LIMIT = "step-limit"
    LOOP = "loop"
    ERROR = "error"
    STOPPED = "stopped"
    DONE = "done"  # the agent said STOP and nothing can judge it (a site without until_*)
    INTERRUPTED = "interrupted"  # the process was stopped (Ctrl-C, SIGTERM) mid-episode: not a result
    RUNNING = "running"  # in the store only: not finished (yet)


class Decoding(StrEnum):
    PLAIN = "plain"
    SPECULATIVE = "speculative"
    SMC = "smc"


class TuneMethod(StrEnum):
    NONE = "none"
    MEZO = "mezo"
    BACKPROP = "backprop"


class PolicyKind(StrEnum):
    MODEL = "model"
    RANKER = "ranker"
    RANDOM = "random"


class SupervisorKind(StrEnum):
    NONE = "none"
    ORACLE = "oracle"  # a MiniWoB++ oracle standing in for a person
    REWARD = "reward"  # a rewarded episode confirms its steps
    PERSON = "person"  # the panel: the worker passes its own supervisor in


class Source(StrEnum):
    """Who gave a verdict (the feedback row's `source`)."""

    PERSON = "person"
    ORACLE = "oracle"
    REWARD = "reward"
    AUTO = "auto"
    API = "api"


def parse(kind: type[E], value: str | E, what: str) -> E:
    """`value` as a member of `kind`, or a DataError naming `what` and the valid names."""
    try:
        return kind(value)
    except ValueError:
        names = ", ".join(m.value for m in kind)
        raise DataError(f"unknown {what} {value!r}; choose one of {names}") from None
