"""Exemplar memory with a real MiniLM embedder and a real sqlite file: what is retrieved,
in what order, and that it persists."""

from support.fake import ScriptedModel

from webagent.actions import Action
from webagent.memory import Exemplar, ExemplarMemory
from webagent.policy import ModelPolicy
from webagent.store import Store


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


def test_relabel_names_a_demonstration_s_elements_by_letter_everywhere():
    from webagent.memory import relabel

    context = 'Task: Click "ok"\n\nActions done so far:\n1. CLICK [7]\n\nElements:\n[3] button text="ok"\n[7] input\n'
    new_context, output = relabel(context, "CLICK [3]")
    assert "1. CLICK [b]" in new_context and '[a] button text="ok"' in new_context and "[b] input" in new_context
    assert output == "CLICK [a]" and "[3]" not in new_context and "[7]" not in new_context
    assert relabel("no elements here [3]", "CLICK [3]") == ("no elements here [3]", "CLICK [3]")


def test_a_relabelling_policy_shows_letters_in_demonstrations_and_numbers_in_the_question(embedder):
    from webagent.browser.observation import Element, Observation
    from webagent.candidates import Candidate
    from webagent.policy import ModelPolicyConfig

    memory = ExemplarMemory(None, embedder)
    memory.add(Exemplar("q", 'Task: t\n\nElements:\n[12] button text="ok"\n', "CLICK [12]"))
    policy = ModelPolicy(ScriptedModel(["CLICK [5]"]), ModelPolicyConfig(relabel=True), memory=memory)
    button = Element(id="5", tag="button", text="ok", visible=True, interactive=True)
    observation = Observation("http://x.test/", "t", (button,))
    prompt = policy.prompt("Click ok", observation, [Candidate(button, 1.0)], [])
    assert '[a] button text="ok"' in prompt and "CLICK [a]" in prompt and "[12]" not in prompt
    assert '[5] button text="ok"' in prompt


def test_the_memory_guard_keeps_out_a_demonstration_that_makes_the_task_s_steps_less_likely(embedder):
    """Scored by a model that finds every confirmed output less likely after a demonstration
    that says HARM (the real model's measurements are in results/learning/)."""
    from webagent.browser.observation import Element
    from webagent.candidates import Candidate
    from webagent.policy import ModelPolicyConfig

    class Judging(ScriptedModel):
        def score(self, prompt, continuation):
            return -5.0 if "HARM" in prompt else -1.0

    memory = ExemplarMemory(None, embedder)
    for i in range(3):
        memory.add(
            Exemplar(
                f"click ok {i}", f'Task: click ok {i}\n\nElements:\n[{i}] button text="ok"\n', f"CLICK [{i}]", task="t"
            )
        )
    memory.add(
        Exemplar("click ok 9", 'Task: click ok HARM\n\nElements:\n[9] button text="ok"\n', "CLICK [9]", task="t")
    )
    button = Element(id="5", tag="button", text="ok", visible=True, interactive=True)
    candidates = [Candidate(button, 1.0)]
    shown = {}
    for guard in (False, True):
        policy = ModelPolicy(Judging(["CLICK [5]"]), ModelPolicyConfig(shots=4, guard=guard), memory=memory)
        shown[guard] = {e.query for e in policy.exemplars("click ok", candidates, [])}
    assert "click ok 9" in shown[False] and "click ok 9" not in shown[True]
    assert len(shown[True]) == 3
