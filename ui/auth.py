"""The panel's door: a per-launch secret token, as Jupyter's.

`PanelGuard` is a plain ASGI middleware (no Gradio here) wrapped around the whole
panel app: the page, Gradio's `/config`, `/gradio_api/...` (queue, files,
heartbeat) and anything else. A request passes only with the launch's token, given
as `?token=...` (the URL printed at start), as the cookie set on the first such
visit, or as an `Authorization: Bearer ...` header; anything else gets 403. A request
that changes something (any method but GET, HEAD, OPTIONS) is also refused when its
`Origin` header names another site than the panel itself, token or not.
"""

from __future__ import annotations

import hmac
import secrets
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qs

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def new_token() -> str:
    return secrets.token_urlsafe(32)


class PanelGuard:
    """ASGI middleware: refuse (403) every request without the token, and foreign-origin writes."""

    def __init__(self, app: Any, *, token: str, port: int, hosts: tuple[str, ...] = ("127.0.0.1", "localhost")):
        if not token:
            raise ValueError("the panel needs a token")
        self.app = app
        self.token = token
        self.cookie = f"webagent-panel-{port}"  # cookies do not tell ports apart: one name per port
        self.origins = {f"http://{host}:{port}" for host in hosts}

    def _match(self, value: str | None) -> bool:
        return value is not None and hmac.compare_digest(value.encode(), self.token.encode())

    def check(self, scope: dict) -> tuple[bool, bool, str]:
        """(allowed, set the cookie, why not) for one request's scope."""
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        method = scope.get("method", "GET").upper()
        origin = headers.get("origin")
        writes = scope["type"] == "websocket" or method not in SAFE_METHODS
        if writes and origin is not None and origin.rstrip("/") not in self.origins:
            return False, False, "foreign origin"
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        if any(self._match(value) for value in query.get("token", [])):
            return True, True, ""
        cookies = SimpleCookie()
        try:
            cookies.load(headers.get("cookie", ""))
        except Exception:  # a malformed cookie header is no token
            cookies = SimpleCookie()
        if self.cookie in cookies and self._match(cookies[self.cookie].value):
            return True, False, ""
        auth = headers.get("authorization", "")
        if auth.lower().startswith("bearer ") and self._match(auth[7:].strip()):
            return True, False, ""
        return False, False, "no valid token"

    async def __call__(self, scope, receive, send):
        if scope["type"] not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        allowed, set_cookie, why = self.check(scope)
        if not allowed:
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1008})
                return
            body = f"403 Forbidden: {why}. Open the panel with the URL `webagent ui` printed (/?token=...).\n".encode()
            headers = [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", b"%d" % len(body))]
            await send({"type": "http.response.start", "status": 403, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return
        if not set_cookie:
            return await self.app(scope, receive, send)
        cookie = f"{self.cookie}={self.token}; Path=/; HttpOnly; SameSite=Strict".encode()

        async def send_with_cookie(message):
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), (b"set-cookie", cookie)]}
            await send(message)

        return await self.app(scope, receive, send_with_cookie)
