"""Execute an Action through its verb's Playwright call and check that it had its effect.

Runs on the browser's owner thread. A failure comes back as a message (it becomes
part of the next observation); only a closed page raises.
"""

from __future__ import annotations

import re

from webagent.actions import VERBS, Action
from webagent.browser.observation import Element
from webagent.browser.settle import Activity, settle
from webagent.errors import BrowserError


def locate(page, element: Element):
    """A Playwright locator for the element, through the iframes that hold it."""
    scope = page
    for frame_id in element.frame:
        scope = scope.frame_locator(f'[data-webagent-id="{frame_id}"]')
    return scope.locator(f'[data-webagent-id="{element.id}"]').first


def execute(page, action: Action, element: Element | None, *, timeout_ms: int = 3_000) -> str | None:
    """Perform the action through its verb (webagent.actions.VERBS); return None on
    success or a one-line reason it failed. `element` is None for verbs without a target."""
    if page.is_closed():
        raise BrowserError("the page was closed")
    verb = VERBS[action.verb]
    locator = locate(page, element) if element is not None else None
    navigation = _NavigationWatch(page)
    activity = Activity(page)
    try:
        error = verb.perform(page, locator, action, timeout_ms)
    except Exception as exc:  # noqa: BLE001 - playwright raises several kinds
        if page.is_closed():
            if action.verb == "BACK":  # closing a tab opened by another page is how BACK returns
                return None
            raise BrowserError("the page was closed during the action") from exc
        error = _reason(exc)
    if not page.is_closed():
        settle(page, activity)
    activity.stop()
    navigation.stop()
    error = error or navigation.failure
    return f"{action} failed: {error}" if error else None


class _NavigationWatch:
    """Notes a main-frame navigation that the action started and that failed:
    an unreachable address, or an HTTP error page."""

    def __init__(self, page) -> None:
        self.page = page
        self.failure: str | None = None
        page.on("requestfailed", self._failed)
        page.on("response", self._response)

    def _main_navigation(self, request) -> bool:
        try:
            return request.is_navigation_request() and request.frame == self.page.main_frame
        except Exception:  # noqa: BLE001 - a detached frame is not the main one
            return False

    def _failed(self, request) -> None:
        reason = request.failure or "the request failed"
        # ERR_ABORTED: superseded by another navigation, a download, or a 204.
        if "ERR_ABORTED" not in reason and self._main_navigation(request):
            self.failure = f"it led to {request.url}, which could not be loaded ({reason})"

    def _response(self, response) -> None:
        if response.status >= 400 and self._main_navigation(response.request):
            self.failure = f"it led to {response.url}, which answered HTTP {response.status}"

    def stop(self) -> None:
        if not self.page.is_closed():
            self.page.remove_listener("requestfailed", self._failed)
            self.page.remove_listener("response", self._response)


def _reason(exc: Exception) -> str:
    """Playwright's first line, without the API name, and with the reason from its
    call log when it timed out."""
    lines = str(exc).splitlines() or [type(exc).__name__]
    first = re.sub(r"^[A-Za-z]+\.[A-Za-z_]+: (Error: )?", "", lines[0])
    if "Timeout" in first:
        causes = [ln.strip(" -") for ln in lines[1:] if "element is" in ln or "intercepts pointer events" in ln]
        if causes:
            first = f"{first} ({causes[-1]})"
    return first
