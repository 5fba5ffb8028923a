"""Install, seed and serve the suite's applications (each in its own process).

with Suite(root) as suite:          # seeds what is missing, serves all three
    suite["library"].url("/admin/")
"""

from __future__ import annotations

import importlib.util
import json
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from webagent.errors import BrowserError, DataError

APPS = ("library", "packages", "docs")
REQUIREMENTS = {"library": "django>=5", "packages": "pypiserver>=2", "docs": "mkdocs>=1.6"}
MODULES = {"library": "django", "packages": "pypiserver", "docs": "mkdocs"}
SEEDED = {"library": "pristine.db", "packages": "packages", "docs": "site/index.html"}


def default_root() -> Path:
    import os

    from platformdirs import user_cache_dir

    return Path(os.environ.get("WEBAGENT_SITES_ROOT") or Path(user_cache_dir("webagent")) / "sites")


def missing_requirements(apps=APPS) -> list[str]:
    return [REQUIREMENTS[a] for a in apps if importlib.util.find_spec(MODULES[a]) is None]


def install(apps=APPS) -> None:
    """pip install what the applications need (the `sites` extra)."""
    missing = missing_requirements(apps)
    if missing:
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", *missing], check=True)


def _run(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "webagent.sites.serve", *args], check=True)


def seed(app: str, root: Path, *, force: bool = False) -> Path:
    folder = root / app
    if force or not (folder / SEEDED[app]).exists():
        missing = missing_requirements([app])
        if missing:
            raise DataError(f"{app} needs {', '.join(missing)} (pip install -e '.[sites]')")
        _run("seed", app, str(folder))
    return folder


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class App:
    """One served application: its folder, its address, its request log, its state."""

    def __init__(self, name: str, root: Path, port: int = 0) -> None:
        self.name, self.folder, self.port = name, root / name, port
        self.process: subprocess.Popen | None = None

    @property
    def log_path(self) -> Path:
        return self.folder / "requests.jsonl"

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def start(self, timeout_s: float = 30.0) -> App:
        self.port = self.port or _free_port()
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "webagent.sites.serve",
                "serve",
                self.name,
                str(self.folder),
                "--port",
                str(self.port),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise BrowserError(f"{self.name} did not start: {self.process.stderr.read().decode()[-800:]}")
            try:
                urllib.request.urlopen(self.url("/"), timeout=2).close()
                return self
            except OSError:
                time.sleep(0.2)
        raise BrowserError(f"{self.name} did not answer on port {self.port} within {timeout_s:.0f} s")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
            self.process = None

    # -- state ---------------------------------------------------------------
    def reset(self) -> None:
        """Back to the seeded state (the library's database is restored from its pristine copy)."""
        if self.name == "library":
            src, dst = sqlite3.connect(self.folder / "pristine.db"), sqlite3.connect(self.folder / "library.db")
            try:
                src.backup(dst)
            finally:  # a connection's `with` only commits; close them, once per episode adds up
                src.close()
                dst.close()

    def log_mark(self) -> int:
        return self.log_path.stat().st_size if self.log_path.exists() else 0

    def requests(self, since: int = 0) -> list[dict]:
        """What the application answered since a mark (a byte offset of the log)."""
        if not self.log_path.exists():
            return []
        with self.log_path.open("rb") as log:
            log.seek(since)
            return [json.loads(line) for line in log.read().decode().splitlines() if line.strip()]

    def query(self, sql: str, *params):
        """Rows from the library's database (read-only)."""
        uri = f"file:{self.folder / 'library.db'}?mode=ro"
        db = sqlite3.connect(uri, uri=True)
        try:
            return db.execute(sql, params).fetchall()
        finally:
            db.close()


class Suite:
    """All the applications, seeded when missing and served on free ports."""

    def __init__(self, root: Path | None = None, apps=APPS, ports: dict[str, int] | None = None) -> None:
        self.root = Path(root) if root else default_root()
        self.apps = {a: App(a, self.root, (ports or {}).get(a, 0)) for a in apps}

    def __getitem__(self, name: str) -> App:
        return self.apps[name]

    def __enter__(self) -> Suite:
        try:
            for app in self.apps.values():
                seed(app.name, self.root)
                app.start()
        except BaseException:
            self.close()
            raise
        return self

    def close(self) -> None:
        for app in self.apps.values():
            app.stop()

    def __exit__(self, *exc) -> None:
        self.close()
