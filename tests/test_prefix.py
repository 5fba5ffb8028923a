"""Prompt-prefix reuse: the pool's bookkeeping (pure), and on the real default model,
decisions that read only their new tokens and still decide exactly as a full read does."""

import pytest

from webagent.actions import action_grammar
from webagent.browser.observation import Element, Observation
from webagent.candidates import Candidate
from webagent.models.numerics import resolve_dtype
from webagent.models.prefix import MIN_REUSE, PrefixCache, common_prefix
from webagent.policy import ModelPolicy


class _Cache:
    """Stands in for a DynamicCache: remembers its length and the crops asked of it."""

    def __init__(self, n: int) -> None:
        self.n = n

    def crop(self, n: int) -> None:
        assert n < 0  # as transformers wants: the number of tokens to drop
        self.n += n


def test_the_longest_matching_entry_is_taken_cropped_and_one_token_is_left_to_feed():
    pool = PrefixCache(entries=2)
    system = list(range(20))
    pool.put([*system, 100, 101], _Cache(22))
    pool.put([*system[:10], 200], _Cache(11))
    past, n = pool.take([*system, 100, 555])
    assert n == 21 and past.n == 21 and len(pool) == 1  # taken out: the caller puts the extended one back
    past, n = pool.take(system[:10] + [200])  # the whole prompt matches: its last token is still fed
    assert n == 10 and past.n == 10 and len(pool) == 0
    assert pool.take(system) == (None, 0)


def test_short_matches_are_not_reused_and_the_oldest_entry_goes():
    pool = PrefixCache(entries=2)
    for k in range(3):
        pool.put([k] * 30, _Cache(30))
    assert len(pool) == 2 and pool.take([0] * 30) == (None, 0)  # the first one went
    assert pool.take([1] * (MIN_REUSE - 1) + [9]) == (None, 0)
    assert common_prefix([1, 2, 3], [1, 2, 4]) == 2 and PrefixCache(entries=0).put([1], _Cache(1)) is None


def test_auto_dtype_is_float32_when_tuned():
    assert resolve_dtype("auto", tuned=True) == "float32"
    assert resolve_dtype("bfloat16", tuned=True) == "bfloat16"  # what is asked for explicitly is kept
    with pytest.raises(Exception, match="unknown dtype"):
        resolve_dtype("float8")


def _states():
    """Five consecutive decision states of a form: the history grows, the page changes."""
    fields = [Element(str(i), "input", text="", label=f"field {i}", interactive=True, editable=True) for i in range(4)]
    submit = Element("9", "button", text="Submit", interactive=True)
    elements = (*fields, submit)
    instruction = 'Enter "ann" into field 0, "bo" into field 1, "cy" into field 2 and press Submit.'
    from webagent.actions import Action

    history: list = []
    for step in range(5):
        observation = Observation("http://x/form", "form", elements)
        yield instruction, observation, [Candidate(e, 1.0 - 0.1 * i) for i, e in enumerate(elements)], list(history)
        history.append(Action("TYPE", str(min(step, 3)), ["ann", "bo", "cy", "cy", "cy"][step]))


def test_reuse_feeds_only_new_tokens_and_decides_exactly_as_a_full_read(base_model):
    policy = ModelPolicy(base_model)
    reused, full = [], []
    base_model.prefix.clear()
    for instruction, observation, candidates, history in _states():
        prompt = policy.prompt(instruction, observation, candidates, history)
        grammar = action_grammar([c.element for c in candidates])
        reused.append(base_model.generate(prompt, grammar))
    for instruction, observation, candidates, history in _states():
        base_model.prefix.clear()
        prompt = policy.prompt(instruction, observation, candidates, history)
        full.append(base_model.generate(prompt, action_grammar([c.element for c in candidates])))
    assert [g.text for g in reused] == [g.text for g in full]
    assert [g.logprob for g in reused] == pytest.approx([g.logprob for g in full], abs=1e-3)
    assert all(g.fed_prompt_tokens == g.prompt_tokens for g in full)
    later = reused[1:]
    assert all(g.fed_prompt_tokens < g.prompt_tokens / 2 for g in later), [
        (g.fed_prompt_tokens, g.prompt_tokens) for g in later
    ]


def test_new_weights_forget_the_cached_prefixes(base_model):
    prompt = base_model.format_chat([{"role": "user", "content": "Click the Submit button, please. " * 4}])
    buttons = [Element(i, "button", text=t, interactive=True) for i, t in (("8", "Cancel"), ("9", "Submit"))]
    grammar = action_grammar(buttons)
    base_model.generate(prompt, grammar)
    assert len(base_model.prefix) >= 1
    version = base_model.version
    with base_model.lock:
        base_model.weights_changed(version)
    assert len(base_model.prefix) == 0
    assert base_model.generate(prompt, grammar).fed_prompt_tokens > 0
