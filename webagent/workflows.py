"""Workflows: a confirmed episode, replayed on the same or a changed page without the model.

An episode's actions name elements by per-page ids (`CLICK [12]`), which mean
nothing on the next visit: the page may be laid out differently, or the ids
numbered in another order. A workflow keeps, for each step, what the element
*is* instead: its role and tag, what it says (text, label, placeholder), its
`name`/`id` attributes, where a link goes, and where it sits (the heading and
landmark above it). Rerunning matches each step's target against the page as
it is now, deterministically: every element is scored on the fields it shares
with the target, and the best one is taken only when it shares at least one
identifying field (text, label, placeholder, name, id, link target) and no
other element scores as well. A step that cannot be matched that way goes to
the fallback policy (the model, with its memory), which decides it as it would
any step; without a fallback the step fails with the reason.

A workflow is a small JSON file (`Workflow.save` / `Workflow.load`): typed
values stay as recorded, so a secret is kept as its `{NAME}` placeholder and
given again with `--secret` when rerun.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

from webagent.actions import VERBS, Action, parse_action
from webagent.browser.observation import Element, Observation
from webagent.candidates import Candidate, tokenize
from webagent.errors import ActionError, DataError, GrammarError
from webagent.policy import BasePolicy, Decision, Policy
from webagent.secrets import PLACEHOLDER, TYPED_NAME, placeholder

FORMAT = 1  # the workflow file's format version

# How much each shared field says that two elements are the same one. The
# identifying fields are the ones a match must share at least one of.
WEIGHTS = {
    "text": 4.0,
    "label": 4.0,
    "placeholder": 3.0,
    "name": 3.0,
    "dom_id": 2.0,
    "href": 3.0,
    "role": 1.0,
    "input_type": 1.0,
    "context": 1.0,
    "landmark": 0.5,
    "classes": 1.0,
}
IDENTIFYING = ("text", "label", "placeholder", "name", "dom_id", "href")
SIMILAR_TEXT = 0.6  # word overlap (Jaccard) at which a changed text still identifies
MARGIN = 1.0  # the best element must beat the next by this much


@dataclass(frozen=True)
class Target:
    """What an element is, as far as it survives a change of layout (no id, no value)."""

    tag: str
    role: str = ""
    text: str = ""
    label: str = ""
    placeholder: str = ""
    input_type: str = ""
    name: str = ""  # the name attribute
    dom_id: str = ""  # the id attribute (pages that generate ids change them; it weighs less)
    href: str = ""  # where a link goes (Element.target)
    context: str = ""  # the heading above it
    landmark: str = ""
    classes: str = ""  # the class attribute: an icon says what it is nowhere else (span.like, span.retweet)

    @classmethod
    def of(cls, element: Element) -> Target:
        attributes = dict(element.attributes)
        return cls(
            tag=element.tag,
            role=element.role,
            text=" ".join(element.text.split())[:200],
            label=element.label[:200],
            placeholder=element.placeholder,
            input_type=element.input_type,
            name=attributes.get("name", ""),
            dom_id=attributes.get("id", ""),
            href=element.target,
            context=element.context[:200],
            landmark=element.landmark,
            classes=" ".join(attributes.get("class", "").split())[:100],
        )

    def describe(self) -> str:
        said = self.text or self.label or self.placeholder or self.name or self.href
        return f'{self.role or self.tag} "{said[:60]}"' if said else self.role or self.tag

    def same_kind(self, element: Element) -> bool:
        """The same tag, or the same role (a div with role=button is a button)."""
        return element.tag == self.tag or bool(self.role and element.role == self.role)

    def says(self, text: str) -> bool:
        """Whether `text` says what the target's text says: the same words, or most of them."""
        mine, theirs = " ".join(self.text.split()).lower(), " ".join(text.split()).lower()
        return mine == theirs or _jaccard(mine, theirs) >= SIMILAR_TEXT

    def score(self, element: Element) -> tuple[float, bool]:
        """How well `element` fits, and whether an identifying field fits. An
        element of another kind (neither tag nor role the same) scores 0."""
        if not self.same_kind(element):
            return 0.0, False
        other = Target.of(element)
        score, identified = 0.0, False
        for name, weight in WEIGHTS.items():
            mine, theirs = getattr(self, name), getattr(other, name)
            if mine and mine == theirs:
                score += weight
                identified = identified or name in IDENTIFYING
            elif name == "text" and mine and theirs:
                overlap = _jaccard(mine, theirs)
                score += weight * overlap
                identified = identified or overlap >= SIMILAR_TEXT
        return score, identified


@dataclass(frozen=True)
class Match:
    """Where a target was found (element None: it was not, and `why` says why)."""

    element: Element | None
    why: str


def locate(target: Target, observation: Observation) -> Match:
    """The one element of the page that is `target` (see the module docstring)."""
    scored = sorted(((*target.score(el), el) for el in observation.actionable), key=lambda item: item[0], reverse=True)
    scored = [(score, identified, el) for score, identified, el in scored if score > 0]
    if not scored or not scored[0][1]:
        return Match(None, f"no element on the page is {target.describe()}")
    best, _, element = scored[0]
    if len(scored) > 1 and best - scored[1][0] < MARGIN:
        return Match(None, f"{target.describe()} is ambiguous: [{element.id}] and [{scored[1][2].id}] fit as well")
    return Match(element, f"matched {target.describe()} as [{element.id}] (score {best:g})")


ANCHOR_REACH = 12  # how many elements before the one it finds an anchor may be


@dataclass(frozen=True)
class Anchor:
    """An element found from a text near it that names what was asked: the visible
    element `offset` places after `target` in page order (a row's title and its ISBN
    cell, a table's "timeout" and its value, a user's name and the icon of their
    post's menu). It finds what names nothing itself, and a STOP answer on a new page."""

    target: Target
    offset: int


def _visible(observation: Observation) -> list[Element]:
    return [el for el in observation.elements if el.visible]


def anchor_of(observation: Observation, element_id: str, instruction: str) -> Anchor | None:
    """The nearest visible text before the element that shares a word with the
    instruction, as its anchor (None: nothing near it names what was asked)."""
    shown = _visible(observation)
    at = next((i for i, el in enumerate(shown) if el.id == element_id), None)
    if at is None:
        return None
    asked = {w for w in tokenize(instruction) if len(w) > 2} - _COMMON
    for back in range(1, min(at, ANCHOR_REACH) + 1):
        anchor = shown[at - back]
        if anchor.text.strip() and asked & set(tokenize(anchor.text)):
            return Anchor(Target.of(anchor), back)
    return None


def answer_source(observation: Observation, answer: str, instruction: str) -> Anchor | None:
    """Where a STOP answer was read: of the elements whose whole text it is (an author's
    name is also a filter link), the one nearest its anchor."""
    holding = [el for el in _visible(observation) if " ".join(el.text.split()) == answer]
    anchors = [a for a in (anchor_of(observation, el.id, instruction) for el in holding) if a is not None]
    return min(anchors, key=lambda a: a.offset, default=None)


def follow(
    anchor: Anchor, observation: Observation, find=None, like: Target | None = None
) -> tuple[Element | None, str]:
    """The element `anchor` points at on this page, and how it was found (None, why not).
    `find(target, page)` locates the anchor's text (default: `locate`). With `like`, the
    element of the anchor's reach that fits `like` best, the nearest to the recorded
    offset among equals: the same offset is another element when the page asks for
    another of its kind (a post's Retweet icon sits one after its Like icon)."""
    shown = _visible(observation)
    page = Observation(observation.url, observation.title, tuple(shown))
    found = find(anchor.target, page) if find is not None else locate(anchor.target, page).element
    if found is None:
        return None, f"no anchor {anchor.target.describe()} on the page"
    start = next(i for i, el in enumerate(shown) if el.id == found.id)
    at = start + anchor.offset
    if like is not None:
        reach = range(start + 1, min(start + ANCHOR_REACH, len(shown) - 1) + 1)
        fits = [(like.score(shown[i])[0], -abs(i - at), i) for i in reach]
        best = max(fits, default=None)
        if best is not None and best[0] > 0:
            at = best[2]
    if at >= len(shown):
        return None, f"nothing {anchor.offset} after [{found.id}]"
    return shown[at], f"{at - start} after [{found.id}]"


def read_answer(anchor: Anchor, observation: Observation, find=None) -> tuple[str | None, str]:
    """The text an answer's anchor points at on this page (None, why not)."""
    element, why = follow(anchor, observation, find)
    text = " ".join(element.text.split()) if element is not None else ""
    return (text, f"read {why}") if text else (None, why)


_COMMON = {"the", "and", "what", "which", "who", "for", "with", "from", "has", "have", "page", "this", "that"}


@dataclass(frozen=True)
class WorkflowStep:
    """One action: its verb and argument as recorded, and what it acted on."""

    verb: str
    argument: str | None = None
    target: Target | None = None  # None for verbs without an element (PRESS, SCROLL, BACK, STOP)
    answer: Anchor | None = None  # STOP "answer": where on the page the answer was read
    near: Anchor | None = None  # what is near the element, for one that names nothing itself
    reveals: bool = False  # it opened what held the asked, hidden element (candidates.revealers)

    def action(self, element_id: str | None) -> Action:
        return Action(self.verb, element_id if self.target is not None else None, self.argument)

    def describe(self) -> str:
        what = f" {self.target.describe()}" if self.target else ""
        return f"{self.verb}{what}" + (f' "{self.argument}"' if self.argument is not None else "")

    def offered(self, candidates: Sequence[Candidate]) -> list[Candidate]:
        """The candidates a fallback may choose from when the target was not found: those
        of its kind that the verb can act on (none: the fallback decides unnarrowed)."""
        if self.target is None:
            return []
        accepts = VERBS[self.verb].accepts
        return [c for c in candidates if self.target.same_kind(c.element) and accepts(c.element)]


@dataclass(frozen=True)
class Workflow:
    instruction: str
    url: str
    steps: tuple[WorkflowStep, ...]
    source: str = ""  # where it was recorded: "episode 12 of /path/to/store.db"

    @property
    def secret_names(self) -> list[str]:
        """The secrets its typed values name (`{NAME}`): each must be given to rerun it."""
        return sorted({m[1:-1] for step in self.steps for m in re.findall(PLACEHOLDER, step.argument or "")})

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        record = {"format": FORMAT, **asdict(self)}
        path.write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        return path

    @classmethod
    def load(cls, path: str | Path) -> Workflow:
        """Read a workflow file, with an error naming the file and what is wrong."""
        path = Path(path)
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise DataError(f"cannot read workflow {path}: {exc.strerror}") from None
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise DataError(f"{path}: not a workflow file ({exc})") from None
        try:
            if record.get("format") != FORMAT:
                raise ValueError(f"format {record.get('format')!r}, expected {FORMAT}")
            steps = tuple(_step(raw) for raw in record["steps"])
            if not steps:
                raise ValueError("no steps")
            return cls(str(record["instruction"]), str(record["url"]), steps, str(record.get("source", "")))
        except (AttributeError, KeyError, TypeError, ValueError, GrammarError) as exc:
            raise DataError(f"{path}: not a workflow file ({exc})") from None


_TARGET_FIELDS = {f.name for f in fields(Target)}


def _target(raw: dict) -> Target:
    unknown = set(raw) - _TARGET_FIELDS
    if unknown or "tag" not in raw:
        raise ValueError(f"a step's target has {sorted(unknown) or 'no tag'}")
    return Target(**{k: str(v) for k, v in raw.items()})


def _anchor(raw: dict | None) -> Anchor | None:
    return Anchor(_target(raw["target"]), int(raw["offset"])) if raw is not None else None


def _step(raw: dict) -> WorkflowStep:
    target = raw.get("target")
    if target is not None:
        target = _target(target)
    answer, near = (_anchor(raw.get(name)) for name in ("answer", "near"))
    argument = None if raw.get("argument") is None else str(raw["argument"])
    step = WorkflowStep(str(raw["verb"]), argument, target, answer, near, bool(raw.get("reveals", False)))
    parse_action(step.action("0").to_dsl())  # a verb that is unknown, or lacks its element or argument, fails here
    return step


def from_steps(instruction: str, steps: Sequence[dict], source: str = "") -> Workflow:
    """A workflow from an episode's stored step rows: every action that ran without
    error, with the element it acted on (recorded in the row's observation)."""
    kept: list[WorkflowStep] = []
    for row in steps:
        if row.get("error"):
            continue
        action = parse_action(row["action"])
        target = (row.get("observation") or {}).get("target")
        if action.element_id is not None and target is None:
            raise DataError(f"step {row['idx']} does not say what it acted on (recorded before workflows existed)")
        argument = action.argument
        if target and target.get("input_type") == "password" and argument and set(argument) == {"•"}:
            argument = placeholder(TYPED_NAME)  # stored masked: given again with --secret PASSWORD=...
        seen = row.get("observation") or {}
        answer, near = (_anchor(seen.get(name)) for name in ("answer_source", "near"))
        target = Target(**target) if target else None
        kept.append(WorkflowStep(action.verb, argument, target, answer, near, bool(seen.get("reveals", False))))
    if not kept:
        raise DataError("the episode has no step that ran without error")
    return Workflow(instruction, steps[0]["url"], tuple(kept), source)


class WorkflowPolicy(BasePolicy):
    """Decides step k of an episode as the workflow's step k, matched on the page;
    what cannot be matched goes to `fallback` (None: the step fails). After the
    last step it says STOP. `log` holds, per decision, how it was made."""

    name = "workflow"

    def __init__(self, workflow: Workflow, fallback: Policy | None = None) -> None:
        self.workflow = workflow
        self.fallback = fallback
        self.model = fallback.model if fallback is not None else None
        self.memory = fallback.memory if fallback is not None else None
        self.log: list[dict] = []

    @property
    def version(self) -> str:
        return f"workflow+{self.fallback.version}" if self.fallback is not None else "workflow"

    def describe(self) -> dict:
        return {
            "name": self.name,
            "version": self.version,
            "steps": len(self.workflow.steps),
            "source": self.workflow.source,
            "fallback": self.fallback.describe() if self.fallback is not None else None,
        }

    def decide(
        self,
        instruction: str,
        observation: Observation,
        candidates: Sequence[Candidate],
        history: Sequence[Action],
        seed: int,
    ) -> Decision:
        index = len(history)
        if index >= len(self.workflow.steps):
            return self._logged(index, "end", Decision(Action("STOP"), 1.0, "workflow: every step done"))
        step = self.workflow.steps[index]
        if step.answer is not None:  # the question asked again: the answer is read from this page
            answer, why = read_answer(step.answer, observation)
            if answer is not None:
                decision = Decision(Action("STOP", None, answer), 1.0, f"workflow step {index + 1}: {why}")
                return self._logged(index, "matched", decision)
            if self.fallback is None:
                raise ActionError(f"workflow step {index + 1} ({step.describe()}): {why}")
            narrowed = replace(observation, verbs=("STOP",))
            decision = self.fallback.decide(instruction, narrowed, candidates, history, seed)
            return self._logged(index, "fallback", decision, why=why)
        if step.target is None:
            return self._logged(index, "matched", Decision(step.action(None), 1.0, f"workflow step {index + 1}"))
        match = locate(step.target, observation)
        if match.element is not None:
            decision = Decision(step.action(match.element.id), 1.0, f"workflow step {index + 1}: {match.why}")
            return self._logged(index, "matched", decision)
        if self.fallback is None:
            raise ActionError(f"workflow step {index + 1} ({step.describe()}): {match.why}")
        shown = step.offered(candidates)
        if shown:
            decision = self.fallback.decide(instruction, replace(observation, verbs=(step.verb,)), shown, history, seed)
        else:
            decision = self.fallback.decide(instruction, observation, candidates, history, seed)
        return self._logged(index, "fallback", decision, why=match.why)

    def _logged(self, index: int, how: str, decision: Decision, why: str = "") -> Decision:
        self.log.append({"step": index + 1, "how": how, "action": decision.action.to_dsl(), "why": why})
        return decision


def _jaccard(a: str, b: str) -> float:
    x, y = set(tokenize(a)), set(tokenize(b))
    return len(x & y) / len(x | y) if x and y else 0.0
