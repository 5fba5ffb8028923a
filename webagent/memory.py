"""Trajectory-as-exemplar memory (after Synapse, arXiv 2306.07863).

Each confirmed step becomes an exemplar: the state as the model saw it (the
instruction, the actions so far, the top candidates) and the confirmed output.
At decision time the nearest exemplars by MiniLM similarity go into the prompt
as demonstrations. Exemplars live in sqlite and are reloaded on start; a store
of None keeps them in memory only (tests, one-off runs).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, replace

from webagent.embeddings import Embedder
from webagent.store import Store


@dataclass(frozen=True)
class Exemplar:
    query: str  # what retrieval embeds: the instruction and a gist of the state
    context: str  # the state as the model saw it (the user turn of the prompt)
    output: str  # the confirmed output: an action in the DSL, or JSON for the Online API
    namespace: str = "web"
    task: str = ""
    source_step_id: int | None = None
    id: int | None = None

    @property
    def pair(self) -> tuple[str, str]:
        return self.context, self.output

    @property
    def key(self) -> str:
        """Two exemplars with the same state and output teach the same thing once."""
        return hashlib.sha1(f"{self.namespace}\0{self.context}\0{self.output}".encode()).hexdigest()


_ELEMENT_LINE = re.compile(r"^\[([^\[\]\s]+)\] ", re.MULTILINE)


def relabel(context: str, output: str) -> tuple[str, str]:
    """A demonstration with its element ids renamed a, b, c, ... in the order its
    element list shows them, the same in its actions so far and its output (after
    Synapse's state abstraction). Element ids are the page's numbering: copied
    into a new page's decision they name whatever element happens to have that
    number there, and with memory on the model grew most confident exactly when
    it copied one. Letters can never be copied (the grammar allows only the
    page's own ids), so what a demonstration can teach is which kind of element
    to act on."""
    names = {old: _letters(i) for i, old in enumerate(dict.fromkeys(_ELEMENT_LINE.findall(context)))}
    if not names:
        return context, output
    pattern = re.compile(r"\[(" + "|".join(re.escape(old) for old in names) + r")\]")

    def rename(match: re.Match[str]) -> str:
        return f"[{names[match.group(1)]}]"

    return pattern.sub(rename, context), pattern.sub(rename, output)


def _letters(n: int) -> str:
    """0 → a, 25 → z, 26 → aa, ..."""
    out = ""
    n += 1
    while n:
        n, r = divmod(n - 1, 26)
        out = chr(ord("a") + r) + out
    return out


class ExemplarMemory:
    """A bounded, de-duplicated exemplar set with embedding retrieval."""

    def __init__(
        self, store: Store | None, embedder: Embedder, *, namespace: str = "web", capacity: int = 2000
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.namespace = namespace
        self.capacity = capacity
        self._items: list[Exemplar] = []
        self._vectors = None  # torch tensor (n, d), rows aligned with _items
        self._keys: set[str] = set()
        if store is not None:
            self._load()

    def __len__(self) -> int:
        return len(self._items)

    def _load(self) -> None:
        import torch

        rows = self.store.exemplar_rows(self.namespace, limit=self.capacity)
        self._items = [
            Exemplar(
                r["query"], r["context"], r["output"], r["namespace"], r["task"] or "", r["source_step_id"], r["id"]
            )
            for r in rows
        ]
        self._keys = {e.key for e in self._items}
        if rows:
            self._vectors = torch.stack(
                [torch.frombuffer(bytearray(r["embedding"]), dtype=torch.float32) for r in rows]
            )

    def add(self, exemplar: Exemplar) -> bool:
        """Remember an exemplar; False when an identical one is already kept."""
        import torch

        exemplar = replace(exemplar, namespace=self.namespace)
        if self.store is not None and self.store.secrets:  # kept, shown and keyed only as placeholders
            mask = self.store.secrets.mask
            exemplar = replace(
                exemplar, query=mask(exemplar.query), context=mask(exemplar.context), output=mask(exemplar.output)
            )
        if exemplar.key in self._keys:
            return False
        vector = self.embedder.embed([exemplar.query])[0].float().contiguous()
        if self.store is not None:
            row_id = self.store.add_exemplar(
                {
                    "namespace": self.namespace,
                    "key": exemplar.key,
                    "query": exemplar.query,
                    "context": exemplar.context,
                    "output": exemplar.output,
                    "task": exemplar.task,
                    "source_step_id": exemplar.source_step_id,
                    "embedding": vector.numpy().tobytes(),
                }
            )
            exemplar = replace(exemplar, id=row_id)
        self._items.append(exemplar)
        self._keys.add(exemplar.key)
        self._vectors = vector[None] if self._vectors is None else torch.cat([self._vectors, vector[None]])
        self._evict()
        return True

    def _evict(self) -> None:
        """Past capacity the oldest exemplars go first."""
        excess = len(self._items) - self.capacity
        if excess <= 0:
            return
        gone, self._items = self._items[:excess], self._items[excess:]
        self._keys -= {e.key for e in gone}
        self._vectors = self._vectors[excess:]
        if self.store is not None:
            self.store.delete_exemplars([e.id for e in gone if e.id is not None])

    def of_task(self, task: str) -> list[Exemplar]:
        """The task's exemplars, oldest first."""
        return [e for e in self._items if e.task == task]

    def retrieve(self, query: str, k: int = 3) -> list[Exemplar]:
        """The k most similar exemplars, most similar first, distinct outputs-in-context."""
        if not self._items or k <= 0:
            return []
        import torch

        vector = self.embedder.embed([query])[0].float()
        scores = self._vectors @ vector
        order = torch.argsort(scores, descending=True).tolist()
        return [self._items[i] for i in order[:k]]
