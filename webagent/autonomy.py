"""Earned autonomy: confirm a step without asking when its confidence is above
a threshold calibrated on this store's past verdicts.

`AutoApprover` wraps any supervisor (the person in the UI, the oracle in a
measured run). With auto-approval on, a proposal whose confidence is at or above
the threshold from `webagent.calibration.calibrate` is confirmed at once and
its feedback row says source "auto"; every other proposal goes to the wrapped
supervisor. The threshold is recomputed whenever new feedback has arrived.

Calibration data: feedback rows from the sources that judge proposals before
they run (person, oracle), each with the confidence it was given at: confirm
counts as agreement, reject and correct as disagreement. Auto-approvals are
never calibration data (that would be the agent grading itself), nor are
after-the-fact reward confirmations.

Audits, so that calibration never freezes. Once auto-approval fires, the steps
it confirms would never be judged again, and the calibration set would stop
learning exactly where the agent acts alone. So a share `audit` of the steps it
would confirm (chosen by the RNG passed in, independent of the step) still goes
to the supervisor; the verdict is marked `audited`. Audited verdicts are
calibration data like any other, and they are also a uniform random sample of
the steps auto-approval covers, so they test the promise directly: when the
audited disagreements are significantly above alpha (the one-sided binomial
P(Bin(n, alpha) >= k) <= delta), auto-approval is suspended. The test is made
on all audits and on the latest `audit_window` alone: the agent changes as it
learns (a new procedure can be confidently wrong), and after a hundred good
audits a burst of new mistakes would take long to show in the total. While
suspended, every step auto-approval would have confirmed is asked and marked
audited, so the audits go on and lift the suspension once both tests pass
again. The guarantee says how many audits back it.

Caveat: below the threshold every step is judged and above it only the audited
share, so the calibration set over-represents lower confidences. When, as
usual, lower confidence means more disagreement, that makes the bound more
cautious, not less; the guarantee's exchangeability assumption is still only
approximately met by a live, changing model.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from webagent.actions import Action
from webagent.calibration import Calibration, binomial_cdf, calibrate
from webagent.kinds import Source
from webagent.settings import CALIBRATION_SOURCES, AutonomySettings
from webagent.store import Store
from webagent.supervision import CONFIRM, STOP, Proposal, Supervisor, Verdict

AUTO = Source.AUTO


def calibration_pairs(store: Store, sources: Sequence[str] = CALIBRATION_SOURCES) -> list[tuple[float, bool]]:
    """(confidence, agreed) for every judged proposal in the store from `sources`."""
    return store.calibration_pairs(sources)


def store_calibration(store: Store, settings: AutonomySettings) -> Calibration:
    pairs = calibration_pairs(store, settings.sources)
    return calibrate(pairs, alpha=settings.alpha, delta=settings.delta, min_samples=settings.min_samples)


@dataclass(frozen=True)
class Audit:
    """What the audited steps say about the promise."""

    n: int  # audited verdicts
    disagreed: int
    p_value: float  # P(Bin(n, alpha) >= disagreed): small when the rate is above alpha
    exceeded: bool  # p_value <= delta: auto-approval is suspended
    latest: bool = False  # counted over the latest audits only (the window), not all of them

    def line(self) -> str:
        if not self.n:
            return "no audits yet"
        state = "above the promise: suspended" if self.exceeded else "within the promise"
        which = "the latest " if self.latest else ""
        return f"{self.disagreed} disagreements in {which}{self.n} audited steps ({state})"


def _tested(n: int, k: int, settings: AutonomySettings, *, latest: bool = False) -> Audit:
    p_value = 1.0 - binomial_cdf(k - 1, n, settings.alpha) if n else 1.0
    return Audit(n, k, p_value, n > 0 and p_value <= settings.delta, latest)


def audit_of(store: Store, settings: AutonomySettings) -> Audit:
    """All audits tested; where the latest `audit_window` alone fail the test, that window's."""
    overall = _tested(*store.audit_counts(settings.sources), settings)
    if overall.exceeded or not settings.audit_window or overall.n <= settings.audit_window:
        return overall
    recent = _tested(*store.audit_counts(settings.sources, latest=settings.audit_window), settings, latest=True)
    return recent if recent.exceeded else overall


class AutoApprover:
    """A supervisor that confirms calibrated-safe steps itself and asks `inner` about the rest.

    Its own confirmations say source "auto"; the rest carry the inner supervisor's source."""

    def __init__(
        self,
        inner: Supervisor,
        store: Store,
        settings: AutonomySettings | None = None,
        *,
        on_auto: Callable[[Proposal, Calibration], None] | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.inner = inner
        self.rng = rng or random.Random(0)
        self.store = store
        self.settings = settings or AutonomySettings()
        self.on_auto = on_auto
        self.name = inner.name
        self._lock = threading.Lock()
        self._cache: tuple[tuple, Calibration] | None = None
        self.auto_approved = 0
        self.asked = 0
        self.audited = 0
        self._stop = threading.Event()

    def configure(self, **changes) -> AutonomySettings:
        """Change settings (the UI's switch and sliders); takes effect at the next proposal."""
        with self._lock:
            self.settings = replace(self.settings, **changes)
            return self.settings

    def calibration(self) -> Calibration:
        """The current threshold, recomputed only when feedback or settings changed."""
        with self._lock:
            settings = self.settings
            last = self.store.last_feedback_id()
            key = (last, settings.alpha, settings.delta, settings.min_samples, settings.sources, settings.audit_window)
            if self._cache is None or self._cache[0] != key:
                self._cache = (key, store_calibration(self.store, settings), audit_of(self.store, settings))
            return self._cache[1]

    def audit(self) -> Audit:
        """The audited steps' verdict on the promise (recomputed with the calibration)."""
        self.calibration()
        return self._cache[2]

    def guarantee(self) -> str:
        """The promise in words, with what the audits say."""
        return f"{self.calibration().guarantee}; audits: {self.audit().line()}"

    def would_auto_approve(self, confidence: float) -> bool:
        return self._clears_threshold(confidence) and not self.audit().exceeded

    def _clears_threshold(self, confidence: float) -> bool:
        if not self.settings.enabled:
            return False
        threshold = self.calibration().threshold
        return threshold is not None and confidence >= threshold

    def request_stop(self) -> None:
        """End the running episode at its next proposal, auto-approved or not."""
        self._stop.set()

    def resume(self) -> None:
        self._stop.clear()

    def review(self, proposal: Proposal) -> Verdict | None:
        if self._stop.is_set():
            return STOP
        clears = self._clears_threshold(proposal.decision.confidence)
        suspended = clears and self.audit().exceeded  # every such step is an audit until the tests pass again
        if suspended or (clears and self.rng.random() < self.settings.audit):
            self.audited += 1
            verdict = self.inner.review(proposal)
            return replace(verdict, audited=True) if verdict is not None else None
        if clears:  # and not suspended, not audited
            self.auto_approved += 1
            if self.on_auto is not None:
                self.on_auto(proposal, self.calibration())
            return CONFIRM.by(AUTO)
        self.asked += 1
        return self.inner.review(proposal)

    def review_episode(self, actions: Sequence[Action], reward: float | None) -> Sequence[Verdict | None]:
        return self.inner.review_episode(actions, reward)
