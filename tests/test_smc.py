"""SMC steering: the particles target the model's distribution conditioned on the
grammar, which token-by-token masking does not sample from.

On a grammar with a few dozen strings both distributions are computed exactly
(tests/support/exact.py, real model logits for every prefix); many particles run
on those cached numbers must land near the conditioned one and far from the
masked one. The batched, KV-shared forward pass is checked against one-at-a-time
logits, and SMC is exercised end to end as a decoding mode of the real model.
"""

from __future__ import annotations

import pytest
import torch
from support.exact import TableSource, build_reference, total_variation

from webagent.actions import action_grammar, parse_action
from webagent.browser.observation import Element
from webagent.models.smc import smc_sample, systematic_resample
from webagent.models.streams import Masker, ModelBatch, ModelStream, new_matcher

IDS = [3, 4, 5, 7, 8, 9, 12, 13, 15, 17, 21, 23, 26, 28, 31, 34, 36, 40, 45, 52, 57, 63, 71, 88]
WORDS = ("submit", "cancel", "next", "back", "home", "search", "login", "save", "delete", "edit", "open", "close")


def candidates() -> list[Element]:
    """24 buttons: the CLICK language has 24 strings, each with one tokenization (digits are single
    tokens), so the proposal's weights stay tame enough for a few thousand particles to converge."""
    return [Element(str(i), "button", text=WORDS[n % len(WORDS)], interactive=True) for n, i in enumerate(IDS)]


def prompt_for(model, task: str) -> str:
    listing = "\n".join(f"[{c.id}] {c.describe()}" for c in candidates())
    return model.format_chat([{"role": "user", "content": f"Task: {task}\nElements:\n{listing}\nNext action:"}])


@pytest.fixture(scope="module")
def reference(base_model):
    ids = base_model._encode(prompt_for(base_model, "Choose Green in the colour list."))
    return build_reference(base_model._decoder, ids, action_grammar(candidates()))


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """One torch thread for this module: the samplers push tiny tensors, and on the shared
    2-core machine a second thread mostly waits (measured 5-20x slower under load)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def smc_estimate(model, reference, *, runs: int, particles: int, ess_fraction: float = 0.5, seed: int = 0):
    """The average over independent runs of each run's weighted particle distribution."""
    decoder = model._decoder
    matcher = new_matcher(decoder.ll_tokenizer, action_grammar(candidates()))
    masker = Masker(decoder.vocab_size)
    generator = torch.Generator().manual_seed(seed)
    total: dict[str, float] = {}
    resamples = 0
    for _ in range(runs):
        result = smc_sample(
            TableSource(reference.target, decoder.vocab_size),
            matcher,
            n_particles=particles,
            eos_token_id=decoder.eos_token_id,
            detokenize=decoder.ll_tokenizer.decode_str,
            temperature=1.0,
            generator=generator,
            ess_fraction=ess_fraction,
            masker=masker,
        )
        resamples += result.resamples
        for text, w in result.distribution.items():
            total[text] = total.get(text, 0.0) + w / runs
    return total, resamples


@pytest.mark.slow
def test_the_two_exact_distributions_differ(reference):
    """Otherwise the next test could not tell them apart."""
    assert len(reference.exact.conditioned) == len(IDS)
    assert total_variation(reference.exact.masked, reference.exact.conditioned) > 0.2


@pytest.mark.slow
def test_many_particles_approach_the_grammar_conditioned_distribution(base_model, reference):
    """Resampling whenever the unfinished particles' weights differ at all (ESS < 0.999 N),
    so the resampling path is part of what is checked."""
    estimate, resamples = smc_estimate(base_model, reference, runs=20, particles=100, ess_fraction=0.999)
    to_conditioned = total_variation(estimate, reference.exact.conditioned)
    to_masked = total_variation(estimate, reference.exact.masked)
    assert resamples > 0
    assert to_conditioned < 0.06, (to_conditioned, to_masked)
    assert to_masked > 0.2


@pytest.mark.slow
def test_without_resampling_it_is_plain_importance_sampling_and_still_unbiased(base_model, reference):
    estimate, resamples = smc_estimate(base_model, reference, runs=20, particles=100, ess_fraction=0.0, seed=1)
    assert resamples == 0
    assert total_variation(estimate, reference.exact.conditioned) < 0.06


@pytest.mark.slow
def test_one_particle_is_plain_masked_sampling(base_model, reference):
    """With N = 1 the weights have nothing to act on: the outputs follow the masked distribution."""
    from collections import Counter

    decoder = base_model._decoder
    matcher = new_matcher(decoder.ll_tokenizer, action_grammar(candidates()))
    generator = torch.Generator().manual_seed(2)
    n = 1500
    counts = Counter(
        smc_sample(
            TableSource(reference.target, decoder.vocab_size),
            matcher,
            n_particles=1,
            eos_token_id=decoder.eos_token_id,
            detokenize=decoder.ll_tokenizer.decode_str,
            temperature=1.0,
            generator=generator,
        ).texts[0]
        for _ in range(n)
    )
    empirical = {t: c / n for t, c in counts.items()}
    assert total_variation(empirical, reference.exact.masked) < 0.05
    assert total_variation(empirical, reference.exact.conditioned) > 0.15


@pytest.mark.slow
def test_batched_particles_see_the_same_logits_as_one_at_a_time(base_model):
    """Rows of different lengths share the cache slots (padding masked, own positions);
    rows are duplicated and dropped as resampling does."""
    model, vocab = base_model.model, base_model._decoder.vocab_size
    prompt = base_model._encode("A prompt shared by every particle.")
    batch = ModelBatch(model, prompt, vocab)
    first = batch.logits([[33], [34, 35, 36], [33]], [1, 3, 1])
    second = batch.logits([[34, 35, 36, 37], [33, 40], [33, 41, 42]], [1, 1, 2])  # row 0 follows old row 1

    def alone(seq):
        return ModelStream(model, prompt, vocab).logits([seq], [1])[0][0]

    assert torch.allclose(first[1][0], alone([34]), atol=1e-3)
    assert torch.allclose(first[1][2], alone([34, 35, 36]), atol=1e-3)
    assert torch.allclose(second[0][0], alone([34, 35, 36, 37]), atol=1e-3)
    assert torch.allclose(second[1][0], alone([33, 40]), atol=1e-3)
    assert torch.allclose(second[2][0], alone([33, 41]), atol=1e-3)
    assert torch.allclose(second[2][1], alone([33, 41, 42]), atol=1e-3)
    assert batch.calls == 3  # the prompt once, then one pass per step


@pytest.mark.slow
def test_smc_as_the_models_decoding_mode(base_model):
    """What ModelPolicy gets with --decoding smc: a valid action, agreement as confidence."""
    smc = base_model.with_decoding("smc", particles=6)
    cands = candidates() + [Element("9", "input", editable=True, interactive=True, label="Name")]
    prompt = base_model.format_chat(
        [
            {
                "role": "user",
                "content": "Task: type Ann into Name\nElements:\n[9] input Name\n[3] button submit\nNext action:",
            }
        ]
    )
    grammar = action_grammar(cands, max_text_chars=12)
    first = smc.generate(prompt, grammar, seed=0)
    again = smc.generate(prompt, grammar, seed=0)
    parse_action(first.text, cands)
    assert first.decoding == "smc" and first.text == again.text
    assert 0.0 < first.agreement <= 1.0 and first.confidence == first.agreement
    assert first.forward_calls >= 2


def test_systematic_resampling_keeps_each_particle_floor_or_ceil_of_n_w_times():
    weights = [0.5, 0.25, 0.125, 0.125, 0.0]
    for seed in range(20):
        picks = systematic_resample(weights, torch.Generator().manual_seed(seed))
        assert len(picks) == 5 and 4 not in picks
        for i, w in enumerate(weights):
            assert int(5 * w) <= picks.count(i) <= int(5 * w) + 1
