"""The agent loop on real MiniWoB++ pages in a real Chromium.

The loop-logic tests use a scripted model (allowed for loop logic); the last
test runs the real default model end to end.
"""

import pytest
from support.fake import ScriptedModel

from webagent.assembly import assemble
from webagent.candidates import HybridRanker
from webagent.envs.miniwob import MiniWoBEnv
from webagent.policy import ModelPolicy
from webagent.settings import AgentSettings, LoopSettings, MemorySettings


@pytest.fixture
def click_button(browser, miniwob_server):
    env = MiniWoBEnv(browser, miniwob_server, "click-button")
    env.reset(0)
    return env


def _build(store, policy, embedder, **loop):
    settings = AgentSettings(memory=MemorySettings(enabled=False), loop=LoopSettings(**loop))
    return assemble(settings, store, ranker=HybridRanker(embedder), policy=policy).agent()


def _run(store, env, policy, embedder, **config):
    agent = _build(store, policy, embedder, **config)
    run = store.start_run(command="test", policy=policy.name, model="", model_version="", seed=0, config={})
    task = env.task if isinstance(env.task, str) else env.task.name  # MiniWoB++ or a scripted task
    return agent.run_episode(env, run_id=run, task=task, seed=0)


def test_repeated_action_is_stopped_as_a_loop(store, click_button, embedder):
    # An element that is not a button: clicking it does nothing, again and again.
    obs = click_button.observe()
    inert = next(e for e in obs.actionable if e.tag == "div")
    result = _run(
        store,
        click_button,
        ModelPolicy(ScriptedModel([f"CLICK [{inert.id}]"])),
        embedder,
        top_k=50,
        loop_repeats=3,
        skip_tried=False,  # on, the element would leave the candidates and the policy refuse the reply
    )
    assert result.outcome == "loop" and len(result.steps) == 3
    assert store.episode(result.episode_id)["outcome"] == "loop"
    assert len(store.steps(result.episode_id)) == 3


def test_step_limit(store, click_button, embedder):
    obs = click_button.observe()
    inert = [e for e in obs.actionable if e.tag != "button"][:2]
    replies = [f"CLICK [{inert[i % 2].id}]" for i in range(10)]
    policy = ModelPolicy(ScriptedModel(replies))
    result = _run(store, click_button, policy, embedder, top_k=50, max_steps=4, skip_tried=False)
    assert result.outcome == "step-limit" and len(result.steps) == 4 and not result.done


def test_failed_action_is_shown_in_the_next_observation(store, browser, miniwob_server, embedder):
    env = MiniWoBEnv(browser, miniwob_server, "enter-text")
    env.reset(1)
    obs = env.observe()
    button = next(e for e in obs.actionable if e.tag == "button")
    field = next(e for e in obs.actionable if e.editable)
    # An element id the page does not have, then a real one: the error is recorded
    # and the next prompt tells the model about it.
    model = ScriptedModel([f"CLICK [{field.id}]", f'TYPE [{field.id}] "x"', f"CLICK [{button.id}]"])
    env_act = env.act
    env.act = lambda action, observation: (
        "CLICK [x] failed: injected"
        if action.verb == "CLICK" and action.element_id == field.id
        else env_act(action, observation)
    )
    result = _run(store, env, ModelPolicy(model), embedder, top_k=50)
    assert result.steps[0].error == "CLICK [x] failed: injected"
    assert "The last action failed: CLICK [x] failed: injected" in model.prompts[1]
    assert store.steps(result.episode_id)[0]["error"] == "CLICK [x] failed: injected"
    assert result.done


def test_password_is_masked_in_the_store(store, browser, miniwob_server, embedder):
    env = MiniWoBEnv(browser, miniwob_server, "enter-password")
    env.reset(0)
    secret = env.instruction.split('"')[1]
    fields = [e for e in env.observe().actionable if e.input_type == "password"]
    model = ScriptedModel([f'TYPE [{f.id}] "{secret}"' for f in fields] + ["CLICK [none]"])
    result = _run(store, env, ModelPolicy(model), embedder, top_k=50, max_steps=len(fields))
    typed = [s for s in store.steps(result.episode_id) if s["action"].startswith("TYPE")]
    assert len(typed) == 2
    assert all(secret not in s["action"] and secret not in (s["raw_output"] or "") for s in typed)
    assert all(s.error is None for s in result.steps), "the real value was typed"


@pytest.mark.slow
def test_default_model_completes_an_episode_end_to_end(store, browser, miniwob_server, default_model, embedder):
    env = MiniWoBEnv(browser, miniwob_server, "enter-text")
    policy = ModelPolicy(default_model)
    rewards, tokens = [], []
    for seed in range(5):
        env.reset(seed)
        agent = _build(store, policy, embedder, top_k=5, max_steps=4)
        run = store.start_run(
            command="test",
            policy="model",
            model=default_model.name,
            model_version=default_model.version,
            seed=seed,
            config={},
        )
        result = agent.run_episode(env, run_id=run, task="enter-text", seed=seed)
        rewards.append(result.reward)
        steps = store.steps(result.episode_id)
        assert steps and all(
            s["prompt"] and s["raw_output"] and s["model_version"] == default_model.version for s in steps
        )
        assert all(0 < s["fed_tokens"] <= s["prompt_tokens"] for s in steps)
        tokens += store.decision_tokens(run)
    assert 1.0 in rewards, rewards
    assert any(fed < prompt for prompt, fed in tokens)  # later decisions read a cached prefix


def test_a_policy_that_finds_nothing_ends_the_episode_with_its_reason(store, click_button, embedder):
    from webagent.errors import ActionError
    from webagent.policy import FunctionPolicy

    calls = []

    def lost(instruction, observation, history):
        calls.append(observation)
        raise ActionError("no 'Frobnicate' button on the page")

    result = _run(store, click_button, FunctionPolicy("lost", lost), embedder, patience_seconds=0.6)
    assert result.outcome == "error" and "Frobnicate" in result.error
    assert len(calls) >= 2, "it looked again before giving up"
    assert store.episode(result.episode_id)["error"] == result.error


def _real_page(browser, fixture_server):
    from webagent.envs.scripted import ScriptedEnv, ScriptedTask

    env = ScriptedEnv(browser, ScriptedTask(url=f"{fixture_server}/real.html", instruction="Which version is latest?"))
    env.reset()
    return env


def _by_dom_id(obs, dom_id):
    return next(el for el in obs.elements if dict(el.attributes).get("id") == dom_id)


def test_stop_ends_the_episode_as_done_with_its_answer(store, browser, fixture_server, embedder):
    env = _real_page(browser, fixture_server)
    result = _run(store, env, ModelPolicy(ScriptedModel(['STOP "4.2.1"'])), embedder, top_k=50)
    assert result.outcome == "done" and len(result.steps) == 1 and not result.done
    assert result.answer == "4.2.1" and result.final_url.endswith("/real.html")
    stored = store.episode(result.episode_id)
    assert (stored["outcome"], stored["answer"], stored["final_url"]) == ("done", "4.2.1", result.final_url)


def test_a_repeated_action_that_changes_the_page_is_not_a_loop(store, browser, fixture_server, embedder):
    env = _real_page(browser, fixture_server)
    more = _by_dom_id(env.observe(), "more")
    policy = ModelPolicy(ScriptedModel([f"CLICK [{more.id}]"]))
    result = _run(store, env, policy, embedder, top_k=50, loop_repeats=3, max_steps=5)
    assert result.outcome == "step-limit" and len(result.steps) == 5
    assert _by_dom_id(env.observe(), "count").text == "5"


def test_alternating_actions_on_an_unchanged_page_are_a_loop(store, click_button, embedder):
    obs = click_button.observe()
    inert = [e for e in obs.actionable if e.tag != "button"][:2]
    replies = [f"CLICK [{inert[i % 2].id}]" for i in range(10)]
    policy = ModelPolicy(ScriptedModel(replies))
    result = _run(store, click_button, policy, embedder, top_k=50, max_steps=10, skip_tried=False)
    assert result.outcome == "loop" and len(result.steps) == 5  # A B A B A: A a third time on the same page


def test_a_click_that_changed_nothing_is_not_offered_again_on_that_page(store, click_button, embedder):
    obs = click_button.observe()
    inert = next(e for e in obs.actionable if e.tag == "div" and not e.editable)
    field = next(e for e in obs.actionable if e.editable)
    model = ScriptedModel([f"CLICK [{inert.id}]"] * 2)
    _run(store, click_button, ModelPolicy(model), embedder, top_k=50, max_steps=2)
    first, second = model.prompts[:2]
    shown = f"\n[{inert.id}] "  # a candidate's line (the history says "1. CLICK [id]")
    assert shown in first and shown not in second
    # a text field clicked stays offered on the unchanged page: a click only focuses it for typing
    model = ScriptedModel([f"CLICK [{field.id}]"] * 2)
    result = _run(store, click_button, ModelPolicy(model), embedder, top_k=50, max_steps=2)
    assert f"\n[{field.id}] " in model.prompts[1] and len(result.steps) == 2 and result.steps[1].error is None
    # off, it is offered again
    model = ScriptedModel([f"CLICK [{inert.id}]"] * 2)
    _run(store, click_button, ModelPolicy(model), embedder, top_k=50, max_steps=2, skip_tried=False)
    assert shown in model.prompts[1]


def test_a_click_that_leads_to_another_page_is_said_in_the_next_prompt(store, browser, fixture_server, embedder):
    from webagent.envs.scripted import ScriptedEnv, ScriptedTask

    env = ScriptedEnv(browser, ScriptedTask(url=f"{fixture_server}/nav.html", instruction="Go to the next page."))
    env.reset()
    link = _by_dom_id(env.observe(), "next")
    model = ScriptedModel([f"CLICK [{link.id}]", "STOP"])
    result = _run(store, env, ModelPolicy(model), embedder, top_k=50, max_steps=2)
    assert result.outcome == "done" and len(model.prompts) == 2
    assert "led to the page" not in model.prompts[0]
    assert f'CLICK [{link.id}] led to the page "Target page".' in model.prompts[1]


def test_a_click_that_failed_is_not_offered_on_the_next_step(store, browser, fixture_server, embedder):
    """Submit is covered by a menu of suggestions: the click fails, and the next step
    offers the menu, not Submit again (the model repeated it on use-autocomplete)."""
    from webagent.envs.scripted import ScriptedEnv, ScriptedTask

    env = ScriptedEnv(browser, ScriptedTask(url=f"{fixture_server}/covered.html", instruction="Pick Paraguay."))
    env.reset()
    obs = env.observe()
    submit, pick = _by_dom_id(obs, "submit"), _by_dom_id(obs, "pick")
    model = ScriptedModel([f"CLICK [{submit.id}]", f"CLICK [{pick.id}]", f"CLICK [{submit.id}]"])
    result = _run(store, env, ModelPolicy(model), embedder, top_k=50, max_steps=3)
    assert "covered" in (result.steps[0].error or "")
    shown = f"\n[{submit.id}] "
    assert shown in model.prompts[0] and shown not in model.prompts[1] and f"\n[{pick.id}] " in model.prompts[1]
    assert shown in model.prompts[2] and result.steps[2].error is None  # the menu gone, Submit is back
