"""What a question's answer is read from: the page text nearest the question.

A task that asks something ("What is the ISBN of the book "X"?") ends with
`STOP "answer"`, and the grammar lets the answer be only a span of the page's
visible text. The prompt, though, shows the page as its top-ranked interactive
elements, and the answer is usually in plain text beside them: a table cell in
the row of the book, the value after "timeout" in a settings table. Without
that text in the prompt the model can only guess a span. So for a question the
prompt also shows a few passages: the visible texts that share the most words
with the question (BM25 over texts, as the ranker scores elements), each with
the texts that follow it in page order, because on a real page the answer comes
after what names it (a row's cells after its title, a value after its key).

And a question is answered: where the instruction asks, a bare STOP is not an
ending the grammar offers (webagent.actions.action_grammar's `answer_required`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from webagent.bm25 import BM25Okapi, term_counts
from webagent.browser.observation import Element
from webagent.candidates import tokenize

HITS = 3  # passages shown
AFTER = 4  # texts after each hit that belong to its passage
MAX_WORDS = 80  # all passages together
_ASKING = re.compile(r"^(what|which|who|whom|whose|when|where|how|why)\b", re.IGNORECASE)
# Words of a question that name no part of the page: left out of the match.
_FILLER = frozenset({"what", "which", "who", "whom", "whose", "when", "where", "how", "why"}) | frozenset(
    {"is", "are", "was", "were", "does", "do", "did", "the", "a", "an", "of", "in", "on", "for", "to"}
)


def is_question(instruction: str) -> bool:
    """The instruction asks for information (ends with '?' or opens with a question word)."""
    text = instruction.strip()
    return text.endswith("?") or bool(_ASKING.match(text))


def passages(
    instruction: str, elements: Sequence[Element], *, hits: int = HITS, after: int = AFTER, max_words: int = MAX_WORDS
) -> list[str]:
    """The page's visible texts best matching `instruction`, each joined with the `after`
    texts that follow it (" | " between texts), in page order; at most `max_words` words."""
    texts = [el.text.strip() for el in elements if el.visible and el.text.strip()]
    query = [t for t in tokenize(instruction) if t not in _FILLER]
    if not texts or not query:
        return []
    scores = BM25Okapi([term_counts(tokenize(t)) for t in texts]).scores(query)
    best = sorted((i for i in range(len(texts)) if scores[i] > 0), key=lambda i: -scores[i])[:hits]
    shown: list[str] = []
    words = 0
    taken: set[int] = set()
    for start in sorted(best):
        span = [i for i in range(start, min(start + 1 + after, len(texts))) if i not in taken]
        if not span:
            continue
        taken.update(span)
        passage = " | ".join(texts[i] for i in span)
        count = len(passage.split())
        if words + count > max_words:
            break
        shown.append(passage)
        words += count
    return shown
