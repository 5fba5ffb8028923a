"""Rank a page's elements against the instruction and keep the top k.

The default ranker mixes BM25 over each element's text, label and attributes
with MiniLM similarity between the instruction (plus action history) and the
element, and a small prior for elements that are interactive by markup.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from webagent.browser.observation import Element, Observation
from webagent.embeddings import Embedder

_TOKEN = re.compile(r"[a-z0-9]+")


@dataclass(frozen=True)
class Candidate:
    element: Element
    score: float
    lexical: float = 0.0
    semantic: float = 0.0

    @property
    def id(self) -> str:
        return self.element.id

    def row(self) -> dict:
        """As stored in a step row and shown in the panel."""
        return {
            "id": self.id,
            "score": round(self.score, 4),
            "lexical": round(self.lexical, 4),
            "semantic": round(self.semantic, 4),
            "text": self.element.describe(),
            "box": [round(v, 1) for v in self.element.box],
        }


class Ranker(Protocol):
    def rank(self, instruction: str, observation: Observation, history: Sequence[str], k: int) -> list[Candidate]:
        """The k best candidates, best first."""
        ...


def element_text(el: Element) -> str:
    """What an element says about itself, for matching."""
    attrs = " ".join(v for k, v in el.attributes if k in ("id", "name", "title", "aria-label", "alt", "class"))
    return " ".join(filter(None, (el.describe(), el.context, attrs)))


def tokenize(text: str) -> list[str]:
    return _TOKEN.findall(text.lower())


@dataclass(frozen=True)
class RankerWeights:
    lexical: float = 0.5
    semantic: float = 0.4
    interactive: float = 0.15


class HybridRanker:
    """BM25 + embedding similarity + an interactivity prior."""

    def __init__(self, embedder: Embedder, weights: RankerWeights | None = None) -> None:
        self.embedder = embedder
        self.weights = weights or RankerWeights()

    def rank(self, instruction: str, observation: Observation, history: Sequence[str], k: int) -> list[Candidate]:
        from rank_bm25 import BM25Okapi

        elements = observation.actionable
        if not elements:
            return []
        texts = [element_text(el) for el in elements]
        query = " ".join([instruction, *history[-3:]])
        docs = [tokenize(t) or ["_"] for t in texts]
        lexical = BM25Okapi(docs).get_scores(tokenize(query) or ["_"])
        top = max(lexical.max(), 1e-9)
        vectors = self.embedder.embed([query, *texts])
        semantic = (vectors[1:] @ vectors[0]).tolist()
        w = self.weights
        scored = [
            Candidate(el, w.lexical * (lex / top) + w.semantic * sem + w.interactive * el.interactive, lex / top, sem)
            for el, lex, sem in zip(elements, lexical.tolist(), semantic, strict=True)
        ]
        scored.sort(key=lambda c: c.score, reverse=True)
        return scored[:k]
