"""Prompt-prefix reuse: the pool's bookkeeping (pure), and on the real default model,
decisions that read only their new tokens and still decide exactly as a full read does."""

import pytest

from webagent.actions import action_grammar
from webagent.browser.observation import Element, Observation
from webagent.candidates import Candidate
from webagent.models.numerics import resolve_dtype
from webagent.models.prefix import MIN_REUSE, PrefixCache, chunk_ends, common_prefix
from webagent.policy import ModelPolicy


class _Cache:
    """Stands in for a DynamicCache: remembers its length and the crops asked of it."""

    def __init__(self, n: int) -> None:
        self.n = n

    def crop(self, n: int) -> None:
        assert n < 0  # as transformers wants: the number of tokens to drop
        self.n += n


def test_the_longest_matching_entry_is_copied_cropped_to_a_whole_chunk_and_one_token_is_left_to_feed():
    pool = PrefixCache(entries=2, chunk=4)
    system = list(range(20))
    pool.put([*system, 100, 101], _Cache(22), whole=20)
    pool.put([*system[:10], 200], _Cache(11), whole=8)
    past, n = pool.take([*system, 100, 555])
    assert n == 20 and past.n == 20 and len(pool) == 2  # a copy: the kept one stays whole
    past, n = pool.take(system[:10] + [200])  # matches 11, of which 8 were read as whole chunks
    assert n == 8 and past.n == 8
    pool.put(system, _Cache(20), whole=20)
    assert pool.take(system)[1] == 16  # the whole prompt matches: its last chunk is read again
    assert pool.take(system[:7])[0] is None  # under one chunk in common: nothing to reuse


def test_short_matches_are_not_reused_and_the_oldest_entry_goes():
    pool = PrefixCache(entries=2, chunk=1)
    for k in range(3):
        pool.put([k] * 30, _Cache(30), whole=30)
    assert len(pool) == 2 and pool.take([0] * 30) == (None, 0)  # the least recently used went
    assert pool.take([1] * (MIN_REUSE - 1) + [9]) == (None, 0)
    assert common_prefix([1, 2, 3], [1, 2, 4]) == 2 and PrefixCache(entries=0).put([1], _Cache(1), whole=1) is None
    assert chunk_ends(0, 300, 128) == [128, 256] and chunk_ends(128, 256, 128) == [] and chunk_ends(0, 9, 0) == []


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


def _decide_five_steps(model, prefix: PrefixCache) -> tuple[list, list]:
    """The five states decided with reuse, then each one read in full, under `prefix`'s settings."""
    policy = ModelPolicy(model)
    model.prefix = prefix
    reused, full = [], []
    for instruction, observation, candidates, history in _states():
        prompt = policy.prompt(instruction, observation, candidates, history)
        reused.append(model.generate(prompt, action_grammar([c.element for c in candidates])))
    for instruction, observation, candidates, history in _states():
        model.prefix.clear()
        prompt = policy.prompt(instruction, observation, candidates, history)
        full.append(model.generate(prompt, action_grammar([c.element for c in candidates])))
    return reused, full


@pytest.mark.parametrize("fixture", ["base_model", "default_model"])  # float32, and bfloat16 on a CPU with it
def test_reuse_feeds_only_new_tokens_and_decides_exactly_as_a_full_read(fixture, request):
    model = request.getfixturevalue(fixture)
    kept = model.prefix
    try:
        reused, full = _decide_five_steps(model, PrefixCache())
        assert [g.text for g in reused] == [g.text for g in full]
        # In one piece, the last bits differ: in bfloat16, whose logits step by 1/8 at 20, visibly so.
        tolerance = 1e-3 if model.dtype == "float32" else 0.25
        assert [g.logprob for g in reused] == pytest.approx([g.logprob for g in full], abs=tolerance)
        assert all(g.fed_prompt_tokens == g.prompt_tokens for g in full)
        assert all(g.fed_prompt_tokens < g.prompt_tokens / 2 for g in reused[1:]), [
            (g.fed_prompt_tokens, g.prompt_tokens) for g in reused
        ]
        # Read in aligned chunks, reuse gives the very same numbers, in any dtype.
        chunked, chunked_full = _decide_five_steps(model, PrefixCache(chunk=64))
        assert [g.logprob for g in chunked] == [g.logprob for g in chunked_full]
        assert [g.text for g in chunked] == [g.text for g in chunked_full]
        assert all(g.prompt_tokens - g.fed_prompt_tokens >= 64 for g in chunked[1:])
    finally:
        model.prefix = kept


def test_a_kept_cache_is_copied_not_cropped_in_place():
    pool = PrefixCache(entries=4, chunk=0)
    long = list(range(40))
    pool.put(long, _Cache(40), whole=40)
    past, n = pool.take([*long[:20], 99])
    assert n == 20 and past.n == 20 and len(pool) == 1
    again, n = pool.take([*long, 7])  # the kept one still holds all 40
    assert n == 40 and again.n == 40
    pool.put([*long, 7, 8], _Cache(42), whole=42)
    assert len(pool) == 1  # it extends the kept one, which goes


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
