"""The transformers backend of LanguageModel (CPU by default)."""

from __future__ import annotations

import threading
from collections.abc import Sequence

from webagent.models.base import Generation
from webagent.models.constrained import Decoder, constrained_generate
from webagent.models.loading import DEFAULT_MODEL, load


class TransformersModel:
    """A causal LM from transformers, decoding under llguidance grammars."""

    def __init__(self, model: str = DEFAULT_MODEL, *, dtype: str = "float32", version: str = "base") -> None:
        import llguidance.hf

        # Held while decoding or scoring, so the online tuner can swap in new
        # weights between two decisions, never in the middle of one.
        self.lock = threading.RLock()
        self.name, self.tokenizer, self.model = load(model, dtype=dtype)
        self.version = f"{self.name}@{version}"
        vocab_size = self.model.get_output_embeddings().weight.shape[0]
        eos = self.tokenizer.eos_token_id
        self._decoder = Decoder(
            model=self.model,
            ll_tokenizer=llguidance.hf.from_tokenizer(self.tokenizer, n_vocab=vocab_size),
            eos_token_id=eos,
            vocab_size=vocab_size,
        )
        self._warm_up()

    def _warm_up(self) -> None:
        """The first constrained decode is several times slower than the rest (the
        llguidance mask kernel is JIT-scripted on first use, the first forward
        passes select kernels); pay it at load, not in the agent's first step."""
        self.generate("Warm up. " * 40, 'start: "a" | "b" | "ab"\n', max_tokens=4)

    def format_chat(self, messages: Sequence[dict[str, str]]) -> str:
        if self.tokenizer.chat_template:
            return self.tokenizer.apply_chat_template(list(messages), tokenize=False, add_generation_prompt=True)
        return "\n\n".join(m["content"] for m in messages) + "\n\n"

    def _encode(self, text: str) -> list[int]:
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]

    def generate(
        self, prompt: str, grammar: str, *, temperature: float = 0.0, seed: int | None = None, max_tokens: int = 96
    ) -> Generation:
        import torch

        generator = None
        if temperature > 0:
            generator = torch.Generator().manual_seed(seed if seed is not None else 0)
        with self.lock:
            _, generation = constrained_generate(
                self._decoder,
                self._encode(prompt),
                grammar,
                temperature=temperature,
                generator=generator,
                max_tokens=max_tokens,
            )
        return generation

    def score(self, prompt: str, continuation: str) -> float:
        import torch

        prompt_ids = self._encode(prompt)
        cont_ids = self._encode(continuation)
        ids = torch.tensor([prompt_ids + cont_ids])
        with self.lock, torch.inference_mode():
            logits = self.model(input_ids=ids).logits[0, len(prompt_ids) - 1 : -1].float()
        logps = torch.log_softmax(logits, dim=-1)
        return float(logps.gather(1, torch.tensor(cont_ids)[:, None]).sum())
