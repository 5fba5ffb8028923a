"""What the agent loop needs from a place to act: observe, act, and a status."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from webagent.actions import Action
from webagent.browser.observation import Observation


@dataclass(frozen=True)
class EpisodeStatus:
    done: bool
    reward: float | None = None
    reason: str | None = None


class Environment(Protocol):
    instruction: str

    def reset(self, seed: int = 0) -> str:
        """Start an episode (seeded where the environment draws anything); returns the instruction."""
        ...

    def observe(self, *, last_error: str | None = None, screenshot: bool = False) -> Observation: ...

    def act(self, action: Action, observation: Observation) -> str | None:
        """Execute the action; None on success, else why it failed."""
        ...

    def status(self) -> EpisodeStatus: ...

    def url(self) -> str:
        """The page's address now (the episode's final URL when it ends)."""
        ...


def act_in_page(session, action: Action, observation: Observation) -> str | None:
    """Execute an action on the element the observation names, in the session's page.

    Two things the action itself cannot tell are checked here: a page that no
    longer runs scripts after the action (a handler that never returns: the page is stopped
    and the episode ends with that error, instead of the next call hanging), and
    requests the site policy blocked (named in the error, so the agent reads them
    in its next observation)."""
    from webagent.actions import VERBS
    from webagent.browser.execute import execute
    from webagent.errors import BrowserError

    element = None
    if VERBS[action.verb].target:
        element = observation.find(action.element_id)
        if element is None:
            return f"{action} failed: no element [{action.element_id}] on the page"
    session.take_blocked()
    error = session.call(execute, action, element)
    if not session.responsive():
        raise BrowserError(f"{action} froze the page (a script on it never returns); the page was stopped")
    blocked = session.take_blocked()
    if blocked:
        shown = "; ".join(blocked[:3]) + (f"; and {len(blocked) - 3} more" if len(blocked) > 3 else "")
        error = f"{error}; " if error else ""
        error += f"{action} led to blocked requests: {shown}"
    return error


class RealPage:
    """Observe, act and url for an environment on a real page (a scripted task, a site of
    the suite): every verb is offered, and everything goes through `self.session`."""

    session: object  # a BrowserSession

    def observe(self, *, last_error: str | None = None, screenshot: bool = False) -> Observation:
        from webagent.actions import ALL_VERBS
        from webagent.browser.observe import observe

        return self.session.call(observe, screenshot=screenshot, last_error=last_error, verbs=ALL_VERBS)

    def act(self, action: Action, observation: Observation) -> str | None:
        return act_in_page(self.session, action, observation)

    def url(self) -> str:
        return self.session.call(lambda page: page.url)
