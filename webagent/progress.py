"""How long work tells the person running it how far along it is.

Library code (batches of episodes, learning runs, replays) reports to a
`Reporter`: a total, what it is doing now, one step more, a line worth keeping.
The CLI passes `RichReporter` (a progress bar and printed lines); tests and the
panel pass nothing (`Reporter()` ignores everything) or their own.
"""

from __future__ import annotations

from contextlib import contextmanager


class Reporter:
    """Ignores everything: the base of the reporters, and the default."""

    def start(self, total: int, description: str = "") -> None:
        pass

    def describe(self, description: str) -> None:
        """What is being done now (the bar's label)."""

    def advance(self, n: int = 1) -> None:
        pass

    def note(self, line: str) -> None:
        """A line worth keeping in the output (rich markup allowed)."""

    @contextmanager
    def running(self):
        """Around the whole piece of work (the bar is shown while it runs)."""
        yield self


class RichReporter(Reporter):
    """A rich progress bar with elapsed time, and lines printed above it."""

    def __init__(self, console=None) -> None:
        from rich.console import Console

        self.console = console or Console()
        self._progress = None
        self._bar = None

    @contextmanager
    def running(self):
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        with Progress(*columns, console=self.console, transient=False) as progress:
            self._progress = progress
            try:
                yield self
            finally:
                self._progress = self._bar = None

    def start(self, total: int, description: str = "") -> None:
        if self._progress is not None:
            self._bar = self._progress.add_task(description, total=total)

    def describe(self, description: str) -> None:
        if self._bar is not None:
            self._progress.update(self._bar, description=description)

    def advance(self, n: int = 1) -> None:
        if self._bar is not None:
            self._progress.advance(self._bar, n)

    def note(self, line: str) -> None:
        self.console.print(line, markup=True, highlight=False)
