"""SMC steering under a grammar (after Lew et al. 2023, arXiv 2306.03081).

Token-by-token masking samples each token from the model's distribution
renormalised over the grammar-allowed tokens. That is not the model's
distribution conditioned on the output being in the grammar: a prefix whose
allowed continuations carry little probability is over-sampled. Each particle
here is such a masked sample, weighted by what the masking threw away: the
allowed mass Z_t at every choice, the model's own probability of every token
the grammar forced, and of ending (EOS) where the grammar is complete. The
weighted particles target P(output | output in grammar); the unfinished ones
are resampled (systematic) when their effective sample size drops below a
fraction of their number. All particles extend in one batched forward pass
over a shared prompt cache.

The result is the string with the most (temperature 0) or a weight-sampled
share (temperature > 0) of the particles' weight; that share is the particles'
agreement, a confidence the supervision panel can calibrate. Temperature 0
runs the particles at temperature 1 (SMC needs a distribution to sample).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

from webagent.errors import GrammarError
from webagent.models.base import Generation
from webagent.models.constrained import Decoder
from webagent.models.streams import LogitsSource, Masker, ModelBatch, draw, new_matcher


@dataclass
class Particle:
    matcher: object
    seq: list[int] = field(default_factory=list)
    log_weight: float = 0.0
    logprob: float = 0.0  # of its sampled tokens under the masked proposal
    forced: int = 0
    scored: int = -1  # index of the last token whose predictive row was used (-1: none yet)
    done: bool = False

    def copy(self) -> Particle:
        return Particle(
            self.matcher.deep_copy(),
            list(self.seq),
            self.log_weight,
            self.logprob,
            self.forced,
            self.scored,
            self.done,
        )


@dataclass(frozen=True)
class SMCResult:
    particles: list[Particle]  # final, with log weights
    texts: list[str]
    chosen: int  # index of the returned particle
    agreement: float  # normalised weight of the particles whose text is the chosen text
    distribution: dict[str, float]  # normalised weight per final text
    resamples: int
    calls: int


def _normalised(log_weights: list[float]) -> list[float]:
    top = max(log_weights)
    if top == float("-inf"):
        return [0.0] * len(log_weights)
    exps = [math.exp(w - top) for w in log_weights]
    total = sum(exps)
    return [e / total for e in exps]


def _log_mean_exp(values: list[float]) -> float:
    top = max(values)
    return top + math.log(sum(math.exp(v - top) for v in values) / len(values))


def systematic_resample(weights: list[float], generator) -> list[int]:
    """N indices drawn with one uniform offset: low-variance, each particle kept
    floor(N w) or ceil(N w) times."""
    import torch

    n = len(weights)
    offset = float(torch.rand((), generator=generator, dtype=torch.float64))
    out, cumulative, j = [], weights[0], 0
    for i in range(n):
        u = (offset + i) / n
        while u >= cumulative and j < n - 1:
            j += 1
            cumulative += weights[j]
        out.append(j)
    return out


def _maybe_resample(particles: list[Particle], ess_fraction: float, generator) -> tuple[list[Particle], int]:
    """Resample the unfinished particles among themselves when their ESS is low.

    Finished particles keep their (final) weights and stay out of it: their
    weights already include every factor up to EOS while the unfinished ones
    still miss theirs, so in one pool the finished would look worse than they
    are and be wiped out (unbiased, but with enormous variance). Resampling
    within a group keeps the group's total weight, so the estimate stays proper."""
    active = [p for p in particles if not p.done]
    if not active:
        return particles, 0
    weights = _normalised([p.log_weight for p in active])
    if not any(weights) or 1.0 / sum(w * w for w in weights) >= ess_fraction * len(active):
        return particles, 0
    mean_log_weight = _log_mean_exp([p.log_weight for p in active])
    taken: set[int] = set()
    fresh = []
    for index in systematic_resample(weights, generator):
        fresh.append(active[index] if index not in taken else active[index].copy())
        taken.add(index)
    for p in fresh:
        p.log_weight = mean_log_weight
    return [p for p in particles if p.done] + fresh, 1


def smc_sample(
    source: LogitsSource,
    matcher,
    *,
    n_particles: int,
    eos_token_id: int,
    detokenize: Callable[[list[int]], str],
    temperature: float = 0.0,
    generator=None,
    max_tokens: int = 96,
    ess_fraction: float = 0.5,
    masker: Masker | None = None,
) -> SMCResult:
    """Run N particles to completion inside the grammar that `matcher` (fresh) tracks."""
    import torch

    if n_particles < 1:
        raise GrammarError(f"SMC needs at least one particle, not {n_particles}")
    generator = generator if generator is not None else torch.Generator().manual_seed(0)
    proposal_t = temperature if temperature > 0 else 1.0
    masker = masker or Masker(source.vocab_size)
    particles = [Particle(matcher.deep_copy()) for _ in range(n_particles)]
    resamples = 0
    while True:
        active = [p for p in particles if not p.done]
        if not active:
            break
        for p in active:  # jump-forward: forced tokens cost no model call, only a weight factor later
            forced = p.matcher.compute_ff_tokens()
            if forced:
                if not p.matcher.consume_tokens(forced):
                    raise GrammarError(f"grammar rejected its own forced tokens: {p.matcher.get_error()}")
                p.seq += forced
                p.forced += len(forced)
        rows = source.logits([p.seq for p in active], [len(p.seq) - p.scored for p in active])
        for p, row in zip(active, rows, strict=True):
            scaled = row / proposal_t
            norms = torch.logsumexp(scaled, dim=-1)  # log-softmax normalisers, one per row
            unscored = p.seq[p.scored + 1 :]  # forced since the last choice: the model's probability of them
            if unscored:
                at = torch.arange(len(unscored))
                p.log_weight += float((scaled[at, torch.tensor(unscored)] - norms[at]).sum())
            if p.matcher.is_stopped() or len(p.seq) >= max_tokens:
                p.done = True
                end = float(scaled[-1, eos_token_id] - norms[-1]) if p.matcher.is_accepting() else float("-inf")
                p.log_weight += end
                continue
            support = masker.support(p.matcher)
            allowed = scaled[-1][support]
            log_mass = torch.logsumexp(allowed, dim=-1)
            proposal = allowed - log_mass
            pick = draw(proposal, generator)
            token = int(support[pick])
            p.log_weight += float(log_mass - norms[-1])  # log Z: the allowed share of the model's probability
            p.logprob += float(proposal[pick])
            p.scored = len(p.seq)
            if token == eos_token_id and p.matcher.is_accepting():
                p.done = True
                continue
            if not p.matcher.consume_token(token):
                raise GrammarError(f"sampled token {token} outside the grammar: {p.matcher.get_error()}")
            p.seq.append(token)
        particles, resampled = _maybe_resample(particles, ess_fraction, generator)
        resamples += resampled
    weights = _normalised([p.log_weight for p in particles])
    if not any(weights):
        raise GrammarError(f"no particle completed the grammar within {max_tokens} tokens")
    texts = [detokenize(p.seq) for p in particles]
    distribution: dict[str, float] = {}
    for text, w in zip(texts, weights, strict=True):
        distribution[text] = distribution.get(text, 0.0) + w
    names = list(distribution)
    if temperature > 0:
        shares = torch.tensor([distribution[t] for t in names], dtype=torch.float64)
        text = names[int(torch.multinomial(shares, 1, generator=generator))]
    else:
        text = max(names, key=lambda t: distribution[t])
    chosen = max((i for i, t in enumerate(texts) if t == text), key=lambda i: weights[i])
    return SMCResult(
        particles=particles,
        texts=texts,
        chosen=chosen,
        agreement=distribution[text],
        distribution=distribution,
        resamples=resamples,
        calls=source.calls,
    )


def smc_generate(
    decoder: Decoder,
    prompt_ids: list[int],
    grammar: str,
    *,
    n_particles: int,
    temperature: float,
    generator,
    max_tokens: int,
) -> tuple[list[int], Generation]:
    """SMC steering with the real model: all particles in one batched pass per step."""
    source = ModelBatch(decoder.model, prompt_ids, decoder.vocab_size, pad_id=decoder.eos_token_id)
    result = smc_sample(
        source,
        new_matcher(decoder.ll_tokenizer, grammar),
        n_particles=n_particles,
        eos_token_id=decoder.eos_token_id,
        detokenize=decoder.ll_tokenizer.decode_str,
        temperature=temperature,
        generator=generator,
        max_tokens=max_tokens,
    )
    best = result.particles[result.chosen]
    generation = Generation(
        text=result.texts[result.chosen],
        logprob=best.logprob,
        tokens=len(best.seq),
        forced_tokens=best.forced,
        forward_calls=result.calls,
        decoding="smc",
        agreement=result.agreement,
    )
    return best.seq, generation
