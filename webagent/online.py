"""`Online(schema, model)`: schema-constrained generation that learns from feedback.

    agent = Online(JSON_SCHEMA, model="default")
    out = agent.generate("Extract the person: Bob is 42.")   # a dict that matches the schema
    agent.feedback(good=True)                                 # or feedback(correct={...})

It is the web agent's mechanism with a JSON schema in place of the action DSL:
llguidance keeps every output valid, and feedback goes through the same
`Learner` into the same store, exemplar memory and online tuner.
"""

from __future__ import annotations

import hashlib
import json
import weakref
from dataclasses import dataclass
from typing import Any

from webagent.errors import GrammarError, WebAgentError
from webagent.feedback import Learner, Lesson
from webagent.kinds import Source, TuneMethod, parse
from webagent.memory import Exemplar, ExemplarMemory
from webagent.models.base import Generation, LanguageModel
from webagent.settings import ACTIVE_VERSION, ModelSettings, TunerSettings
from webagent.store import Store
from webagent.templates import render


@dataclass(frozen=True, eq=False)
class OnlineOutput:
    """The last generation, kept so feedback knows what it is about."""

    prompt: str  # the user's request
    full_prompt: str  # the chat prompt the model saw (training input)
    text: str
    value: Any
    generation: Generation


def schema_grammar(schema: dict) -> str:
    """A lark grammar (llguidance) whose language is the JSON values matching `schema`, compact."""
    guided = {**schema, "x-guidance": {"whitespace_flexible": False, **schema.get("x-guidance", {})}}
    return f"start: %json {json.dumps(guided)}\n"


class Online:
    """Schema-constrained generation with memory and online tuning from feedback."""

    def __init__(
        self,
        schema: dict | str,
        model: str | LanguageModel = "default",
        *,
        store: Store | None = None,
        memory: bool = True,
        shots: int = 3,
        tune: str = "none",
        embedder=None,
        max_tokens: int = 256,
    ) -> None:
        from webagent.assembly import load_model, make_tuner, put_version
        from webagent.learning.tuner import DEFAULT_PARAM_SET

        try:
            self.schema = json.loads(schema) if isinstance(schema, str) else dict(schema)
        except json.JSONDecodeError as exc:
            raise GrammarError(f"the schema is not JSON: {exc}") from None
        if not isinstance(self.schema, dict):
            raise GrammarError("the schema must be a JSON object")
        self.grammar = schema_grammar(self.schema)
        tune = parse(TuneMethod, tune, "tuning method")
        self.store = store if store is not None else Store()
        loaded = isinstance(model, str)
        if loaded:
            from webagent.learning.versions import resolve_version
            from webagent.models.loading import loaded_name

            # The raw model: the packaged adapter knows the web agent's actions, not your schema.
            settings = ModelSettings(name=model, adapter="none")
            stored = resolve_version(self.store, loaded_name(model, settings.adapter), ACTIVE_VERSION)
            model = load_model(settings, tuned=tune != TuneMethod.NONE or stored is not None)
        self.model = model
        self.namespace = "online:" + hashlib.sha1(json.dumps(self.schema, sort_keys=True).encode()).hexdigest()[:12]
        self.memory = None
        if memory:
            from webagent.embeddings import Embedder

            self.memory = ExemplarMemory(self.store, embedder or Embedder(), namespace=self.namespace)
        # not the agent's decision head: an output here is JSON, not a choice among elements
        generic = TunerSettings(method=tune, param_set=DEFAULT_PARAM_SET)
        self.tuner = make_tuner(model, self.store, generic) if tune != TuneMethod.NONE else None
        if loaded:  # decide with what tuning learned, as every command does
            put_version(model, self.store, ACTIVE_VERSION, self.tuner)
        self.learner = Learner(self.store, self.memory, self.tuner)
        self.shots = shots
        self.max_tokens = max_tokens
        self.last: OnlineOutput | None = None
        self._judged: weakref.WeakSet[OnlineOutput] = weakref.WeakSet()  # the outputs feedback was given on

    def _prompt(self, prompt: str) -> str:
        system = render("online_system.jinja", schema=json.dumps(self.schema))
        messages = [{"role": "system", "content": system}]
        if self.memory is not None and self.shots > 0:
            for exemplar in reversed(self.memory.retrieve(prompt, self.shots)):
                messages += [
                    {"role": "user", "content": exemplar.context},
                    {"role": "assistant", "content": exemplar.output},
                ]
        messages.append({"role": "user", "content": prompt})
        return self.model.format_chat(messages)

    def generate(self, prompt: str, *, temperature: float = 0.0, seed: int | None = None) -> Any:
        """A value that matches the schema (by construction of the grammar)."""
        full_prompt = self._prompt(prompt)
        generation = self.model.generate(
            full_prompt, self.grammar, temperature=temperature, seed=seed, max_tokens=self.max_tokens
        )
        try:
            value = json.loads(generation.text)
        except json.JSONDecodeError as exc:
            raise GrammarError(f"generation stopped before the JSON was complete: {generation.text!r}") from exc
        self.last = OnlineOutput(prompt, full_prompt, generation.text, value, generation)
        return value

    def feedback(self, good: bool | None = None, *, correct: Any = None) -> None:
        """Judge the last output: good=True confirms it, good=False rejects it,
        correct=value names the right output (it must match the schema)."""
        if self.last is None:
            raise WebAgentError("feedback() needs a generate() first")
        self.judge(self.last, good, correct=correct)

    def judge(self, output: OnlineOutput, good: bool | None = None, *, correct: Any = None) -> None:
        """Judge one earlier output (as `feedback` does the last), once."""
        if output in self._judged:
            raise WebAgentError("this output was judged already: one feedback() per generate()")
        if (good is None) == (correct is None):
            raise WebAgentError("give exactly one of good=True/False or correct=...")
        if correct is not None:
            kind, text = "correct", self._valid(correct)
        else:
            kind, text = ("confirm", output.text) if good else ("reject", "")
        exemplar = Exemplar(query=output.prompt, context=output.prompt, output=text) if kind != "reject" else None
        self.learner.learn(
            Lesson(
                kind=kind,
                proposed=output.text,
                output=text,
                prompt=output.full_prompt,
                exemplar=exemplar,
                source=Source.API,
            )
        )
        self._judged.add(output)

    def _valid(self, value: Any) -> str:
        """The correction as the model would write it, checked against the schema's grammar."""
        import llguidance

        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
        tokenizer = getattr(self.model, "_decoder", None)
        if tokenizer is not None:
            matcher = llguidance.LLMatcher(tokenizer.ll_tokenizer, llguidance.LLMatcher.grammar_from_lark(self.grammar))
            tokens = self.model.tokenizer(text, add_special_tokens=False)["input_ids"]
            if not (matcher.consume_tokens(tokens) and matcher.is_accepting()):
                raise GrammarError(f"the correction {text} does not match the schema")
        return text
