"""The suite of real web applications: tasks, checks read from the applications,
and the scripted solutions on the real served apps (Django admin, pypiserver, MkDocs)."""

from __future__ import annotations

from collections import Counter

import pytest

from webagent.actions import Action
from webagent.envs.site_solutions import SOLUTIONS, solve
from webagent.envs.sites import CHECKS, SiteEnv, read_site_tasks
from webagent.kinds import Outcome
from webagent.policy import FunctionPolicy
from webagent.sites.apps import APPS, Suite, missing_requirements
from webagent.sites.data import generate, tasks


def test_task_file_has_families_with_variants_on_three_sites():
    listed = read_site_tasks()
    assert len(listed) >= 40
    assert {t.site for t in listed} == set(APPS)
    families = Counter(t.family for t in listed)
    assert set(families) == set(CHECKS) == set(SOLUTIONS)
    assert all(n >= 3 for n in families.values())
    assert len({t.name for t in listed}) == len(listed)
    # the committed file is what the generator makes from its fixed seed
    assert [t.instruction for t in listed] == [t["instruction"] for t in tasks(generate(0), 0)]


@pytest.fixture(scope="module")
def suite(tmp_path_factory):
    if missing_requirements():
        pytest.skip(f"the sites extra is not installed ({', '.join(missing_requirements())})")
    with Suite(tmp_path_factory.mktemp("sites")) as served:
        yield served


def _first_of_each_family():
    seen, out = set(), []
    for task in read_site_tasks():
        if task.family not in seen:
            seen.add(task.family)
            out.append(task)
    return out


def test_each_family_is_solved_and_judged_by_the_application(browser, suite):
    """One variant per family (scripts/sites.py check runs all): the solution ends with
    STOP and the application says it is done; stopping at the start page is not done."""
    for task in _first_of_each_family():
        env = SiteEnv(browser, suite, task)
        env.reset()
        assert not env.judge(None).reward, f"{task.name} counts as done before anything happened"
        ok, actions = solve(env)
        assert ok, f"{task.name}: {[str(a) for a in actions]}"
        assert actions[-1].verb == "STOP"


def test_form_tasks_change_the_database_and_reset_restores_it(browser, suite):
    task = next(t for t in read_site_tasks(families=["add-book"]))
    env = SiteEnv(browser, suite, task)
    count = "SELECT count(*) FROM library_book WHERE title = ?"
    assert solve(env)[0]
    assert suite["library"].query(count, task.check["title"])[0][0] == 1
    env.reset()
    assert suite["library"].query(count, task.check["title"])[0][0] == 0


def test_a_wrong_answer_fails(browser, suite):
    task = next(t for t in read_site_tasks(families=["ask-isbn"]))
    env = SiteEnv(browser, suite, task)
    env.reset()
    assert env.judge("9780000000000").reward == 0.0
    assert env.judge(None).reward == 0.0


def test_site_tasks_plug_into_the_agent_loop(browser, suite, tmp_path, embedder):
    """Through Agent.run_episode as any environment: STOP is judged by the application,
    and an agent that stops at once fails; both stored with their final URL."""
    from support.episodes import make_agent

    from webagent.store import Store

    store = Store(tmp_path / "store.db")
    run = store.start_run(command="test", policy="p", model="", model_version="", seed=0, config={})
    task = next(t for t in read_site_tasks(families=["search-docs"]))
    env = SiteEnv(browser, suite, task)
    solved = make_agent(store, embedder, FunctionPolicy("solution", SOLUTIONS[task.family]), None)
    env.reset()
    result = solved.run_episode(env, run_id=run, task=task.name)
    assert result.outcome == Outcome.SUCCESS
    assert "search.html?q=" in result.final_url
    quitter = make_agent(store, embedder, FunctionPolicy("quitter", lambda *_: Action("STOP")), None)
    env.reset()
    assert quitter.run_episode(env, run_id=run, task=task.name).outcome == Outcome.FAILURE
    stored = store.run_episodes(run)
    assert [e["outcome"] for e in stored] == ["success", "failure"]
    assert "search.html?q=" in stored[0]["final_url"]


def test_the_solutions_supervise_an_agent_on_site_tasks(browser, suite, tmp_path, embedder):
    """As OracleSupervisor's table by task name, a family's solution corrects every wrong
    proposal: the supervised ranker baseline then succeeds, and the corrections are feedback."""
    from webagent.assembly import assemble
    from webagent.candidates import HybridRanker
    from webagent.settings import AgentSettings, LoopSettings, MemorySettings
    from webagent.store import Store
    from webagent.supervision import OracleSupervisor

    task = next(t for t in read_site_tasks(families=["filter-genre"]))
    store = Store(tmp_path / "store.db")
    settings = AgentSettings(policy="ranker", memory=MemorySettings(enabled=False), loop=LoopSettings(max_steps=6))
    supervisor = OracleSupervisor({task.name: SOLUTIONS[task.family]})
    parts = assemble(settings, store, ranker=HybridRanker(embedder), supervisor=supervisor)
    run = parts.start_run("test")
    env = SiteEnv(browser, suite, task)
    env.reset()
    result = parts.agent().run_episode(env, run_id=run, task=task.name)
    assert result.outcome == Outcome.SUCCESS
    assert store.feedback(episode_id=result.episode_id)


@pytest.mark.slow
def test_the_default_model_answers_a_question_from_the_page_text(browser, suite, tmp_path, embedder, default_model):
    """ask-isbn's held-out variant, no memory: the prompt shows the row of the book (the
    ISBN is a plain table cell, not an element one acts on), a bare STOP is not offered,
    and the model's answer is judged right by the application's database."""
    from webagent.assembly import assemble
    from webagent.candidates import HybridRanker
    from webagent.settings import AgentSettings, LoopSettings, MemorySettings
    from webagent.store import Store

    task = _first_of_each_family()[[t.family for t in _first_of_each_family()].index("ask-isbn")]
    store = Store(tmp_path / "store.db")
    settings = AgentSettings(memory=MemorySettings(enabled=False), loop=LoopSettings(max_steps=4))
    parts = assemble(settings, store, model=default_model, ranker=HybridRanker(embedder))
    env = SiteEnv(browser, suite, task)
    env.reset()
    result = parts.agent().run_episode(env, run_id=parts.start_run("test"), task=task.name)
    assert result.outcome == Outcome.SUCCESS, result
    step = store.steps(result.episode_id)[0]
    assert "Text on the page:" in step["prompt"] and result.answer in step["prompt"]
    assert result.answer.isdigit() and len(result.answer) == 13


def test_login_steps_for_training_carry_the_password_masked(browser, suite, embedder):
    """What the adapter learns from is what the agent sees: the instruction's password
    is {PASSWORD} in every prompt and target, and the login still succeeds."""
    from support.fake import ScriptedModel

    from webagent.candidates import HybridRanker
    from webagent.learning.oracle_set import site_examples
    from webagent.secrets import instruction_secrets

    task = next(t for t in read_site_tasks() if t.family == "login")
    password = instruction_secrets(task.instruction)["PASSWORD"]
    examples = site_examples(browser, suite, ScriptedModel([]), HybridRanker(embedder), [task])
    targets = [e.target for e in examples]
    # The solution says STOP only once the login page is left: the revealed password worked.
    assert targets[-1] == "STOP" and any('"{PASSWORD}"' in t for t in targets)
    assert all(password not in e.prompt and password not in e.target for e in examples)


def test_an_episode_starts_from_no_remembered_ui_state(browser, suite):
    """The admin remembers which filters are folded in web storage: one episode folding
    "By genre" must not hide the genre links from the next (reset restores the database,
    and now the storage too; the ranker's fold once failed the model's next episode)."""
    task = next(t for t in read_site_tasks(families=["filter-genre"]))
    env = SiteEnv(browser, suite, task)
    env.reset()
    env.session.call(lambda page: page.click("text=By genre"))
    folded = "() => sessionStorage.getItem('django.admin.filtersState') || ''"
    # the admin stores the fold on the details' toggle event, after the click has returned
    stored = "() => (sessionStorage.getItem('django.admin.filtersState') || '').includes('\"genre\":false')"
    env.session.call(lambda page: page.wait_for_function(stored, timeout=5_000))
    env.reset()
    assert '"genre":false' not in env.session.call(lambda page: page.evaluate(folded))
    assert solve(env)[0]
