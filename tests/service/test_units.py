"""Pure pieces of the service, tested without a server: the token bucket, upload names, metrics text."""
from __future__ import annotations

import pytest

from service.errors import ApiError
from service.limits import RateLimiter
from service.metrics import Metrics
from service.uploads import MAX_NAME_BYTES, safe_name


class Clock:
    """A clock the test moves by hand, so the bucket's arithmetic is checked without sleeping."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_token_bucket_bursts_then_refills_per_client() -> None:
    clock = Clock()
    limiter = RateLimiter(60, clock=clock)  # one token per second, bursts of 60
    assert all(limiter.acquire("a") == 0 for _ in range(60))
    assert limiter.acquire("a") == pytest.approx(1.0)
    assert limiter.acquire("b") == 0  # another client has its own bucket
    clock.now += 0.5
    assert limiter.acquire("a") == pytest.approx(0.5)
    clock.now += 0.5
    assert limiter.acquire("a") == 0


def test_idle_buckets_are_dropped() -> None:
    clock = Clock()
    limiter = RateLimiter(6, clock=clock)
    for client in ("a", "b", "c"):
        limiter.acquire(client)
    clock.now += 120
    limiter.acquire("d")
    assert set(limiter._buckets) == {"d"}


@pytest.mark.parametrize(("raw", "safe"), [
    ("报告.txt", "报告.txt"),
    ("../../etc/passwd.md", "passwd.md"),
    ("C:\\Users\\x\\文件.docx", "文件.docx"),
    ("..hidden.txt", "hidden.txt"),
    ("a\x00b\x1f.txt", "ab.txt"),
])
def test_safe_name_keeps_only_a_plain_basename(raw: str, safe: str) -> None:
    assert safe_name(raw) == safe


@pytest.mark.parametrize("raw", ["", "..", "/", "dir/", "  . "])
def test_safe_name_refuses_names_with_nothing_left(raw: str) -> None:
    with pytest.raises(ApiError) as caught:
        safe_name(raw)
    assert caught.value.status == 400


def test_long_names_are_shortened_keeping_the_extension() -> None:
    name = safe_name("长" * 200 + ".pdf")
    assert name.endswith(".pdf") and len(name.encode()) <= MAX_NAME_BYTES


def test_metrics_text_format_escapes_labels() -> None:
    metrics = Metrics()
    metrics.observe("GET", '/a"b\\c', 200, 0.02)
    metrics.observe("GET", '/a"b\\c', 200, 7.0)
    text = metrics.render({"zhiku_documents": ("Documents", 3.0)})
    assert 'zhiku_http_requests_total{method="GET",route="/a\\"b\\\\c",status="200"} 2' in text
    assert 'zhiku_http_request_duration_seconds_bucket{route="/a\\"b\\\\c",le="0.025"} 1' in text
    assert 'zhiku_http_request_duration_seconds_bucket{route="/a\\"b\\\\c",le="+Inf"} 2' in text
    assert "# TYPE zhiku_documents gauge\nzhiku_documents 3\n" in text
