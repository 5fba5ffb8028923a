"""Supervisors on real MiniWoB++ pages and a real sqlite file: the oracle confirms or
corrects each step, the reward supervisor confirms rewarded episodes, verdicts are checked."""

import pytest
from support.episodes import make_agent as _agent
from support.episodes import run_one as _run
from support.fake import ScriptedModel

from webagent.actions import Action
from webagent.envs.miniwob import MiniWoBEnv
from webagent.envs.oracles import ORACLES
from webagent.memory import ExemplarMemory
from webagent.policy import ModelPolicy
from webagent.supervision import OracleSupervisor, RewardSupervisor, Verdict


def _oracle(task):
    return OracleSupervisor(ORACLES[task])


def test_oracle_supervisor_confirms_agreeing_steps_and_corrects_others(store, browser, miniwob_server, embedder):
    env = MiniWoBEnv(browser, miniwob_server, "click-button")
    env.reset(3)
    obs = env.observe()
    wrong = next(e for e in obs.actionable if e.tag != "button")
    memory = ExemplarMemory(store, embedder)
    policy = ModelPolicy(ScriptedModel([f"CLICK [{wrong.id}]"]))
    agent = _agent(store, embedder, policy, _oracle("click-button"), memory)
    result = _run(agent, env, 3)
    assert result.outcome == "success"  # the correction ran, so the episode was solved
    step = result.steps[0]
    assert step.proposed == Action("CLICK", wrong.id) and step.action != step.proposed and step.interventions == 1
    rows = store.feedback(episode_id=result.episode_id)
    assert [(r["kind"], r["proposed"], r["action"], r["source"]) for r in rows] == [
        ("correct", f"CLICK [{wrong.id}]", step.action.to_dsl(), "oracle")
    ]
    stored = store.steps(result.episode_id)[0]
    assert stored["action"] == step.action.to_dsl() and stored["proposed"] == f"CLICK [{wrong.id}]"
    # the correction became an exemplar whose context shows the right element
    (exemplar,) = memory.retrieve(result.instruction, k=1)
    assert exemplar.output == step.action.to_dsl() and f"[{step.action.element_id}]" in exemplar.context
    assert exemplar.source_step_id == stored["id"] and exemplar.task == "click-button"
    # the training prompt names the right element too
    assert f"[{step.action.element_id}]" in rows[0]["prompt"].split("Elements:")[-1]


def test_reward_supervision_confirms_the_steps_of_rewarded_episodes(store, browser, miniwob_server, embedder):
    env = MiniWoBEnv(browser, miniwob_server, "click-test")
    env.reset(0)
    button = next(e for e in env.observe().actionable if e.tag == "button")
    agent = _agent(store, embedder, ModelPolicy(ScriptedModel([f"CLICK [{button.id}]"])), RewardSupervisor())
    result = _run(agent, env, 0)
    assert result.outcome == "success"
    assert [r["kind"] for r in store.feedback(episode_id=result.episode_id)] == ["confirm"]


@pytest.mark.parametrize("kind", ["correct"])
def test_a_correction_must_name_an_action(kind):
    with pytest.raises(Exception, match="must name"):
        Verdict(kind)


def test_the_oracle_confirms_any_action_the_page_rewards_as_well(store, browser, miniwob_server, embedder):
    """click-widget rewards a click on any widget of the asked kind: the simulated person
    confirms the second checkbox as it confirms the first (it used to correct it)."""
    from webagent.envs.oracles import WIDGET_KINDS
    from webagent.supervision import oracle_supervisor

    env = MiniWoBEnv(browser, miniwob_server, "click-widget")
    for seed in range(60):
        env.reset(seed)
        obs = env.observe()
        kind = env.instruction.split('"')[1]
        same = [el for el in obs.actionable if WIDGET_KINDS[kind](el)]
        if len(same) >= 2:
            break
    else:
        pytest.fail("no seed with two widgets of the asked kind")
    assert ORACLES["click-widget"](env.instruction, obs, ()) == Action("CLICK", same[0].id)
    policy = ModelPolicy(ScriptedModel([f"CLICK [{same[1].id}]"]))
    result = _run(_agent(store, embedder, policy, oracle_supervisor("click-widget")), env, seed)
    assert result.outcome == "success" and result.steps[0].interventions == 0  # the page agrees
    assert [r["kind"] for r in store.feedback(episode_id=result.episode_id)] == ["confirm"]


def test_the_oracle_takes_the_boxes_to_tick_in_any_order(browser, miniwob_server):
    from webagent.policy import Decision
    from webagent.supervision import Proposal, oracle_supervisor

    env = MiniWoBEnv(browser, miniwob_server, "click-checkboxes")
    for seed in range(60):
        env.reset(seed)
        obs = env.observe()
        names = env.instruction.removeprefix("Select ").split(" and click")[0].split(", ")
        due = [el for el in obs.actionable if el.input_type == "checkbox" and el.label in names]
        if len(due) >= 2:
            break
    else:
        pytest.fail("no seed with two boxes to tick")
    person = oracle_supervisor("click-checkboxes")

    def verdict(action):
        decision = Decision(action=action, confidence=1.0, raw_output=str(action), prompt="")
        return person.review(Proposal(env.instruction, obs, (), (), decision, "click-checkboxes", 0))

    assert verdict(Action("CLICK", due[-1].id)).kind == "confirm"  # not the first, still right
    other = next(el for el in obs.actionable if el.input_type == "checkbox" and el.label not in names)
    assert verdict(Action("CLICK", other.id)).kind == "correct"
