"""The agent loop: observe → rank → decide → review → act, until the episode ends.

The loop only loops. What happens around a step (writing it to the store,
turning verdicts into lessons) is done by observers that listen to the loop's
events (`webagent.recording.StepRecorder`, `webagent.teaching.Teacher`); they
are called in the order given, and share what they learn about an episode
through its `EpisodeContext` (the recorder sets the episode and step ids the
teacher then files its lessons under). Agents are built by `webagent.assembly`.

An episode ends when the environment reports done, when the agent says STOP
(outcome `done`, with its answer, unless the environment can judge it: then
success or failure), at the step limit, or in a loop: the same action taken
`loop_repeats` times on the same, unchanged page (an action that changes the
page each time, like "next page", is not a loop). Before that, a click that left
the page as it was is not offered again on it (`LoopSettings.skip_tried`): the
policy then proposes something else. A failed action does not end
it: its error is shown in the next observation. An episode cut short by the
process being stopped (Ctrl-C, SIGTERM) is still finished in the store, as
`interrupted`, before the interrupt goes on.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace

from webagent.actions import VERBS, Action
from webagent.browser.observation import Observation
from webagent.candidates import Candidate, Ranker, revealers
from webagent.envs.base import Environment
from webagent.errors import ActionError, WebAgentError
from webagent.kinds import Outcome, VerdictKind
from webagent.policy import Decision, Policy
from webagent.secrets import Secrets, instruction_secrets
from webagent.settings import LoopSettings
from webagent.supervision import Proposal, Supervisor, Verdict
from webagent.workflows import Target, anchor_of, answer_source


@dataclass(frozen=True)
class Review:
    """One proposal and what the supervisor said about it (None: no opinion).

    After a rejection the next proposal is chosen without the rejected element,
    so each proposal keeps the candidates it was chosen from."""

    proposal: Proposal
    verdict: Verdict | None

    @property
    def proposed(self) -> Action:
        return self.proposal.decision.action

    @property
    def intervened(self) -> bool:
        return self.verdict is not None and self.verdict.kind in (VerdictKind.REJECT, VerdictKind.CORRECT)


@dataclass(frozen=True)
class Step:
    index: int
    observation: Observation
    action: Action
    decision: Decision
    candidates: tuple[Candidate, ...]
    error: str | None
    latency: dict[str, float]
    reviews: tuple[Review, ...] = ()
    model_version: str = ""  # the version of the model that made the decision

    @property
    def proposed(self) -> Action:
        """The policy's first proposal (the executed action may be a correction)."""
        return self.reviews[0].proposed if self.reviews else self.action

    @property
    def interventions(self) -> int:
        """How often the supervisor had to step in: rejections and corrections."""
        return sum(r.intervened for r in self.reviews)

    def target(self) -> dict | None:
        """What the action acted on, as a workflow names it (webagent.workflows)."""
        element = self.observation.find(self.action.element_id) if self.action.element_id is not None else None
        return asdict(Target.of(element)) if element is not None else None

    def answer_source(self, instruction: str) -> dict | None:
        """Where a STOP answer was read on the page (webagent.workflows.answer_source)."""
        if self.action.verb != "STOP" or not self.action.argument:
            return None
        source = answer_source(self.observation, self.action.argument, instruction)
        return asdict(source) if source is not None else None

    def near(self, instruction: str) -> dict | None:
        """The text near the element acted on that names what was asked (webagent.workflows.anchor_of)."""
        if self.action.element_id is None:
            return None
        anchor = anchor_of(self.observation, self.action.element_id, instruction)
        return asdict(anchor) if anchor is not None else None

    def row(self, seed: int, instruction: str = "") -> dict:
        """The step as the store keeps it; text typed into a password field is masked."""
        shown = masked(self.action, self.candidates)
        secret = shown != self.action.to_dsl()
        generation = self.decision.generation
        return {
            "idx": self.index,
            "url": self.observation.url,
            "title": self.observation.title,
            "observation": {
                "elements": len(self.observation.elements),
                "last_error": self.observation.last_error,
                "target": self.target(),
                "answer_source": self.answer_source(instruction),
                "near": self.near(instruction),
                "reveals": self.action.element_id in revealers(instruction, self.observation),
            },
            "cleaned_html": self.observation.html,
            "action": shown,
            "proposed": masked(self.proposed, self.candidates) if self.proposed != self.action else None,
            "raw_output": shown if secret else self.decision.raw_output,
            "confidence": self.decision.confidence,
            "policy_confidence": self.decision.policy_confidence,
            "critic": self.decision.critic,
            "agreement": self.decision.agreement,
            "screenshot": self.observation.screenshot,  # PNG bytes; the store saves a file and keeps its path
            "prompt": self.decision.prompt,
            "candidates": [c.row() for c in self.candidates],
            "error": self.error,
            "latency": {k: round(v, 4) for k, v in self.latency.items()},
            "prompt_tokens": (generation.prompt_tokens or None) if generation is not None else None,
            "fed_tokens": (generation.fed_prompt_tokens or None) if generation is not None else None,
            "model_version": self.model_version,
            "seed": seed,
        }


@dataclass(frozen=True)
class EpisodeResult:
    episode_id: int | None
    instruction: str
    steps: tuple[Step, ...]
    reward: float | None
    done: bool
    outcome: Outcome
    error: str | None = None  # why the episode stopped, when outcome is error
    answer: str | None = None  # what the agent answered with STOP "answer"
    final_url: str | None = None  # where the episode ended


@dataclass
class EpisodeContext:
    """One episode as the loop and its observers see it while it runs."""

    instruction: str
    task: str = ""
    seed: int = 0
    run_id: int | None = None
    episode_id: int | None = None  # set by the recorder when the episode is stored
    steps: list[Step] = field(default_factory=list)
    step_ids: list[int | None] = field(default_factory=list)  # store ids of `steps`, set by the recorder

    @property
    def history(self) -> list[Action]:
        return [s.action for s in self.steps]

    def step_id(self, index: int) -> int | None:
        return self.step_ids[index] if index < len(self.step_ids) else None


class Observer:
    """Listens to an agent's episodes; every method is optional (these do nothing)."""

    def episode_started(self, context: EpisodeContext) -> None:
        pass

    def reviewed(self, context: EpisodeContext, review: Review) -> None:
        """A verdict was given, before the step runs (a rejected proposal never runs)."""

    def step_done(self, context: EpisodeContext, step: Step) -> None:
        pass

    def episode_done(self, context: EpisodeContext, result: EpisodeResult) -> None:
        pass


@dataclass(frozen=True)
class Agent:
    ranker: Ranker
    policy: Policy
    config: LoopSettings = field(default_factory=LoopSettings)
    supervisor: Supervisor | None = None
    observers: tuple[Observer, ...] = ()
    secrets: Secrets = field(default_factory=Secrets)  # shown as {NAME}; the real value only reaches the page

    def run_episode(
        self,
        env: Environment,
        *,
        run_id: int | None = None,
        task: str = "",
        seed: int = 0,
        on_step: Callable[[Step], None] | None = None,
    ) -> EpisodeResult:
        known = {**instruction_secrets(env.instruction), **getattr(env, "secrets", {})}
        for name, value in known.items():  # what the instruction and the environment say is secret
            self.secrets.declare(name, value, episode=True)
        context = EpisodeContext(self.secrets.mask(env.instruction), task, seed, run_id)
        self._emit("episode_started", context)
        rng = random.Random(seed)
        outcome, error, status, answer = Outcome.STEP_LIMIT, None, None, None
        try:
            for index in range(self.config.max_steps):
                step = self._step(env, context, index, rng.randrange(2**31))
                context.steps.append(step)
                self._emit("step_done", context, step)
                if on_step:
                    on_step(step)
                stopped = step.action.verb == "STOP" and step.error is None
                if stopped:
                    answer = step.action.argument
                    judge = getattr(env, "judge", None)  # an environment that can tell success itself
                    status = judge(answer) if judge is not None else env.status()
                else:
                    status = env.status()
                if status.done:
                    outcome = Outcome.SUCCESS if (status.reward or 0) > 0 else Outcome.FAILURE
                    break
                if stopped:
                    outcome = Outcome.DONE
                    break
                if self._looping(context.steps):
                    outcome = Outcome.LOOP
                    break
        except _Stopped:
            outcome = Outcome.STOPPED
        except WebAgentError as exc:
            outcome, error = Outcome.ERROR, self.secrets.mask(str(exc))
        except BaseException:  # Ctrl-C, SIGTERM (as KeyboardInterrupt), a dying process: finish it, then go on
            self._finish(context, env, Outcome.INTERRUPTED, None, status, answer, interrupted=True)
            raise
        return self._finish(context, env, outcome, error, status, answer)

    def _finish(self, context, env, outcome, error, status, answer=None, *, interrupted: bool = False) -> EpisodeResult:
        done = bool(status and status.done)
        reward = status.reward if done else None
        result = EpisodeResult(
            context.episode_id,
            context.instruction,
            tuple(context.steps),
            reward,
            done,
            outcome,
            error,
            answer=self.secrets.mask(answer) if answer else answer,
            final_url=_final_url(env, context.steps),
        )
        try:
            if interrupted:  # only the record: nothing is taught from an episode cut short
                for observer in self.observers:
                    if getattr(observer, "records", False):
                        observer.episode_done(context, result)
            else:
                self._emit("episode_done", context, result)
        finally:
            self.secrets.end_episode()  # its own secrets (the page's, typed ones) end with it
        return result

    # -- the phases of one step ----------------------------------------------------
    def _step(self, env: Environment, context: EpisodeContext, index: int, seed: int) -> Step:
        deadline = time.monotonic() + self.config.patience_seconds
        while True:
            t0 = time.perf_counter()
            observation = self._observe(env, context)
            t1 = time.perf_counter()
            candidates = self._rank(context, observation)
            t2 = time.perf_counter()
            try:
                decision = self._decide(context, observation, candidates, seed)
                break
            except ActionError:
                # The page may still be drawing (images, menus that wait for typing
                # to pause): look again a moment later, as a person would.
                if time.monotonic() >= deadline:
                    raise
                time.sleep(0.25)
        version = self.policy.version
        t3 = time.perf_counter()
        action, decision, reviews = self._review(context, observation, candidates, decision, seed)
        t4 = time.perf_counter()
        action, error = self._act(env, context, observation, action)
        decision = self.secrets.mask_decision(decision)
        t5 = time.perf_counter()
        latency = {"observe": t1 - t0, "rank": t2 - t1, "decide": t3 - t2, "review": t4 - t3, "act": t5 - t4}
        return Step(index, observation, action, decision, tuple(candidates), error, latency, reviews, version)

    def _observe(self, env: Environment, context: EpisodeContext) -> Observation:
        last_error = context.steps[-1].error if context.steps else None
        observation = env.observe(last_error=last_error, screenshot=self.config.screenshots)
        if context.steps and "STOP" in observation.verbs:  # real sites: say where the last action led
            events = (*navigation_events(context.steps[-1], observation), *observation.events)
            observation = replace(observation, events=events)
        return self.secrets.mask_observation(observation)

    def _act(self, env: Environment, context: EpisodeContext, observation: Observation, action: Action):
        """Run the action with its placeholders revealed (the only place a secret's
        value is used); the action and the error come back masked. A value typed
        into a password field is a secret from now on (webagent.secrets)."""
        typed = self.secrets.reveal_action(action)
        element = observation.find(typed.element_id)
        into_password = typed.verb == "TYPE" and element is not None and element.input_type == "password"
        if into_password and self.secrets.declare_typed(typed.argument or ""):
            context.instruction = self.secrets.mask(context.instruction)
        error = env.act(typed, observation)
        return self.secrets.mask_action(typed), self.secrets.mask(error)

    def _rank(self, context: EpisodeContext, observation: Observation) -> list[Candidate]:
        history = [a.to_dsl() for a in context.history]
        tried = tried_clicks(observation, context.steps) if self.config.skip_tried else set()
        ranked = self.ranker.rank(context.instruction, observation, history, self.config.top_k + len(tried))
        untried = [c for c in ranked if c.id not in tried or c.element.editable or c.element.is_select]
        return (untried or ranked)[: self.config.top_k]

    def _decide(self, context: EpisodeContext, observation: Observation, candidates, seed: int) -> Decision:
        if not candidates and all(VERBS[v].target for v in observation.verbs):
            raise ActionError(f"no element to act on at {observation.url}")
        return self.policy.decide(context.instruction, observation, candidates, context.history, seed)

    def _review(self, context, observation, candidates, decision, seed) -> tuple[Action, Decision, tuple[Review, ...]]:
        """Ask the supervisor; on a rejection the policy proposes its next-best
        action (the rejected element is no longer offered). Returns the action to
        run, the last decision, and every review."""
        if self.supervisor is None:
            return decision.action, decision, ()
        reviews: list[Review] = []
        shown = tuple(candidates)
        history = tuple(context.history)
        while True:
            proposal = Proposal(context.instruction, observation, shown, history, decision, context.task, len(history))
            review = Review(proposal, self.supervisor.review(proposal))
            reviews.append(review)
            self._emit("reviewed", context, review)
            verdict = review.verdict
            if verdict is None or verdict.kind == VerdictKind.CONFIRM:
                return decision.action, decision, tuple(reviews)
            if verdict.kind == VerdictKind.CORRECT:
                return self.secrets.mask_action(verdict.action), decision, tuple(reviews)
            if verdict.kind == VerdictKind.STOP:
                raise _Stopped
            rejected = decision.action
            if rejected.element_id is None:  # SCROLL, BACK, STOP: that verb is no longer offered
                observation = replace(observation, verbs=tuple(v for v in observation.verbs if v != rejected.verb))
            else:
                shown = tuple(c for c in shown if c.id != rejected.element_id)
            if not shown and all(VERBS[v].target for v in observation.verbs):
                raise _Stopped
            decision = self.policy.decide(context.instruction, observation, shown, history, seed)

    # -- around the phases ---------------------------------------------------------
    def _looping(self, steps: Sequence[Step]) -> bool:
        """The last action has now been taken `loop_repeats` times on this same page
        state (not necessarily in a row: A, B, A, B on a page neither changes loops too)."""
        last = steps[-1]
        key = (page_state(last.observation), last.action)
        return sum((page_state(s.observation), s.action) == key for s in steps) >= self.config.loop_repeats

    def _emit(self, event: str, *args) -> None:
        for observer in self.observers:
            getattr(observer, event)(*args)


def page_state(observation: Observation) -> tuple:
    """What an action can change on a page: its address and each element's text,
    value, check state and visibility (not the screenshot or the last error)."""
    return (
        observation.url,
        tuple((e.id, e.text, e.value, e.checked, e.selected_option, e.visible) for e in observation.elements),
    )


def navigation_events(last: Step, now: Observation) -> tuple[str, ...]:
    """What the last action did that the history does not say: it led to another
    page (the model could not tell a submitted form from one still being filled, and
    went on clicking after the task was done)."""
    if now.url == last.observation.url:
        return ()
    return (f'{last.action.to_dsl()} led to the page "{now.title or now.url}".',)


def tried_clicks(observation: Observation, steps: Sequence[Step]) -> set[str]:
    """Elements clicked earlier when the page was exactly as it is now: the click left it
    so (or it came back), and clicking again would only go round in a loop; and the
    element whose click failed a step ago (use-autocomplete's Submit, covered by the
    suggestions the typing opened, was clicked again while the page redrew them)."""
    state = page_state(observation)
    tried = {
        s.action.element_id
        for s in steps
        if s.action.verb == "CLICK" and s.action.element_id and page_state(s.observation) == state
    }
    last = steps[-1] if steps else None
    if last is not None and last.error and last.action.verb == "CLICK" and last.action.element_id:
        tried.add(last.action.element_id)
    return tried


def _final_url(env: Environment, steps: Sequence[Step]) -> str | None:
    try:
        return env.url()
    except (AttributeError, WebAgentError):  # an environment without a page, or one that has gone
        return steps[-1].observation.url if steps else None


class _Stopped(Exception):
    """The supervisor stopped the episode."""


def masked(action: Action, candidates: Sequence[Candidate]) -> str:
    """The action as logged: text typed into a password field is masked."""
    element = next((c.element for c in candidates if c.id == action.element_id), None)
    if action.verb == "TYPE" and element is not None and element.input_type == "password":
        return Action(action.verb, action.element_id, "•" * 8).to_dsl()
    return action.to_dsl()
