"""BM25 scores of a page's elements, cheap enough to recompute at every step.

The ranker was measured with rank_bm25's `BM25Okapi`. That class builds its index
in Python token by token and scores a query term by looking it up in every
document, which on a 5,000-element page cost ~50 ms a step for a page that had
barely changed since the last one. This module computes the same scores: the
same idf with its epsilon floor for terms in more than half the documents, the
same k1 and b, and the same float64 operations in the same order, so the scores
are equal to the bit (`tests/test_bm25.py` checks it against rank_bm25). It
differs in how: each document comes as its term counts (`term_counts`, which a
caller can keep across steps, keyed by text), and a query term touches only the
documents that hold it.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

import numpy as np


def term_counts(tokens: Sequence[str]) -> dict[str, int]:
    """A document as BM25 reads it: how often each term occurs."""
    return dict(Counter(tokens))


class BM25Okapi:
    """rank_bm25's BM25Okapi over documents given as term counts (see the module docstring)."""

    def __init__(
        self, documents: Sequence[dict[str, int]], *, k1: float = 1.5, b: float = 0.75, epsilon: float = 0.25
    ) -> None:
        if not documents:
            raise ValueError("BM25 needs at least one document")
        self.k1 = k1
        self.size = len(documents)
        lengths = np.array([sum(counts.values()) for counts in documents])
        avgdl = int(lengths.sum()) / self.size
        # rank_bm25 writes this as k1 * (1 - b + b * doc_len / avgdl): the same operations.
        self._norm = k1 * (1 - b + b * lengths / avgdl)
        self._postings: dict[str, tuple[list[int], list[int]]] = {}
        for i, counts in enumerate(documents):
            for term, tf in counts.items():
                docs, tfs = self._postings.setdefault(term, ([], []))
                docs.append(i)
                tfs.append(tf)
        self.idf: dict[str, float] = {}
        for term, (docs, _) in self._postings.items():
            n = len(docs)
            self.idf[term] = math.log(self.size - n + 0.5) - math.log(n + 0.5)
        # Summed one by one in the order the terms were first met, as rank_bm25 does
        # (sum() compensates its rounding on newer Pythons, and the floor would differ).
        total = 0.0
        for idf in self.idf.values():
            total += idf
        floor = epsilon * (total / len(self.idf))
        for term, idf in self.idf.items():
            if idf < 0:
                self.idf[term] = floor

    def scores(self, query: Sequence[str]) -> np.ndarray:
        """One score per document; a term repeated in the query counts each time."""
        score = np.zeros(self.size)
        for term in query:
            idf = self.idf.get(term)
            if not idf:  # rank_bm25 adds 0 (or -0.0) to every document here
                continue
            docs, tfs = self._postings[term]
            index = np.array(docs)
            tf = np.array(tfs)
            score[index] += idf * (tf * (self.k1 + 1) / (tf + self._norm[index]))
        return score
