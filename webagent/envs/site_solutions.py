"""Scripted solutions of the site families: a stand-in for a person, as the
MiniWoB++ oracles are. Each reads only the instruction, what the page shows
(its visible elements, address) and its own earlier actions, and ends with STOP
(the answer copied from the page for questions).

    solution(instruction, observation, history) -> Action
"""

from __future__ import annotations

import re
from collections.abc import Callable
from urllib.parse import parse_qs, urlparse

from webagent.actions import Action
from webagent.browser.observation import Element, Observation
from webagent.envs.oracles import attribute, click, find, has_class, match, type_into, visible
from webagent.errors import ActionError

Solution = Callable[[str, Observation, tuple[Action, ...]], Action]
STOP = Action("STOP")


def answer(text: str) -> Action:
    return Action("STOP", None, " ".join(text.split()))


def path_of(observation: Observation) -> str:
    return urlparse(observation.url).path


def query_of(observation: Observation, name: str) -> str | None:
    values = parse_qs(urlparse(observation.url).query).get(name)
    return values[0] if values else None


def link(observation: Observation, text: str) -> Element:
    """A visible link by its text, ignoring case (the admin writes some in capitals)."""
    return find(observation, lambda el: el.tag == "a" and el.text.lower() == text.lower(), f"link {text!r}")


def named(observation: Observation, name: str) -> Element:
    return find(observation, lambda el: attribute(el, "name") == name, f"field {name!r}")


def submit(observation: Observation, value: str) -> Element:
    return find(
        observation,
        lambda el: el.input_type == "submit" and (el.value == value or attribute(el, "value") == value),
        f"{value!r} button",
    )


def quoted(instruction: str) -> str:
    return match(r'"([^"]*)"', instruction).group(1)


def row_cell(observation: Observation, title: str, column: str) -> Element:
    """The cell of a change-list row (the row named by its title link) in a column."""
    elements = list(observation.elements)
    start = next((i for i, el in enumerate(elements) if el.tag == "a" and el.text == title), None)
    if start is None:
        raise ActionError(f"no row for {title!r}")
    for el in elements[start + 1 :]:
        if has_class(el, f"field-{column}"):
            return el
        if has_class(el, "action-select"):  # the next row began
            break
    raise ActionError(f"no {column} cell in the row of {title!r}")


def search_then_stop(field: Element, term: str, observation: Observation, query: str = "q") -> Action:
    if query_of(observation, query) == term:
        return STOP
    if field.value != term:
        return type_into(field, term)
    return Action("PRESS", field.id, "Enter")


# -- library (Django admin) ---------------------------------------------------------

BOOK_PAGE = re.compile(r"^/admin/library/book/\d+/change/$")


def open_book(instruction, observation, history):
    title = quoted(instruction)
    if BOOK_PAGE.match(path_of(observation)) and named(observation, "title").value == title:
        return STOP
    return click(link(observation, title))


def search_books(instruction, observation, history):
    return search_then_stop(named(observation, "q"), quoted(instruction), observation)


def filter_genre(instruction, observation, history):
    genre = match(r"the genre (\w+)", instruction).group(1)
    if query_of(observation, "genre__exact") == genre:
        return STOP
    return click(link(observation, genre))


SORT_COLUMNS = {"title": "1", "author": "2", "year": "3", "ISBN": "4"}


def sort_books(instruction, observation, history):
    column = match(r"Sort the books by (\w+)", instruction).group(1)
    if query_of(observation, "o") == SORT_COLUMNS[column]:
        return STOP
    return click(link(observation, column))


def _saved(observation: Observation, verb: str) -> bool:
    return any(f"was {verb} successfully" in el.text for el in visible(observation))


def add_book(instruction, observation, history):
    title, author, year = match(r'titled "(.*)" by (.+), published in (\d{4})', instruction).groups()
    if _saved(observation, "added"):
        return STOP
    if not path_of(observation).endswith("/add/"):
        return click(link(observation, "Add book"))
    field = named(observation, "title")
    if field.value != title:
        return type_into(field, title)
    box = named(observation, "author")
    if box.selected_option != author:
        return Action("SELECT", box.id, author)
    field = named(observation, "year")
    if field.value != year:
        return type_into(field, year)
    return click(submit(observation, "Save"))


def change_year(instruction, observation, history):
    title, year = match(r'book "(.*)" to (\d{4})', instruction).groups()
    if _saved(observation, "changed"):
        return STOP
    if not BOOK_PAGE.match(path_of(observation)):
        return click(link(observation, title))
    field = named(observation, "year")
    if field.value != year:
        return type_into(field, year)
    return click(submit(observation, "Save"))


def ask_book(column: str) -> Solution:
    def solve(instruction, observation, history):
        return answer(row_cell(observation, quoted(instruction), column).text)

    return solve


def login(instruction, observation, history):
    username = match(r'username "([^"]*)"', instruction).group(1)
    password = match(r'password "([^"]*)"', instruction).group(1)
    if "/admin/login/" not in observation.url:
        return STOP
    for name, text in (("username", username), ("password", password)):
        field = named(observation, name)
        if field.value != text and not (name == "password" and field.value):
            return type_into(field, text)
    return click(submit(observation, "Log in"))


# -- packages (pypiserver) -------------------------------------------------------------


def _package_page(observation: Observation, name: str) -> Action | None:
    """The way to /simple/NAME/: None once there."""
    path = path_of(observation)
    if path == f"/simple/{name}/":
        return None
    if path == "/simple/":
        return click(link(observation, name))
    return click(
        find(observation, lambda el: el.tag == "a" and attribute(el, "href").endswith("simple/"), "simple index")
    )


def _newest(observation: Observation, name: str) -> Element:
    files = [
        el
        for el in visible(observation)
        if el.tag == "a" and re.fullmatch(rf"{re.escape(name)}-[\d.]+\.tar\.gz", el.text)
    ]
    if not files:
        raise ActionError(f"no files of {name} on the page")
    return max(files, key=lambda el: tuple(int(x) for x in el.text[len(name) + 1 : -7].split(".")))


def open_package(instruction, observation, history):
    name = match(r"package (\S+?)\.$", instruction).group(1)
    return _package_page(observation, name) or STOP


def ask_newest(instruction, observation, history):
    name = match(r"package (\S+?) has", instruction).group(1)
    return _package_page(observation, name) or answer(_newest(observation, name).text)


def download_newest(instruction, observation, history):
    name = match(r"package (\S+?)\.$", instruction).group(1)
    step = _package_page(observation, name)
    if step is not None:
        return step
    newest = _newest(observation, name)
    if history and history[-1] == click(newest) and not observation.last_error:
        return STOP
    return click(newest)


# -- docs (MkDocs) -----------------------------------------------------------------------


def _doc_page(observation: Observation, title: str) -> Action | None:
    heading = next((el for el in visible(observation) if el.tag == "h1"), None)
    if heading is not None and heading.text == title:
        return None
    return click(
        find(
            observation, lambda el: el.tag == "a" and el.text == title and has_class(el, "reference"), f"page {title!r}"
        )
    )


def open_page(instruction, observation, history):
    return _doc_page(observation, quoted(instruction)) or STOP


def search_docs(instruction, observation, history):
    return search_then_stop(named(observation, "q"), quoted(instruction), observation)


def ask_fact(instruction, observation, history):
    fact = match(r"What is the (.+?) of the page", instruction).group(1)
    step = _doc_page(observation, quoted(instruction))
    if step is not None:
        return step
    elements = visible(observation)
    for index, el in enumerate(elements):
        if el.tag == "td" and el.text == fact and index + 1 < len(elements):
            return answer(elements[index + 1].text)
    raise ActionError(f"no {fact!r} row on the page")


SOLUTIONS: dict[str, Solution] = {
    "open-book": open_book,
    "search-books": search_books,
    "filter-genre": filter_genre,
    "sort-books": sort_books,
    "add-book": add_book,
    "change-year": change_year,
    "ask-isbn": ask_book("isbn"),
    "ask-author": ask_book("author"),
    "login": login,
    "open-package": open_package,
    "ask-newest": ask_newest,
    "download-newest": download_newest,
    "open-page": open_page,
    "search-docs": search_docs,
    "ask-fact": ask_fact,
}


def solve(env, max_steps: int = 12) -> tuple[bool, list[Action]]:
    """Play one task with its family's solution, through the environment as the agent
    would: whether the application then says it is done, and the actions taken."""
    import time

    solution = SOLUTIONS[env.task.family]
    env.reset()
    history: list[Action] = []
    error = None
    for _ in range(max_steps):
        deadline = time.monotonic() + 3.0
        while True:
            observation = env.observe(last_error=error)
            try:
                action = solution(env.instruction, observation, tuple(history))
                break
            except ActionError:
                if time.monotonic() >= deadline:
                    raise
                time.sleep(0.2)
        history.append(action)
        if action.verb == "STOP":
            return bool(env.judge(action.argument).reward), history
        error = env.act(action, observation)
    return False, history
