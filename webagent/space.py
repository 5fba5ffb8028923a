"""The agent's pipeline as a search space: its discrete choices, declared once.

After "Language Agents as Optimizable Graphs" (Zhuge et al., 2024): the agent is
a graph of components (ranker -> memory retrieval -> prompt -> decoding) and
the choices that wire it (how many candidates reach the model, how the ranker
weighs its signals, how many demonstrations, how elements are written, how the
grammar is decoded) are parameters to optimise on measured success. Each
`Choice` names a dotted path of `AgentSettings` and the values it may take; a
set of chosen values (`params`) is applied to settings with `apply`, and the
same dict, saved by name, is a profile that every command loads (`--profile`).

Left out on purpose: the critic and the annotators (they change a step's confidence, never its
action, so success cannot rank its settings), the temperature (greedy is what
the evaluation measures), and the loop's limits and the tuner (they change
what a run costs and learns, not which action a step takes).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, is_dataclass, replace
from typing import Any

from webagent.errors import DataError
from webagent.settings import AgentSettings


@dataclass(frozen=True)
class Choice:
    """One parameter: a dotted path of `AgentSettings` and its allowed values. With
    `when`, it is searched only while another choice has that value (SMC's particles
    only matter under SMC decoding)."""

    path: str
    values: tuple
    when: tuple[str, Any] | None = None
    why: str = ""


SPACE: tuple[Choice, ...] = (
    Choice("loop.top_k", (3, 5, 10, 15), why="candidates shown: more recall, more to confuse a small model"),
    Choice("loop.skip_tried", (True, False), why="a click that changed nothing is not offered again on that page"),
    Choice("ranker.lexical", (0.25, 0.5, 1.0), why="BM25's weight in the ranking"),
    Choice("ranker.semantic", (0.0, 0.2, 0.4, 0.8), why="embedding similarity's weight"),
    Choice("ranker.interactive", (0.0, 0.15, 0.3), why="the prior for elements one acts on"),
    Choice("memory.shots", (0, 1, 3, 5), why="retrieved demonstrations per decision"),
    Choice("memory.relabel", (True, False), why="demonstrations' ids as a, b, c, or as on their page"),
    Choice("model.prompt", ("auto", "rich"), why="prompt variant: elements as plain text or with roles and context"),
    Choice("model.decoding", ("plain", "smc"), why="one greedy constrained decode, or SMC particles"),
    Choice("model.particles", (4, 8), when=("model.decoding", "smc"), why="SMC particles"),
)


def _get(settings: Any, path: str) -> Any:
    value = settings
    for name in path.split("."):
        if not is_dataclass(value) or name not in {f.name for f in fields(value)}:
            raise DataError(f"unknown setting {path!r}: AgentSettings has no {name!r} there")
        value = getattr(value, name)
    return value


def _set(settings: Any, path: str, value: Any) -> Any:
    head, _, rest = path.partition(".")
    _get(settings, path)  # the path exists
    if not rest:
        return replace(settings, **{head: value})
    return replace(settings, **{head: _set(getattr(settings, head), rest, value)})


def current(settings: AgentSettings, space: tuple[Choice, ...] = SPACE) -> dict[str, Any]:
    """The values `settings` have for each choice (an active one only): the baseline trial."""
    params: dict[str, Any] = {}
    for choice in space:
        if choice.when is None or params.get(choice.when[0]) == choice.when[1]:
            value = _get(settings, choice.path)
            params[choice.path] = getattr(value, "value", value)  # enums as their names
    return params


def apply(settings: AgentSettings, params: Mapping[str, Any]) -> AgentSettings:
    """`settings` with each dotted path in `params` set (checked by the layers as they are rebuilt)."""
    for path, value in params.items():
        settings = _set(settings, path, value)
    return settings


def check(params: Mapping[str, Any], space: tuple[Choice, ...] = SPACE) -> None:
    """A profile read from the store names only paths of the space, with allowed values."""
    known = {c.path: c for c in space}
    for path, value in params.items():
        if path not in known:
            raise DataError(f"the profile sets {path!r}, which is not in the search space ({', '.join(known)})")
        if value not in known[path].values:
            raise DataError(f"the profile sets {path} to {value!r}; allowed: {list(known[path].values)}")
