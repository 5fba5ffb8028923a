"""A Playwright session on the system Chromium, owned by one thread.

Playwright's sync API is bound to the thread that started it. The Gradio UI and
background workers call from other threads, so every call is handed to the one
owner thread and its result handed back: `session.call(fn)` runs `fn(page)`
there. Everything else in webagent talks to the page through this.
"""

from __future__ import annotations

import os
import queue
import shutil
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import TypeVar

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


class BrowserSession:
    """One Chromium, one page, one owner thread. Use as a context manager."""

    def __init__(self, config: BrowserConfig | None = None) -> None:
        self.config = config or BrowserConfig()
        self._jobs: queue.Queue[tuple[Callable, Future] | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._page = None
        self._browser = None  # owned by the owner thread

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
    def call(self, fn: Callable[..., T], *args, **kwargs) -> T:
        """Run fn(page, *args, **kwargs) on the owner thread and return its result."""
        if self._thread is None:
            raise BrowserError("browser session is not started")
        if threading.current_thread() is self._thread:
            return fn(self._current(), *args, **kwargs)
        done: Future = Future()
        self._jobs.put((lambda: fn(self._current(), *args, **kwargs), done))
        return done.result()

    def _current(self):
        """The page acted on: the newest open tab of the context (webagent.browser.tabs)."""
        tabs = tabs_of(self._page.context) if self._page is not None else None
        return (tabs.current if tabs is not None else None) or self._page

    def goto(self, url: str) -> None:
        self.call(_goto, url, self.config.navigation_timeout_ms)

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
        return context.new_page()

    # -- the owner thread ---------------------------------------------------
    def _own(self, ready: Future) -> None:
        try:
            from playwright.sync_api import sync_playwright

            pw = sync_playwright().start()
            browser = pw.chromium.launch(
                executable_path=self.config.executable_path,
                headless=self.config.headless,
                args=list(CLOSED_NETWORK_FLAGS),
            )
            self._browser = browser
            self._page = self._open_page()
        except Exception as exc:  # noqa: BLE001 - reported to the starting thread
            ready.set_exception(BrowserError(f"could not start Chromium at {self.config.executable_path}: {exc}"))
            return
        ready.set_result(None)
        while (job := self._jobs.get()) is not None:
            fn, done = job
            try:
                done.set_result(fn())
            except BaseException as exc:  # noqa: BLE001 - handed back to the caller
                done.set_exception(exc)
        try:
            browser.close()
        finally:
            pw.stop()


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
