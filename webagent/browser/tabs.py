"""The pages of one browser context as a person sees them: the newest open tab
is the one acted on, and closing it returns to the one before.

A link with target=_blank or window.open() opens a new page; the agent follows
it. JavaScript dialogs (alert, confirm, prompt, beforeunload) would block the
page: they are answered at once (accepted; a prompt with its default text) and
what they said is kept as an event for the next observation. A click that
downloads a file leaves the page as it was; the download is an event too, or
the agent could not tell that the click did anything.

`Tabs` is kept per context (`tabs_of`), so code that only holds a page (the
snapshot, an action) finds it without a session in hand. Runs on the browser's
owner thread, like every Playwright call.
"""

from __future__ import annotations

import weakref

_BY_CONTEXT: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


class Tabs:
    def __init__(self, context) -> None:
        self.context = context
        self.pages: list = []
        self.events: list[str] = []
        context.on("page", self._opened)
        _BY_CONTEXT[context] = self

    @property
    def current(self):
        """The newest page still open (None when every page is closed)."""
        for page in reversed(self.pages):
            if not page.is_closed():
                return page
        return None

    def take_events(self) -> tuple[str, ...]:
        events, self.events = tuple(self.events), []
        return events

    def close_others(self):
        """Back to the first page: every later tab closed (a new episode starts clean)."""
        first = next((p for p in self.pages if not p.is_closed()), None)
        for page in self.pages:
            if page is not first and not page.is_closed():
                page.close()
        self.pages = [first] if first is not None else []
        self.events = []
        return first

    def _opened(self, page) -> None:
        if self.pages and any(not p.is_closed() for p in self.pages):
            self.events.append(f"A new tab opened ({page.url or 'loading'}); you are now on it.")
        self.pages.append(page)
        page.on("dialog", self._dialog)
        page.on("download", self._download)
        page.on("close", self._closed)

    def _closed(self, page) -> None:
        now = self.current
        if now is not None:
            self.events.append(f"The tab was closed; you are back on {now.url}.")

    def _download(self, download) -> None:
        name = " ".join((download.suggested_filename or "a file").split())[:120]
        self.events.append(f'The file "{name}" was downloaded; the page did not change.')

    def _dialog(self, dialog) -> None:
        kind, message = dialog.type, " ".join((dialog.message or "").split())[:200]
        try:
            if kind == "prompt":
                dialog.accept(dialog.default_value)
            else:
                dialog.accept()
        except Exception:  # noqa: BLE001, S110 - the dialog went away by itself
            pass
        answer = "OK was pressed" if kind != "alert" else "it was closed"
        self.events.append(f'A {kind} dialog said "{message}"; {answer}.')


def tabs_of(context) -> Tabs | None:
    return _BY_CONTEXT.get(context)
