"""The sqlite store: round trip, migrations, WAL, and nothing lost on interruption."""

import sqlite3

import pytest

from webagent.errors import StoreError
from webagent.store import MIGRATIONS, Store


def test_round_trip(store):
    run = store.start_run(command="test", policy="model", model="m", model_version="m@base", seed=3, config={"k": 5})
    ep = store.start_episode(run, task="click-button", seed=3, instruction="Click OK")
    store.record_step(
        ep,
        {
            "idx": 0,
            "action": "CLICK [1]",
            "candidates": [{"id": "1", "score": 0.5}],
            "latency": {"decide": 0.1},
            "confidence": 0.7,
        },
    )
    store.record_step(ep, {"idx": 1, "action": 'TYPE [2] "x"', "error": "TYPE [2] failed: nope"})
    store.finish_episode(ep, reward=1.0, done=True, outcome="success")
    episode = store.episode(ep)
    assert episode["steps"] == 2 and episode["reward"] == 1.0 and episode["outcome"] == "success"
    steps = store.steps(ep)
    assert [s["action"] for s in steps] == ["CLICK [1]", 'TYPE [2] "x"']
    assert steps[0]["candidates"] == [{"id": "1", "score": 0.5}] and steps[0]["latency"] == {"decide": 0.1}
    raw = store.db.execute("SELECT candidates FROM steps WHERE id = ?", [steps[0]["id"]]).fetchone()[0]
    assert raw == '[{"id": "1", "score": 0.5}]'  # stored as JSON, decoded on the way out
    assert [s["action"] for s in store.last_steps(1)] == ['TYPE [2] "x"']
    assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_steps_survive_an_unfinished_episode(tmp_path):
    path = tmp_path / "s.db"
    first = Store(path)
    run = first.start_run(command="t", policy="p", model="m", model_version="v", seed=0, config={})
    ep = first.start_episode(run, task="t", seed=0, instruction="i")
    first.record_step(ep, {"idx": 0, "action": "CLICK [1]"})
    # the process "dies" here: no finish_episode, no close
    again = Store(path)
    assert [s["action"] for s in again.steps(ep)] == ["CLICK [1]"]
    assert again.episode(ep)["outcome"] == "running"


def test_reopening_does_not_migrate_twice(tmp_path):
    Store(tmp_path / "s.db").close()
    reopened = Store(tmp_path / "s.db")
    assert reopened.schema_version == len(MIGRATIONS)


def test_newer_schema_and_garbage_files_are_clear_errors(tmp_path):
    newer = tmp_path / "newer.db"
    conn = sqlite3.connect(newer)
    conn.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 5}")
    conn.close()
    with pytest.raises(StoreError, match="schema version"):
        Store(newer)
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match="cannot open"):
        Store(garbage)


def test_an_old_store_is_migrated_forward(tmp_path):
    import sqlite_utils

    path = tmp_path / "old.db"
    old = sqlite_utils.Database(path)
    MIGRATIONS[0](old)
    old.execute("PRAGMA user_version = 1")
    old.conn.close()
    store = Store(path)
    assert store.schema_version == len(MIGRATIONS) >= 2
    assert "error" in store.db["episodes"].columns_dict


def test_several_processes_can_open_one_new_store_at_once(tmp_path):
    """Migrations run under the write lock: exactly one process migrates, none fails."""
    import subprocess
    import sys

    db = tmp_path / "race.db"
    code = f"from webagent.store import Store; s = Store({str(db)!r}); print(s.schema_version)"
    procs = [
        subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(6)
    ]
    results = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), [err.decode()[-500:] for _, err in results]
    assert {out.decode().strip() for out, _ in results} == {str(len(MIGRATIONS))}
    assert Store(db).schema_version == len(MIGRATIONS)


def test_one_store_shared_by_threads_loses_no_write(store):
    import threading

    def write(source):
        for _ in range(100):
            store.add_feedback(episode_id=None, step_id=None, kind="confirm", proposed="x", action="x", source=source)

    threads = [threading.Thread(target=write, args=(name,)) for name in ("person", "oracle")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(store.feedback()) == 200 and store.last_feedback_id() == 200


def test_history_and_calibration_are_read_by_the_store(store):
    run = store.start_run(command="t", policy="model", model="m", model_version="m@base", seed=0, config={})
    episode = store.start_episode(run, task="click-button", seed=0, instruction="Click OK")
    for kind, confidence, source in [("confirm", 0.9, "person"), ("correct", 0.4, "oracle"), ("confirm", 0.99, "auto")]:
        store.add_feedback(
            episode_id=episode, step_id=None, kind=kind, proposed="a", action="b", source=source, confidence=confidence
        )
    assert store.calibration_pairs(("person", "oracle")) == [(0.9, True), (0.4, False)]
    assert store.latest_episode_id(run) == episode and store.interventions_by_episode() == {episode: 1}
    history = store.history(limit=10)
    assert [r["id"] for r in history["runs"]] == [run] and len(history["feedback"]) == 3


def test_the_typed_rows_name_every_column_of_their_table(store):
    """`webagent/store/rows.py` stays the schema's: a migration that adds a column adds it there."""
    from webagent.store import rows

    tables = {
        "runs": rows.RunRow,
        "episodes": rows.EpisodeRow,
        "steps": rows.StepRow,
        "feedback": rows.FeedbackRow,
        "model_versions": rows.ModelVersionRow,
        "trials": rows.TrialRow,
        "profiles": rows.ProfileRow,
    }
    for table, row in tables.items():
        assert set(row.__annotations__) == set(store.db[table].columns_dict), table
