"""The transformers backend of LanguageModel (CPU by default)."""

from __future__ import annotations

import threading
import warnings
from collections.abc import Sequence

from webagent.errors import ModelError
from webagent.models.base import Generation
from webagent.models.constrained import Decoder, constrained_generate
from webagent.models.head import Head
from webagent.models.loading import DEFAULT_MODEL, load
from webagent.models.numerics import AUTO, DEFAULT_THREADS, resolve_dtype, set_threads
from webagent.models.prefix import DEFAULT_ENTRIES, PrefixCache

# transformers 5 renamed `past_key_values` to `cache`, and the new name changed prefix reuse's
# numerics here (tests/test_prefix.py): the old name stays, without a warning on every call.
warnings.filterwarnings("ignore", message=r"`past_key_values` is deprecated", category=FutureWarning)

DECODINGS = ("plain", "speculative", "smc")
DEFAULT_DRAFT_LAYERS = 4  # of SmolLM2-135M's 30: acceptance is flat in depth (results/decoding.json), cost is not


class TransformersModel:
    """A causal LM from transformers, decoding under llguidance grammars."""

    def __init__(
        self,
        model: str = DEFAULT_MODEL,
        *,
        adapter: str = "default",
        dtype: str = AUTO,
        threads: int = DEFAULT_THREADS,
        prefix_entries: int = DEFAULT_ENTRIES,
        version: str = "base",
        decoding: str = "plain",
        particles: int = 8,
        draft_model: str | None = None,
        draft_layers: int = DEFAULT_DRAFT_LAYERS,
        draft_k: int = 2,
    ) -> None:
        """`decoding`: plain (constrained, jump-forward), speculative (a draft proposes
        `draft_k` tokens per target pass: `draft_model` (a model with the same tokenizer,
        or "lookup" for prompt-lookup drafting), else the first `draft_layers` layers of
        this model) or smc (`particles` particles, agreement as confidence).
        `dtype` auto: bfloat16 where the CPU computes it natively, else float32
        (webagent.models.numerics); `threads` torch threads (0: torch's default);
        `prefix_entries` recent prompts whose KV cache plain decoding reuses (0: none);
        `adapter` the starting adapter merged into the weights (webagent.adapters)."""
        import llguidance.hf

        # Held while decoding or scoring, so the online tuner can swap in new
        # weights between two decisions, never in the middle of one.
        self.lock = threading.RLock()
        self.threads = set_threads(threads)
        self.dtype = resolve_dtype(dtype)
        self.name, self.tokenizer, self.model = load(model, dtype=self.dtype, adapter=adapter)
        self.prefix = PrefixCache(prefix_entries)
        self.version = f"{self.name}@{version}"
        vocab_size = self.model.get_output_embeddings().weight.shape[0]
        eos = self.tokenizer.eos_token_id
        self._decoder = Decoder(
            model=self.model,
            ll_tokenizer=llguidance.hf.from_tokenizer(self.tokenizer, n_vocab=vocab_size),
            eos_token_id=eos,
            vocab_size=vocab_size,
            head=Head.of(self.model),
        )
        self._draft = None  # a separate draft model or "lookup", when one is named
        self.draft_name: str | None = None
        if draft_model == "lookup":
            self.draft_name = self._draft = "lookup"
        elif draft_model:
            from webagent.models.draft import load_draft

            self.draft_name, self._draft = load_draft(draft_model, self.tokenizer, dtype=self.dtype)
        self._set_decoding(decoding, particles=particles, draft_layers=draft_layers, draft_k=draft_k)
        self._warm_up()

    def _set_decoding(
        self, decoding: str, *, particles: int, draft_layers: int, draft_k: int, jump_forward: bool = True
    ) -> None:
        if decoding not in DECODINGS:
            raise ModelError(f"unknown decoding {decoding!r}; choose one of {', '.join(DECODINGS)}")
        if decoding == "smc" and particles < 1:
            raise ModelError(f"SMC decoding needs at least one particle, not {particles}")
        if decoding == "speculative" and draft_k < 1:
            raise ModelError(f"speculative decoding needs draft_k >= 1, not {draft_k}")
        layers = len(getattr(getattr(self.model, "model", None), "layers", []))
        if decoding == "speculative" and self._draft is None and not 1 <= draft_layers < layers:
            raise ModelError(f"a self-draft needs 1 to {layers - 1} layers of {self.name}, not {draft_layers}")
        self.decoding = decoding
        self.particles = particles
        self.draft_layers = draft_layers
        self.draft_k = draft_k
        self.jump_forward = jump_forward  # plain only; off is the benchmark's baseline

    def with_decoding(self, decoding: str, **options) -> TransformersModel:
        """The same loaded weights (and lock) decoding another way: for comparisons
        without a second load. Options: particles, draft_layers, draft_k, jump_forward, and
        draft ("self": the layer-skipping self-draft; "lookup": prompt-lookup drafting)."""
        import copy

        other = copy.copy(self)
        draft = options.pop("draft", None)
        if draft in ("self", "lookup"):
            other._draft = other.draft_name = None if draft == "self" else "lookup"
        elif draft is not None:
            raise ModelError(f"with_decoding takes draft='self' or 'lookup', not {draft!r}")
        settings = {
            "particles": self.particles,
            "draft_layers": self.draft_layers,
            "draft_k": self.draft_k,
            "jump_forward": self.jump_forward,
        }
        other._set_decoding(decoding, **{**settings, **options})
        return other

    def weights_changed(self, version: str) -> None:
        """The weights were just replaced (under `lock`) by those of `version`: the
        cached prompt prefixes were computed with the old ones."""
        self.version = version
        self.prefix.clear()

    def _warm_up(self) -> None:
        """The first constrained decode is several times slower than the rest (the
        llguidance mask kernel is JIT-scripted on first use, the first forward
        passes select kernels); pay it at load, not in the agent's first step."""
        self.generate("Warm up. " * 40, 'start: "a" | "b" | "ab"\n', max_tokens=4)
        self.prefix.clear()

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
            if self.decoding == "speculative":
                _, generation = self._speculative(prompt, grammar, temperature, generator, max_tokens)
            elif self.decoding == "smc":
                from webagent.models.smc import smc_generate

                _, generation = smc_generate(
                    self._decoder,
                    self._encode(prompt),
                    grammar,
                    n_particles=self.particles,
                    temperature=temperature,
                    generator=generator or torch.Generator().manual_seed(seed if seed is not None else 0),
                    max_tokens=max_tokens,
                )
            else:
                _, generation = constrained_generate(
                    self._decoder,
                    self._encode(prompt),
                    grammar,
                    temperature=temperature,
                    generator=generator,
                    max_tokens=max_tokens,
                    jump_forward=self.jump_forward,
                    prefix=self.prefix,
                )
        return generation

    def _speculative(self, prompt: str, grammar: str, temperature: float, generator, max_tokens: int):
        from webagent.models.draft import self_draft
        from webagent.models.speculative import speculative_generate

        # Built per call (a shallow copy, microseconds) so it always wraps the live weights.
        shared = None if self._draft is not None else self.draft_layers
        draft = self._draft if self._draft is not None else self_draft(self._decoder.model, self.draft_layers)
        return speculative_generate(
            self._decoder,
            draft,
            self._encode(prompt),
            grammar,
            shared_layers=shared,
            k=self.draft_k,
            temperature=temperature,
            generator=generator,
            max_tokens=max_tokens,
            lookup_text=prompt,
            encode=self._encode,
        )

    def score(self, prompt: str, continuation: str) -> float:
        import torch

        prompt_ids = self._encode(prompt)
        cont_ids = self._encode(continuation)
        ids = torch.tensor([prompt_ids + cont_ids])
        with self.lock, torch.inference_mode():
            logits = self.model(input_ids=ids).logits[0, len(prompt_ids) - 1 : -1].float()
        logps = torch.log_softmax(logits, dim=-1)
        return float(logps.gather(1, torch.tensor(cont_ids)[:, None]).sum())
