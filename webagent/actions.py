"""The action DSL: one definition per verb drives the prompt text, the grammar,
the parser and the Playwright call (`webagent.browser.perform`).

    CLICK [id]
    TYPE [id] "text"          text: spans of the instruction (or any short text)
    SELECT [id] "option"      one of that <select>'s real options
    PRESS [id] "Enter"        keys from a closed set
    SCROLL "down" | "up"
    BACK
    STOP | STOP "answer"      the answer: a span of the page's visible text

The grammar is rebuilt every step from the candidates shown to the model, so a
decoded action can only name a shown element and, for SELECT, one of its real
options. Which verbs a step offers is the environment's to say
(`Observation.verbs`): MiniWoB++ pages end their episodes themselves, so they
offer only `BASIC_VERBS` (the prompt and grammar stay what the dev-task numbers
were measured with); real sites offer `ALL_VERBS`, STOP among them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from webagent.browser import perform
from webagent.browser.observation import Element
from webagent.errors import GrammarError

MAX_TEXT_CHARS = 80
KEYS = ("Enter", "Tab", "Escape", "ArrowDown", "ArrowUp", "Backspace")
DIRECTIONS = ("down", "up")
MAX_ANSWER_WORDS = 12  # a STOP answer is at most this many consecutive words of one visible text
MAX_PAGE_WORDS = 1500  # words of visible text the answer grammar covers (in page order)


@dataclass(frozen=True)
class Action:
    verb: str
    element_id: str | None = None
    argument: str | None = None

    def to_dsl(self) -> str:
        parts = [self.verb]
        if self.element_id is not None:
            parts.append(f"[{self.element_id}]")
        if self.argument is not None:
            parts.append(f'"{escape(self.argument)}"')
        return " ".join(parts)

    def __str__(self) -> str:
        return self.to_dsl()


Perform = Callable[..., "str | None"]  # (page, locator | None, action, timeout_ms) -> error or None


@dataclass(frozen=True)
class Verb:
    """Everything about one verb, in one place."""

    name: str
    target: bool  # does it name an element?
    argument: str | None  # what the quoted argument is, or None
    description: str
    accepts: Callable[[Element], bool]  # may this verb name this element?
    perform: Perform  # the Playwright call (webagent.browser.perform)
    choices: tuple[str, ...] = ()  # a closed set of arguments, when it has one
    optional_argument: bool = False  # STOP and STOP "answer"


def _any(el: Element) -> bool:
    return True


def _typable(el: Element) -> bool:
    return el.editable


def _selectable(el: Element) -> bool:
    return el.is_select


def _pressable(el: Element) -> bool:
    return el.editable or el.interactive


VERBS: dict[str, Verb] = {
    v.name: v
    for v in (
        Verb("CLICK", True, None, "CLICK [id] clicks the element.", _any, perform.click),
        Verb("TYPE", True, "text", 'TYPE [id] "text" types text into a text field.', _typable, perform.type_text),
        Verb(
            "SELECT",
            True,
            "option",
            'SELECT [id] "option" chooses an option of a select box.',
            _selectable,
            perform.select,
        ),
        Verb(
            "PRESS",
            True,
            "key",
            'PRESS [id] "Enter" presses a key on the element (' + ", ".join(KEYS) + "); Enter submits a search box.",
            _pressable,
            perform.press,
            choices=KEYS,
        ),
        Verb(
            "SCROLL",
            False,
            "direction",
            'SCROLL "down" or SCROLL "up" scrolls the page.',
            _any,
            perform.scroll,
            choices=DIRECTIONS,
        ),
        Verb("BACK", False, None, "BACK goes back to the previous page.", _any, perform.back),
        Verb(
            "STOP",
            False,
            "answer",
            'STOP ends the task when it is done; STOP "answer" gives an answer copied from the page.',
            _any,
            perform.stop,
            optional_argument=True,
        ),
    )
}
BASIC_VERBS = ("CLICK", "TYPE", "SELECT")
ALL_VERBS = tuple(VERBS)


def escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def unescape(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text)


def verb_descriptions(verbs: Sequence[str] = BASIC_VERBS) -> list[str]:
    return [VERBS[v].description for v in VERBS if v in verbs]


# -- grammar -----------------------------------------------------------------


def text_lexeme(max_chars: int) -> str:
    """Free text inside quotes: no raw quote, backslash or newline; escapes allowed."""
    return r'/([^"\\\n]|\\["\\]){0,' + str(max_chars) + "}/"


def _lit(text: str) -> str:
    """A lark string literal."""
    return json.dumps(text, ensure_ascii=False)


def answer_rules(page_texts: Sequence[str]) -> tuple[str | None, list[str]]:
    """Rules whose language is every run of 1..MAX_ANSWER_WORDS consecutive words of
    one of the texts (escaped as inside DSL quotes): the start symbol and the rules.

    Each text is cut into chunks of MAX_ANSWER_WORDS words; in a chunk, rule
    `ans_c_i` is word i optionally followed by a space and `ans_c_{i+1}`, and a
    span is any `ans_c_i`: linear in the words, not quadratic."""
    chunks: list[list[str]] = []
    seen: set[tuple[str, ...]] = set()
    budget = MAX_PAGE_WORDS
    for text in page_texts:
        words = text.split()[:budget]
        budget -= len(words)
        for start in range(0, len(words), MAX_ANSWER_WORDS):
            chunk = words[start : start + MAX_ANSWER_WORDS]
            if tuple(chunk) not in seen:
                seen.add(tuple(chunk))
                chunks.append(chunk)
        if budget <= 0:
            break
    if not chunks:
        return None, []
    rules, starts = [], []
    for c, chunk in enumerate(chunks):
        for i, word in enumerate(chunk):
            name = f"ans_{c}_{i}"
            tail = f' (" " ans_{c}_{i + 1})?' if i + 1 < len(chunk) else ""
            rules.append(f"{name}: {_lit(escape(word))}{tail}")
            starts.append(name)
    return "answer", [f"answer: {' | '.join(starts)}", *rules]


def action_grammar(
    candidates: Sequence[Element],
    *,
    texts: Sequence[str] | None = None,
    max_text_chars: int = MAX_TEXT_CHARS,
    verbs: Sequence[str] = BASIC_VERBS,
    page_texts: Sequence[str] = (),
    answer_required: bool = False,
    secret_texts: Sequence[str] = (),
    task: str = "",
) -> str:
    """A lark grammar (for llguidance) whose language is exactly the valid actions.

    With `texts`, TYPE may only type one of them (e.g. spans of the instruction),
    so the agent never types what nobody asked for; otherwise any short text.
    `secret_texts` (the passwords the task gives) go only into a password field,
    and a password field takes only them, when one is shown: a password typed into
    a plain field would show in clear on the page. An action that changes nothing
    is not offered: SELECT of the option already chosen, TYPE of the value a field
    already holds (the model repeated both until the loop rule ended the episode).
    `verbs` are the verbs this step offers; a STOP answer is a span of `page_texts`
    (the page's visible text), and without any only a bare STOP is possible. With
    `answer_required` (the task asks a question) a bare STOP is not offered while the
    page has text to answer from. Where `task` names options of a select box, SELECT
    offers only those."""
    rules: list[str] = []
    alternatives: list[str] = []
    typing, terminals = _text_terminals(candidates, texts, secret_texts, max_text_chars)
    for verb in VERBS.values():
        if verb.name not in verbs:
            continue
        name = verb.name.lower()
        if not verb.target:
            if verb.argument is None:
                rules.append(f"{name}: {_lit(verb.name)}")
            elif verb.choices:
                options = " | ".join(_lit(c) for c in verb.choices)
                rules.append(f"{name}: {_lit(verb.name + ' ' + chr(34))} ({options}) {_lit(chr(34))}")
            else:  # STOP: bare, or with an answer from the page
                start, answer = answer_rules(page_texts)
                quoted = f"{_lit(verb.name + ' ' + chr(34))} {start} {_lit(chr(34))}" if start else ""
                endings = [quoted] if quoted and answer_required else [_lit(verb.name), quoted]
                rules += [f"{name}: {' | '.join(e for e in endings if e)}", *answer]
            alternatives.append(name)
            continue
        targets = [el for el in candidates if verb.accepts(el)]
        if verb.name == "SELECT":
            targets = [el for el in targets if _choices(el, task)]
        elif verb.argument is not None and not verb.choices:
            targets = [el for group, _ in typing for el in group]
        if not targets:
            continue
        alternatives.append(name)
        ids = " | ".join(_lit(el.id) for el in targets)
        if verb.argument is None:
            rules.append(f'{name}: {_lit(verb.name + " [")} ({ids}) "]"')
        elif verb.name == "SELECT":
            per_element = []
            for el in targets:
                options = " | ".join(_lit(escape(o)) for o in _choices(el, task))
                per_element.append(f"{_lit(f'{verb.name} [{el.id}] ' + chr(34))} ({options}) {_lit(chr(34))}")
            rules.append(f"{name}: " + " | ".join(per_element))
        elif verb.choices:
            options = " | ".join(_lit(c) for c in verb.choices)
            rules.append(f"{name}: {_lit(verb.name + ' [')} ({ids}) {_lit('] ' + chr(34))} ({options}) {_lit(chr(34))}")
        else:
            rules.append(f"{name}: " + " | ".join(_typing(verb.name, group, text) for group, text in typing))
    if not alternatives:
        raise GrammarError("cannot build an action grammar with no candidates")
    return "\n".join([f"start: {' | '.join(alternatives)}", *rules, *terminals]) + "\n"


_NUMERIC = re.compile(r"[-+]?\d+(?:[.,]\d+)?")  # what a number field accepts (not a date's 10/20/2017)


def _text_terminals(
    candidates: Sequence[Element], texts: Sequence[str] | None, secret_texts: Sequence[str], max_chars: int
) -> tuple[list[tuple[list[Element], str]], list[str]]:
    """The text terminals TYPE uses, and which fields take each (fields that may take
    the same texts share one; a field that may take none is not a TYPE target).

    A field takes `texts` (or, without them, any short text), except: where the
    task gives a password and a password field is shown, a password field takes
    only the passwords and the others nothing containing one; and from a closed set,
    never the value the field holds already (typing it again changes nothing), and
    into a number field only numbers (the model typed a book's title into its year)."""
    allowed = [t[:max_chars] for t in dict.fromkeys(texts or ()) if t.strip()]
    secrets = [s[:max_chars] for s in dict.fromkeys(secret_texts) if s.strip()]
    typable = [el for el in candidates if el.editable]
    guarded = bool(allowed and secrets and any(el.input_type == "password" for el in typable))
    plain = [t for t in allowed if not any(s in t for s in secrets)]
    by_texts: dict[tuple[str, ...], list[Element]] = {}
    for el in typable:
        mine = allowed
        if guarded:
            mine = secrets if el.input_type == "password" else plain
        if allowed:
            mine = [t for t in mine if t != el.value and (el.input_type != "number" or _NUMERIC.fullmatch(t.strip()))]
            if not mine:
                continue
        by_texts.setdefault(tuple(mine), []).append(el)
    groups, terminals = [], []
    for index, (mine, elements) in enumerate(by_texts.items()):
        name = "TEXT" if index == 0 else f"TEXT_{index + 1}"
        rule = " | ".join(_lit(escape(t)) for t in mine) if mine else text_lexeme(max_chars)
        groups.append((elements, name))
        terminals.append(f"{name}: {rule}")
    return groups, terminals


def changes_nothing(action: Action, element: Element) -> bool:
    """Whether the action would leave `element` as it is: SELECT of the option already
    chosen, TYPE of the value the field holds (the grammar never offers either; a
    procedure recorded elsewhere may propose one)."""
    if action.argument is None:
        return False
    held = element.selected_option if action.verb == "SELECT" else element.value if action.verb == "TYPE" else None
    return action.argument == held


def _choices(el: Element, task: str = "") -> list[str]:
    """The options SELECT may choose: where the task names some of the box's options,
    only those (the model chose another author than the one the task named); never
    the one already chosen (that changes nothing)."""
    options = list(dict.fromkeys(el.options))
    named = [o for o in options if _names(task, o)]
    return [o for o in (named or options) if o != el.selected_option]


def _names(task: str, option: str) -> bool:
    """Whether `task` says `option` as words of its own (not inside another word)."""
    words = option.strip()
    pattern = rf"(?<!\w){re.escape(words)}(?!\w)"
    return bool(re.search(r"\w", words)) and re.search(pattern, task, re.IGNORECASE) is not None


def _typing(verb: str, elements: Sequence[Element], text: str) -> str:
    ids = " | ".join(_lit(el.id) for el in elements)
    return f"{_lit(verb + ' [')} ({ids}) {_lit('] ' + chr(34))} {text} {_lit(chr(34))}"


# -- parser ------------------------------------------------------------------

_ACTION_RE = re.compile(r'^\s*([A-Z]+)(?: \[([^\]\s]+)\])?(?: "((?:[^"\\]|\\.)*)")?\s*$')


def parse_action(text: str, candidates: Sequence[Element] | None = None) -> Action:
    """Parse DSL text into an Action; with candidates, also check it names one validly."""
    match = _ACTION_RE.match(text)
    if not match:
        raise GrammarError(f"not an action: {text!r}")
    verb_name, element_id, raw_argument = match.groups()
    verb = VERBS.get(verb_name)
    if verb is None:
        raise GrammarError(f"unknown verb {verb_name!r} in {text!r}")
    if verb.target != (element_id is not None):
        raise GrammarError(f"{verb_name} {'needs' if verb.target else 'takes no'} an element: {text!r}")
    if raw_argument is None and verb.argument is not None and not verb.optional_argument:
        raise GrammarError(f"{verb_name} needs a quoted argument: {text!r}")
    if raw_argument is not None and verb.argument is None:
        raise GrammarError(f"{verb_name} takes no quoted argument: {text!r}")
    argument = unescape(raw_argument) if raw_argument is not None else None
    if verb.choices and argument not in verb.choices:
        raise GrammarError(f"{verb_name} takes one of {', '.join(verb.choices)}, not {argument!r}")
    action = Action(verb_name, element_id, argument)
    if candidates is not None:
        check_action(action, candidates)
    return action


def check_action(action: Action, candidates: Sequence[Element]) -> None:
    verb = VERBS[action.verb]
    if not verb.target:
        return
    element = next((el for el in candidates if el.id == action.element_id), None)
    if element is None:
        raise GrammarError(f"{action} names element {action.element_id}, which is not a candidate")
    if not verb.accepts(element):
        raise GrammarError(f"{action.verb} cannot act on {element.tag} [{element.id}]")
    if action.verb == "SELECT" and action.argument not in element.options:
        raise GrammarError(f"{action.argument!r} is not an option of [{element.id}]")


def page_texts(elements: Sequence[Element], excluding: Sequence[str] = ()) -> list[str]:
    """The page's visible text, element by element in page order: what a STOP answer may
    copy. A text field shows its value (a record's form: the answer is in a field), a
    password field shows nothing that may be repeated. Texts are cut where one of
    `excluding` stands (the values the question itself names: asked "Who wrote "X"?",
    the answer is never "X"), so no answer can contain one."""
    out = []
    for el in elements:
        if not el.visible:
            continue
        if el.text.strip():
            out.append(el.text)
        elif el.editable and el.input_type != "password" and el.value.strip():
            out.append(el.value)
    names = sorted({e for e in excluding if e.strip()}, key=len, reverse=True)
    if not names:
        return out
    cut = re.compile("|".join(re.escape(n) for n in names), re.IGNORECASE)
    return [part for text in out for part in cut.split(text) if part.strip()]
