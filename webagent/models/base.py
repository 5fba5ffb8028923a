"""The one narrow interface every language model implements."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable


@dataclass(frozen=True)
class Generation:
    """A constrained completion and what it cost."""

    text: str
    logprob: float  # of the sampled tokens under the grammar-masked distribution
    tokens: int
    forced_tokens: int  # tokens the grammar forced (no model choice needed)
    forward_calls: int  # of the target model (speculative: verification passes; SMC: batched passes)
    decoding: str = "plain"  # plain | speculative | smc
    drafted: int = 0  # speculative: tokens the draft proposed
    accepted: int = 0  # speculative: of those, kept by the target
    draft_calls: int = 0  # speculative: forward passes of the draft
    agreement: float | None = None  # SMC: weighted share of the particles that ended on `text`
    prompt_tokens: int = 0  # plain: the prompt's length in tokens
    fed_prompt_tokens: int = 0  # plain: of those, fed to the model (the rest came from a cached prefix)

    @property
    def confidence(self) -> float:
        """The particles' agreement under SMC, else the probability of the chosen tokens."""
        import math

        if self.agreement is not None:
            return self.agreement
        return math.exp(self.logprob)


@runtime_checkable
class LanguageModel(Protocol):
    name: str
    version: str

    def format_chat(self, messages: Sequence[dict[str, str]]) -> str:
        """Render chat messages into the model's prompt text, ready for the reply."""
        ...

    def generate(
        self, prompt: str, grammar: str, *, temperature: float = 0.0, seed: int | None = None, max_tokens: int = 96
    ) -> Generation:
        """Sample a completion of `prompt` inside the lark `grammar` (llguidance syntax)."""
        ...

    def score(self, prompt: str, continuation: str) -> float:
        """Log-likelihood of `continuation` after `prompt`, unconstrained."""
        ...
