"""Turn the live page into an Observation (runs on the browser's owner thread)."""

from __future__ import annotations

import contextlib
import json
from functools import cache
from importlib.resources import files

from webagent.browser.observation import Observation, cleaned_html, element_from_snapshot
from webagent.browser.tabs import tabs_of
from webagent.errors import BrowserError


@cache
def snapshot_script() -> str:
    return files("webagent.browser").joinpath("snapshot.js").read_text()


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
            if isinstance(raw, str):  # the usual case (see the end of snapshot.js)
                raw = json.loads(raw)
            break
        except Exception as exc:  # noqa: BLE001 - navigation destroys the JS context
            if page.is_closed():
                raise BrowserError("the page was closed") from exc
            if attempt == attempts - 1:
                raise BrowserError(f"could not read the page at {page.url}: {str(exc).splitlines()[0]}") from exc
            with contextlib.suppress(Exception):  # retrying is the handling
                page.wait_for_load_state("load", timeout=5_000)
    elements = tuple(element_from_snapshot(r) for r in raw["elements"])
    shot = page.screenshot(type="png") if screenshot else None
    tabs = tabs_of(page.context)
    extra = {"verbs": tuple(verbs)} if verbs is not None else {}
    return Observation(
        events=tabs.take_events() if tabs is not None else (),
        **extra,
        url=raw["url"],
        title=raw["title"],
        viewport=tuple(float(v) for v in raw.get("viewport") or (0, 0)),
        elements=elements,
        html=cleaned_html(elements),
        screenshot=shot,
        last_error=last_error,
    )
