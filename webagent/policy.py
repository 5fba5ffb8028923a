"""Choosing the next action: the model policy and two baselines.

Every policy sees the same thing (instruction, observation, ranked candidates,
history) and returns a Decision, so the agent loop, the store and the
benchmarks treat them alike.
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Protocol

from webagent.actions import BASIC_VERBS, Action, action_grammar, page_texts, parse_action, verb_descriptions
from webagent.browser.observation import Element, Observation
from webagent.candidates import Candidate, quoted_values, tokenize, untyped_values
from webagent.memory import relabel
from webagent.models.base import Generation, LanguageModel
from webagent.passages import is_question, passages
from webagent.secrets import instruction_passwords
from webagent.templates import render


@dataclass(frozen=True)
class Decision:
    action: Action
    confidence: float
    raw_output: str = ""
    prompt: str = ""
    generation: Generation | None = None
    decide_seconds: float = 0.0
    exemplars: tuple = ()  # the memory exemplars shown in the prompt
    policy_confidence: float | None = None  # the policy's own, when a critic changed `confidence`
    critic: float | None = None  # the critic's P(right) for this action (webagent.critic)
    agreement: float | None = None  # the share of annotators that chose this action (webagent.agreement)


class Policy(Protocol):
    """What the loop, the store and the teacher need from a policy; `BasePolicy`
    gives the defaults, so no caller has to probe a policy for what it has."""

    name: str
    model: LanguageModel | None  # the language model deciding, if any
    memory: object | None  # webagent.memory.ExemplarMemory whose exemplars it shows, if any

    @property
    def version(self) -> str:
        """The model version that made a decision (the policy's name without a model)."""
        ...

    def describe(self) -> dict:
        """Name, version and settings, for the run record."""
        ...

    def prompt(
        self,
        instruction: str,
        observation: Observation,
        candidates: Sequence[Candidate],
        history: Sequence[Action],
        exemplars: Sequence | None = None,
    ) -> str:
        """The prompt a decision on this state reads ("" for policies without one)."""
        ...

    def decide(
        self,
        instruction: str,
        observation: Observation,
        candidates: Sequence[Candidate],
        history: Sequence[Action],
        seed: int,
    ) -> Decision: ...


class BasePolicy:
    """Defaults of the `Policy` interface for policies without a model or a prompt."""

    name = "policy"
    model: LanguageModel | None = None
    memory = None
    config = None  # a frozen dataclass of settings, when the policy has any

    @property
    def version(self) -> str:
        return self.model.version if self.model is not None else self.name

    def describe(self) -> dict:
        config = asdict(self.config) if self.config is not None else {}
        return {"name": self.name, "version": self.version, "config": config}

    def prompt(self, instruction, observation, candidates, history, exemplars=None) -> str:
        return ""


class WrappingPolicy:
    """A policy in front of another (`inner`): a subclass decides, and may ask `inner`;
    everything else (name, model, memory, config, version, prompt, description) is the
    inner policy's, so the loop, the store and the learner treat the two as one policy.
    Subclasses add their own part to `describe`."""

    def __init__(self, inner: Policy) -> None:
        self.inner = inner
        self.name = inner.name
        self.model = inner.model
        self.memory = inner.memory
        self.config = getattr(inner, "config", None)

    @property
    def version(self) -> str:
        return self.inner.version

    def describe(self) -> dict:
        return self.inner.describe()

    def prompt(self, instruction, observation, candidates, history, exemplars=None) -> str:
        return self.inner.prompt(instruction, observation, candidates, history, exemplars)


GUARD_CHECKS = 3  # other confirmed steps of its task an exemplar is checked against


@dataclass(frozen=True)
class ModelPolicyConfig:
    temperature: float = 0.0
    max_tokens: int = 96
    shots: int = 3  # exemplars retrieved from memory into the prompt (when there is a memory)
    relabel: bool = True  # show the exemplars' element ids as a, b, c (webagent.memory.relabel)
    guard: bool = False  # keep out exemplars that make other confirmed steps of their task less likely
    prompt: str = "auto"  # how shown elements are written: auto (rich on real sites) | plain | rich
    type_from_instruction: bool = True  # TYPE may only type spans of the instruction
    max_span_words: int = 6


def instruction_spans(instruction: str, max_words: int = 6) -> list[str]:
    """What the agent may type: the instruction's quoted values first, then every
    run of up to `max_words` words (trimmed of surrounding punctuation). Values
    then come from where the person wrote them, never from other episodes."""
    spans = list(quoted_values(instruction))
    words = [w.strip(".,;:!?()'\"") for w in instruction.split()]
    for start in range(len(words)):
        for end in range(start + 1, min(start + max_words, len(words)) + 1):
            span = " ".join(w for w in words[start:end] if w)
            if span:
                spans.append(span)
    return list(dict.fromkeys(spans))


def typing_texts(instruction: str, history: Sequence[Action], max_words: int = 6) -> list[str]:
    """What TYPE may type this step: while a quoted value of the instruction is still
    untyped, only the task's values not typed yet, its quoted strings and numbers
    (asked to search for "service", the agent does not type "documentation"; asked to
    change the year of "X" to 1954, it may type 1954; having typed the year, it does
    not type it again into the next field); then any span of the instruction (a
    value typed twice, one written without quotes)."""
    pending = untyped_values(instruction, [a.to_dsl() for a in history])
    if any(q in pending for q in quoted_values(instruction)):
        return pending
    return instruction_spans(instruction, max_words)


def retrieval_query(instruction: str, history: Sequence[Action], candidates: Sequence[Candidate]) -> str:
    """What memory retrieval embeds: the task, how far along it is, and the page's top elements."""
    done = " ".join(a.verb for a in history) or "nothing yet"
    top = "; ".join(c.element.describe() for c in candidates[:3])
    return f"{instruction}\ndone: {done}\n{top}"


def state_text(
    instruction: str,
    observation: Observation,
    candidates: Sequence[Candidate],
    history: Sequence[Action],
    prompt: str = "auto",
) -> str:
    """The user turn of a step's prompt: the task, the page (on real sites: where the
    agent is matters there; MiniWoB++ prompts stay as measured), the actions so far,
    what happened that the page does not show, the shown elements (on real sites
    with their roles, link targets, landmarks, headings and whether they are off
    screen: `Element.line()`; on MiniWoB++ as `Element.describe()`), and, where the
    task asks a question on a real site, the page text the answer may be read from
    (webagent.passages). `prompt` overrides that choice (plain | rich; a variant
    `webagent optimize` searches)."""
    real_site = "STOP" in observation.verbs
    rich = real_site if prompt == "auto" else prompt == "rich"
    return render(
        "step.jinja",
        instruction=instruction,
        page=(observation.title, observation.url) if rich else None,
        rich=rich,
        events=observation.events,
        history=[a.to_dsl() for a in history],
        last_error=observation.last_error,
        candidates=candidates,
        passages=passages(instruction, observation.elements) if rich and is_question(instruction) else (),
    )


class ModelPolicy(BasePolicy):
    """The language model picks the action through the per-step grammar, with
    the nearest confirmed exemplars from memory as demonstrations."""

    name = "model"

    def __init__(self, model: LanguageModel, config: ModelPolicyConfig | None = None, memory=None) -> None:
        self.model = model
        self.config = config or ModelPolicyConfig()
        self.memory = memory  # webagent.memory.ExemplarMemory or None
        self._verdicts: dict[str, bool] = {}  # the memory guard's, by exemplar key

    def exemplars(
        self,
        instruction: str,
        candidates: Sequence[Candidate],
        history: Sequence[Action],
        verbs: Sequence[str] = BASIC_VERBS,
    ) -> list:
        """The nearest exemplars, those at the same point of a trajectory (the same
        verbs done so far) first: instructions of one task differ mostly in their
        values, so plain similarity cannot tell step 2 of a login from step 3.
        With the guard on, exemplars it finds harmful are left out."""
        return self.exemplar_pool(instruction, candidates, history, verbs)[: self.config.shots]

    def exemplar_pool(
        self,
        instruction: str,
        candidates: Sequence[Candidate],
        history: Sequence[Action],
        verbs: Sequence[str] = BASIC_VERBS,
    ) -> list:
        """The exemplars the shown ones are the first of: up to 4x `shots` nearest,
        ordered as `exemplars` explains (the annotators of webagent.agreement draw theirs from it)."""
        if self.memory is None or self.config.shots <= 0:
            return []
        query = retrieval_query(instruction, history, candidates)
        nearest = self.memory.retrieve(query, self.config.shots * 4)
        progress = query.split("\n")[1]
        nearest.sort(key=lambda e: e.query.split("\n")[1:2] != [progress])  # stable: similarity order within
        if self.config.guard:
            nearest = [e for e in nearest if self._helps(e, verbs)]
        return nearest

    def _helps(self, exemplar, verbs: Sequence[str]) -> bool:
        """The memory guard, leave-one-out: shown as the only demonstration, does
        `exemplar` make the confirmed outputs of GUARD_CHECKS other steps of its task
        more likely (on average, in log-probability) than no demonstration? Memory's
        failure on these tasks is a demonstration the model copies where it does not
        apply; this keeps those out. Until its task has enough other steps it is let
        in and judged again later; once judged, the verdict is kept."""
        verdicts = self._verdicts
        if exemplar.key in verdicts:
            return verdicts[exemplar.key]
        others = [e for e in self.memory.of_task(exemplar.task) if e.key != exemplar.key]
        if len(others) < GUARD_CHECKS:
            return True
        system = {"role": "system", "content": render("system.jinja", verbs=verb_descriptions(verbs))}
        shown = relabel(*exemplar.pair) if self.config.relabel else exemplar.pair
        demo = [{"role": "user", "content": shown[0]}, {"role": "assistant", "content": shown[1]}]
        gain = 0.0
        for check in others[-GUARD_CHECKS:]:
            question = {"role": "user", "content": check.context}
            with_it = self.model.score(self.model.format_chat([system, *demo, question]), check.output)
            without = self.model.score(self.model.format_chat([system, question]), check.output)
            gain += with_it - without
        verdicts[exemplar.key] = gain >= 0
        return verdicts[exemplar.key]

    def prompt(
        self,
        instruction: str,
        observation: Observation,
        candidates: Sequence[Candidate],
        history: Sequence[Action],
        exemplars: Sequence | None = None,
    ) -> str:
        if exemplars is None:
            exemplars = self.exemplars(instruction, candidates, history, observation.verbs)
        messages = [{"role": "system", "content": render("system.jinja", verbs=verb_descriptions(observation.verbs))}]
        for exemplar in reversed(exemplars):  # the most similar one sits right before the question
            context, output = relabel(exemplar.context, exemplar.output) if self.config.relabel else exemplar.pair
            messages += [{"role": "user", "content": context}, {"role": "assistant", "content": output}]
        messages.append(
            {"role": "user", "content": state_text(instruction, observation, candidates, history, self.config.prompt)}
        )
        return self.model.format_chat(messages)

    def grammar(
        self,
        instruction: str,
        candidates: Sequence[Candidate],
        observation: Observation | None = None,
        history: Sequence[Action] = (),
    ) -> str:
        texts = None
        if self.config.type_from_instruction:
            texts = typing_texts(instruction, history, self.config.max_span_words)
        verbs = observation.verbs if observation is not None else BASIC_VERBS
        secrets = instruction_passwords(instruction)  # masked: the placeholders
        if password_pending(secrets, [c.element for c in candidates], history):
            verbs = tuple(v for v in verbs if v != "STOP")
        answerable = "STOP" in verbs and observation is not None
        return action_grammar(
            [c.element for c in candidates],
            texts=texts,
            secret_texts=secrets,
            task=instruction,
            verbs=verbs,
            page_texts=page_texts(observation.elements, quoted_values(instruction)) if answerable else (),
            answer_required=is_question(instruction),
        )

    def decide(self, instruction, observation, candidates, history, seed) -> Decision:
        start = time.perf_counter()
        exemplars = self.exemplars(instruction, candidates, history, observation.verbs)
        prompt = self.prompt(instruction, observation, candidates, history, exemplars)
        generation = self.model.generate(
            prompt,
            self.grammar(instruction, candidates, observation, history),
            temperature=self.config.temperature,
            seed=seed,
            max_tokens=self.config.max_tokens,
        )
        action = parse_action(generation.text, [c.element for c in candidates])
        return Decision(
            action=action,
            confidence=generation.confidence,
            raw_output=generation.text,
            prompt=prompt,
            generation=generation,
            decide_seconds=time.perf_counter() - start,
            exemplars=tuple(exemplars),
        )


def password_pending(secrets: Sequence[str], elements: Sequence[Element], history: Sequence[Action]) -> bool:
    """Whether the task gave a password that is not typed yet while a password field
    is shown: then the task cannot be done, and STOP is not offered (a password is
    given only to be typed; the model stopped after the username)."""
    typed = {a.argument for a in history if a.verb == "TYPE"}
    untyped = [s for s in secrets if s.strip() and s not in typed]
    return bool(untyped) and any(el.editable and el.input_type == "password" for el in elements)


# -- baselines -------------------------------------------------------------

_ASKS_TO_TYPE = re.compile(r"\b(enter|type|fill|write|search|input)\b", re.IGNORECASE)


def rule_action(element: Element, instruction: str, history: Sequence[Action]) -> Action:
    """The obvious action for an element: type the next quoted value, pick the
    option that best matches the instruction, or click."""
    if element.is_select:
        words = set(tokenize(instruction))
        best = max(element.options, key=lambda o: len(words & set(tokenize(o))))
        return Action("SELECT", element.id, best)
    if element.editable:
        values = quoted_values(instruction)
        typed = sum(1 for a in history if a.verb == "TYPE")
        value = values[typed] if typed < len(values) else (values[-1] if values else instruction.split()[-1])
        return Action("TYPE", element.id, value[:80])
    return Action("CLICK", element.id)


class RankerTopPolicy(BasePolicy):
    """The best-ranked candidate not acted on yet, with the value rule; while the
    instruction asks to type and still has quoted values, the best-ranked text field first."""

    name = "ranker-top1"

    def decide(self, instruction, observation, candidates, history, seed) -> Decision:
        done = {a.element_id for a in history}
        fresh = [c for c in candidates if c.id not in done] or list(candidates)
        typed = sum(1 for a in history if a.verb == "TYPE")
        if typed < len(quoted_values(instruction)) and _ASKS_TO_TYPE.search(instruction):
            fresh = [c for c in fresh if c.element.editable] or fresh
        return Decision(action=rule_action(fresh[0].element, instruction, history), confidence=1.0)


class RandomPolicy(BasePolicy):
    """A uniformly random candidate, with the value rule."""

    name = "random"

    def decide(self, instruction, observation, candidates, history, seed) -> Decision:
        choice = random.Random(seed).choice(list(candidates))
        return Decision(action=rule_action(choice.element, instruction, history), confidence=1.0 / len(candidates))


class FunctionPolicy(BasePolicy):
    """Any function (instruction, observation, history) -> Action as a policy:
    used for the MiniWoB++ oracles, which stand in for a person."""

    def __init__(self, name: str, fn) -> None:
        self.name = name
        self.fn = fn

    def decide(self, instruction, observation, candidates, history, seed) -> Decision:
        return Decision(action=self.fn(instruction, observation, tuple(history)), confidence=1.0)
