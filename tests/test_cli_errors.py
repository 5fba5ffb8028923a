"""Honest exits: every bad input is one line and a non-zero exit code, before
anything loads (no store is created, no browser or model started), never a
traceback; a task that cannot start or fails everywhere says so in the exit code
(the codes: webagent.cli's docstring and the README)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from webagent.cli import EXIT_ALL_FAILED, EXIT_CANNOT_START, EXIT_USAGE, app

runner = CliRunner()


def _bad_inputs(tmp_path, *, write: bool = True):
    binary = tmp_path / "tasks.bin"
    if write:
        binary.write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe\x00\x01")
    mw = ["miniwob", "--task", "click-button", "--policy", "ranker"]
    run = ["run", "--url", "http://127.0.0.1:9/", "--task", "x", "--policy", "ranker"]
    return {
        "episodes 0": ([*mw, "--episodes", "0"], "--episodes must be at least 1"),
        "top-k 0": ([*mw, "--top-k", "0"], "top-k must be at least 1"),
        "max-steps -1": ([*mw, "--max-steps", "-1"], "max-steps must be at least 1"),
        "unknown task": (["miniwob", "--task", "click-buton", "--policy", "ranker"], "did you mean click-button"),
        "unknown task, no near name": (["miniwob", "--task", "zzzz", "--policy", "ranker"], "valid tasks: "),
        "unknown supervisor": (["learn", "--task", "click-button", "--supervisor", "nobody"], "unknown supervisor"),
        "eval-at not numbers": (["learn", "--task", "click-button", "--eval-at", "10,x"], "give episode counts"),
        "eval-at past the end": (["learn", "--task", "click-button", "--episodes", "2", "--eval-at", "5"], "between 0"),
        "unknown policy": ([*mw[:3], "--policy", "clever"], "unknown policy 'clever'"),
        "binary tasks file": (["miniwob", "--tasks-file", str(binary), "--policy", "ranker"], "tasks.bin: not a text"),
        "binary task file": (["run", "--task-file", str(binary), "--policy", "ranker"], "tasks.bin: not a text"),
        "unknown model id": ([*mw[:3], "--model", "no-such/model-id"], "never downloads models"),
        "missing model folder": ([*mw[:3], "--model", "/no/such/model"], "does not exist"),
        "file url": (["run", "--url", "file:///etc/passwd", "--task", "x"], "file:// URLs are not allowed"),
        "other scheme": (["run", "--url", "chrome://version", "--task", "x"], "only http(s) URLs are allowed"),
        "domain not allowed": ([*run, "--allow-domain", "example.com"], "127.0.0.1 is not an allowed domain"),
        "bad domain": ([*run, "--allow-domain", "a b"], "is not a domain"),
        "secret without value": ([*run, "--secret", "NO_SUCH_VAR_FOR_WEBAGENT"], "is not set"),
        "binary secrets file": ([*run, "--secrets-file", str(binary)], "tasks.bin: not a text file"),
        "trace with a secret": (
            [*run, "--secret", "PW=hunter2", "--trace", str(tmp_path / "store" / "t")],
            "--trace records the page as it is, typed values included",
        ),
        "screenshots with a secret": (
            [*run, "--secret", "PW=hunter2", "--screenshots", str(tmp_path / "store" / "s")],
            "--screenshots records the page",
        ),
        "logs of a missing store": (["logs", "--db", str(tmp_path / "missing" / "x.db")], "no store at"),
        "export of a missing store": (
            ["export", "--out", str(tmp_path / "o"), "--db", str(tmp_path / "missing" / "x.db")],
            "no store at",
        ),
    }


NAMES = list(_bad_inputs(Path("/nonexistent"), write=False))


@pytest.mark.parametrize("name", NAMES)
def test_a_bad_input_is_one_line_and_exit_2_before_anything_loads(tmp_path, name):
    args, says = _bad_inputs(tmp_path)[name]
    db = tmp_path / "store" / "w.db"
    if "--db" not in args:
        args = [*args, "--db", str(db)]
    result = runner.invoke(app, args)
    assert result.exit_code == EXIT_USAGE, result.output
    assert isinstance(result.exception, SystemExit)  # no traceback
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and says in lines[0], result.output
    assert not (tmp_path / "store").exists() and not (tmp_path / "missing").exists()  # nothing created


@pytest.mark.browser
@pytest.mark.parametrize(
    "page, says",
    [
        ("http://127.0.0.1:{closed}/", "ERR_CONNECTION_REFUSED"),
        ("{base}/no-such-page.html", "HTTP 404"),
    ],
)
def test_a_start_page_that_cannot_load_exits_3(tmp_path, fixture_server, page, says):
    import socket

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    url = page.format(base=fixture_server, closed=closed)
    result = runner.invoke(app, ["run", "--url", url, "--task", "x", "--policy", "ranker", "--db", str(tmp_path / "w")])
    assert result.exit_code == EXIT_CANNOT_START, result.output
    assert says in result.output


@pytest.mark.browser
def test_every_episode_failing_exits_1_and_a_run_without_a_done_check_exits_0(tmp_path, fixture_server):
    args = ["run", "--url", f"{fixture_server}/form.html", "--task", 'Enter "Kasie"', "--policy", "ranker"]
    args += ["--max-steps", "2", "--db", str(tmp_path / "w.db")]
    failed = runner.invoke(app, [*args, "--until-text", "this never appears"])
    assert failed.exit_code == EXIT_ALL_FAILED, failed.output
    assert "every episode failed" in failed.output
    unknown = runner.invoke(app, args)  # nothing can tell success: the run did its job
    assert unknown.exit_code == 0, unknown.output


def test_learning_curves_are_measured_at_the_episode_counts_asked_for():
    from webagent.learning.driver import CurveSettings

    assert CurveSettings(episodes=50, eval_every=10).points == [0, 10, 20, 30, 40, 50]
    assert CurveSettings(episodes=50, eval_at=(50, 10, 25)).points == [0, 10, 25, 50]
