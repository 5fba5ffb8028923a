"""Supervision, feedback and exemplar memory on real MiniWoB++ pages, a real
MiniLM embedder and a real sqlite file. The policy here is scripted where the
test is about loop logic (what lands in the store), never about model quality."""

import subprocess
import sys
import textwrap

import pytest
from support.fake import ScriptedModel

from webagent.actions import Action, action_grammar, parse_action
from webagent.assembly import assemble
from webagent.candidates import HybridRanker
from webagent.envs.miniwob import MiniWoBEnv
from webagent.envs.oracles import ORACLES
from webagent.memory import Exemplar, ExemplarMemory
from webagent.policy import ModelPolicy, instruction_spans
from webagent.settings import AgentSettings, LoopSettings, MemorySettings
from webagent.store import Store
from webagent.supervision import REJECT, OracleSupervisor, RewardSupervisor, Verdict


def _agent(store, embedder, policy, supervisor, memory=None):
    settings = AgentSettings(memory=MemorySettings(enabled=memory is not None), loop=LoopSettings(top_k=10))
    ranker = HybridRanker(embedder)
    return assemble(settings, store, ranker=ranker, policy=policy, supervisor=supervisor, memory=memory).agent()


def _run(agent, env, seed):
    store = agent.observers[0].store  # the recorder's
    run = store.start_run(command="test", policy="p", model="", model_version="", seed=seed, config={})
    env.reset(seed)
    return agent.run_episode(env, run_id=run, task=env.task, seed=seed)


def test_memory_retrieves_the_nearest_exemplar_and_persists(store, embedder):
    memory = ExemplarMemory(store, embedder, capacity=3)
    login = Exemplar('Enter the username "ann" and the password "x1" and log in', "ctx-a", 'TYPE [2] "ann"')
    tabs = Exemplar("Switch between the tabs to find and click on the link", "ctx-b", "CLICK [7]")
    dialog = Exemplar('Close the dialog box by clicking the "x"', "ctx-c", "CLICK [3]")
    assert all(memory.add(e) for e in (login, tabs, dialog))
    assert not memory.add(login)  # de-duplicated
    best = memory.retrieve('Enter the username "bob" and the password "zz" and log in', k=2)
    assert best[0].output == login.output and len(best) == 2
    assert memory.retrieve("Close the dialog window by clicking x", k=1)[0].output == "CLICK [3]"
    # a size bound: the oldest goes first, in sqlite too
    memory.add(Exemplar("Click on the blue square", "ctx-d", "CLICK [9]"))
    assert len(memory) == 3 and memory.store.db["exemplars"].count == 3
    reloaded = ExemplarMemory(Store(store.path), embedder, capacity=3)
    assert [e.output for e in reloaded.retrieve("close the dialog", k=3)][0] == "CLICK [3]"
    assert {e.output for e in reloaded._items} == {"CLICK [7]", "CLICK [3]", "CLICK [9]"}


@pytest.mark.slow
def test_typed_values_can_only_come_from_the_instruction(browser, miniwob_server, default_model):
    import llguidance

    instruction = 'Enter "Tora" into the text field and press Submit.'
    spans = instruction_spans(instruction)
    assert spans[0] == "Tora" and "Submit" in spans and "Enter Tora into" in spans
    env = MiniWoBEnv(browser, miniwob_server, "enter-text")
    env.reset(0)
    field = next(e for e in env.observe().actionable if e.editable)
    grammar = action_grammar([field], texts=spans)

    def accepts(text: str) -> bool:
        matcher = llguidance.LLMatcher(
            default_model._decoder.ll_tokenizer, llguidance.LLMatcher.grammar_from_lark(grammar)
        )
        tokens = default_model.tokenizer(text, add_special_tokens=False)["input_ids"]
        return matcher.consume_tokens(tokens) and matcher.is_accepting()

    assert accepts(f'TYPE [{field.id}] "Tora"') and accepts(f'TYPE [{field.id}] "text field"')
    assert not accepts(f'TYPE [{field.id}] "Bernardine"')  # a value from some other episode
    assert parse_action(f'TYPE [{field.id}] "Tora"', [field]).argument == "Tora"


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


def test_reject_makes_the_policy_propose_something_else(store, browser, miniwob_server, embedder):
    env = MiniWoBEnv(browser, miniwob_server, "click-button")
    env.reset(4)
    first, second = [c.id for c in HybridRanker(embedder).rank(env.instruction, env.observe(), [], 2)]

    class RejectFirst:
        name = "person"

        def review(self, proposal):
            return REJECT if proposal.decision.action.element_id == first else Verdict("stop")

        def review_episode(self, actions, reward):
            return [None] * len(actions)

    policy = ModelPolicy(ScriptedModel([f"CLICK [{first}]", f"CLICK [{second}]"]))
    result = _run(_agent(store, embedder, policy, RejectFirst()), env, 4)
    assert result.outcome == "stopped" and not result.steps
    kinds = [(r["kind"], r["proposed"]) for r in store.feedback(episode_id=result.episode_id)]
    assert kinds == [("reject", f"CLICK [{first}]")]
    # the second proposal came from a prompt where the rejected element was gone
    assert f"[{first}]" not in policy.model.prompts[-1].split("Elements:")[-1]


def test_reward_supervision_confirms_the_steps_of_rewarded_episodes(store, browser, miniwob_server, embedder):
    env = MiniWoBEnv(browser, miniwob_server, "click-test")
    env.reset(0)
    button = next(e for e in env.observe().actionable if e.tag == "button")
    agent = _agent(store, embedder, ModelPolicy(ScriptedModel([f"CLICK [{button.id}]"])), RewardSupervisor())
    result = _run(agent, env, 0)
    assert result.outcome == "success"
    assert [r["kind"] for r in store.feedback(episode_id=result.episode_id)] == ["confirm"]


@pytest.mark.browser
def test_feedback_survives_a_crash_mid_episode(tmp_path, miniwob_server):
    """The process dies right after the first confirmed step: its feedback and exemplar are on disk."""
    db = tmp_path / "crash.db"
    script = textwrap.dedent(
        f"""
        import os
        from webagent.assembly import assemble
        from webagent.browser.session import BrowserSession
        from webagent.candidates import HybridRanker
        from webagent.embeddings import Embedder
        from webagent.envs.miniwob import MiniWoBEnv, MiniWoBServer
        from webagent.envs.oracles import ORACLES
        from webagent.policy import FunctionPolicy
        from webagent.settings import AgentSettings
        from webagent.store import Store
        from webagent.supervision import OracleSupervisor

        store, embedder = Store({str(db)!r}), Embedder()
        oracle = ORACLES["login-user"]
        parts = assemble(AgentSettings(), store, ranker=HybridRanker(embedder), policy=FunctionPolicy("oracle", oracle),
                         supervisor=OracleSupervisor(oracle))
        agent = parts.agent()
        with BrowserSession() as session, MiniWoBServer() as server:
            env = MiniWoBEnv(session, server, "login-user")
            env.reset(0)
            run = store.start_run(command="t", policy="oracle", model="", model_version="", seed=0, config={{}})
            agent.run_episode(env, run_id=run, task="login-user", seed=0, on_step=lambda step: os._exit(9))
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert done.returncode == 9, done.stderr[-2000:]
    store = Store(db)
    episode = store.db["episodes"].get(1)
    assert episode["outcome"] == "running"  # never finished
    (row,) = store.feedback(episode_id=1)
    assert row["kind"] == "confirm" and row["action"].startswith("TYPE [")
    assert store.db["exemplars"].count == 1


def _oracle(task):
    return OracleSupervisor(ORACLES[task])


@pytest.mark.parametrize("kind", ["correct"])
def test_a_correction_must_name_an_action(kind):
    with pytest.raises(Exception, match="must name"):
        Verdict(kind)


def test_exemplars_at_the_same_point_of_a_trajectory_come_first(embedder):
    from webagent.policy import ModelPolicyConfig, retrieval_query

    memory = ExemplarMemory(None, embedder)
    instruction = 'Enter the username "ann" and the password "x1" into the text fields and press login.'
    typed_user = [Action("TYPE", "2", "ann")]
    typed_both = [*typed_user, Action("TYPE", "4", "x1")]
    for history, output in (([], 'TYPE [2] "ann"'), (typed_user, 'TYPE [4] "x1"'), (typed_both, "CLICK [5]")):
        memory.add(Exemplar(retrieval_query(instruction, history, []), f"ctx {output}", output))
    policy = ModelPolicy(ScriptedModel(["CLICK [5]"]), ModelPolicyConfig(shots=1), memory=memory)
    other = 'Enter the username "bo" and the password "q" into the text fields and press login.'
    now = [Action("TYPE", "2", "bo"), Action("TYPE", "4", "q")]
    assert [e.output for e in policy.exemplars(other, [], now)] == ["CLICK [5]"]
    assert [e.output for e in policy.exemplars(other, [], now[:1])] == ['TYPE [4] "x1"']
