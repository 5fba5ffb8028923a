"""The supervision panel in a real browser: the panel runs on a free port with the
real default model, the real MiniWoB++ pages and a real sqlite store; a second
Chromium, driven by Playwright, plays the person. The person's judgement comes
from the MiniWoB++ oracle; everything else goes through the page."""

import json
import os
import socket
import time

import pytest

from webagent.actions import Action, parse_action
from webagent.autonomy import AutonomySettings
from webagent.browser.session import CLOSED_NETWORK_FLAGS, default_chromium_path
from webagent.envs.oracles import ORACLES
from webagent.store import Store

WAIT_MS = 240_000  # a proposal on a busy 2-core machine can take a while


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def panel(tmp_path_factory, default_model):
    from ui.app import launch
    from ui.worker import panel_settings

    store = Store(tmp_path_factory.mktemp("panel") / "panel.db")
    port = free_port()
    settings = panel_settings(max_steps=4, autonomy=AutonomySettings(enabled=False, min_samples=30))
    panel = launch(
        store, settings, port=port, model=default_model, tasks=["click-checkboxes", "click-button", "enter-text"]
    )
    worker = panel.worker
    state = worker.wait_ready(timeout=600)
    assert state.phase == "idle", state.message
    yield panel.url, worker, store  # the URL with the launch's token (tests/test_ui_auth.py: without it, 403)
    panel.close()
    store.close()


@pytest.fixture(scope="module")
def person():
    """A second Chromium: the person's browser (Playwright in this thread)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=default_chromium_path(), args=list(CLOSED_NETWORK_FLAGS))
        yield chromium
        chromium.close()


def text_of(page, selector: str) -> str:
    return page.eval_on_selector(selector, "e => (e.querySelector('.prose') || e).innerText")


def wait_for_text(page, selector: str, text: str, timeout: int = WAIT_MS) -> str:
    page.wait_for_function(
        "([s, t]) => { const e = document.querySelector(s); return e && e.innerText.includes(t); }",
        arg=[selector, text],
        timeout=timeout,
    )
    return text_of(page, selector)


def open_panel(person, url: str):
    page = person.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    page.goto(url)
    wait_for_text(page, "#wa-session", "idle")
    return page


def start(page, task: str, seed: int) -> None:
    box = page.locator("#wa-task input")
    box.click()
    box.fill(task)
    page.keyboard.press("Enter")
    page.fill("#wa-seed input", str(seed))
    page.click("#wa-start")
    wait_for_text(page, "#wa-session", "waiting for your verdict")  # the first proposal


def shown_action(page) -> Action:
    """The proposal as the panel shows it ("Step k: `ACTION`")."""
    text = wait_for_text(page, "#wa-proposal", "Step ")
    line = next(line for line in text.splitlines() if line.startswith("Step "))
    return parse_action(line.split(": ", 1)[1].strip("` "))


def wait_for_proposal(page, worker, after: int):
    """The next proposal waiting for a verdict (number > after), as the panel and the worker see it."""
    deadline = time.monotonic() + WAIT_MS / 1000
    while time.monotonic() < deadline:
        state = worker.state()
        if state.phase == "idle":
            return None, None
        number, proposal = worker.person.pending()
        if proposal is not None and number > after:
            wait_for_text(page, "#wa-session", "waiting for your verdict")
            # the exact step and action: after a reject the next proposal has the same step number,
            # so waiting for the number alone can read the rejected proposal still on screen
            wait_for_text(page, "#wa-proposal", f"Step {proposal.index + 1}: {proposal.decision.action.to_dsl()}")
            assert shown_action(page) == proposal.decision.action
            return number, proposal
        time.sleep(0.2)
    raise AssertionError("no proposal arrived")


def correct_in_page(page, action: Action) -> None:
    dropdown = page.locator("#wa-correct-id input")
    dropdown.click()
    dropdown.fill(f"[{action.element_id}]")
    page.keyboard.press("Enter")
    page.locator("#wa-correct-verb label", has_text=action.verb).click()
    page.fill("#wa-correct-text textarea, #wa-correct-text input", action.argument or "")
    page.click("#wa-correct")


@pytest.mark.slow
def test_a_person_confirms_and_corrects_an_episode_in_the_panel(panel, person):
    url, worker, store = panel
    page = open_panel(person, url)
    start(page, "click-checkboxes", seed=0)  # the default model gets some of its steps right, some wrong
    oracle = ORACLES["click-checkboxes"]
    done: list[tuple[str, str, str]] = []  # (kind, proposed, right) as the person gave them
    number = 0
    corrected = False
    first_proposal = True
    while True:
        number, proposal = wait_for_proposal(page, worker, number)
        if proposal is None:
            break
        if first_proposal:
            first_proposal = False
            # a second tab can watch, but its verdicts are refused: nothing is written
            other = person.new_context().new_page()
            other.goto(url)
            wait_for_text(other, "#wa-session", "driven from another browser tab")
            rows_before = len(store.feedback())
            other.click("#wa-confirm")
            wait_for_text(other, "#wa-session", "press 'Take over'")
            assert len(store.feedback()) == rows_before and worker.person.pending()[0] == number
            other.context.close()
        proposed = proposal.decision.action
        right = oracle(proposal.instruction, proposal.observation, proposal.history)
        if proposed == right:
            if not any(kind == "confirm" for kind, _, _ in done):
                page.locator("body").click(position={"x": 3, "y": 3})
                page.keyboard.press("y")  # the shortcut
            else:
                page.click("#wa-confirm")
            done.append(("confirm", proposed.to_dsl(), proposed.to_dsl()))
        elif not corrected:
            correct_in_page(page, right)
            corrected = True
            done.append(("correct", proposed.to_dsl(), right.to_dsl()))
        else:
            page.click("#wa-reject")
            done.append(("reject", proposed.to_dsl(), ""))
    final = wait_for_text(page, "#wa-session", "ended:")
    # what the person did is exactly what the store holds, in order
    episode_id = worker.state().episode_id
    rows = store.feedback(episode_id=episode_id)
    assert [(r["kind"], r["proposed"], r["action"]) for r in rows] == done
    assert {r["source"] for r in rows} == {"person"} and all(r["confidence"] is not None for r in rows)
    kinds = [kind for kind, _, _ in done]
    assert "correct" in kinds and "confirm" in kinds, f"this episode did not exercise both verdicts: {done}"
    episode = store.episode(episode_id)
    assert episode["outcome"] == "success" and episode["reward"] > 0 and "success" in final
    steps = store.steps(episode_id)
    assert len(steps) == episode["steps"] == sum(kind in ("confirm", "correct") for kind in kinds)
    corrected_step = next(s for s in steps if s["proposed"])
    assert (corrected_step["proposed"], corrected_step["action"]) == next(
        (p, a) for kind, p, a in done if kind == "correct"
    )
    for step in steps:  # each step kept its screenshot and both parts of its confidence
        assert store.screenshot_path(step).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert step["critic"] is not None and step["policy_confidence"] is not None
    # the history view shows the episode; it exports as JSON Lines
    page.get_by_role("tab", name="History").click()
    page.click("#wa-history-refresh")
    wait_for_text(page, "#wa-episodes-table", "click-checkboxes")
    page.fill("#wa-episode-pick input", str(episode_id))
    page.click("#wa-show")
    wait_for_text(page, "#wa-steps", steps[-1]["action"])
    page.wait_for_function("n => document.querySelectorAll('#wa-gallery img').length >= n", arg=len(steps))
    page.fill("#wa-export-ids textarea, #wa-export-ids input", str(episode_id))
    page.click("#wa-export")
    link = page.locator("#wa-export-file a").first
    link.wait_for(timeout=60_000)
    with page.expect_download() as download:
        link.click()
    (record,) = [json.loads(line) for line in download.value.path().read_text().splitlines()]
    assert record["id"] == episode_id and len(record["steps"]) == len(steps)
    assert [f["kind"] for f in record["feedback"]] == kinds
    page.context.close()


@pytest.mark.slow
def test_reject_makes_the_panel_propose_something_else(panel, person):
    url, worker, store = panel
    page = open_panel(person, url)
    start(page, "click-button", seed=5)
    number, first = wait_for_proposal(page, worker, 0)
    shot = os.environ.get("WEBAGENT_PANEL_SCREENSHOT")
    if shot:  # docs/supervision-panel.png is taken here, mid-episode
        page.wait_for_timeout(1500)
        page.screenshot(path=shot, full_page=True)
    page.locator("body").click(position={"x": 3, "y": 3})
    page.keyboard.press("n")  # the reject shortcut
    number, second = wait_for_proposal(page, worker, number)
    assert second.decision.action != first.decision.action
    assert first.decision.action.element_id not in [c.id for c in second.candidates]
    page.click("#wa-stop")
    wait_for_text(page, "#wa-session", "ended: stopped")
    episode_id = worker.state().episode_id
    rows = store.feedback(episode_id=episode_id)
    assert [(r["kind"], r["proposed"]) for r in rows] == [("reject", first.decision.action.to_dsl())]
    assert store.episode(episode_id)["outcome"] == "stopped"
    page.context.close()


@pytest.mark.slow
def test_auto_approve_in_the_panel_asks_while_calibration_data_is_short(panel, person):
    url, worker, store = panel
    page = open_panel(person, url)
    page.locator("#wa-auto input[type=checkbox]").check()
    text = wait_for_text(page, "#wa-calibration", "Auto-approve on")
    assert "always asks" in text and "fewer than the 30 needed" in text
    start(page, "click-button", seed=7)
    number, proposal = wait_for_proposal(page, worker, 0)
    assert proposal is not None  # it waits for the person: nothing was auto-approved
    assert worker.approver.settings.enabled and worker.approver.auto_approved == 0
    page.click("#wa-stop")
    wait_for_text(page, "#wa-session", "ended: stopped")
    assert not [r for r in store.feedback() if r["source"] == "auto"]
    page.locator("#wa-auto input[type=checkbox]").uncheck()
    wait_for_text(page, "#wa-calibration", "Auto-approve off")
    page.context.close()
