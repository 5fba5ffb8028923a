"""The sqlite store: runs, episodes and steps, written as they happen.

Every step is committed the moment it is recorded, so an interrupted run keeps
all its finished steps. WAL mode lets a reader (the UI, `webagent logs`) look
while a run writes. The schema evolves through numbered migrations.
"""

from __future__ import annotations

import functools
import json
import os
import sqlite3
import threading
from dataclasses import asdict, is_dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from webagent.errors import StoreError
from webagent.secrets import Secrets
from webagent.store.rows import (
    EpisodeRow,
    FeedbackRow,
    ModelVersionRow,
    ProfileRow,
    RunRow,
    StepRow,
    TrialRow,
)
from webagent.store.schema import JSON_COLUMNS, MIGRATIONS

__all__ = ["FEEDBACK_KINDS", "MIGRATIONS", "Store", "default_db_path"]


def default_db_path() -> Path:
    env = os.environ.get("WEBAGENT_DB")
    if env:
        return Path(env)
    from platformdirs import user_data_dir

    return Path(user_data_dir("webagent")) / "webagent.db"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _decoded(table: str, row: dict | None) -> dict | None:
    """A row with its JSON columns (`schema.JSON_COLUMNS`) decoded; an unreadable value becomes None."""
    if row is None:
        return None
    out = dict(row)
    for column in JSON_COLUMNS.get(table, ()):
        value = out.get(column)
        if isinstance(value, str):
            try:
                out[column] = json.loads(value)
            except json.JSONDecodeError:
                out[column] = None
    return out


def _json(value: Any) -> str:
    if is_dataclass(value) and not isinstance(value, type):
        value = asdict(value)
    return json.dumps(value, default=str, ensure_ascii=False)


FEEDBACK_KINDS = ("confirm", "reject", "correct")


class Store:
    """A handle on one sqlite file. Pass it explicitly; there is no global store.

    This class is the only code that reads or writes the tables (schema and
    migrations: `webagent/store/schema.py`; the rows it returns: `rows.py`).

    Connections and threads: one Store is one connection, in autocommit mode, and
    may be shared by the threads of one process (the panel's worker and its UI
    handlers): every method is short and runs under the store's lock, one at a
    time (`_serialised`). Work that writes for long from its own thread (the
    online tuner) opens its own Store on the same path; WAL lets readers go on
    while it writes, and a busy timeout makes writers wait instead of failing."""

    def __init__(self, path: str | Path | None = None, *, secrets: Secrets | None = None, create: bool = True) -> None:
        import sqlite_utils

        self._lock = threading.RLock()  # one method at a time on the shared connection (see _serialised)
        self.path = Path(path) if path else default_db_path()
        # Every string written is masked with the process's secrets (webagent.secrets).
        self.secrets = secrets if secrets is not None else Secrets()
        if not create and not self.path.exists():
            raise StoreError(f"no store at {self.path}")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=30)
            self.db = sqlite_utils.Database(conn)
            self.db.execute("PRAGMA busy_timeout = 30000")
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA foreign_keys=ON")
            self._migrate()
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"cannot open the store at {self.path}: {exc}") from exc

    def _migrate(self) -> None:
        """Bring the schema up to date. Several processes may open one new store at
        once: the write lock is taken first (BEGIN IMMEDIATE) and the version read
        under it, so exactly one of them migrates and the others see its result."""
        if self.schema_version == len(MIGRATIONS):
            return
        self.db.execute("BEGIN IMMEDIATE")
        try:
            version = self.schema_version
            if version > len(MIGRATIONS):
                raise StoreError(f"{self.path} has schema version {version}; this webagent knows {len(MIGRATIONS)}")
            for number, migration in enumerate(MIGRATIONS[version:], start=version + 1):
                migration(self.db)
                self.db.execute(f"PRAGMA user_version = {number}")
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise

    def _clean(self, value: Any) -> Any:
        """`value` (a row, a string) with every declared secret masked: nothing reaches a table in clear."""
        return self.secrets.mask_deep(value)

    def redact_episode(self, episode_id: int) -> int:
        """Mask the current secrets in what one episode already wrote (its row, steps,
        feedback and the exemplars of its steps): a value becomes secret only when it is
        typed into a password field, after earlier rows may have shown it. Rows changed."""
        if not self.secrets:
            return 0
        step_ids = [r[0] for r in self.db.execute("SELECT id FROM steps WHERE episode_id = ?", [episode_id])]
        targets = [("episodes", "id = ?", [episode_id]), ("steps", "episode_id = ?", [episode_id])]
        targets.append(("feedback", "episode_id = ?", [episode_id]))
        if step_ids:
            targets.append(("exemplars", f"source_step_id IN ({','.join('?' * len(step_ids))})", step_ids))
        changed = 0
        with self.db.conn:
            for table, where, args in targets:
                for row in self.db.execute_returning_dicts(f"SELECT * FROM {table} WHERE {where}", args):
                    masked = {k: self.secrets.mask(v) for k, v in row.items() if isinstance(v, str)}
                    update = {k: v for k, v in masked.items() if v != row[k]}
                    if update:
                        self.db[table].update(row["id"], update)
                        changed += 1
        return changed

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
            "config": _json(self.secrets.mask_deep(config)),
        }
        return self.db["runs"].insert(self._clean(row)).last_pk

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
        return self.db["episodes"].insert(self._clean(row)).last_pk

    def record_step(self, episode_id: int, row: dict[str, Any]) -> int:
        if isinstance(row.get("screenshot"), bytes):
            row = {**row, "screenshot": self._save_screenshot(episode_id, row.get("idx", 0), row["screenshot"])}
        encoded = {
            k: (_json(v) if isinstance(v, (dict, list, tuple)) or is_dataclass(v) else v)
            for k, v in self._clean(row).items()
        }
        step_id = self.db["steps"].insert({"episode_id": episode_id, "created": _now(), **encoded}).last_pk
        self.db.execute("UPDATE episodes SET steps = steps + 1 WHERE id = ?", [episode_id])
        return step_id

    def finish_episode(
        self,
        episode_id: int,
        *,
        reward: float | None,
        done: bool,
        outcome: str,
        error: str | None = None,
        answer: str | None = None,
        final_url: str | None = None,
    ) -> None:
        row = {"finished": _now(), "reward": reward, "done": int(done), "outcome": outcome, "error": self._clean(error)}
        extra = {"answer": self._clean(answer), "final_url": self._clean(final_url)}
        self.db["episodes"].update(episode_id, {**row, **extra})

    def _save_screenshot(self, episode_id: int, idx: int, png: bytes) -> str:
        """PNG files next to the database (`<db stem>-screenshots/`), so the history view can show them."""
        relative = Path(f"{self.path.stem}-screenshots") / f"{episode_id:06d}-{idx:03d}.png"
        target = self.path.parent / relative
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(png)
        except OSError as exc:
            raise StoreError(f"cannot save a screenshot to {target}: {exc.strerror}") from exc
        return str(relative)

    def screenshot_path(self, step: dict) -> Path | None:
        """The screenshot file of a stored step, when there is one."""
        return self.path.parent / step["screenshot"] if step.get("screenshot") else None

    def add_feedback(
        self,
        *,
        episode_id: int | None,
        step_id: int | None,
        kind: str,
        proposed: str,
        action: str,
        source: str,
        prompt: str = "",
        confidence: float | None = None,
        audited: bool = False,
    ) -> int:
        if kind not in FEEDBACK_KINDS:
            raise StoreError(f"unknown feedback kind {kind!r}; expected one of {', '.join(FEEDBACK_KINDS)}")
        row = {
            "created": _now(),
            "episode_id": episode_id,
            "step_id": step_id,
            "kind": kind,
            "proposed": proposed,
            "action": action,
            "source": source,
            "prompt": prompt,
            "confidence": confidence,
            "audited": int(audited),
        }
        return self.db["feedback"].insert(self._clean(row)).last_pk

    def feedback(self, *, episode_id: int | None = None, since_id: int = 0) -> list[FeedbackRow]:
        where, args = "id > ?", [since_id]
        if episode_id is not None:
            where, args = where + " AND episode_id = ?", [since_id, episode_id]
        return list(self.db["feedback"].rows_where(where, args, order_by="id"))

    def add_model_version(
        self,
        *,
        model: str,
        version: int,
        parent: int | None,
        method: str,
        param_set: str,
        updates: list,
        status: str,
        metrics: dict | None = None,
        note: str = "",
    ) -> int:
        row = {
            "created": _now(),
            "model": model,
            "version": version,
            "parent": parent,
            "method": method,
            "param_set": param_set,
            "updates": _json(updates),
            "status": status,
            "metrics": _json(metrics or {}),
            "note": note,
        }
        return self.db["model_versions"].insert(row).last_pk

    def set_model_version_status(self, model: str, version: int, status: str) -> None:
        self.db.execute(
            "UPDATE model_versions SET status = ? WHERE model = ? AND version = ?", [status, model, version]
        )

    def model_versions(self, model: str | None = None) -> list[ModelVersionRow]:
        where, args = ("model = ?", [model]) if model else (None, [])
        rows = self.db["model_versions"].rows_where(where, args, order_by="model, version")
        decoded = [_decoded("model_versions", r) for r in rows]
        return [{**r, "updates": r["updates"] or [], "metrics": r["metrics"] or {}} for r in decoded]

    # -- Optimisation trials and profiles (webagent/optimize.py) -------------------
    def add_trial(
        self,
        *,
        study: str,
        number: int,
        role: str,
        params: dict,
        success: float,
        episodes: int,
        run_id: int,
        seconds: float,
    ) -> int:
        row = {
            "created": _now(),
            "study": study,
            "number": number,
            "role": role,
            "params": _json(params),
            "success": success,
            "episodes": episodes,
            "run_id": run_id,
            "seconds": seconds,
        }
        return self.db["trials"].insert(row).last_pk

    def trials(self, study: str) -> list[TrialRow]:
        return [_decoded("trials", r) for r in self.db["trials"].rows_where("study = ?", [study], order_by="id")]

    def save_profile(self, name: str, params: dict, *, source: str = "", metrics: dict | None = None) -> None:
        """Save the named profile; one already of that name is replaced (INSERT OR REPLACE on the unique name)."""
        row = {
            "created": _now(),
            "name": name,
            "params": _json(params),
            "source": source,
            "metrics": _json(metrics or {}),
        }
        self.db["profiles"].insert(row, replace=True)

    def profile(self, name: str) -> ProfileRow | None:
        rows = list(self.db["profiles"].rows_where("name = ?", [name]))
        return _decoded("profiles", rows[0]) if rows else None

    def profile_names(self) -> list[str]:
        return [r["name"] for r in self.db["profiles"].rows_where(order_by="name")]

    # -- Mind2Web replay (webagent/mind2web) --------------------------------------
    def start_replay(self, key: str, *, split: str, settings: Any) -> int:
        """The evaluation with this key, created if new: a re-run with the same key resumes it."""
        row = self.db.execute("SELECT id FROM replay_evals WHERE key = ?", [key]).fetchone()
        if row:
            return row[0]
        record = {"created": _now(), "key": key, "split": split, "settings": _json(self._clean(settings))}
        return self.db["replay_evals"].insert(record).last_pk

    def record_replay_step(self, eval_id: int, row: dict[str, Any]) -> int:
        encoded = {k: (_json(v) if isinstance(v, (dict, list, tuple)) else v) for k, v in self._clean(row).items()}
        return self.db["replay_steps"].insert({"eval_id": eval_id, "created": _now(), **encoded}, replace=True).last_pk

    def replay_steps(self, eval_id: int) -> list[dict]:
        return list(self.db["replay_steps"].rows_where("eval_id = ?", [eval_id], order_by="id"))

    def finish_replay(self, eval_id: int, metrics: Any) -> None:
        self.db["replay_evals"].update(eval_id, {"finished": _now(), "metrics": _json(metrics)})

    def delete_replay(self, key: str) -> None:
        """Forget an evaluation, to run it again from the start."""
        row = self.db.execute("SELECT id FROM replay_evals WHERE key = ?", [key]).fetchone()
        if row:
            with self.db.conn:
                self.db.execute("DELETE FROM replay_steps WHERE eval_id = ?", [row[0]])
                self.db.execute("DELETE FROM replay_evals WHERE id = ?", [row[0]])

    def episode_ids(self, *, run_ids: list[int] | None = None, outcome: str | None = None) -> list[int]:
        """Episodes in order, optionally of some runs and with one outcome (for export)."""
        where, args = [], []
        if run_ids:
            where.append(f"run_id IN ({','.join('?' * len(run_ids))})")
            args += run_ids
        if outcome:
            where.append("outcome = ?")
            args.append(outcome)
        sql = "SELECT id FROM episodes" + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY id"
        return [r[0] for r in self.db.execute(sql, args).fetchall()]

    def supervised_successes(self, *, limit: int) -> list[int]:
        """The latest `limit` successful episodes a supervisor confirmed or corrected
        steps of (webagent.procedures), oldest first."""
        rows = self.db.execute(
            "SELECT id FROM (SELECT id FROM episodes WHERE outcome = 'success' AND id IN "
            "(SELECT episode_id FROM feedback WHERE kind IN ('confirm', 'correct')) ORDER BY id DESC LIMIT ?) "
            "ORDER BY id",
            [limit],
        ).fetchall()
        return [r[0] for r in rows]

    # -- end of Mind2Web replay --------------------------------------------------

    # -- exemplar memory (webagent.memory) -------------------------------------
    def exemplar_rows(self, namespace: str, *, limit: int) -> list[dict]:
        """The latest `limit` exemplars of a namespace, oldest first."""
        rows = self.db.execute_returning_dicts(
            "SELECT * FROM (SELECT * FROM exemplars WHERE namespace = ? ORDER BY id DESC LIMIT ?) ORDER BY id",
            [namespace, limit],
        )
        return list(rows)

    def exemplar_count(self) -> int:
        """Exemplars held, every namespace together."""
        return self.db["exemplars"].count

    def add_exemplar(self, row: dict[str, Any]) -> int | None:
        """A new exemplar row; an identical one (same namespace and key) is kept as it is."""
        return self.db["exemplars"].insert({"created": _now(), **self._clean(row)}, ignore=True).last_pk

    def delete_exemplars(self, ids: list[int]) -> None:
        if ids:
            self.db.execute(f"DELETE FROM exemplars WHERE id IN ({','.join('?' * len(ids))})", ids)

    # -- calibration (webagent.autonomy) ---------------------------------------
    def calibration_pairs(self, sources) -> list[tuple[float, bool]]:
        """(confidence, agreed) for every proposal judged by one of `sources` before it ran."""
        if not sources:
            return []
        marks = ",".join("?" * len(sources))
        rows = self.db.execute(
            f"SELECT confidence, kind FROM feedback WHERE confidence IS NOT NULL AND source IN ({marks}) "
            "AND kind IN ('confirm', 'reject', 'correct') ORDER BY id",
            [str(s) for s in sources],
        ).fetchall()
        return [(float(confidence), kind == "confirm") for confidence, kind in rows]

    def audit_counts(self, sources, *, latest: int = 0) -> tuple[int, int]:
        """(audited verdicts, of them disagreements) from `sources`: steps auto-approval would have
        confirmed; only the `latest` ones when it is above 0."""
        if not sources:
            return 0, 0
        marks = ",".join("?" * len(sources))
        limit = f"ORDER BY id DESC LIMIT {int(latest)}" if latest > 0 else ""
        n, k = self.db.execute(
            "SELECT count(*), coalesce(sum(kind != 'confirm'), 0) FROM "
            f"(SELECT kind FROM feedback WHERE audited = 1 AND source IN ({marks}) {limit})",
            [str(s) for s in sources],
        ).fetchone()
        return int(n), int(k)

    def last_feedback_id(self) -> int:
        return self.db.execute("SELECT MAX(id) FROM feedback").fetchone()[0] or 0

    # -- learning curves, the panel's history, benchmarks ------------------------
    def run(self, run_id: int) -> RunRow:
        return _decoded("runs", self.db["runs"].get(run_id))

    def run_episodes(self, run_id: int) -> list[EpisodeRow]:
        return list(self.db["episodes"].rows_where("run_id = ?", [run_id], order_by="id"))

    def latest_episode_id(self, run_id: int) -> int | None:
        return self.db.execute("SELECT MAX(id) FROM episodes WHERE run_id = ?", [run_id]).fetchone()[0]

    def interventions_by_episode(self) -> dict[int, int]:
        """Rejections and corrections per episode."""
        rows = self.db.execute(
            "SELECT episode_id, COUNT(*) FROM feedback WHERE kind IN ('reject', 'correct') GROUP BY episode_id"
        )
        return dict(rows.fetchall())

    def history(self, *, limit: int = 200) -> dict[str, list[dict]]:
        """Recent runs and episodes (oldest episode first), and all feedback of those episodes."""
        runs = self.db.execute_returning_dicts("SELECT * FROM runs ORDER BY id DESC LIMIT ?", [limit])
        runs = [_decoded("runs", r) for r in runs]
        episodes = list(self.db.execute_returning_dicts("SELECT * FROM episodes ORDER BY id DESC LIMIT ?", [limit]))
        episodes.reverse()
        ids = [e["id"] for e in episodes]
        feedback = []
        if ids:
            marks = ",".join("?" * len(ids))
            feedback = list(
                self.db.execute_returning_dicts(
                    f"SELECT id, episode_id, step_id, kind, proposed, action, source, confidence, created "
                    f"FROM feedback WHERE episode_id IN ({marks}) ORDER BY id",
                    ids,
                )
            )
        return {"runs": runs, "episodes": episodes, "feedback": feedback}

    def step_latencies(self, *, policy: str = "model", run_id: int | None = None) -> list[dict]:
        """Per-stage latencies of the steps of runs with `policy` (or of one run)."""
        rows = self.db.execute(
            "SELECT s.latency FROM steps s JOIN episodes e ON e.id = s.episode_id JOIN runs r ON r.id = e.run_id "
            "WHERE r.policy = ? AND (? IS NULL OR r.id = ?)",
            [policy, run_id, run_id],
        ).fetchall()
        return [json.loads(r[0]) for r in rows if r[0]]

    def decision_tokens(self, run_id: int) -> list[tuple[int, int]]:
        """(prompt tokens, fed tokens) of each model decision of a run, in order."""
        rows = self.db.execute(
            "SELECT s.prompt_tokens, s.fed_tokens FROM steps s JOIN episodes e ON e.id = s.episode_id "
            "WHERE e.run_id = ? AND s.prompt_tokens IS NOT NULL ORDER BY s.id",
            [run_id],
        ).fetchall()
        return [(int(p), int(f)) for p, f in rows]

    # -- reading -------------------------------------------------------------
    def episode(self, episode_id: int) -> EpisodeRow | None:
        """The episode's row, or None when there is no such episode."""
        rows = list(self.db["episodes"].rows_where("id = ?", [episode_id]))
        return rows[0] if rows else None

    def steps(self, episode_id: int) -> list[StepRow]:
        rows = self.db["steps"].rows_where("episode_id = ?", [episode_id], order_by="idx")
        return [_decoded("steps", r) for r in rows]

    def last_steps(self, n: int) -> list[StepRow]:
        rows = self.db.execute(
            "SELECT s.*, e.task, e.instruction FROM steps s JOIN episodes e ON e.id = s.episode_id "
            "ORDER BY s.id DESC LIMIT ?",
            [n],
        )
        cols = [d[0] for d in rows.description]
        return [_decoded("steps", dict(zip(cols, r, strict=True))) for r in reversed(rows.fetchall())]

    def close(self) -> None:
        self.db.conn.close()


def _serialised(method):
    """Run a Store method under the store's lock: sqlite-utils' inserts are several
    statements (a transaction, table introspection), and two threads interleaving
    them on one connection lost writes."""

    @functools.wraps(method)
    def locked(self, *args, **kwargs):
        with self._lock:
            return method(self, *args, **kwargs)

    return locked


for _name, _method in list(vars(Store).items()):
    if callable(_method) and not _name.startswith("__") and _name != "close":
        setattr(Store, _name, _serialised(_method))
