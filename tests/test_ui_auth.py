"""The panel's token (ui/auth.py): real requests to a served panel. The panel is served
with a worker that is never started, so no model or browser loads for it; the page,
Gradio's config and its API endpoints are the real ones."""

import socket

import httpx
import pytest

from webagent.store import Store


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    from ui.app import build_app, serve
    from ui.worker import SessionWorker

    store = Store(tmp_path_factory.mktemp("panel") / "panel.db")
    worker = SessionWorker(store)  # not started: nothing loads, its state reads "starting"
    blocks = build_app(worker, tasks=["click-button"])
    blocks.queue()
    panel = serve(blocks, port=free_port())
    yield panel
    panel.close()
    store.close()


def base_of(panel) -> str:
    return panel.url.split("/?", 1)[0]


def test_the_printed_url_carries_a_fresh_token(served):
    base = base_of(served)
    assert served.url == f"{base}/?token={served.token}" and len(served.token) >= 40
    from ui.auth import new_token

    assert new_token() != new_token() != served.token


def test_requests_without_the_token_are_refused(served):
    base = base_of(served)
    for path in ("/", "/config", "/gradio_api/info", "/gradio_api/queue/status"):
        response = httpx.get(base + path)
        assert response.status_code == 403, path
        assert "token" in response.text
    assert httpx.get(base + "/", params={"token": served.token + "x"}).status_code == 403
    assert httpx.get(base + "/", headers={"Cookie": "webagent-panel-1=" + served.token}).status_code == 403
    # the API endpoints that drive the agent refuse a local process that has no token
    for name in ("on_confirm", "on_take_over", "history"):
        response = httpx.post(f"{base}/gradio_api/call/{name}", json={"data": []})
        assert response.status_code == 403, name
    assert httpx.post(base + "/gradio_api/queue/join", json={}).status_code == 403


def test_with_the_token_the_page_and_the_api_work(served):
    base = base_of(served)
    page = httpx.get(served.url)
    assert page.status_code == 200 and "<html" in page.text.lower()
    cookie = page.headers["set-cookie"]
    assert cookie.startswith(f"webagent-panel-{base.rsplit(':', 1)[1]}=") and "HttpOnly" in cookie
    with httpx.Client(cookies=page.cookies) as client:  # the cookie the first visit set
        assert client.get(base + "/config").status_code == 200
        info = client.get(base + "/gradio_api/info").json()
        assert "/on_confirm" in info["named_endpoints"]
        call = client.post(f"{base}/gradio_api/call/history", json={"data": []})
        assert call.status_code == 200 and call.json()["event_id"]
        result = client.get(f"{base}/gradio_api/call/history/{call.json()['event_id']}", timeout=60)
        assert result.status_code == 200 and "event: complete" in result.text
    bearer = {"Authorization": f"Bearer {served.token}"}
    assert httpx.get(base + "/config", headers=bearer).status_code == 200


def test_a_post_from_a_foreign_origin_is_refused_even_with_the_token(served):
    base = base_of(served)
    bearer = {"Authorization": f"Bearer {served.token}"}
    for origin in ("http://evil.example", "http://127.0.0.1:1", "null"):
        response = httpx.post(
            f"{base}/gradio_api/call/history", json={"data": []}, headers={**bearer, "Origin": origin}
        )
        assert response.status_code == 403 and "foreign origin" in response.text, origin
    own = httpx.post(f"{base}/gradio_api/call/history", json={"data": []}, headers={**bearer, "Origin": base})
    assert own.status_code == 200


def test_the_panel_runs_in_a_browser_opened_with_the_printed_url(served, browser):
    base = base_of(served)

    def visit(page):
        refused = page.goto(base + "/")
        status = refused.status
        page.goto(served.url)
        # on_load reaches the worker through Gradio's queue: only with the cookie the first visit set
        page.wait_for_function(
            "() => { const e = document.querySelector('#wa-session'); return e && e.innerText.includes('starting'); }",
            timeout=60_000,
        )
        page.goto(base + "/")  # later visits need no token in the URL
        page.wait_for_selector("#wa-session", timeout=60_000)
        return status

    assert browser.call(visit) == 403
