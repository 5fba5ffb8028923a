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
    approver = AutoApprover(
        asked, store, AutonomySettings(enabled=True, alpha=0.1, delta=0.1, min_samples=30, audit=0.0)
    )

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


def _judged(store, n, *, kind="confirm", confidence=0.99, audited=False):
    for _ in range(n):
        store.add_feedback(
            episode_id=None,
            step_id=None,
            kind=kind,
            proposed="CLICK [3]",
            action="CLICK [3]",
            source="person",
            confidence=confidence,
            audited=audited,
        )


def test_a_share_of_would_be_auto_approvals_is_still_asked_and_marked_audited(store):
    import random

    _judged(store, 40)  # a threshold at 0.99
    asked = _Asked()
    settings = AutonomySettings(enabled=True, min_samples=30, audit=0.25)
    approver = AutoApprover(asked, store, settings, rng=random.Random(7))
    verdicts = [approver.review(_proposal(0.995)) for _ in range(400)]
    audited = [v for v in verdicts if v.audited]
    assert all(v.source == "person" for v in audited) and all(v.source == "auto" for v in verdicts if not v.audited)
    assert asked.calls == len(audited) == approver.audited and 70 <= len(audited) <= 130  # about a quarter
    # the same seed audits the same steps; a step below the threshold is always asked, never "audited"
    again = AutoApprover(_Asked(), store, settings, rng=random.Random(7))
    assert [again.review(_proposal(0.995)).audited for _ in range(400)] == [v.audited for v in verdicts]
    assert not approver.review(_proposal(0.5)).audited
    never = AutoApprover(_Asked(), store, AutonomySettings(enabled=True, min_samples=30, audit=0.0))
    assert all(never.review(_proposal(0.995)).source == "auto" for _ in range(100))


def test_audited_disagreements_suspend_auto_approval_and_the_guarantee_says_so(store):
    _judged(store, 40)
    asked = _Asked()
    approver = AutoApprover(asked, store, AutonomySettings(enabled=True, min_samples=30, audit=0.1))
    assert approver.would_auto_approve(0.995) and "no audits yet" in approver.guarantee()
    _judged(store, 9, audited=True)
    _judged(store, 1, kind="reject", audited=True)  # 1 in 10: consistent with alpha = 0.1
    assert approver.would_auto_approve(0.995) and "1 disagreements in 10 audited steps (within" in approver.guarantee()
    _judged(store, 5, kind="correct", audited=True)  # 6 in 15: P(Bin(15, 0.1) >= 6) = 0.002 <= delta
    audit = approver.audit()
    assert audit.exceeded and audit.n == 15 and audit.disagreed == 6 and audit.p_value < 0.01
    assert not approver.would_auto_approve(0.995) and "suspended" in approver.guarantee()
    assert approver.review(_proposal(0.995)).source == "person"  # asked, as every step now


def test_a_burst_of_new_mistakes_suspends_although_the_total_is_within_and_good_audits_lift_it(store):
    """The agent changes as it learns: 6 disagreements in the latest 30 audits suspend auto-approval
    (P(Bin(30, 0.1) >= 6) = 0.07) though all 106 audits are within the promise (6 in 106);
    while suspended, every step that clears the threshold is asked as an audit, and agreeing
    verdicts lift the suspension."""
    _judged(store, 40)  # a threshold at 0.99
    _judged(store, 100, audited=True)
    _judged(store, 6, kind="correct", audited=True)
    asked = _Asked()
    approver = AutoApprover(asked, store, AutonomySettings(enabled=True, min_samples=30, audit=0.1))
    audit = approver.audit()
    assert audit.exceeded and audit.latest and (audit.n, audit.disagreed) == (30, 6)
    assert "6 disagreements in the latest 30 audited steps (above the promise: suspended)" in approver.guarantee()
    whole = AutoApprover(asked, store, AutonomySettings(enabled=True, min_samples=30, audit=0.1, audit_window=0))
    assert not whole.audit().exceeded and whole.audit().n == 106 and whole.would_auto_approve(0.995)
    verdicts = []
    while approver.audit().exceeded:
        verdicts.append(approver.review(_proposal(0.995)))
        _judged(store, 1, audited=verdicts[-1].audited)  # the person agrees; the loop's learner stores it
    assert all(v.source == "person" and v.audited for v in verdicts)  # each one asked, and an audit
    # the 25th agreeing audit leaves 5 of the 6 in the window: P(Bin(30, 0.1) >= 5) = 0.18 > delta
    assert len(verdicts) == asked.calls == 25 and store.audit_counts(["person"], latest=30) == (30, 5)
    assert approver.would_auto_approve(0.995)
    assert not approver.review(_proposal(0.5)).audited  # below the threshold: asked, never an audit


def test_the_learner_keeps_the_audit_mark_in_the_feedback_row(store):
    from webagent.feedback import Learner, Lesson

    learner = Learner(store)
    learner.learn(Lesson("confirm", "CLICK [3]", "CLICK [3]", "p", None, "person", confidence=0.995, audited=True))
    assert store.audit_counts(["person"]) == (1, 0)
    assert store.feedback()[-1]["audited"] == 1
