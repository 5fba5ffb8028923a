"""Confidence from simulated annotators (webagent.agreement): the arithmetic, each
annotator's view, and a real episode with the default model whose steps carry
the agreement into the store."""

import pytest

from webagent.actions import Action
from webagent.agreement import AgreementConfig, annotator_view, blend, share
from webagent.browser.observation import Element
from webagent.candidates import Candidate
from webagent.errors import DataError, ModelError
from webagent.settings import AgentSettings, AgreementSettings, PolicyKind


def test_the_share_counts_the_policy_as_one_voter():
    click = Action("CLICK", "1")
    assert share(click, [click, click, Action("CLICK", "2")]) == 0.75
    assert share(click, [Action("CLICK", "2")]) == 0.5 and share(click, []) == 1.0
    assert blend(1.0, 1.0, 4) == 1.0 and blend(0.5, 0.0, 4) == 0.25 and blend(0.75, 0.5, 4) == 0.625
    assert blend(0.5, 0.9, 4) > blend(0.5, 0.2, 4)  # within one share, the policy's probability orders
    assert blend(0.75, 0.01, 4) > blend(0.5, 0.99, 4)  # across shares, the share decides


def test_each_annotator_sees_its_own_reproducible_view():
    candidates = [Candidate(Element(str(i), "button", text=f"b{i}", interactive=True), 1.0) for i in range(8)]
    pool = list("abcdefghijkl")
    views = [annotator_view(i, 7, pool, 3, candidates) for i in range(4)]
    assert views == [annotator_view(i, 7, pool, 3, candidates) for i in range(4)]
    assert all(len(shots) == 3 and set(shots) <= set(pool) for shots, _ in views)
    assert all(sorted(c.id for c in order) == sorted(c.id for c in candidates) for _, order in views)
    assert len({tuple(shots) for shots, _ in views}) > 1 and len({tuple(c.id for c in o) for _, o in views}) > 1
    assert annotator_view(0, 7, pool[:2], 3, candidates)[0] and annotator_view(0, 7, [], 3, candidates)[0] == []


def test_bad_agreement_settings_are_refused():
    with pytest.raises(ModelError, match="at least one annotator"):
        AgreementConfig(annotators=0)
    with pytest.raises(DataError, match="annotators must be at least 0"):
        AgreementSettings(annotators=-1)
    with pytest.raises(DataError, match="annotators and tuning need the model policy"):
        AgentSettings(policy=PolicyKind.RANKER, agreement=AgreementSettings(annotators=2))


@pytest.mark.slow
def test_an_episode_with_annotators_keeps_the_policy_s_actions_and_stores_the_agreement(
    store, browser, miniwob_server, embedder, default_model
):
    from webagent.agreement import AgreementPolicy
    from webagent.assembly import assemble
    from webagent.candidates import HybridRanker
    from webagent.envs.miniwob import MiniWoBEnv
    from webagent.settings import MemorySettings

    env = MiniWoBEnv(browser, miniwob_server, "enter-text")
    ranker = HybridRanker(embedder)
    runs = {}
    for annotators in (0, 3):
        settings = AgentSettings(agreement=AgreementSettings(annotators=annotators), memory=MemorySettings(False))
        parts = assemble(settings, store, model=default_model, ranker=ranker)
        assert isinstance(parts.policy, AgreementPolicy) == bool(annotators)
        run_id = parts.start_run("test")
        env.reset(3)
        result = parts.agent(supervised=False).run_episode(env, run_id=run_id, task="enter-text", seed=3)
        runs[annotators] = (result, store.steps(result.episode_id), run_id)
    (plain, plain_rows, _), (voted, voted_rows, voted_run) = runs[0], runs[3]
    assert [s.action for s in voted.steps] == [s.action for s in plain.steps]  # the annotators only vote
    assert all(row["agreement"] is None for row in plain_rows)
    assert voted_rows and all(row["agreement"] in (0.25, 0.5, 0.75, 1.0) for row in voted_rows)
    for row in voted_rows:
        assert row["confidence"] == pytest.approx(blend(row["agreement"], row["policy_confidence"], 4))
    assert store.run(voted_run)["config"]["policy"]["agreement"]["annotators"] == 3
