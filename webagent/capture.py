"""What a CLI run keeps besides the store (`--trace DIR`, `--screenshots DIR`).

`Capture` is an observer of the agent's episodes: a Playwright trace per episode
(`DIR/episode-000012.zip`, screenshots and DOM snapshots of every action; open it
with `playwright show-trace FILE`) and a PNG per step
(`DIR/episode-000012-step-003.png`, the screenshot the step observed, as the panel
keeps). Traces and screenshots show the page as it was, typed values included, so
the settings refuse them together with declared secrets (webagent.settings).
"""

from __future__ import annotations

from pathlib import Path

from webagent.agent import EpisodeContext, EpisodeResult, Observer, Step
from webagent.errors import DataError
from webagent.settings import CaptureSettings


class Capture(Observer):
    records = True  # an interrupted episode keeps its trace too

    def __init__(self, settings: CaptureSettings, session) -> None:
        self.settings = settings
        self.session = session
        self.traced = None  # the browser context being traced
        for folder in (settings.trace_dir, settings.screenshots_dir):
            if folder:
                try:
                    Path(folder).mkdir(parents=True, exist_ok=True)
                except OSError as exc:
                    raise DataError(f"cannot write to {folder}: {exc.strerror}") from exc

    @property
    def enabled(self) -> bool:
        return bool(self.settings.trace_dir or self.settings.screenshots_dir)

    def begin(self) -> None:
        """Before the episode's start page loads: start its trace."""
        if not self.settings.trace_dir:
            return

        def start(page):
            page.context.tracing.start(screenshots=True, snapshots=True)
            return page.context

        self.traced = self.session.call(start)

    def discard(self) -> None:
        """The episode never started (its start page failed): drop the trace."""
        self._stop(None)

    def _stop(self, path: Path | None) -> Path | None:
        context, self.traced = self.traced, None
        if context is None:
            return None

        def stop(page):
            if page.context is not context:  # the page was replaced (a frozen page is stopped): nothing to save
                return None
            context.tracing.stop(path=str(path) if path else None)
            return path

        return self.session.call(stop)

    def step_done(self, context: EpisodeContext, step: Step) -> None:
        folder = self.settings.screenshots_dir
        if folder and step.observation.screenshot and context.episode_id is not None:
            target = Path(folder) / f"episode-{context.episode_id:06d}-step-{step.index:03d}.png"
            target.write_bytes(step.observation.screenshot)

    def episode_done(self, context: EpisodeContext, result: EpisodeResult) -> None:
        if self.traced is not None:
            name = f"episode-{context.episode_id:06d}.zip" if context.episode_id is not None else "episode.zip"
            self._stop(Path(self.settings.trace_dir) / name)
