"""Prompt-prefix reuse: keep the KV caches of recent prompts, feed only what is new.

Consecutive decisions share most of their prompt: the system text, retrieved
exemplars that recur, the task. Reading the prompt (prefill) is most of a
decision's cost on a CPU, so the model keeps the key/value cache of its last
few prompts (and of the tokens it generated after them); a new prompt starts
from the one sharing the longest prefix, cropped to that prefix, and only the
rest is fed. The outputs are those of a full prefill (the attention over the
cached positions is the same computation), which `tests/test_prefix.py` checks.

Several entries, not one, because decisions interleave: the policy and the
critic read different prompts, and steps of one task recur across episodes.
The cache is only valid for the weights that filled it: `clear()` whenever
they change (`TransformersModel.weights_changed`).
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_ENTRIES = 8  # ~23 MB each for a 500-token prompt of SmolLM2-135M in float32: the steps of one episode
MIN_REUSE = 8  # tokens: below this a match is chance (a chat header), not worth a crop


@dataclass
class _Entry:
    ids: list[int]  # every token the cache holds, in order
    past: object  # transformers DynamicCache


def common_prefix(a, b) -> int:
    """How many leading tokens two sequences share."""
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i


class PrefixCache:
    """The KV caches of the last `entries` prompts of one model."""

    def __init__(self, entries: int = DEFAULT_ENTRIES) -> None:
        self.entries = entries
        self._kept: list[_Entry] = []

    def take(self, ids: list[int]) -> tuple[object | None, int]:
        """(cache, n): a cache holding exactly `ids[:n]`, taken out of the pool (the
        caller extends it and `put`s it back), or (None, 0). At least one token of
        `ids` is always left to feed, since the next token's logits come from it."""
        best, reused = None, 0
        for entry in self._kept:
            n = min(common_prefix(entry.ids, ids), len(ids) - 1)
            if n > reused:
                best, reused = entry, n
        if best is None or reused < MIN_REUSE:
            return None, 0
        self._kept.remove(best)
        if len(best.ids) > reused:
            best.past.crop(reused - len(best.ids))  # transformers crops by a negative count of tokens to drop
        return best.past, reused

    def put(self, ids: list[int], past) -> None:
        """Keep the cache of `ids` (most recent first; the oldest entry goes)."""
        if past is None or self.entries < 1:
            return
        self._kept.insert(0, _Entry(list(ids), past))
        del self._kept[self.entries :]

    def clear(self) -> None:
        self._kept.clear()

    def __len__(self) -> int:
        return len(self._kept)
