"""`@strategy`: typed functions the real default model implements; feedback through Online."""

import enum
import json
from dataclasses import dataclass
from typing import Annotated, Literal

import pydantic
import pytest

from webagent import strategy
from webagent.errors import GrammarError, WebAgentError


class Priority(enum.Enum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


@dataclass
class Person:
    name: str
    age: int


# Bounds are the caller's: a small model left an unbounded list of strings may never close it.
Keywords = Annotated[list[Annotated[str, pydantic.StringConstraints(max_length=20)]], pydantic.Field(max_length=3)]


class Book(pydantic.BaseModel):
    title: str
    year: int


# -- without the model ------------------------------------------------------------------


def test_a_function_without_a_return_type_is_refused():
    def untyped(text: str):
        """Anything."""

    with pytest.raises(GrammarError, match="return annotation"):
        strategy(untyped)


def test_the_request_is_the_docstring_then_each_argument():
    @strategy
    def triage(ticket_text: str, labels: list[str]) -> Priority:
        """The priority a maintainer would give this ticket."""

    request = triage.request("Export crashes", labels=["bug"])
    assert (
        request == 'The priority a maintainer would give this ticket.\n\nticket_text: Export crashes\nlabels: ["bug"]'
    )
    assert triage.schema["enum"] == ["low", "medium", "high"]
    assert triage.__doc__ == "The priority a maintainer would give this ticket."


# -- on the real default model -----------------------------------------------------------


@pytest.fixture
def typed(default_model, store, embedder):
    def make(fn):
        return strategy(fn, model=default_model, store=store, embedder=embedder)

    return make


def test_every_kind_of_return_type_comes_back_as_that_type(typed):
    @typed
    def triage(ticket_text: str) -> Priority:
        """The priority a maintainer would give this ticket."""

    @typed
    def colour(thing: str) -> Literal["red", "green", "blue"]:
        """The colour of the thing."""

    @typed
    def person(text: str) -> Person:
        """The person the text is about."""

    @typed
    def book(text: str) -> Book:
        """The book the text is about."""

    @typed
    def keywords(text: str) -> Keywords:
        """Up to three keywords of the text."""

    @typed
    def age(text: str) -> int:
        """The age the text gives."""

    @typed
    def is_question(text: str) -> bool:
        """Whether the text is a question."""

    assert isinstance(triage("Export crashes on empty tables"), Priority)
    assert colour("grass") in ("red", "green", "blue")
    assert isinstance(person("Bob is 42."), Person)
    assert isinstance(book("Dune appeared in 1965."), Book)
    words = keywords("Python is a programming language.")
    assert isinstance(words, list) and all(isinstance(w, str) for w in words)
    assert isinstance(age("Ann is 31."), int)
    assert isinstance(is_question("Is it raining?"), bool)


def test_feedback_reaches_the_store_and_memory_and_the_next_call(typed, store):
    @typed
    def triage(ticket_text: str) -> Priority:
        """The priority a maintainer would give this ticket."""

    first = triage("Export crashes on empty tables")
    triage.feedback(first, correct=Priority.HIGH)
    rows = store.feedback()
    assert [r["kind"] for r in rows] == ["correct"] and rows[0]["action"] == '"high"' and rows[0]["source"] == "api"
    assert len(triage.online.memory) == 1
    triage("Import crashes on empty files")
    assert "Export crashes on empty tables" in triage.online.last.full_prompt  # now a demonstration
    second = triage("Typo in the README")
    triage.feedback(second, good=True)
    assert [r["kind"] for r in store.feedback()] == ["correct", "confirm"]


def test_bad_feedback_is_refused_with_a_clear_error(typed):
    @typed
    def triage(ticket_text: str) -> Priority:
        """The priority a maintainer would give this ticket."""

    result = triage("Export crashes on empty tables")
    with pytest.raises(WebAgentError, match="'urgent' is not a Priority"):
        triage.feedback(result, correct="urgent")
    with pytest.raises(WebAgentError, match="not one of its recent results"):
        triage.feedback(object(), good=True)
    with pytest.raises(WebAgentError, match="exactly one"):
        triage.feedback(result)
    triage.feedback(result, good=True)
    with pytest.raises(WebAgentError, match="judged already"):
        triage.feedback(result, good=False)


def test_a_method_binds_self_and_leaves_it_out_of_the_request(default_model, store, embedder):
    class Desk:
        team = "storage"

        @strategy(model=default_model, store=store, embedder=embedder)
        def route(self, ticket_text: str) -> Literal["storage", "network", "billing"]:
            """The team that should handle the ticket."""

    desk = Desk()
    assert desk.route("The disk is full") in ("storage", "network", "billing")
    assert "self" not in Desk.route.online.last.prompt


def test_a_labelled_set_improves_after_feedback(base_model, store, embedder):
    """The issue's acceptance on data made here (datasets/choice/triage.jsonl, `scripts/bench_strategy.py
    --generate`): the raw model triages 24 held-out tickets, gets feedback on 24 training tickets as a
    person would give it, then triages the held-out ones again. The test tickets are about product areas
    no training ticket mentions, so what carries over is the team's convention per kind of report.
    Measured: 8 of 24 right before, 17 after (the full 60/60 set: 35% -> 67%, README)."""
    from pathlib import Path

    rows = [json.loads(line) for line in (Path(__file__).parents[1] / "datasets/choice/triage.jsonl").open()]

    def first(split: str, per_priority: int = 8) -> list[dict]:
        """The first tickets of each priority in the split, in file order."""
        chosen = []
        for priority in Priority:
            chosen += [r for r in rows if r["split"] == split and r["priority"] == priority.value][:per_priority]
        return chosen

    train, test = first("train"), first("test")

    @strategy(model=base_model, store=store, embedder=embedder)
    def triage(ticket_text: str) -> Priority:
        """The priority our team gives this ticket."""

    def right(split: list[dict]) -> int:
        return sum(triage(r["ticket"]) == Priority(r["priority"]) for r in split)

    before = right(test)
    for row in train:
        answer, truth = triage(row["ticket"]), Priority(row["priority"])
        triage.feedback(answer, **({"good": True} if answer == truth else {"correct": truth}))
    after = right(test)
    assert len(store.feedback()) == len(train) == len(test) == 24
    assert after >= before + 5, f"held-out tickets right: {before} of 24 before feedback, {after} after"
