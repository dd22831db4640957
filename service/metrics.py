"""Prometheus metrics in the text exposition format, kept by a tiny in-process registry.

A hand-written registry (two metric families) instead of prometheus-client: one dependency less, and the
format is simple. Requests are labelled by the route *template* (``/api/documents/{doc_id:path}``), never the
raw path, so label cardinality stays bounded whatever clients send.
"""
from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Mapping

from starlette.types import ASGIApp, Message, Receive, Scope, Send

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
UNMATCHED = "<unmatched>"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _labels(**labels: str) -> str:
    return "{" + ",".join(f'{key}="{_escape(value)}"' for key, value in labels.items()) + "}"


class Metrics:
    """Request counts by method/route/status and a latency histogram by route; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: dict[tuple[str, str, str], int] = defaultdict(int)
        self._buckets: dict[str, list[int]] = defaultdict(lambda: [0] * len(BUCKETS))
        self._sum: dict[str, float] = defaultdict(float)
        self._count: dict[str, int] = defaultdict(int)

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        with self._lock:
            self._requests[(method, route, str(status))] += 1
            counts = self._buckets[route]
            for i, bound in enumerate(BUCKETS):
                if seconds <= bound:
                    counts[i] += 1
            self._sum[route] += seconds
            self._count[route] += 1

    def render(self, gauges: Mapping[str, tuple[str, float]] = {}) -> str:
        """The exposition text; ``gauges`` maps a metric name to (help, value), e.g. the KB's document count."""
        lines = ["# HELP zhiku_http_requests_total HTTP requests by method, route and status.",
                 "# TYPE zhiku_http_requests_total counter"]
        with self._lock:
            for (method, route, status), n in sorted(self._requests.items()):
                lines.append(f"zhiku_http_requests_total{_labels(method=method, route=route, status=status)} {n}")
            lines += ["# HELP zhiku_http_request_duration_seconds Request latency by route.",
                      "# TYPE zhiku_http_request_duration_seconds histogram"]
            for route in sorted(self._count):
                for bound, n in zip(BUCKETS, self._buckets[route]):
                    lines.append(f"zhiku_http_request_duration_seconds_bucket{_labels(route=route, le=str(bound))} {n}")
                lines.append(f"zhiku_http_request_duration_seconds_bucket{_labels(route=route, le='+Inf')} "
                             f"{self._count[route]}")
                lines.append(f"zhiku_http_request_duration_seconds_sum{_labels(route=route)} {self._sum[route]:.6f}")
                lines.append(f"zhiku_http_request_duration_seconds_count{_labels(route=route)} {self._count[route]}")
        for name, (help_text, value) in gauges.items():
            lines += [f"# HELP {name} {help_text}", f"# TYPE {name} gauge", f"{name} {value:g}"]
        return "\n".join(lines) + "\n"


class MetricsMiddleware:
    """Pure ASGI middleware (no BaseHTTPMiddleware): times each HTTP request and records its final status."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500  # what the client gets if the app raises before starting a response
        started = time.perf_counter()

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = getattr(scope.get("route"), "path", None) or UNMATCHED
            self.metrics.observe(scope["method"], route, status, time.perf_counter() - started)
