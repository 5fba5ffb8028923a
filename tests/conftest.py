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
def browser_session():
    with BrowserSession() as session:
        yield session


@pytest.fixture
def browser(browser_session):
    """The session's Chromium with a fresh context and page for this test."""
    browser_session.new_context()
    return browser_session


@pytest.fixture(autouse=True)
def _isolated_store(tmp_path, monkeypatch):
    """No test ever writes the user's store: the default store is a temporary file."""
    monkeypatch.setenv("WEBAGENT_DB", str(tmp_path / "user-store.db"))


BROWSER_FIXTURES = {"browser_session", "miniwob_server", "fixture_server"}
MODEL_FIXTURES = {"default_model", "base_model"}


def pytest_collection_modifyitems(config, items):
    """Tiers: `browser` (a real Chromium) and `model` (the real default model) by the
    fixtures a test uses, or by its own mark for tests that start them themselves.
    The pure tier is `pytest -m "not browser and not model"`."""
    for item in items:
        used = set(getattr(item, "fixturenames", ()))
        if used & BROWSER_FIXTURES:
            item.add_marker(pytest.mark.browser)
        if used & MODEL_FIXTURES:
            item.add_marker(pytest.mark.model)


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
def base_model():
    """The base weights the default adapter is merged into (SmolLM2-135M-Instruct alone).
    Decoding mechanics (prefix reuse, speculative and SMC sampling, the critic's
    numbers) are checked on it in float32: their tolerances and reference
    distributions are the raw model's, and exactness is a float32 property (on a CPU
    with native bfloat16, `default_model` runs in bfloat16, where a reused prefix and a
    full read differ by about 0.05 in log-probability). What the agent does is
    checked on `default_model`."""
    from webagent.models.transformers_lm import TransformersModel

    return TransformersModel("default", adapter="none", dtype="float32")


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
