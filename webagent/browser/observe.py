"""Turn the live page into an Observation (runs on the browser's owner thread)."""

from __future__ import annotations

import contextlib
import json
from functools import cache
from importlib.resources import files

from webagent.browser.observation import Element, Observation, cleaned_html, element_from_line, element_from_snapshot
from webagent.browser.tabs import tabs_of
from webagent.errors import BrowserError


@cache
def snapshot_script() -> str:
    return files("webagent.browser").joinpath("snapshot.js").read_text()


def read_snapshot(raw: str | dict) -> tuple[dict, tuple[Element, ...]]:
    """The page's fields and its elements from what snapshot.js returned: usually lines
    of JSON (the page, then one element per line), an object where the page broke
    JSON.stringify."""
    if isinstance(raw, dict):
        return raw, tuple(element_from_snapshot(r) for r in raw["elements"])
    head, _, body = raw.partition("\n")
    try:
        page = json.loads(head)
    except ValueError as exc:
        raise BrowserError(f"the page's snapshot is not JSON ({exc}): {head!r:.200}") from exc
    return page, (tuple(element_from_line(line) for line in body.split("\n")) if body else ())


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
            raw = page.evaluate(snapshot_script(), {"maxText": 200, "root": root, "exclude": list(exclude)})
            break
        except Exception as exc:  # noqa: BLE001 - navigation destroys the JS context
            if page.is_closed():
                raise BrowserError("the page was closed") from exc
            if attempt == attempts - 1:
                raise BrowserError(f"could not read the page at {page.url}: {str(exc).splitlines()[0]}") from exc
            with contextlib.suppress(Exception):  # retrying is the handling
                page.wait_for_load_state("load", timeout=5_000)
    fields, elements = read_snapshot(raw)
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
