"""Tasks on the suite of real applications (`webagent.sites`): an environment for
the agent loop whose success is read from the application itself.

A real site does not end an episode: every verb is offered and the agent must say
STOP (with the answer, for a question). At that moment `judge` reads the
application's request log since the episode began, its database or its files, and
the episode is a success or a failure; an episode that never stops fails at the
step limit. The task's `check` fields say what to look for; the agent's answer is
compared with the value the application holds, never with a value from the task.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs

from webagent.browser.session import BrowserSession
from webagent.envs.base import EpisodeStatus, RealPage
from webagent.errors import DataError
from webagent.sites.apps import App, Suite
from webagent.sites.data import TASKS_FILE


@dataclass(frozen=True)
class SiteTask:
    name: str
    site: str
    family: str
    instruction: str
    start: str
    check: dict = field(default_factory=dict, hash=False)


def read_site_tasks(
    path: str | Path = TASKS_FILE, *, sites: Sequence[str] = (), families: Sequence[str] = ()
) -> list[SiteTask]:
    tasks = []
    for number, line in enumerate(Path(path).read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            r = json.loads(line)
            task = SiteTask(r["name"], r["site"], r["family"], r["instruction"], r["start"], r.get("check") or {})
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise DataError(f"{path}:{number}: not a site task ({exc})") from exc
        if (not sites or task.site in sites) and (not families or task.family in families):
            tasks.append(task)
    if not tasks:
        raise DataError(f"{path}: no site tasks match sites={list(sites)} families={list(families)}")
    return tasks


# -- reading the application ------------------------------------------------------


def last_page(requests: list[dict]) -> dict | None:
    """The last HTML page the application served with a GET (what the browser shows)."""
    pages = [r for r in requests if r["method"] == "GET" and r["status"] == 200 and "text/html" in r["type"]]
    return pages[-1] if pages else None


def query_value(request: dict | None, name: str) -> str | None:
    if request is None:
        return None
    values = parse_qs(request["query"]).get(name)
    return values[0] if values else None


def same_text(a: str | None, b: str | None) -> bool:
    return a is not None and b is not None and " ".join(a.split()).lower() == " ".join(b.split()).lower()


def book_row(app: App, title: str):
    rows = app.query(
        "SELECT b.id, b.year, b.isbn, a.name FROM library_book b JOIN library_author a ON a.id = b.author_id "
        "WHERE b.title = ?",
        title,
    )
    return rows[0] if rows else None


def newest_file(app: App, name: str) -> str | None:
    def version(path: Path) -> tuple:
        return tuple(int(x) for x in path.name[len(name) + 1 : -len(".tar.gz")].split("."))

    files = [
        p
        for p in (app.folder / "packages").glob(f"{name}-*.tar.gz")
        if re.fullmatch(r"[\d.]+", p.name[len(name) + 1 : -7])
    ]
    return max(files, key=version).name if files else None


def doc_fact(app: App, slug: str, fact: str) -> str | None:
    """A value from the settings table of a page's source (the docs' own files)."""
    source = (app.folder / "docs" / f"{slug}.md").read_text()
    found = re.search(rf"^\| {re.escape(fact)} \| (.*?) \|$", source, re.M)
    return found.group(1) if found else None


Check = Callable[[App, dict, list[dict], "str | None"], bool]


def _page_is(path: Callable[[App, dict], str | None]) -> Check:
    def check(app, c, requests, answer):
        page = last_page(requests)
        return page is not None and page["path"] == path(app, c)

    return check


def _book_page(app, c):
    row = book_row(app, c["title"])
    return f"/admin/library/book/{row[0]}/change/" if row else None


def _list_query(name: str, key: str) -> Check:
    def check(app, c, requests, answer):
        page = last_page(requests)
        return (
            page is not None and page["path"] == "/admin/library/book/" and same_text(query_value(page, name), c[key])
        )

    return check


def _added(app, c, requests, answer):
    rows = app.query(
        "SELECT count(*) FROM library_book b JOIN library_author a ON a.id = b.author_id "
        "WHERE b.title = ? AND a.name = ? AND b.year = ?",
        c["title"],
        c["author"],
        c["year"],
    )
    return rows[0][0] >= 1


def _changed(app, c, requests, answer):
    row = book_row(app, c["title"])
    return row is not None and row[1] == c["year"]


def _book_answer(app, c, requests, answer):
    row = book_row(app, c["title"])
    return row is not None and same_text(answer, {"isbn": row[2], "author": row[3]}[c["field"]])


def _logged_in(app, c, requests, answer):
    rows = app.query("SELECT last_login FROM auth_user WHERE username = ?", c["username"])
    return bool(rows) and rows[0][0] is not None


def _downloaded(app, c, requests, answer):
    newest = newest_file(app, c["name"])
    return any(r["method"] == "GET" and r["status"] == 200 and r["path"].endswith(f"/{newest}") for r in requests)


CHECKS: dict[str, Check] = {
    "open-book": _page_is(_book_page),
    "search-books": _list_query("q", "q"),
    "filter-genre": _list_query("genre__exact", "genre"),
    "sort-books": _list_query("o", "o"),
    "add-book": _added,
    "change-year": _changed,
    "ask-isbn": _book_answer,
    "ask-author": _book_answer,
    "login": _logged_in,
    "open-package": _page_is(lambda app, c: f"/simple/{c['name']}/"),
    "ask-newest": lambda app, c, requests, answer: same_text(answer, newest_file(app, c["name"])),
    "download-newest": _downloaded,
    "open-page": _page_is(lambda app, c: f"/{c['slug']}/"),
    "search-docs": lambda app, c, requests, answer: (
        (page := last_page(requests)) is not None
        and page["path"] == "/search.html"
        and same_text(query_value(page, "q"), c["q"])
    ),
    "ask-fact": lambda app, c, requests, answer: same_text(answer, doc_fact(app, c["slug"], c["fact"])),
}
FAMILIES = tuple(CHECKS)


# -- the environment --------------------------------------------------------------


@dataclass
class SiteEnv(RealPage):
    """One task of the suite in the session's page; `reset` restores the application's
    state, logs in (or out) as the task needs, and loads the start page."""

    session: BrowserSession
    suite: Suite
    task: SiteTask
    _mark: int = 0

    @property
    def instruction(self) -> str:
        return self.task.instruction

    @property
    def app(self) -> App:
        return self.suite[self.task.site]

    def reset(self, seed: int = 0) -> str:
        app = self.app
        app.reset()
        if self.task.site == "library":
            if self.task.family == "login":
                self.session.call(lambda page: page.context.clear_cookies())
            else:
                self._log_in(app)
        self._mark = app.log_mark()
        self.session.goto(app.url(self.task.start))
        self.session.call(_forget_storage)
        return self.task.instruction

    def _log_in(self, app: App) -> None:
        from webagent.sites.data import load_seed

        admin = load_seed()["admin"]
        self.session.goto(app.url("/admin/"))

        def log_in(page):
            if "/admin/login/" not in page.url:
                return
            page.fill("#id_username", admin["username"])
            page.fill("#id_password", admin["password"])
            with page.expect_navigation():
                page.click("input[type=submit]")

        self.session.call(log_in)

    def status(self) -> EpisodeStatus:
        return EpisodeStatus(done=False)  # only the agent's STOP ends an episode here

    def requests(self) -> list[dict]:
        return self.app.requests(self._mark)

    def succeeded(self, answer: str | None = None) -> bool:
        return CHECKS[self.task.family](self.app, self.task.check, self.requests(), answer)

    def judge(self, answer: str | None) -> EpisodeStatus:
        """Called when the agent says STOP: success read from the application."""
        ok = self.succeeded(answer)
        return EpisodeStatus(done=True, reward=1.0 if ok else 0.0, reason=None if ok else "not done in the application")


_STORAGE_JS = """() => {
  const n = localStorage.length + sessionStorage.length;
  localStorage.clear();
  sessionStorage.clear();
  return n;
}"""


def _forget_storage(page) -> None:
    """Start the episode from no remembered UI state: the Django admin keeps which of its
    filters are folded in web storage, and the ranker's click on "By genre" in one
    episode hid the genre links from the model's next one (the database was restored,
    the browser's storage was not)."""
    if page.evaluate(_STORAGE_JS):
        page.reload()
