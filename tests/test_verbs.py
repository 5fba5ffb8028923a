"""The verbs a real page needs, run in a real Chromium on fixture pages: PRESS
submits a search box, SCROLL moves the page, a link that opens a tab is
followed and BACK returns from it, dialogs and downloads are reported."""

from __future__ import annotations

from webagent.actions import Action
from webagent.browser.execute import execute
from webagent.browser.observe import observe
from webagent.envs.scripted import ScriptedEnv, ScriptedTask


def _env(browser, fixture_server) -> ScriptedEnv:
    env = ScriptedEnv(browser, ScriptedTask(url=f"{fixture_server}/real.html", instruction="x"))
    env.reset()
    return env


def _el(obs, dom_id):
    return next(el for el in obs.elements if dict(el.attributes).get("id") == dom_id)


def test_press_enter_submits_the_search_box(browser, fixture_server):
    env = _env(browser, fixture_server)
    obs = env.observe()
    assert env.act(Action("TYPE", _el(obs, "q").id, "ranker"), obs) is None
    assert env.act(Action("PRESS", _el(obs, "q").id, "Enter"), obs) is None
    assert env.url().endswith("nav_target.html?q=ranker")


def test_scroll_moves_the_page_and_says_when_it_cannot(browser, fixture_server):
    env = _env(browser, fixture_server)
    obs = env.observe()
    assert env.act(Action("SCROLL", None, "up"), obs) is not None  # already at the top
    assert env.act(Action("SCROLL", None, "down"), obs) is None
    assert browser.call(lambda page: page.evaluate("window.scrollY")) > 0


def test_a_new_tab_is_followed_and_back_returns(browser, fixture_server):
    env = _env(browser, fixture_server)
    obs = env.observe()
    assert env.act(Action("CLICK", _el(obs, "popup").id), obs) is None
    after = env.observe()
    assert after.url.endswith("nav_target.html?tab=new")
    assert any("new tab" in e for e in after.events)
    assert env.act(Action("BACK"), after) is None  # the tab has no history: it is closed
    back = env.observe()
    assert back.url.endswith("real.html") and any("closed" in e for e in back.events)
    assert env.act(Action("BACK"), back) == "BACK failed: there is no page to go back to"


def test_back_goes_back_in_history(browser, fixture_server):
    env = _env(browser, fixture_server)
    browser.goto(f"{fixture_server}/nav.html")
    obs = env.observe()
    assert env.act(Action("CLICK", _el(obs, "next").id), obs) is None
    assert env.url().endswith("nav_target.html")
    assert env.act(Action("BACK"), env.observe()) is None
    assert env.url().endswith("nav.html")


def test_dialogs_are_answered_and_shown_in_the_next_observation(browser, fixture_server):
    env = _env(browser, fixture_server)
    obs = env.observe()
    assert env.act(Action("CLICK", _el(obs, "alert").id), obs) is None
    after = env.observe()
    assert _el(after, "status").text == "after alert"
    assert any('alert dialog said "Saved!"' in e for e in after.events)
    assert env.act(Action("CLICK", _el(after, "confirm").id), after) is None
    last = env.observe()
    assert _el(last, "status").text == "deleted"
    assert any('confirm dialog said "Delete it?"' in e for e in last.events)
    assert env.observe().events == ()  # reported once


def test_a_download_is_shown_in_the_next_observation(browser, fixture_server):
    """The page does not change when a link downloads a file: without the event the
    agent cannot tell the click did anything, and clicks it again."""
    env = _env(browser, fixture_server)
    obs = env.observe()
    assert env.act(Action("CLICK", _el(obs, "download").id), obs) is None
    after = env.observe()
    assert after.url.endswith("real.html")
    assert any('"notes.txt" was downloaded' in e for e in after.events)
    assert env.observe().events == ()


def test_stop_touches_nothing(browser, fixture_server):
    browser.goto(f"{fixture_server}/real.html")
    before = browser.call(observe)
    assert browser.call(execute, Action("STOP", None, "4.2.1"), None) is None
    assert browser.call(observe).url == before.url
