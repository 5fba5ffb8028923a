"""Turn the live page into an Observation (runs on the browser's owner thread)."""

from __future__ import annotations

import contextlib
import weakref
from functools import cache
from importlib.resources import files

from webagent.browser.observation import (
    Element,
    Observation,
    cleaned_html,
    element_from_line,
    element_from_snapshot,
    json_object,
)
from webagent.browser.tabs import tabs_of
from webagent.errors import BrowserError


@cache
def snapshot_script() -> str:
    return files("webagent.browser").joinpath("snapshot.js").read_text()


def read_snapshot(
    raw: str | dict, held: dict[str, str] | None = None
) -> tuple[dict, tuple[Element, ...], dict[str, str]]:
    """The page's fields, its elements, and their records by element id, from what
    snapshot.js returned: usually lines (the page as JSON, then per element its record
    as JSON, or "=ID" for a record the reader holds from the snapshot `held`, a tab and
    its place); an object where the page broke JSON.stringify."""
    if isinstance(raw, dict):
        return raw, tuple(element_from_snapshot(r) for r in raw["elements"]), {}
    head, _, body = raw.partition("\n")
    page = json_object(head, "the page's snapshot")
    elements: list[Element] = []
    records: dict[str, str] = {}
    for line in body.split("\n") if body else ():
        record, tab, place = line.partition("\t")
        if record[:1] == "=" and page.get("since"):
            try:
                record = held[record[1:]]  # type: ignore[index]
            except (KeyError, TypeError) as exc:
                raise BrowserError(f"the snapshot refers to a record the reader does not hold: {exc}") from exc
            line = record + tab + place
        element = element_from_line(line)
        elements.append(element)
        records[element.id] = record
    return page, tuple(elements), records


# The records of the last snapshot read from each page, and its token: the next
# snapshot of that page sends only what changed (snapshot.js). A cache, not state
# anyone reads: a page closed and collected takes its entry with it.
_HELD: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def observe(
    page,
    *,
    root: str | None = None,
    exclude: tuple[str, ...] = (),
    screenshot: bool = False,
    last_error: str | None = None,
    attempts: int = 3,
    verbs: tuple[str, ...] | None = None,
) -> Observation:
    """Snapshot the page. A page that is navigating is waited for, then read again."""
    raw = None
    # A page that has just begun to navigate is read once its DOM is there; a slow
    # one is read as it is.
    with contextlib.suppress(Exception):
        page.wait_for_load_state("domcontentloaded", timeout=5_000)
    for attempt in range(attempts):
        try:
            token, held = _HELD.get(page, (None, None))
            options = {"maxText": 200, "root": root, "exclude": list(exclude), "since": token}
            raw = page.evaluate(snapshot_script(), options)
            break
        except Exception as exc:  # noqa: BLE001 - navigation destroys the JS context
            if page.is_closed():
                raise BrowserError("the page was closed") from exc
            if attempt == attempts - 1:
                raise BrowserError(f"could not read the page at {page.url}: {str(exc).splitlines()[0]}") from exc
            with contextlib.suppress(Exception):  # retrying is the handling
                page.wait_for_load_state("load", timeout=5_000)
    fields, elements, records = read_snapshot(raw, held)
    if fields.get("token"):
        _HELD[page] = (fields["token"], records)
    shot = page.screenshot(type="png") if screenshot else None
    tabs = tabs_of(page.context)
    extra = {"verbs": tuple(verbs)} if verbs is not None else {}
    return Observation(
        events=tabs.take_events() if tabs is not None else (),
        **extra,
        url=fields["url"],
        title=fields["title"],
        viewport=tuple(float(v) for v in fields.get("viewport") or (0, 0)),
        elements=elements,
        html=cleaned_html(elements),
        screenshot=shot,
        last_error=last_error,
    )
