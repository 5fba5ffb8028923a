"""Scripted oracle policies for MiniWoB++ dev tasks: a stand-in for a person.

An oracle decides one next action from what a person sees, the instruction and
the page's visible elements, plus the actions it has already taken. It never
runs page JS or reads hidden task state, so it can later play a simulated
supervisor that shows the agent a correct step.

    oracle(instruction, observation, history) -> Action
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from webagent.actions import Action
from webagent.browser.observation import Element, Observation
from webagent.envs.miniwob import MiniWoBEnv
from webagent.errors import ActionError

Oracle = Callable[[str, Observation, tuple[Action, ...]], Action]


# -- reading the instruction --------------------------------------------------


def quoted(instruction: str) -> list[str]:
    """The double-quoted strings of an instruction, in order."""
    return re.findall(r'"([^"]*)"', instruction)


def match(pattern: str, instruction: str) -> re.Match[str]:
    """A regex match on the instruction, or a clear error naming what was expected."""
    found = re.search(pattern, instruction)
    if found is None:
        raise ActionError(f"instruction {instruction!r} does not match {pattern!r}")
    return found


# -- reading the page -----------------------------------------------------------


def visible(observation: Observation) -> list[Element]:
    """What a person can see and use: visible, enabled elements."""
    return list(observation.actionable)


def find(observation: Observation, predicate: Callable[[Element], bool], what: str) -> Element:
    """The first visible element that fits, or an error that says what was missing."""
    for el in visible(observation):
        if predicate(el):
            return el
    raise ActionError(f"no visible {what} on the page")


def find_by_text(observation: Observation, text: str, tag: str | None = None) -> Element:
    """A visible element whose text (or label) is exactly `text`; interactive ones first."""
    candidates = [el for el in visible(observation) if text in (el.text, el.label) and (tag is None or el.tag == tag)]
    candidates.sort(key=lambda el: not el.interactive)
    if not candidates:
        raise ActionError(f"no visible {tag or 'element'} with text {text!r}")
    return candidates[0]


def button(observation: Observation, text: str) -> Element:
    """A button by its text, ignoring case (pages write Submit, submit, SUBMIT)."""
    return find(observation, lambda el: el.tag == "button" and el.text.lower() == text.lower(), f"{text!r} button")


def text_fields(observation: Observation) -> list[Element]:
    return [el for el in visible(observation) if el.editable]


def field_after(observation: Observation, label: str) -> Element:
    """The text field a label names: its own label, else the first field after a <label>
    with that text (pages often leave the label unattached)."""
    elements = visible(observation)
    for index, el in enumerate(elements):
        if el.editable and el.label == label:
            return el
        if el.tag == "label" and el.text == label:
            field = next((f for f in elements[index + 1 :] if f.editable), None)
            if field is not None:
                return field
    raise ActionError(f"no text field labelled {label!r}")


def has_class(el: Element, name: str) -> bool:
    return name in dict(el.attributes).get("class", "").split()


# -- building actions -----------------------------------------------------------


def click(el: Element) -> Action:
    return Action("CLICK", el.id)


def type_into(el: Element, text: str) -> Action:
    return Action("TYPE", el.id, text)


def fill_then_submit(observation: Observation, fields: Iterable[tuple[Element, str]], submit: str) -> Action:
    """Type into the first field that does not hold its text yet; then press submit."""
    for field, text in fields:
        if field.value != text:
            return type_into(field, text)
    return click(button(observation, submit))


# -- the oracles ------------------------------------------------------------------


def click_button(instruction: str, observation: Observation, history: tuple[Action, ...]) -> Action:
    """'Click on the "No" button.' Button text is case-sensitive here (No vs no)."""
    text = match(r'Click on the "(.*)" button', instruction).group(1)
    return click(find(observation, lambda el: el.tag == "button" and el.text == text, f"{text!r} button"))


def click_link(instruction: str, observation: Observation, history: tuple[Action, ...]) -> Action:
    text = match(r'Click on the link "(.*)"', instruction).group(1)
    return click(find(observation, lambda el: el.interactive and el.text == text, f"link {text!r}"))


def click_checkboxes(instruction: str, observation: Observation, history: tuple[Action, ...]) -> Action:
    """'Select A, B and click Submit.' (or 'Select nothing ...'): set every box, then submit."""
    names = match(r"^Select (.*) and click Submit", instruction).group(1)
    wanted = set() if names == "nothing" else set(names.split(", "))
    for box in visible(observation):
        if box.input_type == "checkbox" and bool(box.checked) != (box.label in wanted):
            return click(box)
    return click(button(observation, "Submit"))


def click_option(instruction: str, observation: Observation, history: tuple[Action, ...]) -> Action:
    name = match(r"^Select (.*) and click Submit", instruction).group(1)
    radio = find(observation, lambda el: el.input_type == "radio" and el.label == name, f"option {name!r}")
    return click(radio) if not radio.checked else click(button(observation, "Submit"))


def click_dialog(instruction: str, observation: Observation, history: tuple[Action, ...]) -> Action:
    """The dialog's 'x' is an icon-only button whose label is 'Close'."""
    return click(find(observation, lambda el: el.tag == "button" and el.label == "Close", "dialog close button"))


def click_test(instruction: str, observation: Observation, history: tuple[Action, ...]) -> Action:
    return click(find(observation, lambda el: el.tag == "button", "button"))


def click_test_2(instruction: str, observation: Observation, history: tuple[Action, ...]) -> Action:
    text = match(r"Click button (\w+)", instruction).group(1)
    return click(button(observation, text))


def click_button_sequence(instruction: str, observation: Observation, history: tuple[Action, ...]) -> Action:
    """'Click button ONE, then click button TWO.': the next button is the one after those clicked."""
    order = re.findall(r"button (\w+)", instruction)
    clicks = sum(1 for a in history if a.verb == "CLICK")
    if clicks >= len(order):
        raise ActionError(f"all of {order} were clicked already")
    return click(button(observation, order[clicks]))


def click_collapsible(instruction: str, observation: Observation, history: tuple[Action, ...]) -> Action:
    """Open the collapsed section (its panel is hidden until then), then submit."""
    if any(el.role == "tabpanel" for el in visible(observation)):
        return click(button(observation, "Submit"))
    return click(find(observation, lambda el: el.role == "tab" and el.text.startswith("Section"), "section header"))


def click_tab(instruction: str, observation: Observation, history: tuple[Action, ...]) -> Action:
    tab = match(r"Click on (Tab #\d+)", instruction).group(1)
    return click(find_by_text(observation, tab, tag="a"))


# What a person calls each kind of widget, by what it looks like.
WIDGET_KINDS: dict[str, Callable[[Element], bool]] = {
    "radio": lambda el: el.input_type == "radio",
    "checkbox": lambda el: el.input_type == "checkbox",
    "text": lambda el: el.tag == "input" and el.input_type not in ("radio", "checkbox"),
    "textarea": lambda el: el.tag == "textarea",
    "button": lambda el: el.tag == "button",
}


def click_widget(instruction: str, observation: Observation, history: tuple[Action, ...]) -> Action:
    kind = match(r'Click on a "(\w+)" widget', instruction).group(1)
    if kind not in WIDGET_KINDS:
        raise ActionError(f"unknown widget kind {kind!r}")
    return click(find(observation, WIDGET_KINDS[kind], f"{kind} widget"))


def enter_text(instruction: str, observation: Observation, history: tuple[Action, ...]) -> Action:
    text = quoted(instruction)[0]
    return fill_then_submit(observation, [(text_fields(observation)[0], text)], "Submit")


def enter_password(instruction: str, observation: Observation, history: tuple[Action, ...]) -> Action:
    """'Enter the password "x" into both text fields and press submit.'"""
    password = match(r'password "([^"]*)"', instruction).group(1)
    return fill_then_submit(observation, [(f, password) for f in text_fields(observation)], "Submit")


def focus_text(instruction: str, observation: Observation, history: tuple[Action, ...]) -> Action:
    return click(text_fields(observation)[0])


def login_user(instruction: str, observation: Observation, history: tuple[Action, ...]) -> Action:
    username = match(r'username "([^"]*)"', instruction).group(1)
    password = match(r'password "([^"]*)"', instruction).group(1)
    fields = [(field_after(observation, "Username"), username), (field_after(observation, "Password"), password)]
    return fill_then_submit(observation, fields, "Login")


def choose_list(instruction: str, observation: Observation, history: tuple[Action, ...]) -> Action:
    item = match(r"^Select (.*) from the list", instruction).group(1)
    box = find(observation, lambda el: el.is_select and item in el.options, f"list offering {item!r}")
    return Action("SELECT", box.id, item) if box.selected_option != item else click(button(observation, "Submit"))


def enter_date(instruction: str, observation: Observation, history: tuple[Action, ...]) -> Action:
    """'Enter 10/20/2017 as the date ...': a date field's value (what TYPE fills) is ISO, 2017-10-20."""
    month, day, year = match(r"Enter (\d\d)/(\d\d)/(\d{4})", instruction).groups()
    field = find(observation, lambda el: el.input_type == "date", "date field")
    return fill_then_submit(observation, [(field, f"{year}-{month}-{day}")], "Submit")


def use_autocomplete(instruction: str, observation: Observation, history: tuple[Action, ...]) -> Action:
    """Type the prefix, pick the suggestion with the right ending, submit.

    Suggestions appear a moment after typing; until they do, clicking the field
    (which keeps its focus and so the pending search) is the way to wait.
    """
    parts = quoted(instruction)
    prefix, suffix = parts[0], (parts[1] if len(parts) > 1 else "")
    field = text_fields(observation)[0]
    if field.value.startswith(prefix) and field.value.endswith(suffix):
        return click(button(observation, "Submit"))
    if field.value != prefix:
        return type_into(field, prefix)
    suggestions = [
        el for el in visible(observation) if has_class(el, "ui-menu-item-wrapper") and el.text.startswith(prefix)
    ]
    if not suggestions:
        if sum(1 for a in history if a.element_id == field.id) > 5:
            raise ActionError(f"no suggestion appeared for {prefix!r}")
        return click(field)
    choice = next((el for el in suggestions if el.text.endswith(suffix)), None)
    if choice is None:
        raise ActionError(f"no suggestion starts with {prefix!r} and ends with {suffix!r}")
    return click(choice)


def navigate_tree(instruction: str, observation: Observation, history: tuple[Action, ...]) -> Action:
    """Click the named item if it shows; else open the next closed folder, top to bottom."""
    name = quoted(instruction)[0]
    for el in visible(observation):
        if el.text == name and el.tag in ("li", "span"):
            return click(el)
    for el in visible(observation):
        if el.tag == "li" and has_class(el, "expandable"):
            folder = next((f for f in visible(observation) if f.parent_id == el.id and has_class(f, "folder")), el)
            return click(folder)
    raise ActionError(f"no item named {name!r} in the tree and no closed folder left")


def search_engine(instruction: str, observation: Observation, history: tuple[Action, ...]) -> Action:
    """Search, page to the result's page (3 results a page), click the n-th result.

    The pager shows '<' only past the first page and '>' only before the last,
    which tells which of its three pages is showing.
    """
    term = quoted(instruction)[0]
    rank = int(match(r"(\d+)(?:st|nd|rd|th) search result", instruction).group(1))
    field = find(observation, lambda el: el.editable, "search box")
    results = [el for el in visible(observation) if el.tag == "a" and has_class(el, "search-title")]
    if field.value != term:
        return type_into(field, term)
    if not results:
        return click(button(observation, "Search"))
    pager = {el.text: el for el in visible(observation) if has_class(el, "page-link")}
    page = 1 if "<" not in pager else 3 if ">" not in pager else 2
    wanted_page, index = divmod(rank - 1, 3)
    if page != wanted_page + 1:
        return click(find_by_text(observation, str(wanted_page + 1), tag="a"))
    if index >= len(results):
        raise ActionError(f"page {page} shows {len(results)} results, not {index + 1}")
    return click(results[index])


ORACLES: dict[str, Oracle] = {
    "click-button": click_button,
    "click-button-sequence": click_button_sequence,
    "click-checkboxes": click_checkboxes,
    "click-collapsible": click_collapsible,
    "click-dialog": click_dialog,
    "click-link": click_link,
    "click-option": click_option,
    "click-tab": click_tab,
    "click-test": click_test,
    "click-test-2": click_test_2,
    "click-widget": click_widget,
    "choose-list": choose_list,
    "enter-date": enter_date,
    "enter-password": enter_password,
    "enter-text": enter_text,
    "focus-text": focus_text,
    "login-user": login_user,
    "navigate-tree": navigate_tree,
    "search-engine": search_engine,
    "use-autocomplete": use_autocomplete,
}


def solve_episode(env: MiniWoBEnv, seed: int, max_steps: int = 20) -> tuple[float, list[Action]]:
    """Play one seeded episode with the task's oracle: the reward (0.0 if it never ended) and the actions."""
    oracle = ORACLES.get(env.task)
    if oracle is None:
        raise ActionError(f"no oracle for MiniWoB++ task {env.task!r}")
    instruction = env.reset(seed)
    history: list[Action] = []
    error = None
    for _ in range(max_steps):
        observation = env.observe(last_error=error)
        action = oracle(instruction, observation, tuple(history))
        error = env.act(action, observation)
        history.append(action)
        status = env.status()
        if status.done:
            return float(status.reward or 0.0), history
    return 0.0, history
