"""How much a client may send and how often: a per-client rate limit and a request body size limit.

Both answer in the API's error shape. FastAPI's own ``max_body_size`` answers a plain-text 413 from inside
the route, out of reach of the exception handlers, hence the small middleware here.
"""
from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from typing import TypeVar

import anyio

from fastapi import Request
from fastapi.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from index.settings import Settings
from service.access.auth import current_caller
from service.errors import ApiError, error_response

BODY_TOO_LARGE = "请求体过大，请减少发送的内容"
BUSY_RETRY_AFTER_S = 5
T = TypeVar("T")


class RateLimiter:
    """Token bucket per client: ``per_minute`` requests refill evenly, bursts up to a minute's worth.

    Buckets of clients idle long enough to be full again are dropped, so the table cannot grow without
    bound under many client addresses. Thread-safe: plain ``def`` routes run in a thread pool.
    """

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0  # tokens per second
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # client -> (tokens, last update)
        self._lock = threading.Lock()
        self._last_sweep = clock()

    def acquire(self, client: str) -> float:
        """Take one token; return 0 when allowed, else the seconds until the next token."""
        now = self._clock()
        with self._lock:
            self._sweep(now)
            tokens, last = self._buckets.get(client, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - last) * self.rate)
            if tokens >= 1:
                self._buckets[client] = (tokens - 1, now)
                return 0.0
            self._buckets[client] = (tokens, now)
            return (1 - tokens) / self.rate

    def _sweep(self, now: float) -> None:
        refill_time = self.capacity / self.rate
        if now - self._last_sweep < refill_time:
            return
        self._buckets = {c: (t, last) for c, (t, last) in self._buckets.items() if now - last < refill_time}
        self._last_sweep = now


def rate_limit(request: Request) -> None:
    """Dependency of the expensive read endpoints (search, ask): 429 with Retry-After when over the limit.

    Counted per API token or account when the request has one (a portal's token behind one proxy address is
    one client; colleagues behind one NAT are not), else per client address.
    """
    limiter: RateLimiter | None = request.app.state.rate_limiter
    if limiter is None:
        return
    client = current_caller(request).rate_key or (request.client.host if request.client else "unknown")
    wait = limiter.acquire(client)
    if wait > 0:
        retry = max(1, math.ceil(wait))
        raise ApiError(429, "rate_limited",
                       f"请求过于频繁，请 {retry} 秒后重试",
                       {"Retry-After": str(retry)})


class BodyLimitMiddleware:
    """Refuse request bodies over ``limit`` bytes: at once by Content-Length, else while they stream in.

    ``exempt`` lists (method, path) pairs that enforce their own limits while streaming (the upload).
    A body that turns out too large mid-stream raises a 413 HTTPException inside the route, which the
    API's exception handlers answer in the usual error shape.
    """

    def __init__(self, app: ASGIApp, limit: int, exempt: frozenset[tuple[str, str]] = frozenset()) -> None:
        self.app = app
        self.limit = limit
        self.exempt = exempt

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or (scope["method"], scope["path"]) in self.exempt:
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > self.limit:
            await error_response(413, "too_large", BODY_TOO_LARGE)(scope, receive, send)
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.limit:
                raise HTTPException(413, BODY_TOO_LARGE)
            return message

        await self.app(scope, limited_receive, send)


async def in_search_slot(request: Request, work: Callable[[], T]) -> T:
    """Run ``work`` in the thread pool once one of the ``max_concurrent_searches`` slots is free.

    Searches beyond the cap wait their turn (first come, first served) without holding a thread; one that
    waits longer than ``search_wait_seconds`` is answered 503 ``busy`` instead of queueing for ever.
    Measured: more searches at once than the cores can run only make each of them slower (bench/README.md).
    """
    slots: anyio.Semaphore | None = request.app.state.search_slots
    if slots is None:
        return await run_in_threadpool(work)
    settings: Settings = request.app.state.settings
    with anyio.move_on_after(settings.search_wait_seconds) as waiting:
        await slots.acquire()
    if waiting.cancelled_caught:
        raise ApiError(503, "busy", f"服务器繁忙，请 {BUSY_RETRY_AFTER_S} 秒后重试", {"Retry-After": str(BUSY_RETRY_AFTER_S)})
    try:
        return await run_in_threadpool(work)
    finally:
        slots.release()
