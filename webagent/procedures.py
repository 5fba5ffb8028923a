"""Procedures: what one supervised episode teaches about every task worded the same way.

Exemplar memory shows a 135M model earlier decisions and leaves the rest to it;
on a task it has been shown ten times it can still pick the wrong element. But
the tasks a person supervises come in families worded alike with other values
("Open the page of the package quick-cache." / "… stone-router."), and the
confirmed episode of one is the solution of the others once its values are
swapped (after Agent Workflow Memory, arXiv 2409.07429, with the values found
by comparing two wordings instead of by a model). So every successful
supervised episode is kept as a workflow (`webagent.workflows`: each step's
verb, argument and what its element *is*), and a new instruction reuses it when
the two differ only in values:

    slots("Sort the books by title.", "Sort the books by author.")  ->  {"title": "author"}

The values are swapped into the steps' arguments and targets (matching case, so
"Title" becomes "Author"); a target whose words changed loses the identifying
fields that did not (its old link or `id` would point at the old value). Step k
of the new episode (counting only the actions that worked) is then the
procedure's step k, located on the page (as a workflow locates it; failing that,
as the element of its kind whose text holds the new values, or from the text
near it that names what was asked, `workflows.Anchor`; a text that began or
ended with a value, by the new values in the same places; a step that opened
what held the asked element, hidden, as what holds the new one; where a value
named the element's kind (its tag, role or input type), as an element of the new
kind; a STOP answer is read again where the recorded one was) — only where that
is sound: the element must not be one the supervisor just rejected, nor the
action one that just failed (it
may lie below the ranker's cut: the page is searched, not the shown candidates),
a typed value must be one the new instruction allows (values never come from
another episode), a chosen option must be the element's, and a STOP answer must
be on the page. Anything else, and every step past the procedure's end, is
decided by the model, as it would decide without procedures; a step whose target
was not found is offered to it with only that step's verb and the candidates of
the target's kind that the verb can act on (unless what was asked is on the
page but hidden: then its revealer, `candidates.revealers`, is not of that kind,
and the model sees every candidate). A proposal is sure (confidence 1.0) only of
an element that says what the recorded one said, or is the only one of the
asked kind (`UNSURE` otherwise).

Procedures are read from the store (successful episodes that a supervisor
confirmed or corrected steps of) and grow as supervised episodes succeed; they
are memory, so `--no-memory` (zero-shot) leaves them out.
"""

from __future__ import annotations

import contextlib
import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass, fields, replace

from webagent.actions import VERBS, Action, changes_nothing, page_texts
from webagent.agent import EpisodeContext, EpisodeResult, Observer
from webagent.browser.observation import Element, Observation
from webagent.candidates import Candidate, revealers
from webagent.errors import DataError
from webagent.kinds import Outcome
from webagent.policy import Decision, Policy, WrappingPolicy, instruction_spans
from webagent.secrets import PLACEHOLDER
from webagent.store import Store
from webagent.workflows import (
    Anchor,
    Target,
    Workflow,
    WorkflowStep,
    follow,
    from_steps,
    locate,
    read_answer,
)

_TOKEN = re.compile(rf"{PLACEHOLDER}|\w(?:[\w/@.:'-]*\w)?|[^\w\s]")  # a secret's {{NAME}} is one word
FIXED_SHARE = 0.5  # at least this share of an instruction's tokens must be the same words in both
LOADED = 500  # the latest successful supervised episodes read from the store
UNSURE = 0.9  # a proposal's confidence when its element says something else than the recorded one


def slots(recorded: str, new: str) -> dict[str, str] | None:
    """The values `new` has where `recorded` has others, when the two instructions
    differ only in them (the same words in the same order around them); else None.
    A value is a run of differing words; a run that adds or drops punctuation (a
    list of three items against one of two) is not a value but another wording."""
    a_spans = [(m.start(), m.end()) for m in _TOKEN.finditer(recorded)]
    b_spans = [(m.start(), m.end()) for m in _TOKEN.finditer(new)]
    a = [recorded[s:e] for s, e in a_spans]
    b = [new[s:e] for s, e in b_spans]
    if not a or not b:
        return None
    opcodes = difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes()
    fixed = sum(i2 - i1 for op, i1, i2, _, _ in opcodes if op == "equal")
    if fixed < FIXED_SHARE * max(len(a), len(b)):
        return None
    mapping: dict[str, str] = {}
    for op, i1, i2, j1, j2 in opcodes:
        if op == "equal":
            continue
        if op != "replace" or _punctuation(a[i1:i2]) != _punctuation(b[j1:j2]):
            return None
        old = recorded[a_spans[i1][0] : a_spans[i2 - 1][1]]
        value = new[b_spans[j1][0] : b_spans[j2 - 1][1]]
        if mapping.setdefault(old, value) != value:
            return None
    return mapping


def _punctuation(tokens: Sequence[str]) -> list[str]:
    return [t for t in tokens if len(t) == 1 and not t.isalnum() and t != "_"]


def swap(text: str, mapping: dict[str, str]) -> str:
    """`text` with each old value (a whole word or words, any case) replaced by its new
    one, in the case the text wrote it (Title -> Author, TITLE -> AUTHOR)."""
    if not text or not mapping:
        return text
    lower = {old.lower(): value for old, value in mapping.items()}
    alternatives = "|".join(re.escape(old) for old in sorted(mapping, key=len, reverse=True))
    pattern = re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)", re.IGNORECASE)

    def cased(match: re.Match[str]) -> str:
        found, value = match.group(0), lower[match.group(0).lower()]
        if found in mapping:  # written as the instruction writes it
            return mapping[found]
        if found.isupper() and len(found) > 1:
            return value.upper()
        if found.islower():  # a class or a path writes the value in lower case: span.like -> span.retweet
            return value.lower()
        if found[:1].isupper() and value[:1].islower():
            return value[:1].upper() + value[1:]
        return value

    return pattern.sub(cased, text)


def _swap_target(target: Target, mapping: dict[str, str]) -> Target:
    changed = {f.name: swap(getattr(target, f.name), mapping) for f in fields(Target) if f.name != "tag"}
    moved = {name for name, value in changed.items() if value != getattr(target, name)}
    if moved & {"text", "label"}:  # another value's element: its link, id and name still name the old one
        changed.update({name: "" for name in ("href", "dom_id", "name") if name not in moved})
    return replace(target, **changed)


def _swap_anchor(anchor: Anchor | None, mapping: dict[str, str]) -> Anchor | None:
    return replace(anchor, target=_swap_target(anchor.target, mapping)) if anchor is not None else None


def instantiate(workflow: Workflow, mapping: dict[str, str]) -> Workflow:
    """The workflow with its values swapped for `mapping`'s (see `swap`)."""
    steps = tuple(
        WorkflowStep(
            step.verb,
            swap(step.argument, mapping) if step.argument is not None else None,
            _swap_target(step.target, mapping) if step.target is not None else None,
            _swap_anchor(step.answer, mapping),
            _swap_anchor(step.near, mapping),
            step.reveals,
        )
        for step in workflow.steps
    )
    return replace(workflow, steps=steps)


@dataclass(frozen=True)
class Procedure:
    """A stored workflow made for a new instruction: its values, and the steps with them swapped in."""

    workflow: Workflow  # as recorded
    mapping: dict[str, str]
    steps: tuple[WorkflowStep, ...]

    @property
    def swapped_words(self) -> int:
        return sum(len(old.split()) for old in self.mapping)

    @property
    def settings(self) -> int:
        """Steps that set a value (type or select): the page shows when they are done."""
        return sum(step.verb in ("TYPE", "SELECT") for step in self.steps)


class ProcedureMemory(Observer):
    """The procedures of a store: loaded at start, grown by every supervised episode
    that succeeds (as an observer of the supervised agent: evaluation episodes teach nothing)."""

    def __init__(self, store: Store | None = None, *, limit: int = LOADED) -> None:
        self.store = store
        self.workflows: list[Workflow] = []
        self._keys: set[tuple] = set()
        if store is not None:
            for episode_id in store.supervised_successes(limit=limit):
                row = store.episode(episode_id)
                try:
                    self.add(from_steps(row["instruction"], store.steps(episode_id), source=f"episode {episode_id}"))
                except DataError:  # recorded before steps said what they acted on
                    continue

    def __len__(self) -> int:
        return len(self.workflows)

    def add(self, workflow: Workflow) -> None:
        key = (workflow.instruction, tuple((s.verb, s.argument, s.target, s.reveals) for s in workflow.steps))
        if key not in self._keys:
            self._keys.add(key)
            self.workflows.append(workflow)

    def find(self, instruction: str) -> list[Procedure]:
        """Every stored workflow whose instruction differs from `instruction` only in
        values, made for it: fewest swapped words first, then most steps that set a
        value, then the latest. A step that sets a value is passed over where the page
        already holds it (`_next_step`), so the procedure with it is right wherever one
        recorded without it was (choose-list: an episode whose list showed the option
        already taught "click Submit" alone, and was proposed on every later seed)."""
        found = []
        for workflow in reversed(self.workflows):
            mapping = slots(workflow.instruction, instruction)
            if mapping is not None:
                found.append(Procedure(workflow, mapping, instantiate(workflow, mapping).steps))
        return sorted(found, key=lambda p: (p.swapped_words, -p.settings))  # stable: the latest first among equals

    def episode_done(self, context: EpisodeContext, result: EpisodeResult) -> None:
        if result.outcome != Outcome.SUCCESS or not result.steps:
            return
        rows = [s.row(context.seed, context.instruction) for s in result.steps]  # as the store has them
        with contextlib.suppress(DataError):  # no step ran without error: nothing to repeat
            self.add(from_steps(context.instruction, rows, source=f"episode {context.episode_id}"))


class ProcedurePolicy(WrappingPolicy):
    """Step k as the best procedure's step k where that is sound (module docstring); else `fallback` (`inner`)."""

    def __init__(self, procedures: ProcedureMemory, fallback: Policy) -> None:
        super().__init__(fallback)
        self.name = "procedure"
        self.procedures = procedures
        self._found: tuple[str, list[Procedure]] = ("", [])
        self._proposed: tuple[Observation | None, list[Action]] = (None, [])  # on this page, since rejected
        self._failed = 0  # actions of this episode that failed: a procedure records none

    def describe(self) -> dict:
        return {**super().describe(), "procedures": len(self.procedures)}

    def decide(
        self,
        instruction: str,
        observation: Observation,
        candidates: Sequence[Candidate],
        history: Sequence[Action],
        seed: int,
    ) -> Decision:
        if self._found[0] != instruction or not history:  # a new episode looks them up again
            self._found = (instruction, self.procedures.find(instruction))
            self._failed = 0
        if self._proposed[0] is not observation:  # the loop asks again on the same page after a rejection
            failed = bool(history and observation.last_error)
            self._proposed = (observation, [history[-1]] if failed else [])  # what failed is not proposed again
            self._failed += failed
        rejected = self._proposed[1]
        # Step k of a procedure is the k-th action that worked: a workflow keeps no failed
        # action (use-autocomplete: after a click on a covered Submit, the procedure's
        # Submit was proposed in place of the suggestion the step before it picks).
        index = len(history) - self._failed
        narrowed = None
        for procedure in self._found[1]:
            step, action, why = _next_step(procedure, index, instruction, observation)
            if step is None:
                continue
            if action is not None and action not in rejected:
                rejected.append(action)
                source = procedure.workflow.source
                element = observation.find(action.element_id or "")
                sure = _says_what_it_said(step, element, procedure.mapping, observation)
                confidence = 1.0 if sure else UNSURE
                return Decision(action, confidence, raw_output=action.to_dsl(), prompt=f"procedure of {source}: {why}")
            if narrowed is None and step.target is not None and step.verb in observation.verbs:
                narrowed = step
        if narrowed is not None and revealers(instruction, observation):
            narrowed = None  # what was asked is hidden: what reveals it is not of the step's kind
        shown = narrowed.offered(candidates) if narrowed is not None else []
        if shown:  # the step is known, its element is not: the model picks among that kind
            return self.inner.decide(instruction, replace(observation, verbs=(narrowed.verb,)), shown, history, seed)
        return self.inner.decide(instruction, observation, candidates, history, seed)


def _says_what_it_said(
    step: WorkflowStep, element: Element | None, mapping: dict[str, str], observation: Observation
) -> bool:
    """Whether the element a CLICK step found says what the recorded one said (the same
    words, or the new values where the recorded text held the old): then the procedure
    is sure of it. One found only by its place or a generated id, saying something else
    (use-autocomplete's first suggestion, "Peru" recorded, "Malawi" found, when "Mali"
    was asked), is a guess: its proposals get `UNSURE`, and calibration learns what that is worth."""
    if step.verb != "CLICK" or element is None or step.target is None or step.reveals:
        return True
    if kind := _named_kind(step.target, mapping):  # found as the asked kind: sure where it is the only one
        return _of_kind(kind, observation) == [element]
    if not step.target.text or step.target.says(element.text) or _affixes(step.target, mapping):
        return True  # affixes: found by them
    said, says = step.target.text.lower(), element.text.lower()
    moved = [new.lower() for old, new in mapping.items() if new.lower() in said]  # swapped in already
    return bool(moved) and all(value in says for value in moved)


def _next_step(
    procedure: Procedure, index: int, instruction: str, observation: Observation
) -> tuple[WorkflowStep | None, Action | None, str]:
    """Step `index` of the procedure, its action here and how it was found; past a step
    whose action would change nothing (the list already shows the option to select,
    the field already holds the text), the step after it: that one is done already
    (choose-list's late interventions were the oracle correcting such a SELECT)."""
    for step in procedure.steps[index:]:
        action, why = _sound(step, instruction, observation, procedure.mapping)
        element = observation.find(action.element_id) if action is not None and action.element_id else None
        if action is None or element is None or not changes_nothing(action, element):
            return step, action, why
    return None, None, "every step left is done already"


def _holding(target: Target, values: Sequence[str], page: Observation) -> Element | None:
    """The element of the target's kind whose text holds every new value the target's
    text was given, nearest the recorded text's length (an e-mail's row, not the inbox
    around it); None when there is none or two fit as well."""
    wanted = [v for v in values if v and v.lower() in target.text.lower()]
    if not wanted:
        return None
    holding = [
        el for el in page.actionable if target.same_kind(el) and all(v.lower() in el.text.lower() for v in wanted)
    ]

    def distance(el: Element) -> int:
        return abs(len(el.text) - len(target.text))

    holding.sort(key=distance)
    if not holding or (len(holding) > 1 and distance(holding[0]) == distance(holding[1])):
        return None
    return holding[0]


def _find(target: Target, values: Sequence[str], page: Observation) -> tuple[Element | None, str]:
    """The target on the page: as a workflow locates it, else by the values its text holds."""
    match = locate(target, page)
    if match.element is not None:
        return match.element, match.why
    element = _holding(target, values, page)
    return element, (f"[{element.id}] holds {', '.join(values)}" if element is not None else match.why)


def _another_icon(target: Target, element: Element, values: Sequence[str]) -> bool:
    """Whether the target's class names a new value (span.like, asked as "Like") that
    `element`'s class does not: the asked icon is not the one found."""
    names = set(target.classes.lower().split())
    return any(v.lower() in names for v in values if v) and Target.of(element).classes != target.classes


def _named_kind(target: Target, mapping: dict[str, str]) -> str | None:
    """The new value, where the recorded one named what kind of element was acted on (its
    tag, role or input type: "Click on a "button" widget." -> "textarea"); else None."""
    for old, new in mapping.items():
        if old.lower() == target.tag or new.lower() in (target.role, target.input_type):
            return new.lower()
    return None


def _of_kind(kind: str, page: Observation) -> list[Element]:
    return [el for el in page.actionable if kind in (el.tag, el.role, el.input_type)]


def _affixes(target: Target, mapping: dict[str, str]) -> list[tuple[str, str]]:
    """How the recorded element's text began or ended with an old value inside a word
    (use-autocomplete: "Peru" picked for "starts with "Per" and ends with "ru""), as
    (startswith | endswith, the new value): the new element's text must do the same.
    A value that was a whole word was swapped already and is not one of these."""
    text = " ".join(target.text.split()).lower()
    found = []
    for old, new in mapping.items():
        old = old.lower()
        if len(old) < 2 or text == old:
            continue
        found += [(how, new.lower()) for how in ("startswith", "endswith") if getattr(text, how)(old)]
    return found


def _affixed(target: Target, affixes: list[tuple[str, str]], page: Observation) -> tuple[Element | None, str]:
    """The one element of the target's kind whose text begins and ends as `affixes` say."""
    fits = [
        el
        for el in page.actionable
        if target.same_kind(el) and all(getattr(" ".join(el.text.split()).lower(), how)(v) for how, v in affixes)
    ]
    asked = " and ".join(f"{how[:-4]} with {v!r}" for how, v in affixes)
    if len(fits) != 1:
        return None, f"{len(fits)} elements of the kind of {target.describe()} {asked}"
    return fits[0], f"[{fits[0].id}] {asked}"


def _revealer(target: Target, instruction: str, observation: Observation) -> tuple[Element | None, str]:
    """The one element of the target's kind that may reveal the hidden element asked for
    (`candidates.revealers`): the recorded step opened the folder that held what was asked,
    whatever the folder was called."""
    reveal = revealers(instruction, observation)
    fits = [el for el in observation.actionable if el.id in reveal and target.same_kind(el)]
    if len(fits) != 1:
        return None, f"{len(fits)} elements of the kind of {target.describe()} reveal what was asked"
    return fits[0], f"[{fits[0].id}] reveals what was asked"


def _sound(
    step: WorkflowStep, instruction: str, observation: Observation, mapping: dict[str, str]
) -> tuple[Action | None, str]:
    """The step's action on this page, and how it was found; (None, why not) when it is not sound here."""
    if step.verb not in observation.verbs:
        return None, f"{step.verb} is not offered"
    values = tuple(mapping.values())
    element = None

    def anchor(target: Target, page: Observation) -> Element | None:
        return _find(target, values, page)[0]

    affixes = _affixes(step.target, mapping) if step.target is not None else []
    if step.reveals and step.target is not None:  # it opened what held the asked element: so here
        element, why = _revealer(step.target, instruction, observation)
    elif affixes:  # its text was made of the values: only an element made of the new ones will do
        element, why = _affixed(step.target, affixes, observation)
    elif step.target is not None:
        element, why = _find(step.target, values, observation)
        if element is None and step.near is not None:  # found from the text near it
            element, why = follow(step.near, observation, anchor, like=step.target)
            if element is not None and not step.target.same_kind(element):
                element, why = None, f"[{element.id}] is not {step.target.describe()}"
            elif element is not None and _another_icon(step.target, element, values):
                element, why = None, f"no {step.target.tag}.{step.target.classes} near what was asked"
        if element is None and (kind := _named_kind(step.target, mapping)) and (fits := _of_kind(kind, observation)):
            element, why = fits[0], f"[{fits[0].id}] is the first {kind} of {len(fits)}"
    if step.target is not None:
        if element is None:
            return None, why
        if not VERBS[step.verb].accepts(element):
            return None, f"{step.verb} cannot act on [{element.id}]"
    if step.answer is not None:  # the question again: its answer is read from this page
        answer, why = read_answer(step.answer, observation, anchor)
        if answer is None or not any(answer in text for text in page_texts(observation.elements)):
            return None, why
        return Action("STOP", None, answer), why
    argument = step.argument
    if argument is not None and not re.search(PLACEHOLDER, argument):
        if step.verb == "TYPE" and argument not in instruction_spans(instruction):
            return None, f"{argument!r} is not in the instruction"
        if step.verb == "SELECT" and element is not None and argument not in element.options:
            return None, f"{argument!r} is not an option of [{element.id}]"
        if step.verb == "STOP" and not any(argument in text for text in page_texts(observation.elements)):
            return None, "the answer is not on the page"
    action = step.action(element.id if element is not None else None)
    return action, f"step {step.describe()}" + (f" as [{element.id}]" if element is not None else "")
