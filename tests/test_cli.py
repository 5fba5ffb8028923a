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
