"""Shared fixtures, the playwright-python way: one local HTTP server for fixture
pages, one real Chromium for the session, everything on 127.0.0.1."""

from __future__ import annotations

import functools
import http.server
import threading
from pathlib import Path

import pytest

from webagent.browser.session import BrowserSession
from webagent.envs.miniwob import MiniWoBServer

FIXTURES = Path(__file__).parent / "fixtures"


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="session")
def fixture_server():
    """Serves tests/fixtures/ on 127.0.0.1; yields the base URL."""
    handler = functools.partial(_Quiet, directory=str(FIXTURES))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="session")
def browser():
    with BrowserSession() as session:
        yield session


@pytest.fixture(scope="session")
def miniwob_server():
    with MiniWoBServer() as server:
        yield server


@pytest.fixture(scope="session")
def default_model():
    """The real default model (SmolLM2-135M-Instruct), loaded once."""
    from webagent.models.transformers_lm import TransformersModel

    return TransformersModel("default")


@pytest.fixture(scope="session")
def embedder():
    from webagent.embeddings import Embedder

    return Embedder()


@pytest.fixture
def store(tmp_path):
    from webagent.store import Store

    s = Store(tmp_path / "webagent.db")
    yield s
    s.close()
