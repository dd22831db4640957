"""The safe defaults, on a second server with an empty KB: writes refused without a key, rate limit, CORS."""
from __future__ import annotations

import httpx
from zhiku_live import Server, assert_error


def test_writes_are_refused_until_an_account_or_key_exists(bare_server: Server) -> None:
    with httpx.Client(base_url=bare_server.url, timeout=60) as c:
        error = assert_error(c.post("/api/documents", files={"files": ("a.txt", b"x")}), 403, "writes_disabled")
        assert "zhiku user add" in error["message"] and "ZHIKU_API_KEY" in error["message"]
        assert_error(c.delete("/api/documents/a.txt"), 403, "writes_disabled")
        # a bearer that is not a zhiku token (a chat client's placeholder key) changes nothing
        assert_error(c.delete("/api/documents/a.txt", headers={"Authorization": "Bearer anything"}),
                     403, "writes_disabled")
        assert c.get("/api/documents").json()["total"] == 0  # reads stay open


def test_rate_limit_answers_429_with_retry_after(bare_server: Server) -> None:
    """3 searches/asks per minute per client here; the only test on this server that searches."""
    with httpx.Client(base_url=bare_server.url, timeout=60) as c:
        assert c.get("/api/health").json()["documents"] == 0
        body = c.get("/api/search", params={"q": "工会"}).json()  # an empty KB is an empty result, not an error
        assert body["results"] == [] and body["total"] == 0
        statuses = [c.get("/api/ask", params={"q": "工会经费"}).status_code for _ in range(5)]
        assert statuses.count(429) >= 2 and statuses[0] == 200, statuses
        limited = c.get("/api/search", params={"q": "工会"})
        assert_error(limited, 429, "rate_limited")
        assert int(limited.headers["retry-after"]) >= 1
        assert c.get("/api/health").status_code == 200  # only search and ask are limited


def test_cors_only_for_configured_origins(bare_server: Server, client: httpx.Client) -> None:
    with httpx.Client(base_url=bare_server.url, timeout=60) as c:
        allowed = c.options("/api/documents", headers={"Origin": "http://intranet.example",
                                                       "Access-Control-Request-Method": "GET"})
        assert allowed.headers.get("access-control-allow-origin") == "http://intranet.example"
        other = c.get("/api/documents", headers={"Origin": "http://elsewhere.example"})
        assert "access-control-allow-origin" not in other.headers
    # The main server allows only the widget's test host: not this origin.
    assert "access-control-allow-origin" not in client.get("/api/health", headers={"Origin": "http://x.example"}).headers
