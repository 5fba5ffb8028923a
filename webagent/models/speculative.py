"""Speculative sampling under a grammar (Chen et al. 2023, arXiv 2302.01318).

A cheap draft proposes up to K tokens from its grammar-masked distribution p;
the target scores them all in one forward pass, giving its grammar-masked q at
each position (the same grammar state, so the same mask). Token t is kept with
probability min(1, q(t)/p(t)); the first rejected one is replaced by a sample
from normalize(max(0, q - p)), and the grammar matcher rolls back past the
rejected tokens. When all K are kept, the target's row after them gives one
more token for free. Tokens the grammar forces are taken without asking either
model (jump-forward), exactly as plain decoding does, so the output has plain
decoding's distribution (greedy: plain greedy's output) whatever the draft.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from webagent.errors import GrammarError, ModelError
from webagent.models.base import Generation
from webagent.models.constrained import Decoder
from webagent.models.streams import LogitsSource, Masker, ModelStream, draw, new_matcher, support_logprobs


def chen_acceptance(q: float, p: float) -> float:
    """The probability of keeping a drafted token: min(1, q/p)."""
    return 1.0 if p <= 0.0 else min(1.0, q / p)


@dataclass(frozen=True)
class SpeculativeResult:
    tokens: list[int]
    logprob: float  # of the chosen tokens under the target's masked distribution
    forced: int  # tokens the grammar forced, among `tokens`
    drafted: int  # tokens the draft sampled
    accepted: int  # of those, kept by the target
    target_calls: int
    draft_calls: int
    rounds: int


def speculative_sample(
    target: LogitsSource,
    draft: LogitsSource,
    matcher,
    *,
    eos_token_id: int,
    k: int = 4,
    temperature: float = 0.0,
    generator=None,
    max_tokens: int = 96,
    acceptance: Callable[[float, float], float] = chen_acceptance,
    masker: Masker | None = None,
) -> SpeculativeResult:
    """Decode one completion inside the grammar that `matcher` (fresh) tracks.

    `acceptance(q, p)` is the keep-probability of a drafted token; anything but
    `chen_acceptance` changes the output distribution (the tests use that to show
    they can tell)."""
    import torch

    if k < 1:
        raise GrammarError(f"speculative decoding needs k >= 1 drafted tokens per round, not {k}")
    greedy = temperature <= 0 or generator is None
    masker = masker or Masker(target.vocab_size)

    def choose(logps) -> int:  # an index into the support
        return int(torch.argmax(logps)) if greedy else draw(logps, generator)

    seq: list[int] = []
    forced_total = drafted_total = accepted_total = rounds = 0
    logprob = 0.0
    done = False
    while not done and not matcher.is_stopped() and len(seq) < max_tokens:
        rounds += 1
        # -- draft: up to k sampled tokens, forced spans taken as they come --------
        tokens: list[int] = []
        is_forced: list[bool] = []
        choices = []  # (index in tokens, allowed ids, draft logps on them, index of the drafted id)
        ends_with_eos = reached_k = gave_up = False
        while not matcher.is_stopped() and len(seq) + len(tokens) < max_tokens:
            forced = matcher.compute_ff_tokens()
            if forced:
                if not matcher.consume_tokens(forced):
                    raise GrammarError(f"grammar rejected its own forced tokens: {matcher.get_error()}")
                tokens += forced
                is_forced += [True] * len(forced)
                continue
            if len(choices) == k:
                reached_k = True
                break
            support = masker.support(matcher)
            proposal = draft.logits([seq + tokens], [1])[0][0][support]
            if not bool(torch.isfinite(proposal).any()):  # the draft has nothing to offer here
                gave_up = True
                break
            p_logps = support_logprobs(proposal, None, temperature)
            pick = choose(p_logps)
            token = int(support[pick])
            choices.append((len(tokens), support, p_logps, pick))
            tokens.append(token)
            is_forced.append(False)
            if token == eos_token_id and matcher.is_accepting():
                ends_with_eos = True
                break
            if not matcher.consume_token(token):
                raise GrammarError(f"drafted token {token} outside the grammar: {matcher.get_error()}")
        drafted_total += len(choices)
        if not choices and not gave_up:  # only forced tokens left
            seq += tokens
            forced_total += len(tokens)
            continue
        # -- verify: one target pass over every drafted position ----------------
        fed = tokens[:-1] if ends_with_eos else tokens
        rows = target.logits([seq + fed], [len(fed) + 1])[0]
        rejected = False
        for index, support, p_logps, pick in choices:
            q_logps = support_logprobs(rows[index], support, temperature)
            if greedy:
                keep = int(torch.argmax(q_logps)) == pick
            else:
                q, p = math.exp(float(q_logps[pick])), math.exp(float(p_logps[pick]))
                keep = float(torch.rand((), generator=generator, dtype=torch.float64)) < acceptance(q, p)
            if keep:
                accepted_total += 1
                logprob += float(q_logps[pick])
                continue
            # first rejection: back to just before `index`, resample from the residual
            if not matcher.rollback(len(fed) - index):
                raise GrammarError(f"grammar matcher could not roll back: {matcher.get_error()}")
            if greedy:
                other = int(torch.argmax(q_logps))
            else:
                residual = (q_logps.double().exp() - p_logps.double().exp()).clamp(min=0.0)
                other = draw(residual.log(), generator) if float(residual.sum()) > 0 else draw(q_logps, generator)
            replacement = int(support[other])
            logprob += float(q_logps[other])
            seq += tokens[:index]
            forced_total += sum(is_forced[:index])
            if replacement == eos_token_id and matcher.is_accepting():
                done = True
            else:
                if not matcher.consume_token(replacement):
                    raise GrammarError(f"resampled token {replacement} outside the grammar: {matcher.get_error()}")
                seq.append(replacement)
            rejected = True
            break
        if rejected:
            continue
        seq += fed
        forced_total += sum(is_forced[: len(fed)])
        if ends_with_eos:
            done = True
        elif reached_k or gave_up:  # every draft kept: the target's last row gives one more token
            support = masker.support(matcher)
            q_logps = support_logprobs(rows[-1], support, temperature)
            pick = choose(q_logps)
            bonus = int(support[pick])
            logprob += float(q_logps[pick])
            if bonus == eos_token_id and matcher.is_accepting():
                done = True
            else:
                if not matcher.consume_token(bonus):
                    raise GrammarError(f"bonus token {bonus} outside the grammar: {matcher.get_error()}")
                seq.append(bonus)
    if not matcher.is_accepting():
        raise GrammarError(f"generation stopped after {max_tokens} tokens before the grammar was complete")
    if not math.isfinite(logprob):
        logprob = -1e9
    return SpeculativeResult(
        tokens=seq,
        logprob=logprob,
        forced=forced_total,
        drafted=drafted_total,
        accepted=accepted_total,
        target_calls=target.calls,
        draft_calls=draft.calls,
        rounds=rounds,
    )


class PromptLookup:
    """A draft that needs no model (prompt-lookup decoding, on text): find the longest
    tail of the output so far (up to `max_chars` characters) in the prompt, and propose
    the first token of what follows it there. Text, not tokens, because a copied value
    is tokenized differently inside the output (`"Maria` vs ` Maria`). Its p is one-hot,
    so a proposal is kept with probability q(t) and a rejection resamples from q without
    t; where it finds nothing the round ends and the target decides, as in plain
    decoding. It pays off where the output copies the prompt (typed values, extracted
    fields) and costs next to nothing elsewhere."""

    def __init__(
        self, prompt: str, encode, decode, vocab_size: int, *, max_chars: int = 24, min_chars: int = 3
    ) -> None:
        self.prompt = prompt
        self.encode = encode  # text -> token ids, no special tokens
        self.decode = decode  # token ids -> text
        self.vocab_size = vocab_size
        self.max_chars = max_chars
        self.min_chars = min_chars  # a shorter match is no evidence: propose nothing, feed nothing extra
        self.calls = 0

    def propose(self, seq: list[int]) -> int | None:
        out = self.decode(list(seq))
        for n in range(min(self.max_chars, len(out)), self.min_chars - 1, -1):
            at = self.prompt.rfind(out[-n:])
            if at >= 0:
                following = self.prompt[at + n : at + n + 32]
                ids = self.encode(following) if following else []
                return ids[0] if ids else None
        return None

    def logits(self, seqs, keep) -> list:
        import torch

        self.calls += 1
        out = []
        for seq, k in zip(seqs, keep, strict=True):
            rows = torch.full((k, self.vocab_size), float("-inf"))
            for j in range(k):
                token = self.propose(list(seq[: len(seq) - k + 1 + j]))
                if token is not None and token < self.vocab_size:
                    rows[j, token] = 0.0
            out.append(rows)
        return out


def speculative_generate(
    decoder: Decoder,
    draft_model,
    prompt_ids: list[int],
    grammar: str,
    *,
    shared_layers: int | None,
    k: int,
    temperature: float,
    generator,
    max_tokens: int,
    lookup_text: str = "",
    encode=None,
) -> tuple[list[int], Generation]:
    """Speculative decoding with the real target. `draft_model`: a causal LM, or
    "lookup" for `PromptLookup` over `lookup_text` (the prompt) with `encode`;
    `shared_layers`: the draft is the target's first that many layers, so it starts
    from the target's prompt cache."""
    matcher = new_matcher(decoder.ll_tokenizer, grammar)
    target = ModelStream(decoder.model, prompt_ids, decoder.vocab_size)
    target.prefill()
    if isinstance(draft_model, str):
        if draft_model != "lookup":
            raise ModelError(f"unknown draft {draft_model!r}: give a model or 'lookup'")
        draft = PromptLookup(lookup_text, encode, decoder.ll_tokenizer.decode_str, decoder.vocab_size)
    elif shared_layers:
        cache = target.share_layers(shared_layers)
        draft = ModelStream(draft_model, prompt_ids, decoder.vocab_size, cache=cache, cached=len(prompt_ids) - 1)
    else:
        draft = ModelStream(draft_model, prompt_ids, decoder.vocab_size)
        draft.prefill()
    result = speculative_sample(
        target,
        draft,
        matcher,
        eos_token_id=decoder.eos_token_id,
        k=k,
        temperature=temperature,
        generator=generator,
        max_tokens=max_tokens,
    )
    generation = Generation(
        text=decoder.ll_tokenizer.decode_str(result.tokens),
        logprob=result.logprob,
        tokens=len(result.tokens),
        forced_tokens=result.forced,
        forward_calls=result.target_calls,
        decoding="speculative",
        drafted=result.drafted,
        accepted=result.accepted,
        draft_calls=result.draft_calls,
    )
    return result.tokens, generation
