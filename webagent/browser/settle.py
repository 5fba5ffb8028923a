"""After an action, wait for what it caused, not for a clock.

A fixed sleep is wrong both ways: too long on a static page (every step pays
it) and too short for a page that loads or animates. Instead the page is
watched: a navigation the action started is waited for until it has loaded,
requests it started until they finish, and then the DOM until it has been
quiet (no mutation) for `quiet_ms`; all of it capped, so a page that never
stops changing (a clock, a carousel) costs at most `cap_ms`.

What this cannot see is a timer that fires later with no change before it
(`setTimeout(update, 500)`): the page looks quiet and is observed as it is;
the next step then sees the change.
"""

from __future__ import annotations

import contextlib
import time

QUIET_MS = 25  # no DOM mutation for this long: the page has reacted
CAP_MS = 1_500  # the most a step waits for requests and mutations
LOAD_TIMEOUT_MS = 5_000  # a navigation the action started, until its load event

# Resolves once the document has had no mutation for `quiet` ms, or after `cap` ms.
_QUIET_JS = """([quiet, cap]) => new Promise(resolve => {
  const started = performance.now();
  let timer = null;
  const done = () => {
    observer.disconnect(); clearTimeout(timer); clearTimeout(limit); resolve(performance.now() - started);
  };
  const observer = new MutationObserver(() => { clearTimeout(timer); timer = setTimeout(done, quiet); });
  observer.observe(document, {subtree: true, childList: true, attributes: true, characterData: true});
  timer = setTimeout(done, quiet);
  const limit = setTimeout(done, cap);
})"""


class Activity:
    """What the page did since it was attached: a main-frame navigation, requests in flight."""

    def __init__(self, page) -> None:
        self.page = page
        self.navigated = False
        self.in_flight = 0
        page.on("request", self._request)
        page.on("requestfinished", self._finished)
        page.on("requestfailed", self._finished)

    def _request(self, request) -> None:
        self.in_flight += 1
        with contextlib.suppress(Exception):  # a detached frame is not the main one
            if request.is_navigation_request() and request.frame == self.page.main_frame:
                self.navigated = True

    def _finished(self, request) -> None:
        self.in_flight = max(0, self.in_flight - 1)

    def stop(self) -> None:
        if not self.page.is_closed():
            self.page.remove_listener("request", self._request)
            self.page.remove_listener("requestfinished", self._finished)
            self.page.remove_listener("requestfailed", self._finished)


def settle(page, activity: Activity, *, quiet_ms: int = QUIET_MS, cap_ms: int = CAP_MS) -> None:
    """Return once what the action caused is over (see the module docstring)."""
    deadline = time.monotonic() + cap_ms / 1000
    with contextlib.suppress(Exception):  # a page still loading is observed as it is
        if activity.navigated:
            page.wait_for_load_state("load", timeout=LOAD_TIMEOUT_MS)
        while activity.in_flight and time.monotonic() < deadline:
            page.wait_for_timeout(10)
        left = max(int((deadline - time.monotonic()) * 1000), quiet_ms)
        try:
            page.evaluate(_QUIET_JS, [quiet_ms, left])
        except Exception:  # noqa: BLE001 - the action's navigation replaced the document meanwhile
            page.wait_for_load_state("load", timeout=LOAD_TIMEOUT_MS)
