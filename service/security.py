"""Who may call what: the API key for writes (and optionally reads), and the browser security headers.

The safe default is that a server without ``ZHIKU_API_KEY`` refuses every write: an office intranet box
should not accept uploads and deletions from anyone who can reach it just because nobody set a key.
"""
from __future__ import annotations

import hmac

from fastapi import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from index.settings import Settings
from service.errors import ApiError

_BEARER = "bearer "


def _check_key(request: Request, settings: Settings) -> None:
    """Constant-time comparison of the bearer token with the configured key (``hmac.compare_digest``)."""
    header = request.headers.get("authorization", "")
    token = header[len(_BEARER):].strip() if header[:len(_BEARER)].lower() == _BEARER else ""
    expected = (settings.api_key or "").encode()
    if not token or not hmac.compare_digest(token.encode(), expected):
        raise ApiError(401, "unauthorized",
                       "需要有效的 API 密钥：Authorization: Bearer <ZHIKU_API_KEY> / "
                       "A valid API key is required: Authorization: Bearer <ZHIKU_API_KEY>",
                       {"WWW-Authenticate": "Bearer"})


def require_write_key(request: Request) -> None:
    """Dependency of every write endpoint: refused outright (403) until a key is configured."""
    settings: Settings = request.app.state.settings
    if not settings.api_key:
        raise ApiError(403, "writes_disabled",
                       "写操作已关闭：请设置环境变量 ZHIKU_API_KEY 后重启服务 / "
                       "Write endpoints are disabled: set ZHIKU_API_KEY and restart the server")
    _check_key(request, settings)


def require_read_key(request: Request) -> None:
    """Dependency of every read endpoint: open unless ``read_requires_key`` (then the same key as writes)."""
    settings: Settings = request.app.state.settings
    if settings.read_requires_key:
        if not settings.api_key:
            raise ApiError(403, "reads_disabled",
                           "read_requires_key 已开启但未设置 ZHIKU_API_KEY / "
                           "read_requires_key is on but ZHIKU_API_KEY is not set")
        _check_key(request, settings)


# The page loads nothing from elsewhere; the browser is told so, which also blocks injected scripts.
SECURITY_HEADERS = [
    (b"content-security-policy", b"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                                 b"connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
                                 b"form-action 'self'"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
]


class SecurityHeadersMiddleware:
    """Pure ASGI middleware adding :data:`SECURITY_HEADERS` to every HTTP response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *SECURITY_HEADERS]
            await send(message)

        await self.app(scope, receive, send_wrapper)
