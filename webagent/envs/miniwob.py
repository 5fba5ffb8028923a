"""MiniWoB++ tasks, served from the `miniwob` package over 127.0.0.1.

An episode is seeded with Math.seedrandom(seed) before core.startEpisodeReal();
the task timer is set far out so slow CPU inference is not punished.
"""

from __future__ import annotations

import functools
import http.server
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path

from webagent.actions import Action
from webagent.browser.observation import Observation
from webagent.browser.observe import observe
from webagent.browser.session import BrowserSession
from webagent.browser.settle import Activity, settle
from webagent.envs.base import EpisodeStatus, act_in_page
from webagent.errors import BrowserError, DataError

EPISODE_MAX_TIME_MS = 10**9
DEV_TASKS_FILE = Path(__file__).with_name("dev_tasks.txt")
# The utterance and the reward display are not part of the task's page (the
# instruction is given separately); widgets like dialogs live outside #area.
NOT_THE_TASK = ("#query", "#reward-display", "#click-canvas", "#sync-task-cover")


def miniwob_html_dir() -> Path:
    import importlib.util

    spec = importlib.util.find_spec("miniwob")
    if spec is None or not spec.submodule_search_locations:
        raise DataError("the `miniwob` package is not installed (pip install miniwob)")
    return Path(spec.submodule_search_locations[0]) / "html"


def available_tasks() -> list[str]:
    return sorted(p.stem for p in (miniwob_html_dir() / "miniwob").glob("*.html"))


_REGISTERED = re.compile(r'id="miniwob/([^"]+)-v1"')


def package_tasks() -> dict[str, str | None]:
    """Every task the installed package has: its pages under html/miniwob/ and the
    tasks its gymnasium registry names (read as text: gymnasium need not be
    installed). The value is None for a task this environment serves, else why not."""
    tasks: dict[str, str | None] = dict.fromkeys(available_tasks())
    registry = miniwob_html_dir().parent / "registration.py"
    try:
        registered = _REGISTERED.findall(registry.read_text(encoding="utf-8"))
    except OSError:
        registered = []
    for name in registered:
        if name in tasks:
            continue
        if name.startswith("flight."):
            tasks[name] = (
                "FlightWoB: a copy of an airline site in a sandboxed frame (html/flight/), "
                "with a structured query instead of an utterance; only html/miniwob/ pages are served"
            )
        else:
            tasks[name] = "registered by the package, but it has no page under html/miniwob/"
    return dict(sorted(tasks.items()))


def dev_tasks() -> list[str]:
    """The MiniWoB++ tasks for development and tuning (shipped in the package); all
    other tasks are how we check that the agent generalises."""
    return read_task_names(DEV_TASKS_FILE)


def read_task_names(path: str | Path) -> list[str]:
    """Task names, one per line; '#' starts a comment. Unknown names are an error."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError:
        raise DataError(f"{path}: not a text file (a tasks file lists task names, one per line)") from None
    except OSError as exc:
        raise DataError(f"cannot read tasks file {path}: {exc.strerror}") from exc
    tasks = [line.split("#", 1)[0].strip() for line in lines]
    tasks = [t for t in tasks if t]
    known = set(available_tasks())
    for number, line in enumerate(lines, 1):
        name = line.split("#", 1)[0].strip()
        if name and name not in known:
            raise DataError(f"{path}:{number}: unknown MiniWoB++ task {name!r}")
    if not tasks:
        raise DataError(f"{path}: no tasks listed")
    return tasks


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


class MiniWoBServer:
    """A static file server for the MiniWoB++ pages on 127.0.0.1, on a free port."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = root or miniwob_html_dir()
        handler = functools.partial(_QuietHandler, directory=str(self.root))
        self._httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="miniwob-http", daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def task_url(self, task: str) -> str:
        return f"{self.base_url}/miniwob/{task}.html"

    def __enter__(self) -> MiniWoBServer:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


@dataclass
class MiniWoBEnv:
    """One MiniWoB++ task in the session's page; `reset(seed)` starts an episode."""

    session: BrowserSession
    server: MiniWoBServer
    task: str
    instruction: str = ""
    seed: int | None = None
    _loaded: bool = field(default=False, repr=False)

    def reset(self, seed: int) -> str:
        if self.task not in available_tasks():
            raise DataError(f"unknown MiniWoB++ task {self.task!r}")
        # A fresh load per episode: a previous episode may have left the page in any state.
        self.session.goto(self.server.task_url(self.task))
        self.instruction = self.session.call(_start_episode, seed)
        self.seed = seed
        return self.instruction

    def observe(self, *, last_error: str | None = None, screenshot: bool = False) -> Observation:
        return self.session.call(observe, exclude=NOT_THE_TASK, screenshot=screenshot, last_error=last_error)

    def act(self, action: Action, observation: Observation) -> str | None:
        return act_in_page(self.session, action, observation)

    def url(self) -> str:
        return self.session.call(lambda page: page.url)

    def status(self) -> EpisodeStatus:
        done, reward, reason = self.session.call(
            lambda page: page.evaluate("[WOB_DONE_GLOBAL, WOB_RAW_REWARD_GLOBAL, WOB_REWARD_REASON]")
        )
        return EpisodeStatus(done=bool(done), reward=float(reward) if done else None, reason=reason)


def plain_instruction(utterance) -> str:
    """The instruction as a plain string. Some tasks (the email-inbox NL variants,
    login-user, enter-password, ...) return {"utterance": ..., "fields": ...} outside
    their test mode; the agent reads only the utterance, as a person would."""
    if isinstance(utterance, dict):
        utterance = utterance.get("utterance", "")
    if not isinstance(utterance, str) or not utterance.strip():
        raise DataError(f"the task gave no instruction (utterance {utterance!r:.120})")
    return " ".join(utterance.split())


def _start_episode(page, seed: int) -> str:
    # The episode builds its page now: waited for as an action's effects are, so the first
    # observation sees it loaded (social-media's icons had no width until their images came).
    activity = Activity(page)
    try:
        utterance = page.evaluate(
            """([seed, maxTime]) => {
                Math.seedrandom(seed);
                core.EPISODE_MAX_TIME = maxTime;
                core.startEpisodeReal();
                return core.getUtterance();
            }""",
            [str(seed), EPISODE_MAX_TIME_MS],
        )
        settle(page, activity)
    except Exception as exc:  # noqa: BLE001
        raise BrowserError(f"could not start a MiniWoB++ episode at {page.url}: {str(exc).splitlines()[0]}") from exc
    finally:
        activity.stop()
    return plain_instruction(utterance)
