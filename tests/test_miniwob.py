"""The MiniWoB++ environment: local server, seeded episodes, reward."""

import urllib.request

import pytest

from webagent.actions import Action
from webagent.envs.miniwob import MiniWoBEnv, read_task_names
from webagent.errors import DataError


def test_server_is_local_and_serves_tasks(miniwob_server):
    assert miniwob_server.base_url.startswith("http://127.0.0.1:")
    with urllib.request.urlopen(miniwob_server.task_url("click-button")) as response:
        assert b"genProblem" in response.read()


def test_seeds_reproduce_episodes(browser, miniwob_server):
    env = MiniWoBEnv(browser, miniwob_server, "enter-text")
    first = env.reset(7)
    page_first = [e.describe() for e in env.observe().elements]
    other = env.reset(8)
    again = env.reset(7)
    assert first == again and first != other
    assert [e.describe() for e in env.observe().elements] == page_first


def test_instruction_and_reward(browser, miniwob_server):
    env = MiniWoBEnv(browser, miniwob_server, "click-button")
    instruction = env.reset(0)
    assert instruction.startswith("Click on the")
    assert not env.status().done
    observation = env.observe()
    assert all("#query" not in e.text for e in observation.elements)  # the utterance is not a page element
    target = instruction.split('"')[1]
    wrong = next(e for e in observation.actionable if e.tag == "button" and e.text != target)
    assert env.act(Action("CLICK", wrong.id), observation) is None
    status = env.status()
    assert status.done and status.reward == -1.0


def test_the_task_timer_does_not_run_out(browser, miniwob_server):
    env = MiniWoBEnv(browser, miniwob_server, "click-button")
    env.reset(0)
    browser.call(lambda page: page.wait_for_timeout(1500))
    assert not env.status().done
    assert browser.call(lambda page: page.evaluate("core.EPISODE_MAX_TIME")) >= 10**8


def test_unknown_task_and_bad_tasks_files(browser, miniwob_server, tmp_path):
    with pytest.raises(DataError, match="unknown MiniWoB"):
        MiniWoBEnv(browser, miniwob_server, "no-such-task").reset(0)
    with pytest.raises(DataError, match="cannot read"):
        read_task_names(tmp_path / "missing.txt")
    empty = tmp_path / "empty.txt"
    empty.write_text("# only a comment\n")
    with pytest.raises(DataError, match="no tasks"):
        read_task_names(empty)
    good = tmp_path / "good.txt"
    good.write_text("click-button  # trailing comment\n\nenter-text\n")
    assert read_task_names(good) == ["click-button", "enter-text"]


def test_structured_utterances_become_plain_instructions(browser, miniwob_server):
    from webagent.envs.miniwob import plain_instruction

    assert plain_instruction({"utterance": "Find  the email by Ann", "fields": {"by": "Ann"}}) == (
        "Find the email by Ann"
    )
    env = MiniWoBEnv(browser, miniwob_server, "email-inbox-nl-turk")  # returns {utterance, fields}
    instruction = env.reset(3)
    assert isinstance(instruction, str) and instruction.strip()


def test_a_task_that_cannot_start_is_recorded_and_the_batch_goes_on(store, monkeypatch):
    from webagent.envs import miniwob
    from webagent.runs import run_miniwob
    from webagent.settings import AgentSettings

    real_start = miniwob._start_episode

    def start(page, seed):
        if "click-button.html" in page.url:
            raise miniwob.BrowserError("this task is broken")
        return real_start(page, seed)

    monkeypatch.setattr(miniwob, "_start_episode", start)
    results = run_miniwob(["click-button", "click-test"], AgentSettings(policy="ranker"), episodes=1, store=store)
    broken, fine = results["tasks"]["click-button"], results["tasks"]["click-test"]
    assert broken["episodes_detail"][0]["outcome"] == "error" and "broken" in broken["episodes_detail"][0]["error"]
    assert fine["episodes"] == 1 and fine["episodes_detail"][0]["outcome"] != "error"
