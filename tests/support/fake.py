"""A scripted model for unit tests of loop logic. Never what a feature rests on."""

from __future__ import annotations

from collections.abc import Sequence

from webagent.models.base import Generation


class ScriptedModel:
    """Replies with the given texts in turn (the grammar is not consulted)."""

    name = "scripted"
    version = "scripted@0"

    def __init__(self, replies: Sequence[str]) -> None:
        self._replies = list(replies)
        self.prompts: list[str] = []

    def format_chat(self, messages: Sequence[dict[str, str]]) -> str:
        return "\n".join(f"{m['role']}: {m['content']}" for m in messages) + "\nassistant: "

    def generate(self, prompt: str, grammar: str, *, temperature: float = 0.0, seed=None, max_tokens: int = 96):
        self.prompts.append(prompt)
        text = self._replies.pop(0) if len(self._replies) > 1 else self._replies[0]
        return Generation(text=text, logprob=0.0, tokens=len(text.split()), forced_tokens=0, forward_calls=1)

    def score(self, prompt: str, continuation: str) -> float:
        return 0.0
