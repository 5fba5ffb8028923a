"""The action DSL: one definition per verb drives the prompt text, the grammar,
the parser and (through `webagent.browser.execute`) the Playwright call.

    CLICK [id]
    TYPE [id] "text"
    SELECT [id] "option"

The grammar is rebuilt every step from the candidates shown to the model, so a
decoded action can only name a shown element and, for SELECT, one of its real
options.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from webagent.browser.observation import Element
from webagent.errors import GrammarError

MAX_TEXT_CHARS = 80


@dataclass(frozen=True)
class Action:
    verb: str
    element_id: str
    argument: str | None = None

    def to_dsl(self) -> str:
        if VERBS[self.verb].argument is None:
            return f"{self.verb} [{self.element_id}]"
        return f'{self.verb} [{self.element_id}] "{escape(self.argument or "")}"'

    def __str__(self) -> str:
        return self.to_dsl()


@dataclass(frozen=True)
class Verb:
    """Everything about one verb, in one place."""

    name: str
    argument: str | None  # what the quoted argument is, or None
    description: str
    accepts: Callable[[Element], bool]  # may this verb name this element?


def _clickable(el: Element) -> bool:
    return True


def _typable(el: Element) -> bool:
    return el.editable


def _selectable(el: Element) -> bool:
    return el.is_select


VERBS: dict[str, Verb] = {
    v.name: v
    for v in (
        Verb("CLICK", None, "CLICK [id] clicks the element.", _clickable),
        Verb("TYPE", "text", 'TYPE [id] "text" types text into a text field.', _typable),
        Verb("SELECT", "option", 'SELECT [id] "option" chooses an option of a select box.', _selectable),
    )
}


def escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def unescape(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text)


def verb_descriptions() -> list[str]:
    return [v.description for v in VERBS.values()]


# -- grammar -----------------------------------------------------------------


def text_lexeme(max_chars: int) -> str:
    """Free text inside quotes: no raw quote, backslash or newline; escapes allowed."""
    return r'/([^"\\\n]|\\["\\]){0,' + str(max_chars) + "}/"


def _lit(text: str) -> str:
    """A lark string literal."""
    return json.dumps(text, ensure_ascii=False)


def action_grammar(
    candidates: Sequence[Element], *, texts: Sequence[str] | None = None, max_text_chars: int = MAX_TEXT_CHARS
) -> str:
    """A lark grammar (for llguidance) whose language is exactly the valid actions.

    With `texts`, TYPE may only type one of them (e.g. spans of the instruction),
    so the agent never types what nobody asked for; otherwise any short text."""
    if not candidates:
        raise GrammarError("cannot build an action grammar with no candidates")
    rules: list[str] = []
    alternatives: list[str] = []
    for verb in VERBS.values():
        targets = [el for el in candidates if verb.accepts(el)]
        if not targets:
            continue
        name = verb.name.lower()
        alternatives.append(name)
        if verb.argument is None:
            ids = " | ".join(_lit(el.id) for el in targets)
            rules.append(f'{name}: {_lit(verb.name + " [")} ({ids}) "]"')
        elif verb.name == "SELECT":
            per_element = []
            for el in targets:
                options = " | ".join(_lit(escape(o)) for o in dict.fromkeys(el.options))
                per_element.append(f"{_lit(f'{verb.name} [{el.id}] ' + chr(34))} ({options}) {_lit(chr(34))}")
            rules.append(f"{name}: " + " | ".join(per_element))
        else:
            ids = " | ".join(_lit(el.id) for el in targets)
            rules.append(f"{name}: {_lit(verb.name + ' [')} ({ids}) {_lit('] ' + chr(34))} TEXT {_lit(chr(34))}")
    allowed = [t[:max_text_chars] for t in dict.fromkeys(texts or ()) if t.strip()]
    text_rule = " | ".join(_lit(escape(t)) for t in allowed) if allowed else text_lexeme(max_text_chars)
    return "\n".join([f"start: {' | '.join(alternatives)}", *rules, f"TEXT: {text_rule}"]) + "\n"


# -- parser ------------------------------------------------------------------

_ACTION_RE = re.compile(r'^\s*([A-Z]+) \[([^\]\s]+)\](?: "((?:[^"\\]|\\.)*)")?\s*$')


def parse_action(text: str, candidates: Sequence[Element] | None = None) -> Action:
    """Parse DSL text into an Action; with candidates, also check it names one validly."""
    match = _ACTION_RE.match(text)
    if not match:
        raise GrammarError(f"not an action: {text!r}")
    verb_name, element_id, raw_argument = match.groups()
    verb = VERBS.get(verb_name)
    if verb is None:
        raise GrammarError(f"unknown verb {verb_name!r} in {text!r}")
    if (verb.argument is None) != (raw_argument is None):
        raise GrammarError(
            f"{verb_name} {'takes no' if verb.argument is None else 'needs a'} quoted argument: {text!r}"
        )
    action = Action(verb_name, element_id, unescape(raw_argument) if raw_argument is not None else None)
    if candidates is not None:
        check_action(action, candidates)
    return action


def check_action(action: Action, candidates: Sequence[Element]) -> None:
    element = next((el for el in candidates if el.id == action.element_id), None)
    if element is None:
        raise GrammarError(f"{action} names element {action.element_id}, which is not a candidate")
    if not VERBS[action.verb].accepts(element):
        raise GrammarError(f"{action.verb} cannot act on {element.tag} [{element.id}]")
    if action.verb == "SELECT" and action.argument not in element.options:
        raise GrammarError(f"{action.argument!r} is not an option of [{element.id}]")
