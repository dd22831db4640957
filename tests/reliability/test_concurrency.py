"""Readers during a re-ingest: 20 searchers against ``zhiku serve`` while ``zhiku ingest`` rewrites the KB.

Two processes share the KB: the server reads, a separate CLI ingest writes. That needs the vector store
in server mode (``ZHIKU_CHROMA_URL``): the embedded chroma store caches its index per process, so a
server on it does not see another process's new vectors until restarted — see
``test_server_on_embedded_store_sees_vectors_written_by_another_process`` below.
"""
from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from chroma_live import ChromaProcess
from reliability_live import (KNOWN_ARTICLES, Server, assert_exactly_once, open_kb, run_zhiku, start_server,
                              stop_server, top_doc, zhiku_json, zhiku_ok)

SEARCHERS = 20
ADDED_ARTICLE = "第二百条 本条为并发测试新增：{name}所称劳动者包括在海拔四千米以上高原作业的劳动者。"


def search_targets(laws: Path) -> list[tuple[str, str]]:
    """Twenty (query, expected top doc): the known articles and the ten labour cases by their titles."""
    cases = sorted((laws / "案例" / "劳动人事").glob("*.md"))
    targets = KNOWN_ARTICLES + [(case.stem, f"laws/案例/劳动人事/{case.name}") for case in cases]
    assert len(targets) == SEARCHERS, len(targets)
    return targets


@dataclass
class Tally:
    """What the searchers saw; one lock, because 20 threads append to it."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    requests: int = 0
    during_ingest: int = 0
    errors: list[str] = field(default_factory=list)
    wrong: list[str] = field(default_factory=list)


def searcher(url: str, query: str, expected: str, ingest_done: threading.Event, tally: Tally) -> None:
    """Search one phrase until the ingest has finished, then once more; record every failure."""
    with httpx.Client(base_url=url, timeout=120) as client:
        while True:
            last_round = ingest_done.is_set()
            try:
                response = client.get("/api/search", params={"q": query, "k": 3})
                found = top_doc(response.json()) if response.status_code == 200 else None
            except (httpx.HTTPError, ValueError) as exc:
                response, found = None, None
                failure = f"{query}: {type(exc).__name__}: {exc}"
            with tally.lock:
                tally.requests += 1
                tally.during_ingest += not last_round
                if response is None:
                    tally.errors.append(failure)
                elif response.status_code != 200:
                    tally.errors.append(f"{query}: HTTP {response.status_code}: {response.text[:300]}")
                elif found != expected:
                    tally.wrong.append(f"{query}: top hit {found}, expected {expected}")
            if last_round:
                return


@pytest.fixture
def chroma_env(env: dict[str, str], chroma_process: ChromaProcess) -> dict[str, str]:
    return {**env, "ZHIKU_CHROMA_URL": chroma_process.url}


@pytest.fixture
def served(laws: Path, chroma_env: dict[str, str], tmp_path: Path) -> Iterator[Server]:
    zhiku_ok("ingest", laws, "--kb", tmp_path / "kb", env=chroma_env)
    server = start_server(tmp_path / "kb", chroma_env, tmp_path / "server.log")
    yield server
    stop_server(server)


def test_searches_stay_correct_during_a_reingest(served: Server, laws: Path, chroma_env: dict[str, str],
                                                 tmp_path: Path) -> None:
    targets = search_targets(laws)
    with httpx.Client(base_url=served.url, timeout=120) as client:  # precondition: each phrase finds its doc
        for query, expected in targets:
            assert top_doc(client.get("/api/search", params={"q": query, "k": 3}).json()) == expected, query

    edited = sorted((laws / "社会法").glob("*.md"))  # every searched law changes: all their chunks are rewritten
    for path in edited:
        name = path.stem.split("(")[0]
        path.write_text(path.read_text(encoding="utf-8") + "\n\n" + ADDED_ARTICLE.format(name=name) + "\n",
                        encoding="utf-8")

    tally, ingest_done = Tally(), threading.Event()
    threads = [threading.Thread(target=searcher, args=(served.url, query, expected, ingest_done, tally))
               for query, expected in targets]
    for thread in threads:
        thread.start()
    try:
        done = run_zhiku("ingest", str(laws), "--kb", str(tmp_path / "kb"), env=chroma_env)
    finally:
        ingest_done.set()
        for thread in threads:
            thread.join()

    assert done.returncode == 0, done.stderr[-3000:]
    assert f"更新 {len(edited)}" in done.stdout
    assert tally.during_ingest >= SEARCHERS, "the searches must overlap the ingest"
    assert tally.errors == [], f"{len(tally.errors)} of {tally.requests} failed: {tally.errors[:5]}"
    assert tally.wrong == [], f"{len(tally.wrong)} of {tally.requests} wrong: {tally.wrong[:5]}"

    with httpx.Client(base_url=served.url, timeout=120) as client:  # the server sees the other process's writes
        for method in ("bm25", "dense"):
            hits = client.get("/api/search", params={"q": "海拔四千米以上高原作业的劳动者", "k": 20,
                                                     "method": method}).json()["results"]
            assert {f"laws/社会法/{path.name}" for path in edited} <= {hit["doc_id"] for hit in hits}, method
        health = client.get("/api/health").json()
        assert health["chunks"] == health["vectors"]
    with open_kb(tmp_path / "kb", chroma_env) as knowledge_base:
        assert_exactly_once(knowledge_base, laws)


def test_server_on_embedded_store_sees_vectors_written_by_another_process(kb_copy: Path, env: dict[str, str],
                                                                          tmp_path: Path) -> None:
    new_doc = tmp_path / "new" / "高原补贴通知.txt"
    new_doc.parent.mkdir()
    new_doc.write_text("关于发放高原供氧补贴的通知\n\n海拔四千米以上作业的职工每月发放供氧补贴六百元。\n", encoding="utf-8")
    server = start_server(kb_copy, env, tmp_path / "server.log")
    try:
        zhiku_ok("ingest", new_doc.parent, "--kb", kb_copy, env=env)
        with httpx.Client(base_url=server.url, timeout=120) as client:
            assert client.get("/api/health").json()["vectors"] == client.get("/api/health").json()["chunks"]
            in_server = client.get("/api/search", params={"q": "高原供氧补贴", "method": "dense", "k": 3}).json()
    finally:
        stop_server(server)
    fresh_process = zhiku_json("search", "高原供氧补贴", "--method", "dense", "-k", "3", "--kb", kb_copy, env=env)
    assert top_doc(fresh_process) == "new/高原补贴通知.txt"  # nothing was lost on disk ...
    assert top_doc(in_server) == "new/高原补贴通知.txt"  # ... and the running server sees it without a restart
