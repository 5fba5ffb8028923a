"""The model policy on real MiniWoB++ pages: what the grammar lets it type, and what it
proposes after a rejection."""

import pytest
from support.episodes import make_agent as _agent
from support.episodes import run_one as _run
from support.fake import ScriptedModel

from webagent.actions import ALL_VERBS, Action, action_grammar, parse_action
from webagent.browser.observation import Observation
from webagent.candidates import HybridRanker
from webagent.envs.miniwob import MiniWoBEnv
from webagent.policy import ModelPolicy, instruction_spans, password_pending, typing_texts
from webagent.supervision import REJECT, Verdict


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


def test_while_a_quoted_value_is_untyped_only_quoted_values_are_offered():
    instruction = 'Search the documentation for "service".'
    assert typing_texts(instruction, []) == ["service"]  # not "documentation"
    typed = [Action("TYPE", "2", "service")]
    assert "documentation" in typing_texts(instruction, typed)  # then any span, as before
    login = 'Log in with username "ana" and password "{PASSWORD}".'
    assert typing_texts(login, [Action("TYPE", "5", "ana")]) == ["{PASSWORD}"]  # not the username again
    assert typing_texts("Change the year to 1954.", []) == instruction_spans("Change the year to 1954.")
    change = 'Change the year of the book "The Quiet Compass" to 2006.'
    assert typing_texts(change, []) == ["The Quiet Compass", "2006"]  # a quoted name, an unquoted value
    assert typing_texts(change, [Action("TYPE", "9", "2006")]) == ["The Quiet Compass"]


def test_a_password_the_task_gives_is_typed_before_the_task_can_end():
    from webagent.browser.observation import Element
    from webagent.candidates import Candidate

    user = Element("6", "input", input_type="text", editable=True, interactive=True)
    secret = Element("8", "input", input_type="password", editable=True, interactive=True)
    button = Element("10", "button", text="Log in", interactive=True)
    shown = [Candidate(user, 1.0), Candidate(secret, 0.5), Candidate(button, 0.4)]
    observation = Observation(url="http://x/login", title="Log in", elements=(user, secret, button), verbs=ALL_VERBS)
    policy = ModelPolicy(ScriptedModel([]))
    masked = 'Log in with username "ana" and password "{PASSWORD}".'
    assert password_pending(["{PASSWORD}"], [user, secret], [Action("TYPE", "6", "ana")])
    assert "stop" not in policy.grammar(masked, shown, observation, [Action("TYPE", "6", "ana")]).split("\n")[0]
    typed = [Action("TYPE", "6", "ana"), Action("TYPE", "8", "{PASSWORD}")]
    assert "stop" in policy.grammar(masked, shown, observation, typed).split("\n")[0]
    assert not password_pending(["{PASSWORD}"], [user, button], [])  # no password field: nothing to wait for


def test_the_policy_keeps_a_masked_password_out_of_plain_fields():
    from webagent.browser.observation import Element
    from webagent.candidates import Candidate

    user = Element("6", "input", input_type="text", editable=True, interactive=True)
    secret = Element("8", "input", input_type="password", editable=True, interactive=True)
    policy = ModelPolicy(ScriptedModel([]))
    masked = 'Log in with username "ana" and password "{PASSWORD}".'
    grammar = policy.grammar(masked, [Candidate(user, 1.0), Candidate(secret, 0.5)])
    assert '"TYPE [" ("6") "] \\"" TEXT "' in grammar and 'TEXT: "ana"\n' in grammar
    assert '"TYPE [" ("8") "] \\"" TEXT_2 "' in grammar and 'TEXT_2: "{PASSWORD}"\n' in grammar


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
