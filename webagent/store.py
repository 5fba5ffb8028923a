"""The sqlite store: runs, episodes and steps, written as they happen.

Every step is committed the moment it is recorded, so an interrupted run keeps
all its finished steps. WAL mode lets a reader (the UI, `webagent logs`) look
while a run writes. The schema evolves through numbered migrations.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Callable
from dataclasses import asdict, is_dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from webagent.errors import StoreError


def default_db_path() -> Path:
    env = os.environ.get("WEBAGENT_DB")
    if env:
        return Path(env)
    from platformdirs import user_data_dir

    return Path(user_data_dir("webagent")) / "webagent.db"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _json(value: Any) -> str:
    if is_dataclass(value) and not isinstance(value, type):
        value = asdict(value)
    return json.dumps(value, default=str, ensure_ascii=False)


def _v1(db) -> None:
    db["runs"].create(
        {
            "id": int,
            "created": str,
            "command": str,
            "policy": str,
            "model": str,
            "model_version": str,
            "seed": int,
            "config": str,
        },
        pk="id",
    )
    db["episodes"].create(
        {
            "id": int,
            "run_id": int,
            "task": str,
            "seed": int,
            "instruction": str,
            "started": str,
            "finished": str,
            "steps": int,
            "reward": float,
            "done": int,
            "outcome": str,
        },
        pk="id",
        foreign_keys=[("run_id", "runs", "id")],
    )
    db["steps"].create(
        {
            "id": int,
            "episode_id": int,
            "idx": int,
            "created": str,
            "url": str,
            "title": str,
            "observation": str,
            "candidates": str,
            "prompt": str,
            "raw_output": str,
            "action": str,
            "confidence": float,
            "error": str,
            "latency": str,
            "model_version": str,
            "seed": int,
        },
        pk="id",
        foreign_keys=[("episode_id", "episodes", "id")],
    )
    db["episodes"].create_index(["run_id"])
    db["steps"].create_index(["episode_id", "idx"])


def _v2(db) -> None:
    db["episodes"].add_column("error", str)


MIGRATIONS: list[Callable] = [_v1, _v2]


class Store:
    """A handle on one sqlite file. Pass it explicitly; there is no global store."""

    def __init__(self, path: str | Path | None = None) -> None:
        import sqlite_utils

        self.path = Path(path) if path else default_db_path()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            self.db = sqlite_utils.Database(conn)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA foreign_keys=ON")
            self._migrate()
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"cannot open the store at {self.path}: {exc}") from exc

    def _migrate(self) -> None:
        version = self.db.execute("PRAGMA user_version").fetchone()[0]
        if version > len(MIGRATIONS):
            raise StoreError(f"{self.path} has schema version {version}; this webagent knows {len(MIGRATIONS)}")
        for number, migration in enumerate(MIGRATIONS[version:], start=version + 1):
            with self.db.conn:
                migration(self.db)
                self.db.execute(f"PRAGMA user_version = {number}")

    @property
    def schema_version(self) -> int:
        return self.db.execute("PRAGMA user_version").fetchone()[0]

    # -- writing -------------------------------------------------------------
    def start_run(self, *, command: str, policy: str, model: str, model_version: str, seed: int, config: Any) -> int:
        row = {
            "created": _now(),
            "command": command,
            "policy": policy,
            "model": model,
            "model_version": model_version,
            "seed": seed,
            "config": _json(config),
        }
        return self.db["runs"].insert(row).last_pk

    def start_episode(self, run_id: int, *, task: str, seed: int | None, instruction: str) -> int:
        row = {
            "run_id": run_id,
            "task": task,
            "seed": seed,
            "instruction": instruction,
            "started": _now(),
            "steps": 0,
            "done": 0,
            "outcome": "running",
        }
        return self.db["episodes"].insert(row).last_pk

    def record_step(self, episode_id: int, row: dict[str, Any]) -> int:
        encoded = {
            k: (_json(v) if isinstance(v, (dict, list, tuple)) or is_dataclass(v) else v) for k, v in row.items()
        }
        step_id = self.db["steps"].insert({"episode_id": episode_id, "created": _now(), **encoded}).last_pk
        self.db.execute("UPDATE episodes SET steps = steps + 1 WHERE id = ?", [episode_id])
        return step_id

    def finish_episode(
        self, episode_id: int, *, reward: float | None, done: bool, outcome: str, error: str | None = None
    ) -> None:
        self.db["episodes"].update(
            episode_id, {"finished": _now(), "reward": reward, "done": int(done), "outcome": outcome, "error": error}
        )

    # -- reading -------------------------------------------------------------
    def episode(self, episode_id: int) -> dict:
        return self.db["episodes"].get(episode_id)

    def steps(self, episode_id: int) -> list[dict]:
        return list(self.db["steps"].rows_where("episode_id = ?", [episode_id], order_by="idx"))

    def last_steps(self, n: int) -> list[dict]:
        rows = self.db.execute(
            "SELECT s.*, e.task, e.instruction FROM steps s JOIN episodes e ON e.id = s.episode_id "
            "ORDER BY s.id DESC LIMIT ?",
            [n],
        )
        cols = [d[0] for d in rows.description]
        return [dict(zip(cols, r, strict=True)) for r in reversed(rows.fetchall())]

    def close(self) -> None:
        self.db.conn.close()
