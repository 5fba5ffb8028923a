"""Speculative sampling under a grammar: exactly plain decoding's output, faster or not.

Greedy: the same text and tokens as plain greedy decoding, on the real model.
Sampling: on a grammar with a few dozen strings, the decoding tree is enumerated
and the real model's logits cached for every prefix (tests/support/exact.py); the
sampler then runs thousands of times on those numbers and its empirical
distribution must pass a chi-square test against plain decoding's exact one,
while a broken acceptance rule must fail the same test.
"""

from __future__ import annotations

import random

import pytest
import torch
from support.exact import TableSource, build_reference, total_variation

from webagent.actions import action_grammar
from webagent.browser.observation import Element
from webagent.errors import ModelError
from webagent.models.constrained import constrained_generate
from webagent.models.draft import check_same_tokenizer, self_draft
from webagent.models.speculative import PromptLookup, chen_acceptance, speculative_generate, speculative_sample
from webagent.models.streams import Masker, new_matcher

pytestmark = pytest.mark.slow

WORDS = [
    "submit",
    "cancel",
    "next",
    "back",
    "home",
    "search",
    "login",
    "logout",
    "save",
    "delete",
    "edit",
    "open",
    "close",
    "help",
    "menu",
    "cart",
]


def _buttons(ids, words):
    return [Element(str(i), "button", text=w, interactive=True) for i, w in zip(ids, words, strict=False)]


TASK = "Choose Green in the colour list."


def enumerable_candidates() -> list[Element]:
    """14 CLICK targets and two selects: 21 actions in all."""
    buttons = _buttons([3, 4, 5, 8, 12, 15, 17, 21, 26, 30, 33, 41], WORDS)
    return [
        *buttons,
        Element("7", "select", options=("Red", "Green", "Blue", "Yellow"), interactive=True),
        Element("19", "select", options=("Small", "Medium", "Large"), interactive=True),
    ]


def chat_prompt(model, task: str, candidates) -> str:
    listing = "\n".join(f"[{c.id}] {c.describe()}" for c in candidates)
    return model.format_chat([{"role": "user", "content": f"Task: {task}\nElements:\n{listing}\nNext action:"}])


def chi_square_pvalue(counts: dict[str, int], expected: dict[str, float], n: int) -> float:
    """Pearson chi-square against `expected` probabilities; bins expecting < 5 draws are pooled."""
    from scipy.stats import chisquare

    big = [k for k in expected if expected[k] * n >= 5]
    observed = [counts.get(k, 0) for k in big]
    wanted = [expected[k] * n for k in big]
    rest_obs = n - sum(observed)
    rest_exp = n - sum(wanted)
    if rest_exp > 0:
        observed.append(rest_obs)
        wanted.append(rest_exp)
    return float(chisquare(observed, wanted).pvalue)


@pytest.fixture(scope="module")
def reference(base_model):
    candidates = enumerable_candidates()
    prompt = chat_prompt(base_model, TASK, candidates)
    ids = base_model._encode(prompt)
    return build_reference(base_model._decoder, ids, action_grammar(candidates), draft_layers=4)


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """One torch thread for this module: the samplers push tiny tensors, and on the shared
    2-core machine a second thread mostly waits (measured 5-20x slower under load)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def sample_many(model, reference, n: int, *, k: int, acceptance=chen_acceptance, seed: int = 0, draft: str = "self"):
    decoder = model._decoder
    matcher = new_matcher(decoder.ll_tokenizer, action_grammar(enumerable_candidates()))
    masker = Masker(decoder.vocab_size)
    generator = torch.Generator().manual_seed(seed)
    if draft == "lookup":
        prompt = chat_prompt(model, TASK, enumerable_candidates())
        # min_chars=1: propose on the flimsiest match, so proposals are frequent and often wrong
        drafter = PromptLookup(prompt, model._encode, decoder.ll_tokenizer.decode_str, decoder.vocab_size, min_chars=1)
    else:
        drafter = TableSource(reference.draft, decoder.vocab_size)
    counts: dict[str, int] = {}
    drafted = accepted = 0
    for _ in range(n):
        matcher.reset()
        result = speculative_sample(
            TableSource(reference.target, decoder.vocab_size),
            drafter,
            matcher,
            eos_token_id=decoder.eos_token_id,
            k=k,
            temperature=1.0,
            generator=generator,
            acceptance=acceptance,
            masker=masker,
        )
        text = decoder.ll_tokenizer.decode_str(result.tokens)
        counts[text] = counts.get(text, 0) + 1
        drafted += result.drafted
        accepted += result.accepted
    return counts, accepted / max(drafted, 1)


def test_the_reference_language_is_a_few_dozen_strings(reference):
    assert 15 <= len(reference.exact.masked) <= 40
    assert abs(sum(reference.exact.masked.values()) - 1.0) < 1e-5
    # the draft is a poor one, so acceptance is far from trivial
    assert reference.draft is not None


@pytest.mark.parametrize(("draft", "k"), [("self", 1), ("self", 3), ("lookup", 4)])
def test_speculative_samples_have_plain_decodings_exact_distribution(base_model, reference, draft, k):
    """A 4-layer self-draft (a poor one: rejections and residual resampling are frequent) and
    the one-hot prompt-lookup draft (proposals from the prompt text, give-ups where it has none)."""
    n = 3000
    counts, acceptance_rate = sample_many(base_model, reference, n, k=k, seed=k, draft=draft)
    pvalue = chi_square_pvalue(counts, reference.exact.masked, n)
    assert pvalue > 0.001, (pvalue, counts)
    empirical = {t: c / n for t, c in counts.items()}
    assert total_variation(empirical, reference.exact.masked) < 0.05
    assert 0.0 < acceptance_rate < 1.0  # rejections and residual resampling both happened


def test_a_broken_acceptance_rule_fails_the_same_test(base_model, reference):
    """Keeping every drafted token samples the draft's distribution, not the target's."""
    n = 3000
    counts, _ = sample_many(base_model, reference, n, k=3, acceptance=lambda q, p: 1.0, seed=3)
    assert chi_square_pvalue(counts, reference.exact.masked, n) < 1e-6


def test_a_subtly_broken_acceptance_rule_fails_too(base_model, reference):
    """min(1, sqrt(q/p)) keeps too many drafts where the draft is overconfident."""
    n = 3000
    counts, _ = sample_many(base_model, reference, n, k=3, acceptance=lambda q, p: min(1.0, (q / p) ** 0.5), seed=3)
    assert chi_square_pvalue(counts, reference.exact.masked, n) < 1e-3


def _greedy_cases(model):
    """Action grammars (CLICK, TYPE with free text, SELECT), free-form lark grammars and a JSON schema."""
    from webagent.online import schema_grammar

    rng = random.Random(0)
    buttons = _buttons(rng.sample(range(1, 60), 4), rng.sample(WORDS, 4))
    name = Element("23", "input", editable=True, interactive=True, label="Name")
    colour = Element("31", "select", options=("Red", "Green", "Blue"), interactive=True)
    person = {"type": "object", "properties": {"name": {"type": "string"}, "age": {"type": "integer"}}}
    return [
        (chat_prompt(model, "Click the search button.", buttons), action_grammar(buttons)),
        (chat_prompt(model, 'Type "Kasie Jones" into the name field.', [name, *buttons]), action_grammar([name])),
        (chat_prompt(model, "Select Blue.", [colour, *buttons]), action_grammar([colour, *buttons])),
        ("The capital of France is", 'start: " Paris" | " Lyon" | " a city" | " the city of " /[A-Z][a-z]+/\n'),
        ("Count: one, two,", "start: /( [a-z]+,){1,5}/\n"),
        ("Bob Stone is 42. As JSON:", schema_grammar(person)),
    ]


@pytest.fixture(scope="module")
def plain_greedy(base_model):
    decoder = base_model._decoder
    out = []
    for prompt, grammar in _greedy_cases(base_model):
        ids = base_model._encode(prompt)
        tokens, generation = constrained_generate(decoder, ids, grammar, temperature=0.0, generator=None, max_tokens=32)
        out.append((prompt, ids, grammar, tokens, generation))
    return out


@pytest.mark.parametrize(("draft", "layers", "k"), [("self", 2, 2), ("self", 12, 4), ("lookup", None, 4)])
def test_greedy_speculative_equals_plain_greedy(base_model, plain_greedy, draft, layers, k):
    decoder = base_model._decoder
    draft_model = self_draft(decoder.model, layers) if draft == "self" else "lookup"
    mismatches = []
    for prompt, ids, grammar, plain_tokens, plain in plain_greedy:
        spec_tokens, spec = speculative_generate(
            decoder,
            draft_model,
            ids,
            grammar,
            shared_layers=layers,
            k=k,
            temperature=0.0,
            generator=None,
            max_tokens=32,
            lookup_text=prompt,
            encode=base_model._encode,
        )
        if spec_tokens != plain_tokens or spec.text != plain.text:
            mismatches.append((prompt[-60:], plain.text, spec.text))
        assert abs(spec.logprob - plain.logprob) < 1e-3
        assert spec.accepted <= spec.drafted
    assert not mismatches
    assert {p[4].text.split(" ")[0] for p in plain_greedy[:3]} >= {"TYPE", "SELECT"}  # varied actions


def test_the_model_in_speculative_mode_decides_like_plain_mode(base_model):
    """Through the LanguageModel interface (what ModelPolicy calls): same greedy text, and the
    generation records what the draft did."""
    spec = base_model.with_decoding("speculative", draft_layers=8, draft_k=3)
    candidates = enumerable_candidates()
    prompt = chat_prompt(base_model, "Click save.", candidates)
    a = base_model.generate(prompt, action_grammar(candidates))
    b = spec.generate(prompt, action_grammar(candidates))
    assert b.text == a.text
    assert (a.decoding, b.decoding) == ("plain", "speculative")
    assert b.drafted >= b.accepted >= 0 and b.draft_calls >= b.drafted


def test_end_to_end_samples_through_the_real_model_follow_the_exact_distribution(base_model, reference):
    """A smaller run with real forward passes (KV caches, cropping, the self-draft's shared cache).
    Too few samples for chi-square: a z-test on their mean log-probability under the exact
    distribution (its expectation is minus the entropy)."""
    import math

    spec = base_model.with_decoding("speculative", draft_layers=4, draft_k=3)
    candidates = enumerable_candidates()
    prompt = chat_prompt(base_model, TASK, candidates)
    exact = reference.exact.masked
    n = 12
    logps = []
    for seed in range(n):
        text = spec.generate(prompt, action_grammar(candidates), temperature=1.0, seed=seed).text
        assert text in exact
        logps.append(math.log(exact[text]))
    mean = sum(p * math.log(p) for p in exact.values() if p > 0)  # minus the entropy
    var = sum(p * (math.log(p) - mean) ** 2 for p in exact.values() if p > 0)
    z = (sum(logps) / n - mean) / math.sqrt(var / n)
    assert abs(z) < 4, (z, logps)
    assert len(set(logps)) > 1  # it samples


def test_a_separate_draft_model_with_the_same_tokenizer_is_always_accepted_greedily(base_model):
    from webagent.models.draft import load_draft

    _, draft = load_draft("default", base_model.tokenizer)
    decoder = base_model._decoder
    candidates = enumerable_candidates()
    ids = base_model._encode(chat_prompt(base_model, "Select Large.", candidates))
    grammar = action_grammar(candidates)
    plain_tokens, _ = constrained_generate(decoder, ids, grammar, temperature=0.0, generator=None, max_tokens=40)
    tokens, gen = speculative_generate(
        decoder, draft, ids, grammar, shared_layers=None, k=4, temperature=0.0, generator=None, max_tokens=40
    )
    assert tokens == plain_tokens
    assert gen.accepted == gen.drafted > 0


def test_self_draft_is_the_truncated_model_sharing_its_weights(base_model):
    model = base_model.model
    draft = self_draft(model, 6)
    ids = torch.tensor([base_model._encode("Early exit drafts share weights.")])
    with torch.inference_mode():
        full = model(input_ids=ids, output_hidden_states=True)
        expected = model.lm_head(model.model.norm(full.hidden_states[6]))
        got = draft(input_ids=ids).logits
    assert torch.allclose(got, expected, atol=1e-5)
    assert draft.lm_head.weight.data_ptr() == model.lm_head.weight.data_ptr()
    assert model.config.num_hidden_layers == len(model.model.layers)  # the original is untouched
    with pytest.raises(ModelError, match="layers"):
        self_draft(model, len(model.model.layers))


def test_a_draft_with_another_tokenizer_is_refused():
    class Tok:
        def __init__(self, vocab):
            self.vocab = vocab

        def get_vocab(self):
            return self.vocab

    check_same_tokenizer(Tok({"a": 0}), Tok({"a": 0}), "same")
    with pytest.raises(ModelError, match="different tokenizer"):
        check_same_tokenizer(Tok({"a": 0}), Tok({"b": 0}), "other")
