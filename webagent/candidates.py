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

import numpy as np

from webagent.bm25 import BM25Okapi, term_counts
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


def tokenize(text: str) -> list[str]:
    return _TOKEN.findall(text.lower())


@dataclass(frozen=True)
class RankerWeights:
    lexical: float = 0.5
    semantic: float = 0.4
    interactive: float = 0.15
    typing: float = 0.15  # empty text fields, while the task holds a value no action has typed yet
    reveal: float = 0.5  # what may open a hidden element the task names (a closed folder holding it)


_QUOTED = re.compile(r'"([^"]*)"')
_NUMBER = re.compile(r"\b\d[\d/:.-]*\d\b|\b\d\b")
_TYPED = re.compile(r'^TYPE \[[^\]]*\] "((?:[^"\\]|\\.)*)"')


def quoted_values(instruction: str) -> list[str]:
    """The instruction's "quoted" strings: the values a person wrote for the agent to use."""
    return _QUOTED.findall(instruction)


def untyped_values(instruction: str, history: Sequence[str]) -> list[str]:
    """The task's values (its quoted strings and numbers) that no TYPE in `history` typed:
    while one is left, the field it goes into is a likely next element even where its
    label shares no word with the task (a search box labelled by an icon, a form's
    "Year" field for "published in 2007")."""
    typed = " ".join(m.group(1) for h in history if (m := _TYPED.match(h)))
    return [v for v in task_values(instruction) if v not in typed]


def task_values(instruction: str) -> list[str]:
    """The values a task gives: its quoted strings, then the numbers outside them."""
    values = [*quoted_values(instruction), *_NUMBER.findall(_QUOTED.sub(" ", instruction))]
    return list(dict.fromkeys(v for v in values if v.strip()))


def _says(el: Element, values: set[str]) -> bool:
    return el.text.strip().casefold() in values


def revealers(instruction: str, observation: Observation) -> set[str]:
    """Visible elements that may reveal a hidden one the task names, while no visible one
    says it: the nearest visible ancestor of each hidden element saying a quoted value,
    that ancestor's visible children (a closed folder's row and its toggle, a menu's
    button), and the in-page links to it or a hidden container around it (a tab, `#tab-2`).
    A person looks inside what is closed; the page's markup says which closed thing holds
    what is asked, so there is no need to open them in turn."""
    values = {v.strip().casefold() for v in quoted_values(instruction) if v.strip()}
    if not values or any(_says(el, values) for el in observation.actionable):
        return set()
    by_id = {el.id: el for el in observation.elements}
    found: set[str] = set()
    for el in observation.elements:
        if el.visible or not _says(el, values):
            continue
        hidden, ancestor = [el], by_id.get(el.parent_id or "")
        while ancestor is not None and not ancestor.visible:
            hidden.append(ancestor)
            ancestor = by_id.get(ancestor.parent_id or "")
        if ancestor is not None:
            found.add(ancestor.id)
            found.update(c.id for c in observation.elements if c.parent_id == ancestor.id and c.visible)
        links = {f"#{dom_id}" for h in hidden if (dom_id := dict(h.attributes).get("id"))}
        found.update(a.id for a in observation.actionable if dict(a.attributes).get("href") in links)
    return found


SEMANTIC_LIMIT = 256  # elements embedded per step; on bigger pages, the best by BM25 and the prior


def normalise_bm25(scores) -> list[float]:
    """BM25 scores as [0, 1], the best element 1. A term found in most elements has a
    negative IDF, so scores can be negative: that is no evidence for an element, and
    counts as 0 (dividing by a tiny positive maximum would blow them up to -1e7)."""
    clipped = [max(float(s), 0.0) for s in scores]
    top = max(clipped, default=0.0)
    return [s / top for s in clipped] if top > 0 else [0.0] * len(clipped)


class HybridRanker:
    """BM25 + embedding similarity + an interactivity prior.

    Embedding is the cost that grows with the page (a 6,000-element page took
    95 s to rank when every element was embedded), so only the `semantic_limit`
    elements best by BM25 against the task and the prior are embedded; the rest
    keep a semantic score of 0. The embedder caches vectors by text, so later
    steps on the same page embed only what changed. MiniWoB++ pages are far
    below the limit and rank as before.

    Likewise each element's text (on the element: `Element.match_text`) and each
    text's term counts (here, `CACHE_LIMIT` entries, then started afresh) are kept
    across steps: on a big page, describing and tokenising every element was most of
    what ranking cost after the first step."""

    CACHE_LIMIT = 50_000

    def __init__(
        self, embedder: Embedder, weights: RankerWeights | None = None, *, semantic_limit: int = SEMANTIC_LIMIT
    ) -> None:
        self.embedder = embedder
        self.weights = weights or RankerWeights()
        self.semantic_limit = semantic_limit
        self._counts: dict[str, dict[str, int]] = {}

    def _term_counts(self, text: str) -> dict[str, int]:
        """The text's term counts, made once; a full cache starts afresh."""
        counts = self._counts.get(text)
        if counts is None:
            if len(self._counts) >= self.CACHE_LIMIT:
                self._counts.clear()
            counts = self._counts[text] = term_counts(tokenize(text) or ["_"])
        return counts

    def rank(self, instruction: str, observation: Observation, history: Sequence[str], k: int) -> list[Candidate]:
        elements = observation.actionable
        if not elements:
            return []
        texts = [el.match_text for el in elements]
        query = " ".join([instruction, *history[-3:]])
        bm25 = BM25Okapi([self._term_counts(t) for t in texts])
        lexical = np.array(normalise_bm25(bm25.scores(tokenize(query) or ["_"])))
        w = self.weights
        # Arrays over the whole page, Candidates only for the k kept: the same float64
        # operations as element by element, and a stable sort keeps ties in page order.
        interactive = np.array([el.interactive for el in elements], dtype=float)
        prior = first = w.lexical * lexical + w.interactive * interactive
        if w.typing and untyped_values(instruction, history):
            prior = first = prior + w.typing * np.array([el.editable and not el.value for el in elements], dtype=float)
        if w.reveal and (reveal := revealers(instruction, observation)):
            prior = first = prior + w.reveal * np.array([el.id in reveal for el in elements], dtype=float)
        if len(elements) > self.semantic_limit:
            # Chosen by the task alone, not the history: the same elements are then
            # embedded at every step of an episode, and found in the cache after the first.
            task = np.array(normalise_bm25(bm25.scores(tokenize(instruction) or ["_"])))
            first = w.lexical * task + w.interactive * interactive
        embedded = np.argsort(-first, kind="stable")[: self.semantic_limit]
        semantic = np.zeros(len(elements))
        vectors = self.embedder.embed([query, *(texts[i] for i in embedded)])
        semantic[embedded] = vectors[1:] @ vectors[0]
        score = prior + w.semantic * semantic
        return [
            Candidate(elements[i], float(score[i]), float(lexical[i]), float(semantic[i]))
            for i in np.argsort(-score, kind="stable")[:k]
        ]
