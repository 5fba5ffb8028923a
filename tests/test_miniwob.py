"""The MiniWoB++ environment: local server, seeded episodes, reward."""

import urllib.request

import pytest

from webagent.actions import Action
from webagent.envs.miniwob import MiniWoBEnv, read_task_names
from webagent.errors import BrowserError, DataError


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


_ASKED_ICON = """() => {
  const [user, verb] = [...document.querySelectorAll('#query .bold')].map((b) => b.textContent);
  const tweets = [...document.querySelectorAll('#area .media')];
  const tweet = tweets.find((m) => m.querySelector('.username').textContent === user);
  return tweet.querySelector('.' + verb.toLowerCase()).getAttribute('data-webagent-id');
}"""


def test_the_first_observation_sees_the_episode_loaded(browser, miniwob_server):
    """social-media's icons are images that arrive after the episode starts: observed
    before them, an icon had no width and the first click on it did not reach it."""
    env = MiniWoBEnv(browser, miniwob_server, "social-media")
    for seed in (0, 1, 12):  # the asked icon is Retweet, Like, Reply
        env.reset(seed)
        observation = env.observe()
        icon = browser.call(lambda page: page.evaluate(_ASKED_ICON))
        assert env.act(Action("CLICK", icon), observation) is None
        assert env.status().reward == 1.0


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


@pytest.mark.parametrize("error", [BrowserError("this task is broken"), TypeError("this task is broken")])
def test_a_task_that_cannot_start_is_recorded_and_the_batch_goes_on(store, monkeypatch, error):
    from webagent.envs import miniwob
    from webagent.runs import run_miniwob
    from webagent.settings import AgentSettings

    real_start = miniwob._start_episode

    def start(page, seed):
        if "click-button.html" in page.url:
            raise error
        return real_start(page, seed)

    monkeypatch.setattr(miniwob, "_start_episode", start)
    results = run_miniwob(["click-button", "click-test"], AgentSettings(policy="ranker"), episodes=1, store=store)
    broken, fine = results["tasks"]["click-button"], results["tasks"]["click-test"]
    assert broken["episodes_detail"][0]["outcome"] == "error" and "broken" in broken["episodes_detail"][0]["error"]
    assert fine["episodes"] == 1 and fine["episodes_detail"][0]["outcome"] != "error"


def test_the_sweep_records_every_task_and_goes_on(store, monkeypatch):
    """scripts/sweep_miniwob.py's batch: a task whose reset raises (of any kind) is an
    error with its message, an unsupported one says why, and the others still run."""
    from webagent.envs import miniwob
    from webagent.runs import sweep_miniwob
    from webagent.settings import AgentSettings, LoopSettings, MemorySettings

    real_start = miniwob._start_episode

    def start(page, seed):
        if "click-button.html" in page.url:
            raise TypeError("this task is broken")
        return real_start(page, seed)

    monkeypatch.setattr(miniwob, "_start_episode", start)
    settings = AgentSettings(policy="ranker", memory=MemorySettings(enabled=False), loop=LoopSettings(max_steps=2))
    tasks = {"click-button": None, "flight.AA": "FlightWoB: not served", "click-test": None}
    rows = {r["task"]: r for r in sweep_miniwob(tasks, settings, store=store)}
    assert list(rows) == list(tasks)
    assert rows["click-button"]["status"] == "error" and rows["click-button"]["why"] == "TypeError: this task is broken"
    assert rows["flight.AA"] == {**rows["flight.AA"], "status": "unsupported", "why": "FlightWoB: not served"}
    assert rows["click-test"]["status"] == "ran" and rows["click-test"]["outcome"] in ("success", "failure")


def test_package_tasks_name_every_task_and_why_some_are_unsupported():
    from webagent.envs.miniwob import available_tasks, package_tasks

    tasks = package_tasks()
    assert set(available_tasks()) <= set(tasks)
    assert all(tasks[t] is None for t in available_tasks())
    flights = [t for t in tasks if t.startswith("flight.")]
    assert flights and all("FlightWoB" in tasks[t] for t in flights)
