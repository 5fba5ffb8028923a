"""After an action, wait for what it caused, not for a clock.

A fixed sleep is wrong both ways: too long on a static page (every step pays
it) and too short for a page that loads or animates. Instead the page is
watched: a navigation the action started is waited for until it has loaded,
requests it started until they finish, and then the DOM until it has been
quiet (no mutation) for `quiet_ms`; all of it capped, so a page that never
stops changing (a clock, a carousel) costs at most `cap_ms`.

A short timer the action itself set (`onclick="setTimeout(go, 50)"`, the way
many pages defer a navigation or an update) is waited for too: before the
action a small wrapper around `setTimeout` notes the one-shot timers of at
most `TIMER_MS` that are set while the action runs, and the page is quiet only
once they have fired. Timers set by those timers are not followed, so a page
that polls costs one round, not the cap. Half a second covers the debounce of
search boxes (jQuery UI's autocomplete suggests 300 ms after the last key; at
250 ms the agent never saw use-autocomplete's suggestions after typing, and
clicked Submit under them). A click on a download link (`<a download>`)
changes nothing on the page and starts no request the page reports; the
browser's download event comes later (half a second under load), so such a
click waits for it, or the next observation would not say that a file was
downloaded. What this still cannot see is a
longer timer (`setTimeout(update, 500)`) or one set outside the main frame:
the page is observed as it is and the next step sees the change.
"""

from __future__ import annotations

import contextlib
import time

QUIET_MS = 25  # no DOM mutation for this long: the page has reacted
CAP_MS = 1_500  # the most a step waits for requests and mutations
LOAD_TIMEOUT_MS = 5_000  # a navigation the action started, until its load event
TIMER_MS = 500  # a timer the action set for at most this long is waited for (module docstring)

# Installed once per document, before the action: from now until the settle
# starts, one-shot timers of at most `limit` ms are kept in `pending` until they fire,
# and a click on a download link is noted.
_TRACK_JS = """(limit) => {
  let timers = window.__webagentTimers;
  if (!timers) {
    timers = window.__webagentTimers = {tracking: false, pending: new Set(), download: false};
    const set = window.setTimeout, clear = window.clearTimeout;
    window.setTimeout = function (handler, delay, ...args) {
      if (!timers.tracking || typeof handler !== 'function' || !((Number(delay) || 0) <= limit)) {
        return set.call(this, handler, delay, ...args);
      }
      const id = set.call(this, function () { timers.pending.delete(id); return handler.apply(this, args); }, delay);
      timers.pending.add(id);
      return id;
    };
    window.clearTimeout = function (id) { timers.pending.delete(id); return clear.call(this, id); };
    document.addEventListener('click', event => {
      const link = event.target instanceof Element && event.target.closest('a[download][href]');
      // after the page's own handlers: one of them may cancel the download
      if (timers.tracking && link) set.call(window, () => { timers.download ||= !event.defaultPrevented; }, 0);
    }, true);
  }
  timers.tracking = true;
  timers.download = false;
}"""

# Resolves once the document has had no mutation for `quiet` ms and the timers the
# action set have fired, or after `cap` ms; to whether the action clicked a download link.
_QUIET_JS = """([quiet, cap]) => new Promise(resolve => {
  const started = performance.now();
  const timers = window.__webagentTimers || {pending: new Set(), download: false};
  timers.tracking = false;
  let timer = null;
  const done = () => {
    if (timers.pending.size && performance.now() - started < cap) { timer = setTimeout(done, quiet); return; }
    observer.disconnect(); clearTimeout(timer); clearTimeout(limit); resolve(timers.download === true);
  };
  const observer = new MutationObserver(() => { clearTimeout(timer); timer = setTimeout(done, quiet); });
  observer.observe(document, {subtree: true, childList: true, attributes: true, characterData: true});
  timer = setTimeout(done, quiet);
  const limit = setTimeout(done, cap);
})"""


class Activity:
    """What the page did since it was attached: a main-frame navigation (requested,
    then committed), requests in flight. Attach it just before the action: it also
    starts noting the short timers the action sets."""

    def __init__(self, page) -> None:
        self.page = page
        self.navigated = False  # a main-frame navigation was requested
        self.committed = False  # ... and the new document replaced the old one
        self.in_flight = 0
        self.downloads = 0  # downloads the browser started
        page.on("request", self._request)
        page.on("download", self._download)
        page.on("requestfinished", self._finished)
        page.on("requestfailed", self._finished)
        page.on("framenavigated", self._committed)
        with contextlib.suppress(Exception):  # a page mid-navigation has no document to track
            page.evaluate(_TRACK_JS, TIMER_MS)

    def _request(self, request) -> None:
        self.in_flight += 1
        with contextlib.suppress(Exception):  # a detached frame is not the main one
            if request.is_navigation_request() and request.frame == self.page.main_frame:
                self.navigated = True

    def _finished(self, request) -> None:
        self.in_flight = max(0, self.in_flight - 1)

    def _download(self, download) -> None:
        self.downloads += 1

    def _committed(self, frame) -> None:
        if frame == self.page.main_frame:
            self.committed = True

    def stop(self) -> None:
        if not self.page.is_closed():
            self.page.remove_listener("request", self._request)
            self.page.remove_listener("requestfinished", self._finished)
            self.page.remove_listener("requestfailed", self._finished)
            self.page.remove_listener("framenavigated", self._committed)
            self.page.remove_listener("download", self._download)


def settle(page, activity: Activity, *, quiet_ms: int = QUIET_MS, cap_ms: int = CAP_MS) -> None:
    """Return once what the action caused is over (see the module docstring)."""
    deadline = time.monotonic() + cap_ms / 1000
    with contextlib.suppress(Exception):  # a page still loading is observed as it is
        _load(page, activity)
        while activity.in_flight and time.monotonic() < deadline:
            page.wait_for_timeout(10)
        left = max(int((deadline - time.monotonic()) * 1000), quiet_ms)
        try:
            download_clicked = page.evaluate(_QUIET_JS, [quiet_ms, left])
        except Exception:  # noqa: BLE001 - the action's navigation replaced the document meanwhile
            download_clicked = False
            page.wait_for_load_state("load", timeout=LOAD_TIMEOUT_MS)
        _load(page, activity)  # a timer the action set may have started one
        if download_clicked and not activity.committed:  # a cross-origin link navigates instead
            _download(page, activity)


def _download(page, activity: Activity) -> None:
    """Wait, at most `CAP_MS`, for the download a click on a download link starts (the browser's event)."""
    deadline = time.monotonic() + CAP_MS / 1000
    while not activity.downloads and time.monotonic() < deadline:
        page.wait_for_timeout(10)


def _load(page, activity: Activity) -> None:
    """Wait for a requested main-frame navigation to commit (or for its request to
    end without one: a download, a 204, a failure), then for its load event."""
    if not activity.navigated:
        return
    deadline = time.monotonic() + LOAD_TIMEOUT_MS / 1000
    ended = None
    while not activity.committed and time.monotonic() < deadline:
        if activity.in_flight == 0:
            ended = ended or time.monotonic()
            if time.monotonic() - ended > 0.1:
                break
        page.wait_for_timeout(10)
    page.wait_for_load_state("load", timeout=LOAD_TIMEOUT_MS)
