"""Next-token logits behind one small interface, and the grammar-mask helpers.

Speculative sampling and SMC steering are written against `LogitsSource`, not
against a transformers model, so the same code runs on the real model (with
its KV cache) and on a table of the real model's logits precomputed for every
prefix of a small language (`tests/support/exact.py`), where thousands of
samples cost seconds: that is how the samplers are tested for exactness.

A source is asked for logits by *whole continuations* of one fixed prompt; it
works out itself what is already in its cache, so an algorithm cannot get its
caches out of step with its token sequences (rolling back after a rejected
draft is just asking for a shorter sequence).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from webagent.errors import GrammarError, ModelError
from webagent.models.prefix import common_prefix


class LogitsSource(Protocol):
    vocab_size: int
    calls: int  # forward passes (or table look-up rounds) so far

    def logits(self, seqs: Sequence[Sequence[int]], keep: Sequence[int]) -> list:
        """For each continuation `seqs[i]` of the prompt, a float tensor [keep[i], vocab] whose
        row j holds the next-token logits after prompt + seqs[i][: len(seqs[i]) - keep[i] + 1 + j]
        (the last row: after the whole continuation; keep = len + 1 reaches back to the prompt alone)."""
        ...


class ModelStream:
    """One continuation at a time through a causal LM with a KV cache that is cropped,
    never rebuilt, when the asked-for sequence leaves what the cache holds."""

    def __init__(self, model, prompt_ids: Sequence[int], vocab_size: int, *, cache=None, cached: int = 0) -> None:
        from transformers import DynamicCache

        if not prompt_ids:
            raise ModelError("decoding needs a non-empty prompt")
        self.model = model
        self.prompt = list(prompt_ids)
        self.vocab_size = vocab_size
        self.cache = cache if cache is not None else DynamicCache()
        self.cached = self.prompt[:cached]  # the ids whose keys and values the cache holds
        self.calls = 0

    def prefill(self) -> None:
        """Everything but the last prompt token (which the first real request feeds)."""
        if len(self.cached) < len(self.prompt) - 1:
            self._feed(self.prompt[:-1], 1)

    def _feed(self, full: list[int], keep: int):
        import torch

        start = min(common_prefix(self.cached, full), len(full) - keep)
        if start < 0:
            raise ModelError(f"asked for {keep} rows of logits but the sequence has only {len(full)} tokens")
        if start < len(self.cached):
            self.cache.crop(start - len(self.cached))
            self.cached = self.cached[:start]
        with torch.inference_mode():
            out = self.model(
                input_ids=torch.tensor([full[start:]]), past_key_values=self.cache, use_cache=True, logits_to_keep=keep
            )
        self.calls += 1
        self.cache = out.past_key_values
        self.cached = list(full)
        return out.logits[0, -keep:, : self.vocab_size].float()

    def logits(self, seqs: Sequence[Sequence[int]], keep: Sequence[int]) -> list:
        if len(seqs) != 1:
            raise ModelError(f"ModelStream serves one sequence at a time, not {len(seqs)}")
        return [self._feed(self.prompt + list(seqs[0]), keep[0])]

    def share_layers(self, layers: int):
        """A new cache holding this stream's first `layers` layers (a self-draft's cache:
        the first layers of the same weights compute the same keys and values)."""
        from transformers import DynamicCache

        return DynamicCache(
            ddp_cache_data=[(layer.keys, layer.values) for layer in self.cache.layers[:layers]],
        )


class ModelBatch:
    """Many continuations of one prompt in one forward pass (SMC particles).

    The prompt is encoded once; rows then only grow, each from the cached row that
    is its longest prefix (rows are selected, duplicated or dropped to follow
    resampling). Rows of different lengths share the cache's slots: the new tokens
    are right-padded and the padding is masked out for good, and each row keeps its
    own position counter, so holes in the cache change nothing.
    """

    def __init__(self, model, prompt_ids: Sequence[int], vocab_size: int, *, pad_id: int = 0) -> None:
        from transformers import DynamicCache

        if not prompt_ids:
            raise ModelError("decoding needs a non-empty prompt")
        self.model = model
        self.prompt = list(prompt_ids)
        self.vocab_size = vocab_size
        self.pad_id = pad_id
        self.cache = DynamicCache()
        self.rows: list[list[int]] = [[]]  # ids fed per row
        self.mask = None  # [rows, slots] 1 where a slot holds a real token of that row
        self.positions = [0]
        self.calls = 0

    def logits(self, seqs: Sequence[Sequence[int]], keep: Sequence[int]) -> list:
        import torch

        if self.mask is None:
            self._prefill()
        fulls = [self.prompt + list(s) for s in seqs]
        parents = [self._parent(i, full, k) for i, (full, k) in enumerate(zip(fulls, keep, strict=True))]
        news = [full[len(self.rows[p]) :] for full, p in zip(fulls, parents, strict=True)]
        width = max(len(n) for n in news)
        index = torch.tensor(parents)
        if parents != list(range(len(self.rows))) and self.cache.get_seq_length() > 0:
            self.cache.batch_select_indices(index)
        old_mask = self.mask[index]
        new_mask = torch.tensor([[1] * len(n) + [0] * (width - len(n)) for n in news])
        mask = torch.cat([old_mask, new_mask], dim=1)
        starts = [self.positions[p] for p in parents]
        ids = torch.tensor([n + [self.pad_id] * (width - len(n)) for n in news])
        position_ids = torch.tensor([[s + j for j in range(width)] for s in starts])
        with torch.inference_mode():
            out = self.model(
                input_ids=ids,
                attention_mask=mask,
                position_ids=position_ids,
                past_key_values=self.cache,
                use_cache=True,
                logits_to_keep=width,
            )
        self.calls += 1
        self.cache = out.past_key_values
        self.mask = mask
        self.rows = fulls
        self.positions = [s + len(n) for s, n in zip(starts, news, strict=True)]
        logits = out.logits[..., : self.vocab_size].float()
        return [logits[i, len(n) - k : len(n)] for i, (n, k) in enumerate(zip(news, keep, strict=True))]

    def _prefill(self) -> None:
        """The prompt, once, as a single row (all but its last token, which the first request feeds)."""
        import torch

        head = self.prompt[:-1]
        if head:
            with torch.inference_mode():
                out = self.model(
                    input_ids=torch.tensor([head]), past_key_values=self.cache, use_cache=True, logits_to_keep=1
                )
            self.calls += 1
            self.cache = out.past_key_values
        self.rows = [head]
        self.mask = torch.ones((1, len(head)), dtype=torch.long)
        self.positions = [len(head)]

    def _parent(self, i: int, full: list[int], keep: int) -> int:
        """The cached row to extend: the longest that is a prefix, row i itself on a tie."""
        limit = len(full) - keep
        valid = [r for r, row in enumerate(self.rows) if len(row) <= limit and full[: len(row)] == row]
        if not valid:
            raise ModelError(f"particle {i} extends no cached row (needs {keep} rows after {limit} tokens)")
        longest = max(len(self.rows[r]) for r in valid)
        if i in valid and len(self.rows[i]) == longest:
            return i
        return next(r for r in valid if len(self.rows[r]) == longest)


# -- grammar masks -------------------------------------------------------------


class Masker:
    """llguidance token masks, read out as the sorted ids of the allowed tokens
    (distributions are then computed on that support only: a few dozen entries
    instead of the whole vocabulary)."""

    def __init__(self, vocab_size: int) -> None:
        import llguidance.torch as llt

        self.vocab_size = vocab_size
        self._bits = llt.allocate_token_bitmask(1, vocab_size)
        self.seconds = 0.0  # time spent computing masks, for the overhead figures
        self.count = 0

    def support(self, matcher):
        """Ids (LongTensor, ascending) of the tokens the grammar allows next."""
        import time

        import llguidance.torch as llt
        import numpy as np
        import torch

        start = time.perf_counter()
        llt.fill_next_token_bitmask(matcher, self._bits, 0)
        if matcher.is_error():
            raise GrammarError(f"grammar matcher failed: {matcher.get_error()}")
        words = self._bits.numpy()[0]
        nonzero = np.flatnonzero(words)  # only the 32-token words with an allowed token
        bits = np.unpackbits(words[nonzero].view(np.uint8).reshape(-1, 4), axis=1, bitorder="little")
        rows, cols = np.nonzero(bits)
        ids = nonzero[rows] * 32 + cols
        ids = torch.from_numpy(ids[ids < self.vocab_size])
        self.seconds += time.perf_counter() - start
        self.count += 1
        if ids.numel() == 0:
            raise GrammarError("the grammar allows no next token")
        return ids

    def allowed(self, matcher):
        """The same as a boolean mask over the vocabulary."""
        import torch

        mask = torch.zeros(self.vocab_size, dtype=torch.bool)
        mask[self.support(matcher)] = True
        return mask


def support_logprobs(logits, support, temperature: float):
    """Log-probabilities of the grammar-masked distribution, on its support only
    (the same numbers plain decoding computes over the masked vocabulary);
    `support` None: `logits` are already restricted to it."""
    import torch

    x = logits if support is None else logits[support]
    if temperature > 0:
        x = x / temperature
    return torch.log_softmax(x, dim=-1)


def draw(logps, generator) -> int:
    """An index sampled from log-probabilities (inverse CDF; torch.multinomial is
    milliseconds slower on CPU)."""
    import torch

    weights = logps.double().exp().cumsum(0)
    u = float(torch.rand((), generator=generator, dtype=torch.float64)) * float(weights[-1])
    return min(int(torch.searchsorted(weights, torch.tensor([u], dtype=torch.float64), right=True)), len(weights) - 1)


def new_matcher(ll_tokenizer, grammar: str):
    """An llguidance matcher for a lark grammar, or a GrammarError saying what is wrong."""
    import llguidance

    matcher = llguidance.LLMatcher(ll_tokenizer, llguidance.LLMatcher.grammar_from_lark(grammar))
    if matcher.is_error():
        raise GrammarError(f"bad grammar: {matcher.get_error()}")
    return matcher
