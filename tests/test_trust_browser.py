"""No hangs and only the sites you allow, on a real Chromium: a click that starts
`while(true){}` ends the episode with a clear error; a link to a domain outside
--allow-domain is blocked, recorded in the step and told to the agent."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from webagent.cli import EXIT_ALL_FAILED, app
from webagent.store import Store

pytestmark = pytest.mark.browser

runner = CliRunner()


def test_a_click_that_freezes_the_page_ends_the_episode_with_a_clear_error(tmp_path, fixture_server):
    db = tmp_path / "w.db"
    args = ["run", "--url", f"{fixture_server}/frozen.html", "--task", "Click the Freeze button"]
    result = runner.invoke(app, [*args, "--until-text", "never", "--policy", "ranker", "--db", str(db)])
    assert result.exit_code == EXIT_ALL_FAILED, result.output
    (episode,) = Store(db).db["episodes"].rows
    # the 2 s responsiveness check names the action; on a loaded machine the 30 s page deadline may come first
    frozen = ("froze the page", "the page did not answer within")
    assert episode["outcome"] == "error" and any(reason in episode["error"] for reason in frozen)


def test_a_blocked_domain_is_recorded_and_told_to_the_agent(tmp_path, fixture_server):
    db = tmp_path / "w.db"
    args = ["run", "--url", f"{fixture_server}/away.html", "--task", "Click Elsewhere", "--max-steps", "2"]
    result = runner.invoke(app, [*args, "--allow-domain", "127.0.0.1", "--policy", "ranker", "--db", str(db)])
    assert result.exit_code == 0, result.output
    steps = Store(db).steps(1)
    assert "blocked requests: http://localhost:" in steps[0]["error"]
    assert "localhost is not an allowed domain" in steps[0]["error"]
    assert "localhost" not in steps[0]["url"]  # the page never went there
    assert "blocked requests" in steps[1]["prompt"] or steps[1]["prompt"] == ""  # the ranker has no prompt


def test_an_interrupted_episode_is_finished_as_interrupted(tmp_path, fixture_server, browser):
    from webagent.agent import Agent
    from webagent.envs.scripted import ScriptedEnv, ScriptedTask
    from webagent.learning.driver import curves_from_store
    from webagent.policy import RankerTopPolicy
    from webagent.recording import StepRecorder

    class Ranker:
        embedder = None

        def rank(self, instruction, observation, history, k):
            from webagent.candidates import Candidate

            return [Candidate(e, 1.0) for e in observation.actionable[:k]]

    store = Store(tmp_path / "w.db")
    agent = Agent(Ranker(), RankerTopPolicy(), observers=(StepRecorder(store),))
    env = ScriptedEnv(browser, ScriptedTask(url=f"{fixture_server}/form.html", instruction='Enter "Kasie"'))
    env.reset()
    run = store.start_run(command="learn t", policy="p", model="", model_version="", seed=0, config={})

    def interrupt(step):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        agent.run_episode(env, run_id=run, task="t", seed=0, on_step=interrupt)
    assert store.episode(1)["outcome"] == "interrupted" and store.episode(1)["finished"]
    assert curves_from_store(store, run)["tasks"]["t"]["train"] == []  # not a training episode


def test_sigterm_during_a_run_finishes_the_episode_as_interrupted(tmp_path, fixture_server):
    """`webagent run` as its own process, on a page that changes at every click (no loop, no
    success): SIGTERM mid-episode stores the episode as interrupted and exits 130."""
    import os
    import signal
    import sqlite3
    import subprocess
    import sys
    import time
    from pathlib import Path

    db = tmp_path / "w.db"
    root = Path(__file__).resolve().parent.parent
    env = {**os.environ, "PYTHONPATH": f"{root}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    args = [sys.executable, "-m", "webagent", "run", "--url", f"{fixture_server}/dynamic.html"]
    args += ["--task", "Add item", "--until-text", "never shown", "--policy", "ranker", "--max-steps", "200"]
    process = subprocess.Popen([*args, "--db", str(db)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 240
        steps = 0
        while steps < 2:  # mid-episode: the episode is stored and has run some steps
            assert process.poll() is None, process.stdout.read().decode()
            assert time.monotonic() < deadline, "no steps were stored"
            time.sleep(0.2)
            if db.exists():
                try:
                    with sqlite3.connect(db) as con:
                        steps = con.execute("select count(*) from steps").fetchone()[0]
                except sqlite3.OperationalError:  # tables not made yet
                    steps = 0
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130, output.decode()
    assert "interrupted" in output.decode()
    store = Store(db)
    (episode,) = list(store.db["episodes"].rows)
    assert episode["outcome"] == "interrupted" and episode["finished"], episode
    assert 2 <= episode["steps"] < 200
