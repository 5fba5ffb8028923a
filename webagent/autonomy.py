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

Caveat: once auto-approval runs, new verdicts come only from steps below the
threshold, so the calibration set over-represents lower confidences. When, as
usual, lower confidence means more disagreement, that makes the bound more
cautious, not less; the guarantee's exchangeability assumption is still only
approximately met by a live, changing model.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import replace

from webagent.actions import Action
from webagent.calibration import Calibration, calibrate
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
    ) -> None:
        self.inner = inner
        self.store = store
        self.settings = settings or AutonomySettings()
        self.on_auto = on_auto
        self.name = inner.name
        self._lock = threading.Lock()
        self._cache: tuple[tuple, Calibration] | None = None
        self.auto_approved = 0
        self.asked = 0
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
            key = (last, settings.alpha, settings.delta, settings.min_samples, settings.sources)
            if self._cache is None or self._cache[0] != key:
                self._cache = (key, store_calibration(self.store, settings))
            return self._cache[1]

    def would_auto_approve(self, confidence: float) -> bool:
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
        if self.would_auto_approve(proposal.decision.confidence):
            self.auto_approved += 1
            if self.on_auto is not None:
                self.on_auto(proposal, self.calibration())
            return CONFIRM.by(AUTO)
        self.asked += 1
        return self.inner.review(proposal)

    def review_episode(self, actions: Sequence[Action], reward: float | None) -> Sequence[Verdict | None]:
        return self.inner.review_episode(actions, reward)
