"""Tasks on any site: a start URL, an instruction, and how to tell it is done.

A task file is JSON Lines, one task per line:
    {"url": "http://127.0.0.1:8000/form.html", "instruction": "...", "until_text": "Thanks"}
`until_text` (text that appears on success) and `until_url` (a substring of the
page's URL, or a regular expression found in it) are optional; without either, an episode ends when the agent says
STOP (outcome `done`, with its answer) or at the step limit. A real site does
not end an episode itself, so every verb is offered, STOP among them.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from webagent.browser.session import BrowserSession
from webagent.envs.base import EpisodeStatus, RealPage
from webagent.errors import DataError


@dataclass(frozen=True)
class ScriptedTask:
    url: str
    instruction: str
    until_text: str | None = None
    until_url: str | None = None
    name: str = ""


def url_matches(pattern: str, url: str) -> bool:
    """Whether `url` contains `pattern`, or matches it read as a regular expression
    (searched, not anchored: `/item/[0-9]+$`). A pattern that is no valid
    expression (`?q=a(b`) is a substring only."""
    if pattern in url:
        return True
    try:
        return re.search(pattern, url) is not None
    except re.error:
        return False


def read_scripted_tasks(path: str | Path) -> list[ScriptedTask]:
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError:
        raise DataError(f"{path}: not a text file (a task file is JSON Lines of url and instruction)") from None
    except OSError as exc:
        raise DataError(f"cannot read task file {path}: {exc.strerror}") from exc
    tasks = []
    for number, line in enumerate(lines, 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        try:
            record = json.loads(line)
            tasks.append(
                ScriptedTask(
                    url=str(record["url"]),
                    instruction=str(record["instruction"]),
                    until_text=record.get("until_text"),
                    until_url=record.get("until_url"),
                    name=str(record.get("name") or f"{path.stem}:{number}"),
                )
            )
        except (json.JSONDecodeError, KeyError, TypeError, AttributeError) as exc:
            raise DataError(f"{path}:{number}: not a task record ({exc}); need url and instruction") from exc
    if not tasks:
        raise DataError(f"{path}: no tasks")
    return tasks


@dataclass
class ScriptedEnv(RealPage):
    session: BrowserSession
    task: ScriptedTask

    @property
    def instruction(self) -> str:
        return self.task.instruction

    def reset(self, seed: int = 0) -> str:
        """Load the start page (a site draws nothing from the seed)."""
        self.session.goto(self.task.url)
        return self.task.instruction

    def status(self) -> EpisodeStatus:
        if not (self.task.until_text or self.task.until_url):
            return EpisodeStatus(done=False)
        url, text = self.session.call(lambda page: (page.url, page.inner_text("body")))
        hit = (self.task.until_text and self.task.until_text in text) or (
            self.task.until_url and url_matches(self.task.until_url, url)
        )
        return EpisodeStatus(done=True, reward=1.0) if hit else EpisodeStatus(done=False)
