"""`webagent learn`, `tune` and `models` end to end: real Chromium, real MiniWoB++
pages, the real default model, a real sqlite file."""

import json

import pytest
from typer.testing import CliRunner

from webagent.cli import app
from webagent.store import Store

pytestmark = [pytest.mark.browser, pytest.mark.model]  # the commands start Chromium and the model

runner = CliRunner()


@pytest.mark.slow
def test_learn_writes_curves_and_keeps_every_lesson(tmp_path):
    db, out = tmp_path / "learn.db", tmp_path / "curve"
    args = ["learn", "--task", "login-user", "--episodes", "2", "--eval-every", "2", "--eval-seeds", "1"]
    result = runner.invoke(app, [*args, "--out", str(out), "--db", str(db)])
    assert result.exit_code == 0, result.output
    data = json.loads(out.with_suffix(".json").read_text())
    curve = data["tasks"]["login-user"]
    assert [p["episodes"] for p in curve["evals"]] == [0, 2]
    assert [t["seed"] for t in curve["train"]] == [0, 1]
    assert out.with_suffix(".png").read_bytes()[:4] == b"\x89PNG"
    store = Store(db)
    feedback = store.feedback()
    # the oracle judged every training step: each proposal is confirmed or corrected
    train_steps = store.db.execute(
        "SELECT COUNT(*) FROM steps s JOIN episodes e ON e.id = s.episode_id WHERE e.seed < 100000"
    ).fetchone()[0]
    assert len(feedback) == train_steps > 0
    assert {r["kind"] for r in feedback} <= {"confirm", "correct"}
    assert sum(t["interventions"] for t in curve["train"]) == sum(r["kind"] == "correct" for r in feedback)
    # confirmed and corrected steps are exemplars now; held-out episodes taught nothing
    assert 0 < store.db["exemplars"].count <= len(feedback)
    assert data["tasks"]["login-user"]["evals"][-1]["memory"] == store.db["exemplars"].count


@pytest.mark.slow
def test_tune_and_models_on_stored_feedback(tmp_path):
    db = tmp_path / "tune.db"
    store = Store(db)
    prompt = '<|im_start|>user\nTask: Click on the OK button.\nElements:\n[3] button text="OK"\n<|im_end|>\n'
    for i in range(6):
        store.add_feedback(
            episode_id=None,
            step_id=None,
            kind="confirm",
            proposed="CLICK [3]",
            action="CLICK [3]",
            source="test",
            prompt=prompt.replace("OK", f"OK{i}") + "<|im_start|>assistant\n",
        )
    result = runner.invoke(app, ["tune", "--method", "mezo", "--steps", "3", "--param-set", "norms", "--db", str(db)])
    assert result.exit_code == 0, result.output
    assert "version 1" in result.output
    listing = runner.invoke(app, ["models", "--db", str(db)])
    assert listing.exit_code == 0 and "mezo" in listing.output and "base" in listing.output
    back = runner.invoke(app, ["models", "--rollback", "0", "--db", str(db)])
    assert back.exit_code == 0, back.output
    versions = {r["version"]: r["status"] for r in Store(db).model_versions()}
    assert versions[0] == "active" and versions[1] in ("kept", "rolled-back")
    missing = runner.invoke(app, ["models", "--rollback", "7", "--db", str(db)])
    assert missing.exit_code == 2 and "no version 7" in missing.output
