"""Scripted oracle policies for MiniWoB++ dev tasks: a stand-in for a person.

An oracle decides one next action from what a person sees, the instruction and
the page's visible elements, plus the actions it has already taken. It never
runs page JS or reads hidden task state, so it can later play a simulated
supervisor that shows the agent a correct step.

    oracle(instruction, observation, history) -> Action
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable

from webagent.actions import Action
from webagent.browser.observation import Element, Observation
from webagent.envs.miniwob import MiniWoBEnv
from webagent.errors import ActionError, DataError

Oracle = Callable[[str, Observation, tuple[Action, ...]], Action]
# Whether an action other than the oracle's is right too (a task where several are).
AlsoRight = Callable[[str, Observation, tuple[Action, ...], Action], bool]


# -- reading the instruction --------------------------------------------------


def match(pattern: str, instruction: str) -> re.Match[str]:
    """A regex match on the instruction (quoted strings, names, numbers), or a clear
    error: an instruction of another shape is a task this oracle does not know."""
    found = re.search(pattern, instruction)
    if found is None:
        raise DataError(f"instruction {instruction!r} does not match {pattern!r}")
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


def text_field(observation: Observation) -> Element:
    return find(observation, lambda el: el.editable, "text field")


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


def attribute(el: Element, name: str) -> str:
    return dict(el.attributes).get(name, "")


def has_class(el: Element, name: str) -> bool:
    return name in attribute(el, "class").split()


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


def any_box_to_set(instruction: str, observation: Observation, history: tuple[Action, ...], action: Action) -> bool:
    """Any box still to be set is as right as the one the oracle sets first: the order is free."""
    names = match(r"^Select (.*) and click Submit", instruction).group(1)
    wanted = set() if names == "nothing" else set(names.split(", "))
    due = [b for b in visible(observation) if b.input_type == "checkbox" and bool(b.checked) != (b.label in wanted)]
    return any(action == click(box) for box in due)


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
    """'Click button ONE, then click button TWO.': the button after the one clicked last,
    or that one again if its click failed (the observation's last error says so)."""
    order = re.findall(r"button (\w+)", instruction)
    step = 0
    if history:
        last = observation.find(history[-1].element_id)
        done = order.index(last.text) if last is not None and last.text in order else -1
        step = done if observation.last_error else done + 1
    if not 0 <= step < len(order):
        raise ActionError(f"cannot tell which of {order} to click after {[str(a) for a in history]}")
    return click(button(observation, order[step]))


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


def any_widget_of_kind(instruction: str, observation: Observation, history: tuple[Action, ...], action: Action) -> bool:
    """The page rewards a click on any widget of the asked kind, not only the first."""
    kind = match(r'Click on a "(\w+)" widget', instruction).group(1)
    fits = WIDGET_KINDS.get(kind, lambda el: False)
    return any(action == click(el) for el in visible(observation) if fits(el))


def enter_text(instruction: str, observation: Observation, history: tuple[Action, ...]) -> Action:
    text = match(r'Enter "(.*)" into', instruction).group(1)
    return fill_then_submit(observation, [(text_field(observation), text)], "Submit")


def enter_password(instruction: str, observation: Observation, history: tuple[Action, ...]) -> Action:
    """'Enter the password "x" into both text fields and press submit.'"""
    password = match(r'password "([^"]*)"', instruction).group(1)
    return fill_then_submit(observation, [(f, password) for f in text_fields(observation)], "Submit")


def focus_text(instruction: str, observation: Observation, history: tuple[Action, ...]) -> Action:
    return click(text_field(observation))


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
    """'Enter 10/20/2017 as the date ...': typed as written (TYPE gives a date field its ISO form)."""
    month, day, year = match(r"Enter (\d\d)/(\d\d)/(\d{4})", instruction).groups()
    field = find(observation, lambda el: el.input_type == "date", "date field")
    if field.value != f"{year}-{month}-{day}":  # what the field holds once typed
        return type_into(field, f"{month}/{day}/{year}")
    return click(button(observation, "Submit"))


def _starts_and_ends(instruction: str) -> tuple[str, str]:
    """use-autocomplete's asked start, and its asked end ("" where it asks none)."""
    ending = re.search(r'ends with "([^"]*)"', instruction)
    return match(r'starts with "([^"]*)"', instruction).group(1), ending.group(1) if ending else ""


def _suggestions(observation: Observation, prefix: str, suffix: str, *classes: str) -> list[Element]:
    """The visible suggestions (elements of one of `classes`) that start and end as asked."""
    return [
        el
        for el in visible(observation)
        if any(has_class(el, c) for c in classes) and el.text.startswith(prefix) and el.text.endswith(suffix)
    ]


def use_autocomplete(instruction: str, observation: Observation, history: tuple[Action, ...]) -> Action:
    """Type the prefix, pick the suggestion with the right ending, submit.
    (Suggestions show a moment after typing: until then there is nothing to pick.)"""
    prefix, suffix = _starts_and_ends(instruction)
    field = text_field(observation)
    submit = click(button(observation, "Submit"))
    covered = bool(history and history[-1] == submit and observation.last_error)  # the suggestions cover it
    if field.value.startswith(prefix) and field.value.endswith(suffix) and not covered:
        return submit
    if field.value != prefix and not covered:
        return type_into(field, prefix)
    choices = _suggestions(observation, prefix, suffix, "ui-menu-item-wrapper")
    if not choices:
        raise ActionError(f"no visible suggestion starting with {prefix!r} and ending with {suffix!r} on the page")
    return click(choices[0])


def any_fitting_suggestion(
    instruction: str, observation: Observation, history: tuple[Action, ...], action: Action
) -> bool:
    """The task checks only how the entry starts (and ends, where it says so): any
    suggestion that does is as right as the first one, which the oracle picks."""
    fits = _suggestions(observation, *_starts_and_ends(instruction), "ui-menu-item-wrapper", "ui-menu-item")
    return any(action == click(el) for el in fits)


def _named_items(observation: Observation, name: str) -> list[Element]:
    return [el for el in visible(observation) if el.text == name and el.tag in ("li", "span")]


def _closed_folders(observation: Observation) -> list[tuple[Element, list[Element]]]:
    """Each closed folder's row, with what opens it: its name (span.folder) and its toggle (div.hitarea)."""
    shown = visible(observation)
    rows = [el for el in shown if el.tag == "li" and has_class(el, "expandable")]
    return [
        (row, [el for el in shown if el.parent_id == row.id and (has_class(el, "folder") or has_class(el, "hitarea"))])
        for row in rows
    ]


def navigate_tree(instruction: str, observation: Observation, history: tuple[Action, ...]) -> Action:
    """Click the named item if it shows; else open the next closed folder, top to bottom."""
    name = match(r'named "(.*)"', instruction).group(1)
    named, closed = _named_items(observation, name), _closed_folders(observation)
    if named:
        return click(named[0])
    if closed:
        row, openers = closed[0]
        return click(next((el for el in openers if has_class(el, "folder")), row))
    raise ActionError(f"no item named {name!r} in the tree and no closed folder left")


def any_named_item_or_closed_folder(
    instruction: str, observation: Observation, history: tuple[Action, ...], action: Action
) -> bool:
    """The task checks the clicked item's name, so any item named as asked is right (names
    repeat); while none shows, opening any closed folder is as right as opening the first:
    a person cannot see inside them either, and opening one ends nothing."""
    named = _named_items(observation, match(r'named "(.*)"', instruction).group(1))
    right = named or [el for _, openers in _closed_folders(observation) for el in openers]
    return any(action == click(el) for el in right)


def search_engine(instruction: str, observation: Observation, history: tuple[Action, ...]) -> Action:
    """Search, page to the result's page (3 results a page), click the n-th result.

    The pager shows '<' only past the first page and '>' only before the last,
    which tells which of its three pages is showing.
    """
    term = match(r'enter "(.*)" and press', instruction).group(1)
    rank = int(match(r"(\d+)(?:st|nd|rd|th) search result", instruction).group(1))
    field = text_field(observation)
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


def item_elements(observation: Observation, starts: Callable[[Element], bool], name: str) -> list[Element]:
    """The elements of one repeated item (a tweet, say), in page order: from the first
    element that `starts` an item and has text `name` up to the next item's start."""
    elements = list(observation.elements)
    first = next((i for i, el in enumerate(elements) if starts(el) and el.text == name), None)
    if first is None:
        raise ActionError(f"no item for {name!r} on the page")
    end = next((i for i in range(first + 1, len(elements)) if starts(elements[i])), len(elements))
    return elements[first:end]


def icon(elements: Iterable[Element], name: str) -> Element | None:
    """A visible icon-only control; a person tells them apart by their picture, we by
    class or id. An icon whose picture has not loaded yet has no size: not visible."""
    return next(
        (el for el in elements if el.visible and el.enabled and (has_class(el, name) or attribute(el, "id") == name)),
        None,
    )


def social_media(instruction: str, observation: Observation, history: tuple[Action, ...]) -> Action:
    """'For the user @x, click on the "Retweet" button.' Reply, Retweet and Like are icons
    under the tweet; the rest (Share via DM, Mute @x, ...) sit in its '...' menu."""
    user, label = match(r'For the user (.+?), click on the "(.*)" button', instruction).groups()
    tweet = item_elements(observation, lambda el: has_class(el, "username"), user)
    direct = icon(tweet, label.lower()) if label in ("Reply", "Retweet", "Like") else None
    if direct is not None:
        return click(direct)
    entry = next((el for el in tweet if el.tag == "li" and el.text in (label, f"{label} {user}")), None)
    if entry is None:
        raise ActionError(f"the tweet of {user} has no {label!r} control")
    if entry.visible:
        return click(entry)
    more = icon(tweet, "more")
    if more is None:
        raise ActionError(f"the tweet of {user} has no visible '...' menu")
    return click(more)


def email_inbox(instruction: str, observation: Observation, history: tuple[Action, ...]) -> Action:
    """Find the sender's email, then star it, trash it, reply to it or forward it.

    Star and trash are icons on the email's row; reply and forward open the email,
    press Reply or Forward, fill in the text or the recipient, and press the send icon.
    """
    sender = match(r"Find the email by (.+?) and ", instruction).group(1)
    if "reply to them" in instruction:
        reply = match(r'with the text "(.*)"', instruction).group(1)
        return email_compose(observation, sender, "Reply", "reply-text", reply)
    if "forward that email" in instruction:
        to = match(r"forward that email to (.+)\.$", instruction).group(1)
        return email_compose(observation, sender, "Forward", "forward-sender", to)
    name = "trash" if "trash icon" in instruction else "star" if "star icon" in instruction else None
    if name is None:
        raise ActionError(f"unknown email task: {instruction!r}")
    thread = email_thread(observation, sender)
    target = icon((el for el in observation.elements if el.parent_id == thread.id), name)
    if target is None:
        raise ActionError(f"the email by {sender!r} shows no {name} icon")
    return click(target)


def email_thread(observation: Observation, sender: str) -> Element:
    """An inbox row starts with its sender's name."""
    return find(
        observation,
        lambda el: has_class(el, "email-thread") and el.text.startswith(sender + " "),
        f"email by {sender!r}",
    )


def email_compose(observation: Observation, sender: str, verb: str, field_name: str, text: str) -> Action:
    """Open the email, press Reply/Forward, fill the field, press the send icon."""
    send = icon(visible(observation), f"send-{verb.lower()}")
    if send is not None:
        field = find(
            observation,
            lambda el: el.editable and field_name in (attribute(el, "id"), attribute(el, "class")),
            f"{verb.lower()} field",
        )
        return type_into(field, text) if field.value != text else click(send)
    opened = next((el for el in visible(observation) if el.text == verb and el.interactive), None)
    return click(opened) if opened is not None else click(email_thread(observation, sender))


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
    "email-inbox": email_inbox,
    "enter-date": enter_date,
    "enter-password": enter_password,
    "enter-text": enter_text,
    "focus-text": focus_text,
    "login-user": login_user,
    "navigate-tree": navigate_tree,
    "search-engine": search_engine,
    "social-media": social_media,
    "use-autocomplete": use_autocomplete,
}


# Tasks where more than one action is right at a step: the oracle names one; a simulated
# person confirms any of them (correcting a right click taught the model nothing and
# counted as an intervention: click-widget's 0.5 per episode never fell).
ALSO_RIGHT: dict[str, AlsoRight] = {
    "click-checkboxes": any_box_to_set,
    "click-widget": any_widget_of_kind,
    "navigate-tree": any_named_item_or_closed_folder,
    "use-autocomplete": any_fitting_suggestion,
}


def next_action(
    oracle: Oracle,
    env: MiniWoBEnv,
    history: tuple[Action, ...],
    *,
    last_error: str | None = None,
    patience_s: float = 3.0,
) -> tuple[Observation, Action]:
    """Observe and ask the oracle. When it cannot find what it needs, look again a
    moment later, as a person would: pages draw icons and menus a little after
    they change (images load, suggestions wait for typing to pause)."""
    deadline = time.monotonic() + patience_s
    while True:
        observation = env.observe(last_error=last_error)
        try:
            return observation, oracle(env.instruction, observation, history)
        except ActionError:
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.2)


def solve_episode(env: MiniWoBEnv, seed: int, max_steps: int = 20) -> tuple[float, list[Action]]:
    """Play one seeded episode with the task's oracle: the reward (0.0 if it never
    ended) and the actions taken."""
    oracle = ORACLES.get(env.task)
    if oracle is None:
        raise ActionError(f"no oracle for MiniWoB++ task {env.task!r}")
    env.reset(seed)
    history: list[Action] = []
    error = None
    for _ in range(max_steps):
        observation, action = next_action(oracle, env, tuple(history), last_error=error)
        error = env.act(action, observation)
        history.append(action)
        status = env.status()
        if status.done:
            return float(status.reward or 0.0), history
    return 0.0, history
