"""A chroma server outage under a running ``zhiku serve``: clear 503s, a degraded health report, recovery.

The vector store is a real ``chroma run`` (``ZHIKU_CHROMA_URL``) that the test stops and starts again on
the same port and path while the zhiku server keeps running: no restart of zhiku is allowed to be needed.
"""
from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from chroma_live import ChromaProcess
from reliability_live import KNOWN_ARTICLES, Server, start_server, stop_server, top_doc, zhiku_ok
from zhiku_live import assert_error

RECOVERY_DEADLINE = 60.0  # seconds for searches to work again once chroma answers its heartbeat
# Generous: a refused connection fails at once; only a server waiting on a dead socket would reach it.
REQUEST_TIMEOUT = 30.0
QUERY, DOC_ID = KNOWN_ARTICLES[0]


@pytest.fixture
def served(chroma_process: ChromaProcess, session_laws: Path, env: dict[str, str],
           tmp_path: Path) -> Iterator[Server]:
    """``zhiku serve`` over a KB whose vectors live in the ``chroma run`` server."""
    # ZHIKU_EXACT_SEARCH_UP_TO=0: the dense search of every KB size goes to chroma. (A small KB's search is
    # answered from the vectors in memory, and goes on answering through an outage.)
    server_env = {**env, "ZHIKU_CHROMA_URL": chroma_process.url, "ZHIKU_EXACT_SEARCH_UP_TO": "0"}
    zhiku_ok("ingest", session_laws, "--kb", tmp_path / "kb", env=server_env)
    server = start_server(tmp_path / "kb", server_env, tmp_path / "server.log")
    yield server
    stop_server(server)


def index_up(client: httpx.Client) -> float:
    """The ``zhiku_index_up`` gauge from /metrics."""
    lines = [line for line in client.get("/metrics").text.splitlines() if line.startswith("zhiku_index_up ")]
    assert len(lines) == 1, lines
    return float(lines[0].split()[1])


def test_chroma_outage_is_reported_and_recovers_without_restart(served: Server,
                                                               chroma_process: ChromaProcess) -> None:
    with httpx.Client(base_url=served.url, timeout=REQUEST_TIMEOUT) as client:
        assert top_doc(client.get("/api/search", params={"q": QUERY}).json()) == DOC_ID
        documents = client.get("/api/health").json()["documents"]

        chroma_process.stop()
        for path in ("/api/search", "/api/ask"):
            error = assert_error(client.get(path, params={"q": QUERY}), 503, "vector_store_unavailable")
            assert "chroma" in error["message"]
        assert client.get("/api/search", params={"q": QUERY}).headers["retry-after"]
        assert_error(client.get("/api/health"), 503, "vector_store_unavailable")
        assert index_up(client) == 0.0
        # What needs no vectors keeps working: keyword search, document lists and texts.
        keyword_only = client.get("/api/search", params={"q": QUERY, "method": "bm25"})
        assert keyword_only.status_code == 200 and top_doc(keyword_only.json()) == DOC_ID
        assert keyword_only.json()["method"] == "bm25"
        assert client.get("/api/documents", params={"limit": 1}).json()["total"] == documents

        chroma_process.start()  # same path and port
        deadline = time.monotonic() + RECOVERY_DEADLINE
        while (response := client.get("/api/search", params={"q": QUERY})).status_code != 200:
            assert response.status_code == 503 and time.monotonic() < deadline, response.text
            time.sleep(0.5)
        assert top_doc(response.json()) == DOC_ID
        health = client.get("/api/health").json()
        assert health["status"] == "ok" and health["vectors"] == health["chunks"] > 0
        assert index_up(client) == 1.0
    assert served.process.poll() is None  # the same zhiku process served throughout
