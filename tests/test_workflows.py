"""Workflows: a confirmed episode saved, then rerun without the model on the same
page and on a redesigned one (tests/fixtures/signup.html → signup_v2.html: a menu
above, fields reordered with new ids, one more checkbox, the button renamed)."""

import json

import pytest
from typer.testing import CliRunner

from webagent.actions import Action
from webagent.assembly import assemble
from webagent.browser.observation import Element, Observation
from webagent.candidates import HybridRanker
from webagent.cli import app
from webagent.envs.scripted import ScriptedEnv, ScriptedTask
from webagent.errors import DataError
from webagent.policy import BasePolicy, Decision
from webagent.settings import AgentSettings, MemorySettings
from webagent.workflows import Target, Workflow, from_steps, locate

runner = CliRunner()
INSTRUCTION = 'Create an account for "Ada Lovelace" with email "ada@example.com" on the Pro plan, accepting the terms'
# What the person did on the first version of the page, by DOM id.
DEMONSTRATION = [
    ("TYPE", "name", "Ada Lovelace"),
    ("TYPE", "email", "ada@example.com"),
    ("SELECT", "plan", "Pro"),
    ("CLICK", "terms", None),
    ("CLICK", "create", None),
]


# -- matching (pure) ----------------------------------------------------------------


def _el(id_, tag="button", **kw) -> Element:
    return Element(id=id_, tag=tag, role=kw.pop("role", tag), visible=True, interactive=True, **kw)


def _page(*elements) -> Observation:
    return Observation("http://example.test/", "t", tuple(elements))


def test_an_element_is_found_by_what_it_is_wherever_it_moved():
    target = Target.of(_el("3", text="Save", context="Profile"))
    match = locate(target, _page(_el("1", text="Cancel"), _el("9", text="Save", context="Profile")))
    assert match.element is not None and match.element.id == "9"


def test_another_kind_of_element_with_the_same_text_is_not_it():
    target = Target.of(_el("3", text="Create account"))
    match = locate(target, _page(_el("1", tag="a", role="link", text="Create account"), _el("2", text="Sign up")))
    assert match.element is None and "no element" in match.why


def test_two_elements_that_fit_as_well_are_ambiguous():
    target = Target.of(_el("3", text="Delete"))
    match = locate(target, _page(_el("1", text="Delete"), _el("2", text="Delete")))
    assert match.element is None and "ambiguous" in match.why


def test_the_surroundings_break_a_tie():
    target = Target.of(_el("3", text="Delete", context="Invoice 7"))
    match = locate(
        target, _page(_el("1", text="Delete", context="Invoice 6"), _el("2", text="Delete", context="Invoice 7"))
    )
    assert match.element is not None and match.element.id == "2"


def test_a_slightly_changed_text_still_identifies():
    target = Target.of(_el("3", text="Download the report"))
    match = locate(target, _page(_el("1", text="Download the full report"), _el("2", text="Print")))
    assert match.element is not None and match.element.id == "1"


@pytest.mark.parametrize(
    "content",
    [
        "not json",
        '{"format": 99, "instruction": "x", "url": "u", "steps": [{"verb": "STOP"}]}',
        '{"format": 1, "instruction": "x", "url": "u", "steps": []}',
        '{"format": 1, "instruction": "x", "url": "u", "steps": [{"verb": "JUMP"}]}',
        '{"format": 1, "instruction": "x", "url": "u", "steps": [{"verb": "CLICK", "target": {"colour": "red"}}]}',
        '{"format": 1, "instruction": "x", "url": "u", "steps": [{"verb": "TYPE", "target": {"tag": "input"}}]}',
    ],
)
def test_a_malformed_workflow_file_is_refused_naming_it(tmp_path, content):
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(DataError, match="bad.json"):
        Workflow.load(path)


# -- recorded on the page, rerun on it and on its redesign (real Chromium) ----------------


class Demonstration(BasePolicy):
    """The person's actions on the first page, by DOM id (how a supervisor's corrections arrive)."""

    name = "person"

    def decide(self, instruction, observation, candidates, history, seed):
        verb, dom_id, argument = DEMONSTRATION[len(history)]
        element = next(e for e in observation.elements if dict(e.attributes).get("id") == dom_id)
        return Decision(Action(verb, element.id, argument), 1.0)


@pytest.fixture
def recorded(browser, fixture_server, store, embedder):
    """The demonstrated episode on signup.html, stored; returns its id."""
    settings = AgentSettings(policy="ranker", memory=MemorySettings(enabled=False))
    parts = assemble(settings, store, ranker=HybridRanker(embedder), policy=Demonstration())
    task = ScriptedTask(f"{fixture_server}/signup.html", INSTRUCTION, until_text="Welcome", name="signup")
    env = ScriptedEnv(browser, task)
    env.reset()
    result = parts.agent().run_episode(env, run_id=parts.start_run("demo"), task="signup")
    assert result.outcome == "success"
    return result.episode_id


def _rerun(store, workflow_file, url, *extra):
    out = workflow_file.with_name("rerun.json")
    args = ["rerun", str(workflow_file), "--url", url, "--until-text", "Welcome", "--db", str(store.path)]
    result = runner.invoke(app, [*args, "--json", str(out), *extra])
    return result, json.loads(out.read_text()) if out.exists() else None


def test_a_saved_workflow_reruns_on_the_same_page_without_the_model(recorded, store, fixture_server, tmp_path):
    workflow_file = tmp_path / "signup.json"
    saved = runner.invoke(app, ["save-workflow", str(recorded), "--out", str(workflow_file), "--db", str(store.path)])
    assert saved.exit_code == 0, saved.output
    assert 'TYPE textbox "Full name" "Ada Lovelace"' in saved.output
    assert len(Workflow.load(workflow_file).steps) == len(DEMONSTRATION)

    result, data = _rerun(store, workflow_file, f"{fixture_server}/signup.html", "--fallback", "none")
    assert result.exit_code == 0, result.output
    assert data["matched"] == 5 and data["fell_back"] == 0
    assert data["tasks"][f"{fixture_server}/signup.html"]["success_rate"] == 1.0


def test_on_the_redesigned_page_only_the_renamed_button_is_not_matched(recorded, store, fixture_server, tmp_path):
    workflow_file = tmp_path / "signup.json"
    runner.invoke(app, ["save-workflow", str(recorded), "--out", str(workflow_file), "--db", str(store.path)])
    result, data = _rerun(store, workflow_file, f"{fixture_server}/signup_v2.html", "--fallback", "none")
    assert result.exit_code == 1, result.output
    assert data["matched"] == 4 and data["fell_back"] == 0
    row = data["tasks"][f"{fixture_server}/signup_v2.html"]["episodes_detail"][0]
    assert row["outcome"] == "error" and 'step 5 (CLICK button "Create account")' in row["error"]
    typed = [a for a in row["actions"] if a.startswith(("TYPE", "SELECT", "CLICK"))]
    assert len(typed) == 4  # name, email, plan and the terms box (not the newsletter) were found


def test_a_step_that_cannot_be_matched_falls_back_to_the_model(recorded, store, fixture_server, tmp_path):
    """The real default model decides the one step the workflow cannot match, among the
    two buttons ("Clear the form", "Sign up"): the step is a button's click, so only
    buttons are offered. Which one it picks is the model's (the first adapter clicked
    Sign up; dev-lora-2 clicks Clear the form, as measured when it was shipped), and the
    run's exit status says honestly whether the page then welcomed Ada."""
    workflow_file = tmp_path / "signup.json"
    runner.invoke(app, ["save-workflow", str(recorded), "--out", str(workflow_file), "--db", str(store.path)])
    result, data = _rerun(store, workflow_file, f"{fixture_server}/signup_v2.html", "--no-memory")
    assert data["matched"] == 4 and data["fell_back"] >= 1, result.output
    fallback = data["decisions"][4]
    assert fallback["how"] == "fallback" and "Create account" in fallback["why"]
    assert fallback["action"] in ("CLICK [16]", "CLICK [17]"), fallback  # a button: nothing else was offered
    welcomed = fallback["action"] == "CLICK [17]"  # Sign up
    assert result.exit_code == (0 if welcomed else 1), result.output


def test_saving_an_episode_that_failed_or_does_not_exist_is_refused(store, tmp_path):
    missing = runner.invoke(app, ["save-workflow", "7", "--out", str(tmp_path / "w.json"), "--db", str(store.path)])
    assert missing.exit_code == 2 and "no episode 7" in missing.output
    run = store.start_run(command="t", policy="p", model="", model_version="", seed=0, config={})
    episode = store.start_episode(run, task="t", seed=0, instruction="x")
    store.finish_episode(episode, reward=None, done=False, outcome="failure")
    failed = runner.invoke(
        app, ["save-workflow", str(episode), "--out", str(tmp_path / "w.json"), "--db", str(store.path)]
    )
    assert failed.exit_code == 2 and "'failure'" in failed.output
    assert not (tmp_path / "w.json").exists()


def test_a_password_is_kept_as_a_placeholder_and_must_be_given_to_rerun(tmp_path):
    target = {"tag": "input", "role": "textbox", "input_type": "password", "label": "Password"}
    rows = [{"idx": 0, "url": "http://x.test/", "action": 'TYPE [4] "••••••••"', "observation": {"target": target}}]
    workflow = from_steps("Log in", rows)
    assert workflow.steps[0].argument == "{PASSWORD}" and workflow.secret_names == ["PASSWORD"]
    path = workflow.save(tmp_path / "login.json")
    refused = runner.invoke(app, ["rerun", str(path), "--fallback", "none", "--db", str(tmp_path / "w.db")])
    assert refused.exit_code == 2 and "{PASSWORD}" in refused.output and "--secret" in refused.output
    assert not (tmp_path / "w.db").exists()
