"""Grammar-constrained sampling with llguidance masks and jump-forward.

Tokens the grammar forces (e.g. `CLICK [` once `C` is chosen) are appended
without asking the model; they are fed to the model together with the next
real choice, so a forced span costs no forward pass of its own. At a real
choice only the allowed tokens' logits are computed, in float32
(webagent.models.head), where the model qualifies.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from webagent.errors import GrammarError
from webagent.models.base import Generation
from webagent.models.head import Head, allowed_tokens
from webagent.models.prefix import CHUNK, PrefixCache, chunk_ends


@dataclass
class Decoder:
    """What constrained decoding needs from a loaded model and its tokenizer."""

    model: object  # a transformers causal LM
    ll_tokenizer: object  # llguidance.LLTokenizer
    eos_token_id: int
    vocab_size: int
    head: Head | None = None  # the allowed tokens' logits in float32 (webagent.models.head); None: the model's own


def _forward(decoder: Decoder, input_ids, past):
    """One forward pass: (the last hidden state as float32 with a head, else the logits; the extended cache)."""
    if decoder.head is not None:
        return decoder.head.forward(input_ids, past)
    result = decoder.model(input_ids=input_ids, past_key_values=past, use_cache=True, logits_to_keep=1)
    return result.logits, result.past_key_values


def constrained_generate(
    decoder: Decoder,
    prompt_ids: list[int],
    grammar: str,
    *,
    temperature: float,
    generator,  # torch.Generator or None for greedy
    max_tokens: int,
    jump_forward: bool = True,  # False: every token costs a forward pass (the benchmark's baseline)
    prefix: PrefixCache | None = None,  # reuse the KV cache of a recent prompt (webagent.models.prefix)
) -> tuple[list[int], Generation]:
    import llguidance
    import llguidance.torch as llt
    import torch

    matcher = llguidance.LLMatcher(decoder.ll_tokenizer, llguidance.LLMatcher.grammar_from_lark(grammar))
    if matcher.is_error():
        raise GrammarError(f"bad grammar: {matcher.get_error()}")
    bitmask = llt.allocate_token_bitmask(1, decoder.vocab_size)
    past, reused = prefix.take(prompt_ids) if prefix is not None else (None, 0)
    fed = list(prompt_ids[:reused])  # what the cache holds
    out: list[int] = []
    logprob = 0.0
    forced_count = 0
    calls = 0
    with torch.inference_mode():
        # With `chunk` set, the prompt in chunks aligned to absolute positions, as
        # webagent.models.prefix explains; the rest of it is fed with the first choice below.
        for end in chunk_ends(reused, len(prompt_ids), prefix.chunk if prefix is not None else CHUNK):
            chunk = prompt_ids[len(fed) : end]
            past = _forward(decoder, torch.tensor([chunk]), past)[1]
            calls += 1
            fed += chunk
        whole = len(fed)
        pending = list(prompt_ids[whole:])
        while not matcher.is_stopped() and len(out) < max_tokens:
            forced = matcher.compute_ff_tokens() if jump_forward else []
            if forced:
                if not matcher.consume_tokens(forced):
                    raise GrammarError(f"grammar rejected its own forced tokens: {matcher.get_error()}")
                pending += forced
                out += forced
                forced_count += len(forced)
                continue
            llt.fill_next_token_bitmask(matcher, bitmask, 0)
            result, past = _forward(decoder, torch.tensor([pending]), past)
            calls += 1
            fed += pending
            if decoder.head is not None:  # only the allowed tokens' logits, in float32
                allowed = allowed_tokens(bitmask[0], decoder.vocab_size)
                if not len(allowed):
                    raise GrammarError(f"the grammar allows no token after {decoder.ll_tokenizer.decode_str(out)!r}")
                logits = decoder.head.logits(result, allowed)
            else:
                allowed = None
                logits = result[0, -1, : decoder.vocab_size].float()
                llt.apply_token_bitmask_inplace(logits, bitmask[0].to(logits.device))
            if temperature > 0:
                logits = logits / temperature
            logps = torch.log_softmax(logits, dim=-1)
            if temperature > 0 and generator is not None:
                choice = int(torch.multinomial(logps.exp(), 1, generator=generator))
            else:
                choice = int(torch.argmax(logps))  # the first of equals: the lowest token id, as over the vocabulary
            token = int(allowed[choice]) if allowed is not None else choice
            logprob += float(logps[choice])
            if token == decoder.eos_token_id and matcher.is_accepting():
                break
            if not matcher.consume_token(token):
                raise GrammarError(f"sampled token {token} outside the grammar: {matcher.get_error()}")
            pending = [token]
            out.append(token)
    if prefix is not None:
        prefix.put(fed, past, whole)
    if not matcher.is_accepting():
        so_far = decoder.ll_tokenizer.decode_str(out)
        raise GrammarError(
            f"generation stopped after {max_tokens} tokens before the grammar was complete: {so_far[:80]!r}…"
        )
    text = decoder.ll_tokenizer.decode_str(out)
    if not math.isfinite(logprob):
        logprob = -1e9
    return out, Generation(
        text=text,
        logprob=logprob,
        tokens=len(out),
        forced_tokens=forced_count,
        forward_calls=calls,
        prompt_tokens=len(prompt_ids),
        fed_prompt_tokens=len(prompt_ids) - reused,
    )
