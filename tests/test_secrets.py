"""Secrets as placeholders: declared or typed into a password field, a value is
never stored, logged or exported in clear, and still reaches the page.

The grep is literal: every table's every column, `webagent logs` (tables, --prompt
and --json) and a Mind2Web export are searched for the value."""

from __future__ import annotations

import json
import re

import pytest
from typer.testing import CliRunner

from webagent.cli import app
from webagent.errors import DataError
from webagent.secrets import Secrets, parse_secret, read_secrets_file
from webagent.store import Store

runner = CliRunner()


# -- the pure parts ---------------------------------------------------------------


def test_mask_reveal_round_trip_and_short_values_only_where_they_stand_alone():
    secrets = Secrets({"PW": "hunter22", "PIN": "ab"})
    text = 'TYPE [3] "hunter22" xhunter22y ab abc "ab" {PW}'
    masked = secrets.mask(text)
    assert masked == 'TYPE [3] "{PW}" x{PW}y {PIN} abc "{PIN}" {PW}'
    assert secrets.mask(masked) == masked  # masking twice changes nothing
    assert secrets.reveal('"{PW}" {PIN} {OTHER}') == '"hunter22" ab {OTHER}'
    assert secrets.mask_deep({"a": ["hunter22", 3, b"hunter22"]}) == {"a": ["{PW}", 3, b"hunter22"]}
    assert "hunter22" not in repr(secrets)


def test_an_observation_is_masked_in_its_link_targets_and_landmarks_too():
    from webagent.browser.observation import Element, Observation

    secrets = Secrets({"TOKEN": "tok3nvalue"})
    link = Element("1", "a", role="link", text="Reset", target="/reset?t=tok3nvalue", landmark='form "tok3nvalue"')
    masked = secrets.mask_observation(Observation(url="http://x/", title="t", elements=(link,)))
    assert "tok3nvalue" not in masked.elements[0].line()
    assert masked.elements[0].target == "/reset?t={TOKEN}" and masked.elements[0].landmark == 'form "{TOKEN}"'


def test_a_value_typed_into_a_password_field_becomes_a_secret():
    secrets = Secrets()
    assert secrets.declare_typed("s3cret!") and not secrets.declare_typed("s3cret!")
    assert not secrets.declare_typed("{PASSWORD}")  # a placeholder is not a value
    assert secrets.declare_typed("other1") and secrets.names == ["PASSWORD", "PASSWORD_2"]
    assert secrets.mask("s3cret! other1") == "{PASSWORD} {PASSWORD_2}"


def test_a_page_s_or_a_typed_secret_lasts_for_its_episode_only():
    """A wrong guess typed into a password field ("text") must not mask every later
    task's instruction; a person's secret of the same name stays theirs."""
    secrets = Secrets([("PASSWORD", "hunter22")])
    secrets.declare_typed("text")
    secrets.declare("PASSWORD", "page-pass", episode=True)
    assert secrets.mask("Enter text, hunter22 or page-pass") == "Enter {PASSWORD_2}, {PASSWORD} or {PASSWORD_3}"
    assert secrets.reveal("{PASSWORD}") == "hunter22"
    secrets.end_episode()
    assert secrets.mask("Enter text, hunter22 or page-pass") == "Enter text, {PASSWORD} or page-pass"
    assert secrets.names == ["PASSWORD"] and secrets.reveal("{PASSWORD}") == "hunter22"
    secrets.declare_typed("text")  # the next episode's guess is named as the first was
    assert secrets.mask("text") == "{PASSWORD_2}"
    assert secrets.declare("PAGE", "hunter22", episode=True) == "{PASSWORD}"  # the page knows the person's
    secrets.end_episode()
    assert secrets.mask("hunter22 text") == "{PASSWORD} text"  # still masked after the episode


def test_secret_specs_from_the_command_line_environment_and_a_file(tmp_path):
    assert parse_secret("PW=a=b") == ("PW", "a=b")
    assert parse_secret("PW", environ={"PW": "from-env"}) == ("PW", "from-env")
    for bad, says in [("PW", "$PW is not set"), ("1X=v", "a name is"), ("PW=", "empty")]:
        with pytest.raises(DataError, match=re.escape(says)):
            parse_secret(bad, environ={})
    good = tmp_path / "s.env"
    good.write_text("# mine\nexport PW='hunter22'\n\nPIN=12\n")
    assert read_secrets_file(good) == [("PW", "hunter22"), ("PIN", "12")]
    bad = tmp_path / "bad.env"
    bad.write_text("PW=x\nnonsense\n")
    with pytest.raises(DataError, match="bad.env:2"):
        read_secrets_file(bad)
    binary = tmp_path / "bin.env"
    binary.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(DataError, match="bin.env: not a text file"):
        read_secrets_file(binary)


def test_run_records_keep_secret_names_only():
    from webagent.settings import AgentSettings

    settings = AgentSettings(secrets=(("PW", "hunter22"),))
    assert settings.record()["secrets"] == ["PW"] and "hunter22" not in repr(settings)
    assert "hunter22" not in json.dumps(settings.record())


# -- the grep ---------------------------------------------------------------------


def _stored_text(db) -> str:
    """Every value of every table of the store, as text (blobs that are not text,
    the embeddings, are numbers, not words)."""
    store = Store(db, create=False)
    tables = [r[0] for r in store.db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    parts = []
    for table in tables:
        for row in store.db.execute(f"SELECT * FROM [{table}]").fetchall():
            parts += [_text(v) for v in row]
    store.close()
    return "\n".join(parts)


def _text(value) -> str:
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            return ""
    return str(value)


def _everything_shown(db, tmp_path) -> str:
    """The store, `webagent logs` in every form, and a Mind2Web export of every episode."""
    shown = [_stored_text(db)]
    for extra in ([], ["--prompt"], ["--json"]):
        logs = runner.invoke(app, ["logs", "--last", "200", "--db", str(db), *extra])
        assert logs.exit_code == 0, logs.output
        shown.append(logs.output)
    out = tmp_path / "m2w"
    export = runner.invoke(app, ["export", "--out", str(out), "--outcome", "any", "--db", str(db)])
    assert export.exit_code == 0, export.output
    shown += [p.read_text() for p in out.rglob("*.json")]
    assert len(shown) > 4  # the export wrote something
    return "\n".join(shown)


def _leaks(value: str, text: str) -> list[str]:
    """Where `value` stands in `text` on its own (short values hide inside words)."""
    pattern = re.escape(value) if len(value) >= 6 else rf"(?<![A-Za-z0-9]){re.escape(value)}(?![A-Za-z0-9])"
    return [text[max(0, m.start() - 60) : m.end() + 20] for m in re.finditer(pattern, text)]


@pytest.mark.browser
@pytest.mark.parametrize(
    "task",
    [
        'Enter "bob" and the password "{PW}", then log in',  # into the password field
        'Type "{PW}" and log in',  # the ranker types it into the username field, whose value the page echoes
    ],
)
def test_a_declared_secret_reaches_the_page_and_nothing_else(tmp_path, fixture_server, task):
    db = tmp_path / "w.db"
    args = ["run", "--url", f"{fixture_server}/login.html", "--task", task, "--until-text", "Welcome"]
    result = runner.invoke(app, [*args, "--policy", "ranker", "--secret", "PW=hunter22", "--db", str(db)])
    assert result.exit_code == 0, result.output
    assert "success" in result.output  # the page got the real value: it checks it
    assert "hunter22" not in result.output
    shown = _everything_shown(db, tmp_path)
    assert "{PW}" in shown and _leaks("hunter22", shown) == []


@pytest.mark.browser
def test_a_password_typed_without_declaring_it_is_masked_in_what_came_before(tmp_path, fixture_server):
    db = tmp_path / "w.db"
    task = 'Enter the password "hunter22" and log in'
    args = ["run", "--url", f"{fixture_server}/login.html", "--task", task]
    result = runner.invoke(app, [*args, "--until-text", "Welcome", "--policy", "ranker", "--db", str(db)])
    assert result.exit_code == 0, result.output
    assert "success" in result.output
    shown = _everything_shown(db, tmp_path)
    assert "{PASSWORD}" in shown and _leaks("hunter22", shown) == []


def _passwords(browser, miniwob_server, task: str, seeds) -> set[str]:
    from webagent.envs.miniwob import MiniWoBEnv
    from webagent.secrets import instruction_secrets

    env = MiniWoBEnv(browser, miniwob_server, task)
    return {instruction_secrets(env.reset(seed))["PASSWORD"] for seed in seeds}


@pytest.mark.slow
@pytest.mark.model
def test_supervised_learning_on_password_tasks_never_stores_a_password(tmp_path, browser, miniwob_server):
    """The issue's probe: a supervised `learn` run on enter-password and login-user
    with the default model (training, exemplars retrieved into later prompts, an
    evaluation), then a grep of the store, the logs and an export."""
    from webagent.learning.driver import EVAL_SEED_BASE

    db, out = tmp_path / "learn.db", tmp_path / "curve"
    tasks = ["--task", "enter-password", "--task", "login-user"]
    args = [*tasks, "--episodes", "2", "--eval-every", "2", "--eval-seeds", "1", "--max-steps", "4"]
    result = runner.invoke(app, ["learn", *args, "--supervisor", "oracle", "--out", str(out), "--db", str(db)])
    assert result.exit_code == 0, result.output
    store = Store(db, create=False)
    assert store.db["exemplars"].count > 0 and len(store.feedback()) > 0
    assert any("{PASSWORD}" in (r["output"] or "") for r in store.db["exemplars"].rows)
    store.close()
    shown = _everything_shown(db, tmp_path) + result.output + out.with_suffix(".json").read_text()
    seeds = [0, 1, EVAL_SEED_BASE]
    passwords = _passwords(browser, miniwob_server, "enter-password", seeds)
    passwords |= _passwords(browser, miniwob_server, "login-user", seeds)
    assert len(passwords) >= 4
    assert {p: _leaks(p, shown) for p in passwords} == {p: [] for p in passwords}


def test_an_instruction_that_gives_a_password_declares_it():
    from webagent.secrets import instruction_passwords, instruction_secrets

    assert instruction_secrets('Log in with username "ana" and password "ana-1436".') == {"PASSWORD": "ana-1436"}
    assert instruction_secrets('Enter the Password is "x9"') == {"PASSWORD": "x9"}
    assert instruction_secrets('Log in with password "{PASSWORD}"') == {}  # masked already
    assert instruction_passwords('Log in with password "{PASSWORD}"') == ["{PASSWORD}"]
    assert instruction_secrets('Search for "password"') == {}
