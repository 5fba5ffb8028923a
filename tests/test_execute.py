"""Actions executed in a real Chromium on the fixture pages, checked through the
next observation."""

from __future__ import annotations

import threading
from concurrent.futures import Future

import pytest

from webagent.actions import Action
from webagent.browser.execute import execute
from webagent.browser.observation import Element, Observation
from webagent.browser.observe import observe
from webagent.browser.session import BrowserConfig, BrowserSession
from webagent.errors import BrowserError

FAST_MS = 1_000  # short, yet long enough to find the element on a loaded 2-core machine


def load(browser, fixture_server, name: str) -> Observation:
    browser.goto(f"{fixture_server}/{name}")
    return browser.call(observe)


def by_dom_id(obs: Observation, dom_id: str) -> Element:
    found = [el for el in obs.elements if dict(el.attributes).get("id") == dom_id]
    assert len(found) == 1, f"{len(found)} elements with id={dom_id!r}"
    return found[0]


def act(browser, obs: Observation, verb: str, dom_id: str, argument: str | None = None, **kwargs):
    """Execute verb on the element with that HTML id; return (error, next observation)."""
    el = by_dom_id(obs, dom_id)
    error = browser.call(execute, Action(verb, el.id, argument), el, **kwargs)
    return error, browser.call(observe)


# -- CLICK ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("dom_id", "status"),
    [("go", "Clicked go"), ("more", "Showing more"), ("jsdiv", "Div pressed")],
)
def test_click_delivers_the_click(browser, fixture_server, dom_id, status):
    obs = load(browser, fixture_server, "controls.html")
    assert by_dom_id(obs, "status").text == "Nothing yet"
    error, after = act(browser, obs, "CLICK", dom_id)
    assert error is None
    assert by_dom_id(after, "status").text == status
    assert after.url == obs.url


def test_a_click_reaches_an_icon_whose_image_changes_on_hover(browser, fixture_server):
    """The pointer arrives before it presses, as a person's does: the hover image loads
    first (social-media's icons: the first click landed on the row behind, every time)."""
    obs = load(browser, fixture_server, "hover_icon.html")
    error, after = act(browser, obs, "CLICK", "like")
    assert error is None
    assert by_dom_id(after, "status").text == "Liked"


def test_click_toggles_aria_checked(browser, fixture_server):
    obs = load(browser, fixture_server, "controls.html")
    error, after = act(browser, obs, "CLICK", "toggle")
    assert error is None
    assert by_dom_id(after, "toggle").checked is True


def test_click_checkbox(browser, fixture_server):
    obs = load(browser, fixture_server, "controls.html")
    error, after = act(browser, obs, "CLICK", "news")
    assert error is None
    assert by_dom_id(after, "news").checked is True


def test_click_that_removes_its_element(browser, fixture_server):
    obs = load(browser, fixture_server, "controls.html")
    error, after = act(browser, obs, "CLICK", "dismiss")
    assert error is None
    assert by_dom_id(after, "status").text == "Dismissed"
    assert by_dom_id(obs, "dismiss").id not in {el.id for el in after.elements}


def test_click_in_iframe(browser, fixture_server):
    obs = load(browser, fixture_server, "frames.html")
    error, after = act(browser, obs, "CLICK", "inner-button")
    assert error is None
    assert by_dom_id(after, "inner-status").text == "Inner clicked"


def test_click_in_shadow_root(browser, fixture_server):
    obs = load(browser, fixture_server, "shadow.html")
    error, after = act(browser, obs, "CLICK", "shadow-button")
    assert error is None
    assert by_dom_id(after, "shadow-status").text == "Shadow clicked"


@pytest.mark.parametrize(
    ("dom_id", "reason"),
    [("gone", "not visible"), ("invisible", "not visible"), ("off", "disabled"), ("fs-off", "disabled")],
)
def test_click_on_hidden_or_disabled_fails_fast(browser, fixture_server, dom_id, reason):
    obs = load(browser, fixture_server, "controls.html")
    el = by_dom_id(obs, dom_id)
    error = browser.call(execute, Action("CLICK", el.id), el, timeout_ms=FAST_MS)
    assert isinstance(error, str)
    assert error.startswith(f"CLICK [{el.id}] failed:")
    assert reason in error
    assert by_dom_id(browser.call(observe), "status").text == "Nothing yet"


def test_hidden_and_disabled_fail_fast_with_the_default_timeout(browser, fixture_server):
    obs = load(browser, fixture_server, "controls.html")
    for dom_id in ("gone", "off"):
        el = by_dom_id(obs, dom_id)
        error = browser.call(execute, Action("CLICK", el.id), el)
        assert error is not None


def test_click_on_element_no_longer_on_the_page(browser, fixture_server):
    load(browser, fixture_server, "nav.html")
    ghost = Element(id="9999", tag="button", text="Ghost")
    error = browser.call(execute, Action("CLICK", ghost.id), ghost, timeout_ms=FAST_MS)
    assert error is not None and "no longer on the page" in error


# -- TYPE ----------------------------------------------------------------------------

TRICKY = 'He said "hi" \\ then left \\" twice'


@pytest.mark.parametrize("dom_id", ["first", "city", "email", "notes", "editor", "secret"])
@pytest.mark.parametrize("text", ["Grace Hopper", TRICKY, "x"])
def test_type_sets_the_value(browser, fixture_server, dom_id, text):
    obs = load(browser, fixture_server, "controls.html")
    error, after = act(browser, obs, "TYPE", dom_id, text)
    assert error is None
    assert by_dom_id(after, dom_id).value == text


def test_type_replaces_the_old_value(browser, fixture_server):
    obs = load(browser, fixture_server, "controls.html")
    assert by_dom_id(obs, "first").value == "Ada"
    error, after = act(browser, obs, "TYPE", "first", "Grace")
    assert error is None
    assert by_dom_id(after, "first").value == "Grace"
    assert by_dom_id(after, "editor").value == "Draft text"


def test_type_empty_text_clears_the_field(browser, fixture_server):
    obs = load(browser, fixture_server, "controls.html")
    error, after = act(browser, obs, "TYPE", "first", "")
    assert error is None
    assert by_dom_id(after, "first").value == ""


def test_type_trailing_space_into_contenteditable(browser, fixture_server):
    obs = load(browser, fixture_server, "controls.html")
    error, _ = act(browser, obs, "TYPE", "editor", "ends with a space ")
    assert error is None


def test_type_sends_key_events(browser, fixture_server):
    obs = load(browser, fixture_server, "controls.html")
    browser.call(
        lambda page: page.evaluate(
            "document.getElementById('city').addEventListener('keyup', e =>"
            " { document.getElementById('status').textContent = 'key ' + e.key; })"
        )
    )
    error, after = act(browser, obs, "TYPE", "city", "Paris")
    assert error is None
    assert by_dom_id(after, "status").text == "key s"


def test_type_in_iframe_and_shadow_root(browser, fixture_server):
    obs = load(browser, fixture_server, "frames.html")
    error, after = act(browser, obs, "TYPE", "inner-input", "inside a frame")
    assert error is None
    assert by_dom_id(after, "inner-input").value == "inside a frame"
    obs = load(browser, fixture_server, "shadow.html")
    error, after = act(browser, obs, "TYPE", "shadow-input", "inside a shadow")
    assert error is None
    assert by_dom_id(after, "shadow-input").value == "inside a shadow"


@pytest.mark.parametrize("dom_id", ["plain", "go", "agree", "color", "off-input"])
def test_type_on_a_non_editable_element_fails(browser, fixture_server, dom_id):
    obs = load(browser, fixture_server, "controls.html")
    el = by_dom_id(obs, dom_id)
    error = browser.call(execute, Action("TYPE", el.id, "abc"), el, timeout_ms=FAST_MS)
    assert isinstance(error, str) and error.startswith(f'TYPE [{el.id}] "abc" failed:')


# -- SELECT --------------------------------------------------------------------------


@pytest.mark.parametrize("option", ["Red", "Blue", '"Quoted" and spaced'])
def test_select_picks_the_option(browser, fixture_server, option):
    obs = load(browser, fixture_server, "controls.html")
    error, after = act(browser, obs, "SELECT", "color", option)
    assert error is None
    color = by_dom_id(after, "color")
    assert color.selected_option == option
    assert color.value == option


def test_select_fires_change(browser, fixture_server):
    obs = load(browser, fixture_server, "controls.html")
    browser.call(
        lambda page: page.evaluate(
            "document.getElementById('color').addEventListener('change', e =>"
            " { document.getElementById('status').textContent = 'picked ' + e.target.value; })"
        )
    )
    error, after = act(browser, obs, "SELECT", "color", '"Quoted" and spaced')
    assert error is None
    assert by_dom_id(after, "status").text == "picked q"


def test_select_unknown_option_fails_fast(browser, fixture_server):
    obs = load(browser, fixture_server, "controls.html")
    el = by_dom_id(obs, "color")
    error = browser.call(execute, Action("SELECT", el.id, "Purple"), el)
    assert error is not None and "Purple" in error
    assert by_dom_id(browser.call(observe), "color").selected_option == "Green"


# -- navigation ----------------------------------------------------------------------


@pytest.mark.parametrize(("dom_id", "url"), [("next", "nav_target.html"), ("js-next", "nav_target.html?via=js")])
def test_click_that_navigates_is_followed_by_the_new_page(browser, fixture_server, dom_id, url):
    obs = load(browser, fixture_server, "nav.html")
    error, after = act(browser, obs, "CLICK", dom_id)
    assert error is None
    assert after.url == f"{fixture_server}/{url}"
    assert after.title == "Target page"
    assert by_dom_id(after, "arrived").text == "You are on the target page."


def test_click_to_a_missing_page_reports_it(browser, fixture_server):
    obs = load(browser, fixture_server, "nav.html")
    error, after = act(browser, obs, "CLICK", "missing")
    assert error is not None
    assert "does_not_exist.html" in error and "404" in error
    assert after.url == f"{fixture_server}/does_not_exist.html"


def test_click_to_an_unreachable_site_reports_it(browser, fixture_server):
    obs = load(browser, fixture_server, "nav.html")
    error, after = act(browser, obs, "CLICK", "unreachable")
    assert error is not None and "http://127.0.0.1:9/" in error
    # The browser is still usable afterwards.
    obs = load(browser, fixture_server, "nav.html")
    assert obs.title == "Start page"


def test_form_demo(browser, fixture_server):
    obs = load(browser, fixture_server, "form.html")
    name = by_dom_id(obs, "name")
    assert (name.label, name.placeholder) == ("Name", "Your name")
    error, obs = act(browser, obs, "TYPE", "name", "Kasie")
    assert error is None
    error, obs = act(browser, obs, "CLICK", "submit")
    assert error is None
    assert by_dom_id(obs, "result").text == "Thanks, Kasie"
    assert obs.url == f"{fixture_server}/form.html"


# -- the session -----------------------------------------------------------------------


def test_goto_unreachable_url_raises_browser_error(browser, fixture_server):
    with pytest.raises(BrowserError, match=r"http://127\.0\.0\.1:9/"):
        browser.goto("http://127.0.0.1:9/")
    # Chromium commits its error page late; the next load must not trip over it.
    obs = load(browser, fixture_server, "nav.html")
    assert obs.title == "Start page"


def test_goto_missing_page_raises_browser_error(browser, fixture_server):
    url = f"{fixture_server}/does_not_exist.html"
    with pytest.raises(BrowserError, match="404") as caught:
        browser.goto(url)
    assert url in str(caught.value)


def test_call_from_another_thread(browser, fixture_server):
    browser.goto(f"{fixture_server}/controls.html")
    result: Future = Future()

    def worker() -> None:
        try:
            obs = browser.call(observe)
            el = by_dom_id(obs, "go")
            error = browser.call(execute, Action("CLICK", el.id), el)
            owner = browser.call(lambda page: threading.current_thread().name)
            result.set_result((error, browser.call(observe), owner, threading.current_thread().name))
        except BaseException as exc:  # noqa: BLE001 - handed to the test thread
            result.set_exception(exc)

    thread = threading.Thread(target=worker, name="gradio-like-worker")
    thread.start()
    error, after, owner, caller = result.result(timeout=60)
    thread.join(timeout=10)
    assert error is None
    assert by_dom_id(after, "status").text == "Clicked go"
    assert owner == "webagent-browser" and caller == "gradio-like-worker"


def test_calls_from_several_threads_at_once(browser, fixture_server):
    browser.goto(f"{fixture_server}/controls.html")
    results: list = []

    def worker() -> None:
        results.append(browser.call(lambda page: page.title()))

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert results == ["Controls"] * 8


def test_call_before_start_raises():
    with pytest.raises(BrowserError, match="not started"):
        BrowserSession().call(lambda page: None)


def test_failed_start_leaves_the_session_unstarted(tmp_path):
    fake = tmp_path / "chromium"
    fake.write_text("#!/bin/sh\nexit 1\n")
    fake.chmod(0o755)
    session = BrowserSession(BrowserConfig(executable_path=str(fake)))
    with pytest.raises(BrowserError, match="could not start Chromium"):
        session.start()
    # Without a running owner thread a call must fail at once, not wait forever.
    outcome: Future = Future()

    def probe() -> None:
        try:
            session.call(lambda page: None)
            outcome.set_result("returned")
        except BrowserError as exc:
            outcome.set_result(str(exc))

    threading.Thread(target=probe, daemon=True).start()
    assert "not started" in outcome.result(timeout=10)


# -- settle: waiting for what the action caused ----------------------------------


@pytest.mark.parametrize(
    ("dom_id", "status"), [("animate", "animated"), ("fetch", "fetched true"), ("deferred", "deferred")]
)
def test_the_step_waits_until_the_page_has_reacted(browser, fixture_server, dom_id, status):
    """A 400 ms animation, a fetch, a 150 ms timer: a fixed 100 ms sleep would observe them
    half done. The timer's own polling afterwards is not waited for (the test would then
    still pass, but only after the cap; that is measured by the step's latency, not here)."""
    obs = load(browser, fixture_server, "settle.html")
    error, after = act(browser, obs, "CLICK", dom_id)
    assert error is None and by_dom_id(after, "status").text == status


def test_typing_waits_for_the_suggestions_it_asked_for(browser, fixture_server):
    """A search box that suggests 300 ms after the last key (jQuery UI's autocomplete
    default): observed before them, the agent clicked Submit under the menu on every
    use-autocomplete episode."""
    obs = load(browser, fixture_server, "settle.html")
    error, after = act(browser, obs, "TYPE", "search", "Per")
    assert error is None and by_dom_id(after, "status").text == "suggestions for Per"


def test_a_page_that_never_stops_changing_is_observed_anyway(browser, fixture_server):
    obs = load(browser, fixture_server, "settle.html")
    error, after = act(browser, obs, "CLICK", "forever")
    assert error is None and by_dom_id(after, "status").text.startswith("tick ")
