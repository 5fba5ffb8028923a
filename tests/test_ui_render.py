"""The panel's pure render functions: no gradio, no browser, no model."""

import io
import json

import pytest
from PIL import Image

from ui import render
from ui.worker import correction
from webagent.actions import Action
from webagent.browser.observation import Element, Observation
from webagent.calibration import calibrate
from webagent.candidates import Candidate
from webagent.errors import ActionError
from webagent.memory import Exemplar
from webagent.policy import Decision
from webagent.supervision import Proposal


def png(width=300, height=200, colour=(255, 255, 255)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(buffer, format="PNG")
    return buffer.getvalue()


CANDIDATES = [
    {"id": "4", "score": 0.91234, "lexical": 1.0, "semantic": 0.5, "text": 'button text="No"', "box": [20, 40, 60, 30]},
    {"id": "7", "score": 0.5, "lexical": 0.2, "semantic": 0.4, "text": 'button text="Yes"', "box": [150, 100, 80, 40]},
    {"id": "9", "score": 0.1, "lexical": 0.0, "semantic": 0.1, "text": "div", "box": [0, 0, 0, 0]},  # not drawn
]


def test_annotate_draws_boxes_and_highlights_the_proposal():
    image = render.annotate(png(), CANDIDATES, "7")
    assert image.size == (300, 200)
    # the proposed box's outline is red, another candidate's blue, and the page elsewhere untouched
    assert image.getpixel((150, 120)) == render.PROPOSED_COLOUR
    assert image.getpixel((20, 55)) == render.CANDIDATE_COLOUR
    assert image.getpixel((290, 190)) == (255, 255, 255)
    # the proposed box is tinted inside, the other is not
    inside = image.getpixel((190, 125))
    assert inside != (255, 255, 255) and inside[0] > inside[1]
    assert image.getpixel((50, 60)) == (255, 255, 255)
    # a label tag sits just above each drawn box, in the box's colour
    assert image.getpixel((152, 100 - 3)) == render.PROPOSED_COLOUR
    assert image.getpixel((22, 40 - 3)) == render.CANDIDATE_COLOUR


def test_annotate_marks_a_correction_and_crops_small_pages():
    image = render.annotate(png(800, 600), CANDIDATES, "4", executed_id="7", crop=True)
    # crop: the boxes' union (20..230 × 40..140) plus a 40 px margin, from the corner, enlarged ×2
    assert image.size == ((230 + 40) * 2, (140 + 40) * 2)
    assert image.getpixel((150 * 2, 120 * 2)) == render.EXECUTED_COLOUR
    assert image.getpixel((20 * 2 + 1, 55 * 2)) == render.PROPOSED_COLOUR
    far = [{**c, "box": [c["box"][0] + 400, c["box"][1] + 300, *c["box"][2:]]} for c in CANDIDATES]
    image = render.annotate(png(800, 600), far, "4", crop=True)  # away from the corner: just the boxes
    assert image.size == ((230 - 20 + 80) * 2, (140 - 40 + 80) * 2)
    assert image.getpixel(((420 - 380) * 2 + 1, (355 - 300) * 2)) == render.PROPOSED_COLOUR
    assert render.annotate(None, CANDIDATES, "4") is None


def test_annotate_reads_a_stored_file(tmp_path):
    path = tmp_path / "shot.png"
    path.write_bytes(png())
    assert render.annotate(path, CANDIDATES, "4").getpixel((20, 55)) == render.PROPOSED_COLOUR


def test_candidate_and_exemplar_rows():
    rows = render.candidate_rows(CANDIDATES, "7")
    assert rows[0] == ["", "4", 0.912, 1.0, 0.5, 'button text="No"']
    assert rows[1][0] == "▶" and rows[1][1] == "7"
    assert len(rows[0]) == len(render.CANDIDATE_HEADERS)
    ex = render.exemplar_rows([{"output": "CLICK [3]", "task": "click-button", "query": "Click No\ndone: nothing"}])
    assert ex == [["CLICK [3]", "click-button", "Click No · done: nothing"]]


def _proposal(confidence=0.8, policy=0.64, critic=1.0):
    no = Element("4", "button", text="No", interactive=True, box=(20, 40, 60, 30))
    name = Element("5", "input", input_type="text", editable=True, box=(20, 80, 100, 20))
    pick = Element("6", "select", options=("red", "blue"), box=(20, 110, 80, 20))
    observation = Observation("http://x/", "t", (no, name, pick), screenshot=png())
    candidates = tuple(Candidate(e, 0.5 - i / 10, 0.1, 0.2) for i, e in enumerate((no, name, pick)))
    exemplar = Exemplar("Click No\ndone: nothing", "ctx", "CLICK [2]", task="click-button")
    decision = Decision(
        Action("CLICK", "4"), confidence, policy_confidence=policy, critic=critic, exemplars=(exemplar,)
    )
    return Proposal('Click on the "No" button.', observation, candidates, (), decision, "click-button", 0)


def test_proposal_view_and_markdown():
    view = render.proposal_view(_proposal())
    assert view["action"] == "CLICK [4]" and view["idx"] == 0 and view["task"] == "click-button"
    assert [c["id"] for c in view["candidates"]] == ["4", "5", "6"]
    assert view["candidates"][0]["box"] == [20.0, 40.0, 60.0, 30.0]
    assert view["exemplars"] == [{"output": "CLICK [2]", "task": "click-button", "query": "Click No\ndone: nothing"}]
    text = render.proposal_markdown(view)
    assert (
        text.startswith('**Task** Click on the "No" button.')
        and "Step 1: `CLICK [4]`" in text
        and 'on [4] button text="No"' in text
    )
    assert "confidence 80.0%" in text and "policy 64.0%" in text and "critic 100.0% (agrees)" in text
    doubt = render.proposal_markdown({**view, "critic": 0.2, "auto": True})
    assert "critic 20.0% (doubts it)" in doubt and "auto-approved" in doubt


def test_a_correction_is_checked_against_the_page():
    proposal = _proposal()
    assert correction(proposal, "[5] input", "TYPE", "Ann") == Action("TYPE", "5", "Ann")
    assert correction(proposal, "6", "SELECT", "blue") == Action("SELECT", "6", "blue")
    assert correction(proposal, "4", "CLICK", "ignored") == Action("CLICK", "4")
    with pytest.raises(ActionError, match="no element"):
        correction(proposal, "99", "CLICK", None)
    with pytest.raises(ActionError, match="TYPE cannot act on button"):
        correction(proposal, "4", "TYPE", "x")
    with pytest.raises(ActionError, match="not an option"):
        correction(proposal, "6", "SELECT", "green")
    with pytest.raises(ActionError, match="needs the text"):
        correction(proposal, "5", "TYPE", "")
    assert correction(proposal, "", "BACK", "ignored") == Action("BACK")
    assert correction(proposal, "", "STOP", "42") == Action("STOP", None, "42")
    assert correction(proposal, "", "SCROLL", "down") == Action("SCROLL", None, "down")
    with pytest.raises(ActionError, match="SCROLL takes one of"):
        correction(proposal, "", "SCROLL", "left")


def test_calibration_and_model_text():
    none = calibrate([(0.9, True)] * 5, alpha=0.1, delta=0.1, min_samples=30)
    text = render.calibration_markdown(none, enabled=True)
    assert "no threshold yet: always asks" in text and "5 judged steps" in text and "agreement ≥ 90%" in text
    cal = calibrate([(1 - i / 100, True) for i in range(30)], alpha=0.1, delta=0.1)
    text = render.calibration_markdown(cal, enabled=False)
    assert "Auto-approve off" in text and "threshold **0.7100**" in text and "coverage **100%** of 30" in text
    assert "with probability ≥ 90%" in text
    assert "No tuner update yet" in render.model_markdown("m@base", [])
    versions = [
        {"version": 0, "method": "base", "status": "active", "created": "2025-01-01T00:00", "metrics": {}},
        {"version": 1, "method": "mezo", "status": "kept", "created": "2025-01-01T00:05", "metrics": {"nll": 1.5}},
        {"version": 2, "method": "mezo", "status": "rolled-back", "created": "2025-01-01T00:09", "metrics": {}},
    ]
    text = render.model_markdown("m@v1", versions)
    assert "`m@v1`" in text and "version 2 (mezo)" in text and "**rolled-back**" in text
    assert "1 kept, 1 rolled back" in text


def test_progress_per_episode_and_plot_rows():
    episodes = [
        {"id": 1, "task": "t", "outcome": "success"},
        {"id": 2, "task": "t", "outcome": "failure"},
        {"id": 3, "task": "t", "outcome": "running"},  # not finished: not plotted
    ]
    feedback = [
        {"episode_id": 1, "kind": "correct", "source": "person"},
        {"episode_id": 1, "kind": "confirm", "source": "person"},
        {"episode_id": 2, "kind": "confirm", "source": "auto"},
        {"episode_id": 2, "kind": "reject", "source": "person"},
        {"episode_id": 2, "kind": "confirm", "source": "auto"},
        {"episode_id": 2, "kind": "confirm", "source": "reward"},  # after the fact: not a verdict on a proposal
    ]
    progress = render.episode_progress(episodes, feedback)
    assert [(p["episode"], p["interventions"], p["auto"], p["verdicts"]) for p in progress] == [
        (1, 1, 0, 2),
        (2, 1, 2, 3),
    ]
    assert progress[1]["coverage"] == pytest.approx(2 / 3) and [p["success"] for p in progress] == [1.0, 0.0]
    rows = render.plot_rows(progress, ["coverage", "success"], window=2)
    assert rows[1] == {"episode": 2, "metric": "coverage", "value": pytest.approx(1 / 3)}  # mean of 0 and 2/3
    assert rows[3] == {"episode": 2, "metric": "success", "value": 0.5}


def test_history_rows_and_export(tmp_path):
    steps = [
        {"id": 10, "idx": 0, "action": "CLICK [7]", "proposed": "CLICK [4]", "confidence": 0.51234, "critic": 0.3},
        {"id": 11, "idx": 1, "action": "CLICK [8]", "proposed": None, "confidence": 0.9, "critic": None},
    ]
    feedback = [
        {"id": 1, "step_id": None, "kind": "reject", "source": "person"},  # rejected before step 10 ran
        {"id": 2, "step_id": 10, "kind": "correct", "source": "person"},
        {"id": 3, "step_id": 11, "kind": "confirm", "source": "auto"},
    ]
    rows = render.step_rows(steps, feedback)
    assert rows[0] == [0, "CLICK [7]", "CLICK [4]", 0.512, 0.3, "reject (person), correct (person)", ""]
    assert rows[1][5] == "confirm (auto)"
    episodes = [
        {
            "id": 5,
            "run_id": 2,
            "task": "t",
            "seed": 0,
            "instruction": "i",
            "steps": 2,
            "outcome": "success",
            "reward": 1.0,
        }
    ]
    assert render.episode_rows(episodes, {5: feedback})[0][-1].startswith("reject (person)")
    record = render.episode_record(episodes[0], [{**steps[0], "candidates": CANDIDATES}], feedback)
    lines = render.export_jsonl([record, record]).splitlines()
    assert len(lines) == 2 and json.loads(lines[0])["steps"][0]["candidates"][0]["id"] == "4"
    assert render.parse_ids("3, 5-7 9,3") == [3, 5, 6, 7, 9]
    with pytest.raises(ValueError):
        render.parse_ids("3, x")


def test_gallery_reads_screenshots_next_to_the_store(tmp_path):
    (tmp_path / "db-screenshots").mkdir()
    (tmp_path / "db-screenshots" / "000001-000.png").write_bytes(png())
    steps = [
        {
            "idx": 0,
            "action": "CLICK [7]",
            "proposed": "CLICK [4]",
            "candidates": CANDIDATES,
            "screenshot": "db-screenshots/000001-000.png",
        },
        {"idx": 1, "action": "CLICK [7]", "proposed": None, "candidates": [], "screenshot": None},
    ]
    ((image, caption),) = render.gallery_items(steps, tmp_path)
    assert caption == "step 1: CLICK [7] (proposed CLICK [4])"
    assert image.getpixel((20, 55)) == render.PROPOSED_COLOUR and image.getpixel((150, 120)) == render.EXECUTED_COLOUR
