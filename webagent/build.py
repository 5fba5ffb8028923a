"""Assemble the parts an agent needs from plain settings (used by the CLI and scripts)."""

from __future__ import annotations

from webagent.candidates import HybridRanker, Ranker
from webagent.embeddings import Embedder
from webagent.errors import WebAgentError
from webagent.policy import ModelPolicy, ModelPolicyConfig, Policy, RandomPolicy, RankerTopPolicy

POLICIES = ("model", "ranker", "random")


def make_ranker() -> Ranker:
    return HybridRanker(Embedder())


def make_policy(
    name: str,
    *,
    model: str = "default",
    temperature: float = 0.0,
    decoding: str = "plain",
    particles: int = 8,
    draft_model: str | None = None,
) -> Policy:
    if name == "model":
        from webagent.models.transformers_lm import TransformersModel

        lm = TransformersModel(model, decoding=decoding, particles=particles, draft_model=draft_model)
        return ModelPolicy(lm, ModelPolicyConfig(temperature=temperature))
    if name == "ranker":
        return RankerTopPolicy()
    if name == "random":
        return RandomPolicy()
    raise WebAgentError(f"unknown policy {name!r}; choose one of {', '.join(POLICIES)}")
