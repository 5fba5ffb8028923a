"""The panel's one worker: it owns the browser and the agent, and runs episodes.

Playwright's sync API belongs to one thread, and a person must be able to close
the tab without losing anything: so one worker thread runs every episode,
through the same agent API the CLI uses (`Agent.run_episode` on a MiniWoB++ or
scripted environment), with a person-supervisor whose `review` blocks until the
panel posts a verdict. Every verdict goes to the store through the agent's
learner the moment it is given.

One session per worker: the browser tab that starts a session owns it. Another
tab sees the session and a clear message; its verdicts are refused unless it
takes the session over (then the first tab's are). Verdicts name the proposal
they answer, so a stale click (a second tab, a double click) can never confirm
a different step.
"""

from __future__ import annotations

import contextlib
import queue
import re
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ui.render import proposal_view
from webagent.actions import VERBS, Action, parse_action
from webagent.autonomy import AutoApprover
from webagent.errors import ActionError, GrammarError, WebAgentError
from webagent.kinds import Source, SupervisorKind
from webagent.settings import (
    AgentSettings,
    AgreementSettings,
    AutonomySettings,
    CriticSettings,
    LoopSettings,
    MemorySettings,
    ModelSettings,
    TunerSettings,
)
from webagent.store import Store
from webagent.supervision import STOP, Proposal, Verdict


class SessionBusy(WebAgentError):
    """Another browser tab owns the running session."""


@dataclass(frozen=True)
class SessionRequest:
    """What a person asked to run: a MiniWoB++ task, a URL and an instruction, or a task file."""

    kind: str  # miniwob | url | file
    task: str = ""  # miniwob: the task name
    seed: int = 0
    episodes: int = 1  # miniwob: seeds seed, seed+1, ...
    url: str = ""
    instruction: str = ""
    until_text: str | None = None
    task_file: str = ""

    def __post_init__(self) -> None:
        if self.kind not in ("miniwob", "url", "file"):
            raise WebAgentError(f"unknown session kind {self.kind!r}; choose miniwob, url or file")
        if self.kind == "miniwob" and not self.task:
            raise WebAgentError("pick a MiniWoB++ task")
        if self.kind == "url" and not (self.url and self.instruction):
            raise WebAgentError("give a start URL and an instruction")
        if self.kind == "file" and not self.task_file:
            raise WebAgentError("give a scripted task file")
        if self.episodes < 1:
            raise WebAgentError(f"episodes must be at least 1, not {self.episodes}")


def panel_settings(
    *,
    model: str = "default",
    tune: str = "none",
    memory: bool = True,
    critic: bool = True,
    critic_weight: float = 0.5,
    annotators: int = 0,
    top_k: int = 10,
    max_steps: int = 12,
    headless: bool = True,
    decoding: str = "plain",
    autonomy: AutonomySettings | None = None,
) -> AgentSettings:
    """The panel's agent settings: a person supervises, the critic on, a screenshot per step."""
    return AgentSettings(
        model=ModelSettings(name=model, decoding=decoding),
        memory=MemorySettings(enabled=memory),
        critic=CriticSettings(enabled=critic, weight=critic_weight),
        agreement=AgreementSettings(annotators=annotators),
        tuner=TunerSettings(method=tune),
        supervisor=SupervisorKind.PERSON,
        autonomy=autonomy or AutonomySettings(),
        loop=LoopSettings(top_k=top_k, max_steps=max_steps, screenshots=True),
        headless=headless,
    )


@dataclass(frozen=True)
class WorkerState:
    """A snapshot of the session for the panel; `version` grows with every change."""

    version: int
    phase: str  # starting | idle | loading | running | waiting | error
    owner: str | None
    message: str
    number: int  # of the pending proposal (0: none)
    view: dict[str, Any] | None  # the pending (or last) proposal as a step view
    run_id: int | None
    episode_id: int | None
    last_episode: dict[str, Any] | None  # the last finished episode's row


class PersonSupervisor:
    """The person at the panel: `review` blocks until `answer` is called for that proposal."""

    name = Source.PERSON

    def __init__(self, on_pending: Callable[[int, Proposal | None], None]) -> None:
        self._on_pending = on_pending
        self._cond = threading.Condition()
        self._number = 0
        self._pending: Proposal | None = None
        self._answer: Verdict | None = None
        self._closed = False

    def review(self, proposal: Proposal) -> Verdict:
        with self._cond:
            if self._closed:
                return STOP
            self._number += 1
            number = self._number
            self._pending, self._answer = proposal, None
        self._on_pending(number, proposal)
        with self._cond:
            while self._answer is None and not self._closed:
                self._cond.wait(timeout=0.5)
            verdict = self._answer if self._answer is not None else STOP
            self._pending, self._answer = None, None
        self._on_pending(0, None)
        return verdict.by(self.name)

    def review_episode(self, actions, reward):
        return [None] * len(actions)

    def pending(self) -> tuple[int, Proposal | None]:
        with self._cond:
            return (self._number, self._pending) if self._pending is not None else (0, None)

    def answer(self, number: int, verdict: Verdict) -> None:
        with self._cond:
            if self._pending is None or number != self._number:
                raise WebAgentError(f"proposal {number} is no longer waiting for a verdict (already answered?)")
            self._answer = verdict
            self._cond.notify_all()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def reopen(self) -> None:
        with self._cond:
            self._closed = False


def correction(proposal: Proposal, element_id: str, verb: str, text: str | None) -> Action:
    """A person's correction, checked against the page: a real element, a verb it
    accepts, a real option for SELECT, some text for TYPE."""
    if verb in VERBS and not VERBS[verb].target:  # SCROLL, BACK, STOP name no element
        try:
            return parse_action(Action(verb, None, (text or None) if VERBS[verb].argument else None).to_dsl())
        except GrammarError as exc:
            raise ActionError(str(exc)) from exc
    found = re.match(r"\s*\[?([^\]\s:]+)", element_id or "")  # "12", "[12]" or "[12] button …" (the dropdown)
    element_id = found.group(1) if found else ""
    element = proposal.observation.find(element_id)
    if element is None:
        raise ActionError(f"there is no element [{element_id}] on this page")
    if verb not in VERBS:
        raise ActionError(f"unknown verb {verb!r}; choose one of {', '.join(VERBS)}")
    if not VERBS[verb].accepts(element):
        raise ActionError(f"{verb} cannot act on {element.tag} [{element.id}]")
    if VERBS[verb].argument is None:
        return Action(verb, element.id)
    text = text or ""
    if verb == "SELECT" and text not in element.options:
        raise ActionError(f"{text!r} is not an option of [{element.id}]; options: {', '.join(element.options)}")
    if verb == "TYPE" and not text:
        raise ActionError("TYPE needs the text to type")
    return Action(verb, element.id, text)


class SessionWorker:
    """Owns the browser, the model and the agent; runs one session at a time."""

    def __init__(self, store: Store, settings: AgentSettings | None = None, *, model=None) -> None:
        self.store = store
        self.settings = settings or panel_settings()
        self._model = model  # a loaded LanguageModel to use instead of loading settings.model
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._requests: queue.Queue[SessionRequest | None] = queue.Queue()
        self._version = 0
        self._phase = "starting"
        self._owner: str | None = None
        self._message = "loading the model and the browser…"
        self._number = 0
        self._view: dict[str, Any] | None = None
        self._run_id: int | None = None
        self._episode_id: int | None = None
        self._last_episode: dict[str, Any] | None = None
        self._cancel = threading.Event()
        self.person = PersonSupervisor(self._pending_changed)
        self.approver = AutoApprover(self.person, store, self.settings.autonomy, on_auto=self._auto_approved)
        self.agent = None
        self._parts = None
        self._session = None
        self._server = None
        self._thread = threading.Thread(target=self._run, name="webagent-ui-worker", daemon=True)
        self._ready = threading.Event()
        self._error: BaseException | None = None

    # -- lifecycle ------------------------------------------------------------------
    def start(self, wait: bool = False) -> SessionWorker:
        self._thread.start()
        if wait:
            self._ready.wait()
            if self._error is not None:
                raise WebAgentError(f"the panel's worker could not start: {self._error}")
        return self

    def wait_ready(self, timeout: float | None = None) -> WorkerState:
        """Block until the model and the browser are loaded (or failed to)."""
        self._ready.wait(timeout)
        return self.state()

    def close(self) -> None:
        self._cancel.set()
        self.person.close()
        self._requests.put(None)
        self._thread.join(timeout=60)

    def _build(self) -> None:
        from webagent.assembly import assemble
        from webagent.browser.session import BrowserSession
        from webagent.envs.miniwob import MiniWoBServer

        self._parts = assemble(self.settings, self.store, model=self._model, supervisor=self.approver)
        self._session = BrowserSession(self.settings.browser_config()).start()
        self._server = MiniWoBServer().__enter__()
        self.agent = self._parts.agent()

    # -- state ----------------------------------------------------------------------
    def _set(self, **changes) -> None:
        with self._changed:
            for key, value in changes.items():
                setattr(self, f"_{key}", value)
            self._version += 1
            self._changed.notify_all()

    def state(self) -> WorkerState:
        with self._lock:
            return WorkerState(
                version=self._version,
                phase=self._phase,
                owner=self._owner,
                message=self._message,
                number=self._number,
                view=self._view,
                run_id=self._run_id,
                episode_id=self._episode_id,
                last_episode=self._last_episode,
            )

    def wait_for_change(self, since: int, timeout: float) -> WorkerState:
        """Block until the state moves past version `since` into something a person can act on
        (a proposal waiting, or the session idle), or until `timeout`."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while time.monotonic() < deadline:
                if self._version > since and self._phase in ("waiting", "idle", "error"):
                    break
                self._changed.wait(timeout=max(0.0, min(0.25, deadline - time.monotonic())))
        return self.state()

    @property
    def model_version(self) -> str:
        return self.agent.policy.version if self.agent is not None else "loading…"

    def _pending_changed(self, number: int, proposal: Proposal | None) -> None:
        if proposal is None:
            self._set(phase="running", number=0, message="running the step…")
        else:
            view = proposal_view(proposal, auto=False)
            episode = self._current_episode()
            self._set(phase="waiting", number=number, view=view, message="waiting for your verdict", episode_id=episode)

    def _current_episode(self) -> int | None:
        if self._run_id is None:
            return None
        return self.store.latest_episode_id(self._run_id)

    def _auto_approved(self, proposal: Proposal, calibration) -> None:
        self._set(view=proposal_view(proposal, auto=True), message="auto-approved a step", number=0)

    # -- what the panel calls --------------------------------------------------------
    def start_session(self, owner: str, request: SessionRequest) -> None:
        """Queue a session for this tab; refused while a session runs (this tab's or another's)."""
        with self._lock:
            if self._phase in ("loading", "running", "waiting"):
                if self._owner not in (None, owner):
                    raise SessionBusy(
                        "this panel's session is being driven from another browser tab; watch it here, "
                        "or press 'Take over' to drive it from this tab"
                    )
                raise SessionBusy("a session is already running; stop it first")
            if self._phase == "starting":
                raise SessionBusy("the worker is still loading the model and the browser; try again in a moment")
            if self._phase == "error":
                raise WebAgentError(f"the worker failed to start: {self._message}")
        self._cancel.clear()
        self.approver.resume()
        self.person.reopen()
        self._set(phase="loading", owner=owner, message=f"starting {request.kind} session…", view=None, number=0)
        self._requests.put(request)

    def take_over(self, owner: str) -> None:
        self._set(owner=owner, message="this tab now drives the session")

    def post(self, owner: str, number: int, verdict: Verdict) -> None:
        """Answer proposal `number`; refused for another tab's session or a stale proposal."""
        with self._lock:
            if self._owner not in (None, owner):
                raise SessionBusy(
                    "this panel's session is driven from another browser tab; watch it here, "
                    "or press 'Take over' to drive it from this tab"
                )
        self.person.answer(number, verdict)

    def stop(self, owner: str) -> None:
        """End the session: the pending proposal (if any) is answered with stop, the rest is not run."""
        with self._lock:
            if self._owner not in (None, owner) and self._phase in ("loading", "running", "waiting"):
                raise SessionBusy("this session is driven from another browser tab; press 'Take over' first")
        self._cancel.set()
        self.approver.request_stop()
        number, proposal = self.person.pending()
        if proposal is not None:
            with contextlib.suppress(WebAgentError):  # answered meanwhile: it ends at the next proposal
                self.person.answer(number, STOP)
        self._set(message="stopped by you")

    def pending_proposal(self, number: int) -> Proposal:
        current, proposal = self.person.pending()
        if proposal is None or current != number:
            raise WebAgentError(f"proposal {number} is no longer waiting for a verdict")
        return proposal

    def configure_autonomy(self, **changes) -> AutonomySettings:
        settings = self.approver.configure(**changes)
        self._set()
        return settings

    # -- the worker thread -----------------------------------------------------------
    def _run(self) -> None:
        try:
            self._build()
        except BaseException as exc:  # noqa: BLE001 - shown in the panel
            self._error = exc
            self._set(phase="error", message=f"could not start: {exc}")
            self._ready.set()
            return
        self._set(phase="idle", message="ready: start a session")
        self._ready.set()
        try:
            while (request := self._requests.get()) is not None:
                try:
                    self._run_request(request)
                except WebAgentError as exc:
                    self._set(phase="idle", message=f"the session stopped: {exc}")
                else:
                    self._set(phase="idle", message=f"{self._message} · session over: start another")
        finally:
            if self._parts is not None:
                self._parts.close()
            if self._server is not None:
                self._server.__exit__(None, None, None)
            if self._session is not None:
                self._session.close()

    def _run_request(self, request: SessionRequest) -> None:
        from webagent.envs.miniwob import MiniWoBEnv
        from webagent.envs.scripted import ScriptedEnv, ScriptedTask, read_scripted_tasks

        agent = self.agent
        run_id = self._parts.start_run(
            f"ui {request.kind}", ui=asdict(request), autonomy_now=asdict(self.approver.settings)
        )
        self._set(run_id=run_id)
        if request.kind == "miniwob":
            env = MiniWoBEnv(self._session, self._server, request.task)
            episodes = [(env, request.task, request.seed + i) for i in range(request.episodes)]
        else:
            if request.kind == "url":
                tasks = [ScriptedTask(request.url, request.instruction, request.until_text, name=request.url)]
            else:
                tasks = read_scripted_tasks(request.task_file)
            episodes = [(ScriptedEnv(self._session, t), t.name, request.seed) for t in tasks]
        for number, (env, task, seed) in enumerate(episodes, start=1):
            if self._cancel.is_set():
                break
            self._set(phase="running", message=f"episode {number} of {len(episodes)}: loading {task}…")
            env.reset(seed)
            result = agent.run_episode(env, run_id=run_id, task=task, seed=seed, on_step=self._on_step)
            episode = self.store.episode(result.episode_id) if result.episode_id is not None else None
            reward = "–" if result.reward is None else f"{result.reward:+.2f}"
            self._set(
                last_episode=episode,
                episode_id=result.episode_id,
                message=f"episode {number} of {len(episodes)} ended: {result.outcome} (reward {reward})",
            )

    def _on_step(self, step) -> None:
        self._set(message=f"step {step.index + 1} ran: {step.action}" + (f" — {step.error}" if step.error else ""))


def load_history(store: Store, *, limit: int = 200) -> dict[str, list[dict]]:
    """Recent runs and episodes, and all feedback of those episodes (for the history view and plots)."""
    return store.history(limit=limit)


def export_episodes(store: Store, episode_ids: list[int], path: Path) -> Path:
    """Selected episodes as JSON Lines (episode row, steps, verdicts), for sharing or training."""
    from ui.render import episode_record, export_jsonl

    records = []
    for episode_id in episode_ids:
        episode = store.episode(episode_id)
        if episode is None:
            raise WebAgentError(f"there is no episode {episode_id} in {store.path}")
        records.append(episode_record(episode, store.steps(episode_id), store.feedback(episode_id=episode_id)))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(export_jsonl(records))
    return path
