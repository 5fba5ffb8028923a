"""Auto-approval on a real sqlite file: it never fires below the calibration minimum,
counts only a person's verdicts, and says who gave each verdict."""

import pytest

from webagent.actions import Action
from webagent.autonomy import AutoApprover, AutonomySettings
from webagent.browser.observation import Element, Observation
from webagent.candidates import Candidate
from webagent.policy import Decision
from webagent.supervision import CONFIRM, Proposal


class _Asked:
    name = "person"

    def __init__(self) -> None:
        self.calls = 0

    def review(self, proposal):
        self.calls += 1
        return CONFIRM.by(self.name)

    def review_episode(self, actions, reward):
        return [None] * len(actions)


def _proposal(confidence: float) -> Proposal:
    button = Element("3", "button", text="OK", interactive=True)
    observation = Observation("http://x/", "t", (button,))
    decision = Decision(Action("CLICK", "3"), confidence)
    return Proposal("Click OK", observation, (Candidate(button, 1.0),), (), decision)


def test_auto_approve_never_fires_below_the_calibration_minimum(store):
    asked = _Asked()
    approver = AutoApprover(asked, store, AutonomySettings(enabled=True, alpha=0.1, delta=0.1, min_samples=30))

    def judged(n, source="person", kind="confirm"):
        for _ in range(n):
            store.add_feedback(
                episode_id=None,
                step_id=None,
                kind=kind,
                proposed="CLICK [3]",
                action="CLICK [3]",
                source=source,
                confidence=0.99,
            )

    judged(29)  # one short of the minimum, all agreeing, all very confident
    judged(200, source="auto")  # the agent's own approvals never count
    judged(50, source="reward")  # nor do after-the-fact reward confirmations
    assert approver.calibration().threshold is None and approver.calibration().n == 29
    assert approver.review(_proposal(0.999)) == CONFIRM.by("person") and asked.calls == 1
    judged(1)  # now 30: (0.9)^30 = 0.042 ≤ δ, the threshold is the lowest confidence, 0.99
    assert approver.calibration().threshold == pytest.approx(0.99)
    assert approver.review(_proposal(0.995)) == CONFIRM.by("auto") and asked.calls == 1  # the verdict says who
    assert approver.review(_proposal(0.98)) == CONFIRM.by("person") and asked.calls == 2
    approver.configure(enabled=False)  # the switch off: always asks
    approver.review(_proposal(0.999))
    assert asked.calls == 3 and approver.auto_approved == 1
