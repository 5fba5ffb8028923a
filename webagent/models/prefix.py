"""Prompt-prefix reuse: keep the KV caches of recent prompts, feed only what is new.

Consecutive decisions share much of their prompt: the system text, retrieved
exemplars that recur, the task. Reading the prompt (prefill) is most of a
decision's cost on a CPU, so the model keeps the key/value caches of its
recent prompts (and of the tokens it generated after them); a new prompt
starts from a copy of the one sharing the longest prefix, cropped to that
prefix, and only the rest is fed.

Exactness. Attention over cached positions is the same computation as in a
full read, but not the same floating-point operations: a prompt read in one
piece and one read as a cached prefix plus the rest differ in the last bits.
Measured on 95 dev-task decisions in bfloat16: the same decision every time,
the same log-probability to the bit in 92. Where bit-equality matters, `chunk`
makes it hold by construction: every prompt, reused or not, is read in chunks
of that many tokens aligned to absolute positions, and a cache is reused only
up to a boundary it computed as a whole chunk, so the cached keys and values
are the very numbers a full read computes (95 of 95 to the bit). It costs
forward calls and the tokens after the last boundary (17% slower at 128), so
the default reads prompts in one piece. `tests/test_prefix.py` checks both.

Several entries, not one, because decisions interleave: the policy and the
critic read different prompts, and steps of one task recur across episodes.
The cache is only valid for the weights that filled it: `clear()` whenever
they change (`TransformersModel.weights_changed`).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

CHUNK = 0  # tokens per aligned prefill call; 0: the prompt in one piece (see the module docstring)
DEFAULT_ENTRIES = 16  # ~11 MB each for a 500-token prompt of SmolLM2-135M in bfloat16 (23 in float32)
MIN_REUSE = 8  # tokens: below this a match is chance (a chat header), not worth a crop


@dataclass
class _Entry:
    ids: list[int]  # every token the cache holds, in order
    past: object  # transformers DynamicCache
    whole: int  # its first `whole` positions were computed as whole aligned chunks: what may be reused


def chunk_ends(start: int, end: int, chunk: int = CHUNK) -> list[int]:
    """Where the prefill calls for positions [start, end) stop, `start` being a chunk
    boundary: at each later boundary, and the rest (less than a chunk) left for the
    first decoding call. [] when all of it fits there."""
    return list(range(start + chunk, end, chunk)) if chunk > 0 else []


def common_prefix(a, b) -> int:
    """How many leading tokens two sequences share."""
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i


class PrefixCache:
    """The KV caches of the last `entries` prompts of one model."""

    def __init__(self, entries: int = DEFAULT_ENTRIES, *, chunk: int = CHUNK) -> None:
        """`chunk` 0: the prompt in one piece, reused wherever it matches (not exact in bfloat16)."""
        self.entries = entries
        self.chunk = chunk  # prefill calls read whole aligned chunks of this many tokens
        self._kept: list[_Entry] = []

    def take(self, ids: list[int]) -> tuple[object | None, int]:
        """(cache, n): a copy of a kept cache, cropped to hold exactly `ids[:n]` (the
        caller extends it and `put`s it back), or (None, 0). The kept one stays as it
        was: a later prompt may share more with it than with this one (in the dev-task
        benchmark, cropping the kept caches in place fed a fifth more tokens). At least
        one token of `ids` is always left to feed, since the next token's logits come from it."""
        best, reused = None, 0
        for entry in self._kept:
            n = min(common_prefix(entry.ids, ids), len(ids) - 1, entry.whole)
            if self.chunk:
                n -= n % self.chunk
            if n > reused:
                best, reused = entry, n
        if best is None or reused < MIN_REUSE:
            return None, 0
        self._kept.remove(best)
        self._kept.insert(0, best)  # most recently used first: the last one is the next to go
        past = copy.deepcopy(best.past)
        if len(best.ids) > reused:
            past.crop(reused - len(best.ids))  # transformers crops by a negative count of tokens to drop
        return past, reused

    def put(self, ids: list[int], past, whole: int) -> None:
        """Keep the cache of `ids`, whose first `whole` positions were read as whole
        aligned chunks (all of them when prompts are read in one piece). Most recent
        first; the least recently used goes, and so does any kept one that `ids`
        extends, since this one holds all of it."""
        if past is None or self.entries < 1:
            return
        if not self.chunk:
            whole = len(ids)
        self._kept = [e for e in self._kept if not (len(e.ids) <= len(ids) and ids[: len(e.ids)] == e.ids)]
        self._kept.insert(0, _Entry(list(ids), past, whole))
        del self._kept[self.entries :]

    def clear(self) -> None:
        self._kept.clear()

    def __len__(self) -> int:
        return len(self._kept)
