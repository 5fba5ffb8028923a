"""A Playwright session on the system Chromium, owned by one thread.

Playwright's sync API is bound to the thread that started it. The Gradio UI and
background workers call from other threads, so every call is handed to the one
owner thread and its result handed back: `session.call(fn)` runs `fn(page)`
there. Everything else in webagent talks to the page through this.

No call waits forever. `page.evaluate` has no timeout of its own, and a page
whose script never returns (`while(true){}`) would hold the owner thread, and
every later call, for good: so each call has a deadline (`call_timeout_s`), and
when it passes the session kills this browser's renderer processes (the stuck
call then fails at once), answers with a `BrowserError` that says what
happened, and opens a fresh page for the next call.

Where the page may go is the `SitePolicy`'s (webagent.allow): `goto` refuses a
URL it does not allow, and with a domain list every request is routed through
it; blocked URLs are kept for the caller (`take_blocked`) to report.
"""

from __future__ import annotations

import contextlib
import os
import queue
import shutil
import signal
import threading
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from typing import TypeVar

from webagent.allow import SitePolicy
from webagent.browser.tabs import Tabs, tabs_of
from webagent.errors import BrowserError

T = TypeVar("T")

CLOSED_NETWORK_FLAGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
)


def default_chromium_path() -> str:
    """The Chromium to drive: $WEBAGENT_CHROMIUM, else the Debian one, else any on PATH."""
    env = os.environ.get("WEBAGENT_CHROMIUM")
    if env:
        return env
    for candidate in ("/usr/bin/chromium", "/usr/bin/chromium-browser"):
        if os.path.exists(candidate):
            return candidate
    return shutil.which("chromium") or shutil.which("chromium-browser") or "/usr/bin/chromium"


@dataclass(frozen=True)
class BrowserConfig:
    executable_path: str = field(default_factory=default_chromium_path)
    headless: bool = True
    viewport_width: int = 800
    viewport_height: int = 600
    navigation_timeout_ms: int = 15_000
    action_timeout_ms: int = 3_000
    call_timeout_s: float = 30.0  # no page operation may take longer (then the page is stopped)
    sites: SitePolicy = field(default_factory=SitePolicy)  # where the page may go (webagent.allow)


class BrowserSession:
    """One Chromium, one page, one owner thread. Use as a context manager."""

    def __init__(self, config: BrowserConfig | None = None) -> None:
        self.config = config or BrowserConfig()
        self._jobs: queue.Queue[tuple[Callable, Future] | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._page = None
        self._browser = None  # owned by the owner thread
        self._browser_pid: int | None = None  # this session's Chromium, to stop a frozen renderer
        self._stale = False  # the page was stopped: the next call opens a fresh one
        self._blocked: list[str] = []  # "url (reason)" of requests the site policy refused
        self._blocked_lock = threading.Lock()

    # -- lifecycle ---------------------------------------------------------
    def start(self) -> BrowserSession:
        if self._thread is not None:
            return self
        if not os.path.exists(self.config.executable_path):
            raise BrowserError(
                f"Chromium not found at {self.config.executable_path}; install it "
                "(apt-get install -y chromium) or set WEBAGENT_CHROMIUM"
            )
        ready: Future = Future()
        self._thread = threading.Thread(target=self._own, args=(ready,), name="webagent-browser", daemon=True)
        self._thread.start()
        try:
            ready.result()
        except BaseException:
            # The owner thread has ended; forget it, so that call() does not queue
            # work nobody will run and start() may be tried again.
            self._thread = None
            raise
        return self

    def close(self) -> None:
        if self._thread is None:
            return
        self._jobs.put(None)
        self._thread.join(timeout=30)
        self._thread = None
        # Calls queued behind the shutdown would otherwise wait forever.
        while True:
            try:
                job = self._jobs.get_nowait()
            except queue.Empty:
                break
            if job is not None:
                job[1].set_exception(BrowserError("browser session was closed"))

    def __enter__(self) -> BrowserSession:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()

    # -- the one door into the page -----------------------------------------
    def call(self, fn: Callable[..., T], *args, deadline_s: float | None = None, **kwargs) -> T:
        """Run fn(page, *args, **kwargs) on the owner thread and return its result;
        a BrowserError when it takes longer than `deadline_s` (default: the config's)."""
        if self._thread is None:
            raise BrowserError("browser session is not started")
        if threading.current_thread() is self._thread:
            return fn(self._current(), *args, **kwargs)
        if self._stale:
            self._stale = False
            self._submit(lambda: self._swap_context(self._page)).result(timeout=self.config.call_timeout_s)
        done = self._submit(lambda: fn(self._current(), *args, **kwargs))
        deadline = deadline_s if deadline_s is not None else self.config.call_timeout_s
        try:
            return done.result(timeout=deadline)
        except FutureTimeout:
            self._stop_renderers(done)
            raise BrowserError(
                f"the page did not answer within {deadline:g} s (a script on it may never return); it was stopped"
            ) from None

    def _submit(self, job: Callable[[], T]) -> Future:
        done: Future = Future()
        self._jobs.put((job, done))
        return done

    def responsive(self, deadline_s: float = 2.0) -> bool:
        """Whether the page runs a script within `deadline_s` (False: it was frozen, and is stopped now)."""
        try:
            self.call(lambda page: page.evaluate("1"), deadline_s=deadline_s)
        except BrowserError:
            return False
        return True

    def _stop_renderers(self, stuck: Future) -> None:
        """Kill this browser's renderer processes, so the call stuck in a frozen page
        fails and frees the owner thread; the next call gets a fresh page."""
        import psutil

        self._stale = True
        try:
            browser = psutil.Process(self._browser_pid) if self._browser_pid else None
            renderers = [
                p for p in (browser.children(recursive=True) if browser else []) if "--type=renderer" in p.cmdline()
            ]
        except psutil.Error:
            renderers = []
        for process in renderers:
            with contextlib.suppress(psutil.Error):
                process.send_signal(signal.SIGKILL)
        with contextlib.suppress(FutureTimeout):
            stuck.exception(timeout=self.config.call_timeout_s)  # the stuck call ends with "Page crashed"

    def take_blocked(self) -> list[str]:
        """The requests refused since the last call, as "url (reason)"; forgets them."""
        with self._blocked_lock:
            blocked, self._blocked = self._blocked, []
        return blocked

    def _current(self):
        """The page acted on: the newest open tab of the context (webagent.browser.tabs)."""
        tabs = tabs_of(self._page.context) if self._page is not None else None
        return (tabs.current if tabs is not None else None) or self._page

    def goto(self, url: str) -> None:
        reason = self.config.sites.check(url)
        if reason:
            raise BrowserError(f"will not load {url}: {reason}")
        self.take_blocked()
        try:
            self.call(_goto, url, self.config.navigation_timeout_ms)
        except BrowserError as exc:
            blocked = self.take_blocked()
            if blocked:
                raise BrowserError(f"could not load {url}: blocked {blocked[0]}") from exc
            raise

    def new_context(self) -> None:
        """Replace the page with one in a fresh browser context (no cookies, storage or
        open pages from before), as a test or a new user session wants."""
        self.call(lambda page: None)  # started, and nothing queued runs on the old page after this
        self.call(self._swap_context)

    def _swap_context(self, page) -> None:
        old = page.context
        self._page = self._open_page()
        old.close()

    def _open_page(self):
        context = self._browser.new_context(
            viewport={"width": self.config.viewport_width, "height": self.config.viewport_height}
        )
        context.set_default_timeout(self.config.action_timeout_ms)
        Tabs(context)  # follows new tabs, answers dialogs
        if self.config.sites.routes:
            context.route("**/*", self._route)
        return context.new_page()

    def _route(self, route) -> None:
        """Every request of the page, when the site policy lists domains: on, or aborted and noted."""
        url = route.request.url
        reason = self.config.sites.check(url)
        if reason is None:
            route.continue_()
            return
        with self._blocked_lock:
            self._blocked.append(f"{url} ({reason})")
        route.abort("blockedbyclient")

    # -- the owner thread ---------------------------------------------------
    def _own(self, ready: Future) -> None:
        try:
            from playwright.sync_api import sync_playwright

            before = _chromium_pids()
            pw = sync_playwright().start()
            browser = pw.chromium.launch(
                executable_path=self.config.executable_path,
                headless=self.config.headless,
                args=list(CLOSED_NETWORK_FLAGS),
            )
            self._browser = browser
            self._browser_pid = _browser_pid(before, self.config.executable_path)
            self._page = self._open_page()
        except Exception as exc:  # noqa: BLE001 - reported to the starting thread
            ready.set_exception(BrowserError(f"could not start Chromium at {self.config.executable_path}: {exc}"))
            return
        ready.set_result(None)
        while (job := self._next_job()) is not None:
            fn, done = job
            try:
                done.set_result(fn())
            except BaseException as exc:  # noqa: BLE001 - handed back to the caller
                done.set_exception(exc)
        try:
            browser.close()
        finally:
            pw.stop()

    def _next_job(self):
        """The next job; with routing on, the page's events (its requests waiting on
        `_route`) are served while no job runs, so they never wait for the agent."""
        if not self.config.sites.routes:
            return self._jobs.get()
        while True:
            try:
                return self._jobs.get(timeout=0.05)
            except queue.Empty:
                with contextlib.suppress(Exception):  # a closed or crashed page has no events to serve
                    self._page.wait_for_timeout(1)


def _chromium_pids() -> set[int]:
    import psutil

    return {p.pid for p in psutil.Process().children(recursive=True)}


def _browser_pid(before: set[int], executable: str) -> int | None:
    """The Chromium browser process this launch started: a new descendant without --type."""
    import psutil

    for process in psutil.Process().children(recursive=True):
        if process.pid in before:
            continue
        try:
            cmdline = process.cmdline()
        except psutil.Error:
            continue
        if cmdline and "chrom" in os.path.basename(cmdline[0]) and not any(a.startswith("--type=") for a in cmdline):
            return process.pid
    return None


def _goto(page, url: str, timeout_ms: int) -> None:
    tabs = tabs_of(page.context)
    page = (tabs.close_others() if tabs is not None else None) or page  # a new start leaves opened tabs behind
    try:
        response = page.goto(url, timeout=timeout_ms, wait_until="load")
    except Exception as exc:  # noqa: BLE001 - playwright raises several kinds
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        _await_error_page(page)
        raise BrowserError(f"could not load {url}: {message}") from exc
    if response is not None and response.status >= 400:
        raise BrowserError(f"could not load {url}: HTTP {response.status} {response.status_text}".rstrip())


def _await_error_page(page, timeout_ms: int = 2_000) -> None:
    """After a failed load Chromium commits its error page a moment later, and that
    would interrupt the next navigation: let it arrive first."""
    if page.url.startswith("chrome-error://"):
        return
    try:
        page.wait_for_event(
            "framenavigated",
            predicate=lambda frame: frame == page.main_frame and frame.url.startswith("chrome-error://"),
            timeout=timeout_ms,
        )
        page.wait_for_load_state("load", timeout=timeout_ms)
    except Exception:  # noqa: BLE001, S110 - no error page (an aborted load): nothing to wait for
        pass
