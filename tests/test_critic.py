"""The critic: how its opinion combines with the policy's confidence, and its score of a
proposal with the real default model."""

import pytest

from webagent.actions import Action
from webagent.browser.observation import Element, Observation
from webagent.candidates import Candidate


def test_confidence_combines_policy_and_critic():
    from webagent.critic import combine

    assert combine(0.64, 1.0, 0.5) == pytest.approx(0.8)  # √(0.64 · 1)
    assert combine(0.9, 0.1, 0.0) == 0.9 and combine(0.9, 0.1, 1.0) == 0.1
    assert combine(0.0, 0.9, 0.5) == 0.0 and combine(0.5, 0.5, 0.25) == pytest.approx(0.5)


@pytest.mark.slow
def test_the_critic_scores_a_proposal_with_the_real_model(base_model):
    from webagent.critic import Critic, CriticPolicy
    from webagent.policy import FunctionPolicy

    ok = Element("1", "button", text="OK", interactive=True)
    cancel = Element("2", "button", text="Cancel", interactive=True)
    observation = Observation("http://x/", "t", (ok, cancel))
    candidates = [Candidate(ok, 1.0), Candidate(cancel, 0.5)]
    critic = Critic(base_model)
    prompt = critic.prompt('Click on the "OK" button.', observation, candidates, [], Action("CLICK", "2"))
    assert "Proposed next action: CLICK [2]" in prompt and 'It acts on: [2] button text="Cancel"' in prompt
    opinions = [
        critic.judge('Click on the "OK" button.', observation, candidates, [], Action("CLICK", i)) for i in "12"
    ]
    assert all(0.0 < o.p_yes < 1.0 and o.reply in ("Yes", "No") for o in opinions)
    policy = CriticPolicy(FunctionPolicy("fixed", lambda instruction, obs, history: Action("CLICK", "2")), critic)
    decision = policy.decide('Click on the "OK" button.', observation, candidates, [], seed=0)
    # The second judgement of the same prompt reuses the cached prefix and feeds only the tail, so
    # float32 sums run in another order: equal to about 1e-5, not bit for bit.
    same = pytest.approx(opinions[1].p_yes, rel=1e-4)
    assert decision.policy_confidence == 1.0 and decision.critic == same
    assert decision.confidence == pytest.approx(opinions[1].p_yes ** 0.5, rel=1e-4) and policy.name == "fixed"
