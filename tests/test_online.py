"""The Online API on the real default model: outputs always match the schema, and
feedback lands in the store and in memory through the agent's own learning path."""

import pytest

from webagent import Online
from webagent.errors import GrammarError, WebAgentError

PERSON = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "maxLength": 20},
        "age": {"type": "integer", "minimum": 0, "maximum": 150},
        "role": {"enum": ["buyer", "seller", "other"]},
        "tags": {"type": "array", "items": {"type": "string", "maxLength": 10}, "maxItems": 3},
    },
    "required": ["name", "age", "role", "tags"],
    "additionalProperties": False,
}


@pytest.fixture
def online(default_model, store, embedder):
    return Online(PERSON, default_model, store=store, embedder=embedder)


def _matches(value):
    assert set(value) == {"name", "age", "role", "tags"}
    assert isinstance(value["name"], str) and len(value["name"]) <= 20
    assert isinstance(value["age"], int) and 0 <= value["age"] <= 150
    assert value["role"] in ("buyer", "seller", "other")
    assert isinstance(value["tags"], list) and len(value["tags"]) <= 3


@pytest.mark.slow
def test_outputs_always_match_the_schema_even_when_sampled(online):
    _matches(online.generate("Bob, 42, sells bikes."))
    for seed in range(3):
        _matches(online.generate("Describe anyone at all.", temperature=1.2, seed=seed))


@pytest.mark.slow
def test_feedback_goes_to_the_store_and_memory(online, store):
    online.generate("Ann is 31 and buys a lamp.")
    online.feedback(correct={"name": "Ann", "age": 31, "role": "buyer", "tags": ["lamp"]})
    online.generate("Tom is 50 and sells a car.")
    online.feedback(good=False)
    rows = store.feedback()
    assert [r["kind"] for r in rows] == ["correct", "reject"] and all(r["source"] == "api" for r in rows)
    assert rows[0]["action"] == '{"name":"Ann","age":31,"role":"buyer","tags":["lamp"]}'
    assert len(online.memory) == 1  # the rejected output taught nothing to memory
    # the corrected example is now a demonstration for a similar request
    online.generate("Eve is 28 and buys a desk.")
    assert '{"name":"Ann","age":31' in online.last.full_prompt


@pytest.mark.slow
def test_bad_feedback_is_a_clear_error(online):
    with pytest.raises(WebAgentError, match="generate"):
        online.feedback(good=True)
    online.generate("Bob, 42, sells bikes.")
    with pytest.raises(GrammarError, match="does not match the schema"):
        online.feedback(correct={"name": "Bob", "age": "forty-two", "role": "seller", "tags": []})
    with pytest.raises(WebAgentError, match="exactly one"):
        online.feedback(good=True, correct={"name": "Bob"})
    online.feedback(good=True)
    with pytest.raises(WebAgentError, match="judged already"):  # one verdict per output
        online.feedback(correct={"name": "Bob", "age": 42, "role": "seller", "tags": []})
    online.generate("Ann, 31, buys a lamp.")
    online.feedback(good=False)  # a new output can be judged again


NAME = {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}


@pytest.mark.slow
def test_the_readme_example_returns_what_the_readme_says(store, embedder):
    agent = Online(NAME, "default", store=store, embedder=embedder)  # as the README: by name, the raw model
    assert agent.generate("Extract the name: Bob is 42.") == {"name": "Bob is 42"}  # the untuned model
    agent.feedback(correct={"name": "Bob"})
    assert agent.generate("Extract the name: Alice is 31.") == {"name": "Alice"}  # the correction, as an exemplar
