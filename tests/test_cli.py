"""The command line, end to end (ranker policy: fast, no model load)."""

import json

import pytest
from typer.testing import CliRunner

from webagent.cli import app
from webagent.store import Store

pytestmark = pytest.mark.browser  # the commands start Chromium

runner = CliRunner()


def test_miniwob_runs_records_and_writes_json(tmp_path):
    db, out = tmp_path / "w.db", tmp_path / "out.json"
    result = runner.invoke(
        app,
        [
            "miniwob",
            "--task",
            "click-button",
            "--episodes",
            "2",
            "--policy",
            "ranker",
            "--db",
            str(db),
            "--json",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "click-button seed 0" in result.output and "click-button seed 1" in result.output
    data = json.loads(out.read_text())
    assert data["tasks"]["click-button"]["episodes"] == 2
    assert len(data["tasks"]["click-button"]["episodes_detail"]) == 2
    store = Store(db)
    episodes = list(store.db["episodes"].rows)
    assert [e["seed"] for e in episodes] == [0, 1] and all(e["steps"] >= 1 for e in episodes)

    logs = runner.invoke(app, ["logs", "--last", "1", "--db", str(db)])
    assert logs.exit_code == 0 and "click-button" in logs.output and "CLICK [" in logs.output


def test_tasks_file_errors_name_the_line(tmp_path):
    bad = tmp_path / "tasks.txt"
    bad.write_text("# comment\nclick-button\nno-such-task\n")
    result = runner.invoke(
        app, ["miniwob", "--tasks-file", str(bad), "--policy", "ranker", "--db", str(tmp_path / "w.db")]
    )
    assert result.exit_code == 2
    assert "tasks.txt:3" in result.output and "no-such-task" in result.output


def test_run_on_any_site_with_until_text(tmp_path, fixture_server):
    db = tmp_path / "w.db"
    result = runner.invoke(
        app,
        [
            "run",
            "--url",
            f"{fixture_server}/form.html",
            "--task",
            'Enter "Kasie" into the name field and submit',
            "--until-text",
            "Thanks, Kasie",
            "--policy",
            "ranker",
            "--db",
            str(db),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "success" in result.output
    assert Store(db).db["episodes"].count == 1


def test_unreachable_url_is_a_clear_error_and_nothing_crashes(tmp_path):
    result = runner.invoke(
        app,
        [
            "run",
            "--url",
            "http://127.0.0.1:9/",
            "--task",
            "anything",
            "--policy",
            "ranker",
            "--db",
            str(tmp_path / "w.db"),
        ],
    )
    assert result.exit_code == 3  # a task that cannot start is not a success
    assert "could not load http://127.0.0.1:9/" in result.output


def test_malformed_task_file(tmp_path):
    bad = tmp_path / "tasks.jsonl"
    bad.write_text('{"url": "http://127.0.0.1/"}\n')
    result = runner.invoke(app, ["run", "--task-file", str(bad), "--policy", "ranker", "--db", str(tmp_path / "w.db")])
    assert result.exit_code == 2 and "tasks.jsonl:1" in result.output


def test_run_with_trace_and_screenshots_keeps_a_trace_per_episode_and_a_png_per_step(tmp_path, fixture_server):
    import zipfile

    db, traces, shots = tmp_path / "w.db", tmp_path / "traces", tmp_path / "shots"
    tasks = tmp_path / "tasks.jsonl"
    task = {"url": f"{fixture_server}/form.html", "instruction": 'Enter "Kasie" into the name field and submit'}
    tasks.write_text(
        json.dumps({**task, "until_text": "Thanks, Kasie"}) + "\n" + json.dumps({**task, "until_text": "Thanks"}) + "\n"
    )
    args = ["run", "--task-file", str(tasks), "--policy", "ranker", "--db", str(db)]
    result = runner.invoke(app, [*args, "--trace", str(traces), "--screenshots", str(shots)])
    assert result.exit_code == 0, result.output
    store = Store(db)
    episodes = [e["id"] for e in store.db["episodes"].rows]
    assert len(episodes) == 2
    assert sorted(p.name for p in traces.iterdir()) == [f"episode-{e:06d}.zip" for e in episodes]
    for episode in episodes:
        trace = traces / f"episode-{episode:06d}.zip"
        with zipfile.ZipFile(trace) as z:
            names = z.namelist()
            assert any(n.endswith(".trace") for n in names) and any(n.endswith(".network") for n in names)
            events = z.read(next(n for n in names if n.endswith(".trace"))).decode()
            assert "form.html" in events and "screencast-frame" in events  # the page, with screenshots
        steps = store.steps(episode)
        pngs = sorted(shots.glob(f"episode-{episode:06d}-step-*.png"))
        assert len(pngs) == len(steps) >= 1
        assert all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in pngs)


def test_miniwob_with_trace_writes_one_trace_per_episode(tmp_path):
    import zipfile

    db, traces = tmp_path / "w.db", tmp_path / "traces"
    args = ["miniwob", "--task", "click-button", "--episodes", "2", "--policy", "ranker", "--db", str(db)]
    result = runner.invoke(app, [*args, "--trace", str(traces)])
    assert result.exit_code in (0, 1), result.output
    episodes = [e["id"] for e in Store(db).db["episodes"].rows]
    assert sorted(p.name for p in traces.iterdir()) == [f"episode-{e:06d}.zip" for e in episodes] and len(episodes) == 2
    for episode in episodes:
        with zipfile.ZipFile(traces / f"episode-{episode:06d}.zip") as z:
            assert "trace.trace" in z.namelist() and z.getinfo("trace.trace").file_size > 0


@pytest.mark.parametrize("until_url", ["nav_target.html", r"/nav_\w+\.html$"])
def test_run_ends_with_success_when_the_url_matches(tmp_path, fixture_server, until_url):
    """--until-url: a substring of the page's URL, or a regular expression found in it."""
    db, out = tmp_path / "w.db", tmp_path / "out.json"
    result = runner.invoke(
        app,
        [
            "run",
            "--url",
            f"{fixture_server}/nav.html",
            "--task",
            "Click the link: Go to the next page",
            "--until-url",
            until_url,
            "--policy",
            "ranker",
            "--max-steps",
            "4",
            "--db",
            str(db),
            "--json",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    row = json.loads(out.read_text())["tasks"][f"{fixture_server}/nav.html"]["episodes_detail"][0]
    assert row["outcome"] == "success" and row["steps"] == 1
    assert row["final_url"] == f"{fixture_server}/nav_target.html"
    assert list(Store(db).db["episodes"].rows)[0]["outcome"] == "success"


def test_until_url_is_a_substring_or_a_regex():
    from webagent.envs.scripted import url_matches

    url = "http://127.0.0.1:8000/search?q=a(b&page=2"
    assert url_matches("?q=a(b", url)  # not a valid expression: a substring
    assert url_matches(r"page=\d+$", url)
    assert url_matches("/search", url)
    assert not url_matches(r"page=\d{2}", url)
    assert not url_matches("/item/", url)
