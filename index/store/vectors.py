"""The chunk vectors in chroma: embedded in the KB directory, or on a ``chroma run`` server.

Both modes run the same code; only the client differs. Things chromadb 1.5.9 does that this module
guards against:

* Its default embedding function downloads an ONNX model: every collection call passes
  ``embedding_function=None`` and we always hand over our own vectors.
* Cosine space is set with ``configuration={"hnsw": {"space": "cosine"}}`` (the 1.x way; the old
  ``"hnsw:space"`` metadata key is only a legacy alias). Query distances are then ``1 - cosine``.
* Its HNSW ``ef_search`` defaults to 100, the number of candidates we ask for, and then misses many of the
  true nearest ones (recall@100 0.69 on the 12k-chunk benchmark KB). ``ef_search`` is the one index setting
  chroma lets us change later (``modify``). The change must come before the first query: an index already
  loaded in the process keeps its old value until every client of the path is closed.
* ``HttpClient`` builds its ``httpx.Client`` with ``timeout=None`` and has no setting for it, so a hung
  server would hang every call forever. We probe the server with a short timeout before connecting and
  then set the timeout on the client's session (a private attribute, checked against 1.5.9).
* ``delete(ids=[])`` and ``upsert`` with no rows raise; batches above ``get_max_batch_size()`` raise.
* ``query`` with ``n_results`` above the collection's size returns the rows there are (none when empty).
* Re-opened right after another client of the path closed, on a busy machine, ``modify`` can fail at
  once with ``InternalError: … (code: 5) database is locked`` (about one reopen in 150 with both cores
  busy): its SQLite file is still held by the closed client's last work. It is tried again (:func:`_retried`).

``where`` syntax that works (each operator dict holds exactly one operator, ``$and``/``$or`` need at
least two clauses, ``$in`` needs a non-empty list, numbers compare as numbers)::

    {"$and": [{"doc_type": {"$in": ["law", "policy"]}}, {"date": {"$gte": 20200101}}]}
    {"doc_type": {"$in": ["case"]}}                   # one clause: no "$and" around it
    {"$and": [{"date": {"$gte": 20200101}}, {"date": {"$lte": 20221231}}]}   # a range is two clauses

Metadata per chunk: ``doc_id`` (str), ``doc_type`` (str), ``date`` (int yyyymmdd, 0 = unknown) and
``hash`` (str, the embedded text's hash, so a reconcile can tell current vectors from stale ones).

The embedded store is for one process at a time; several processes need the server mode.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import chromadb
import httpx
import numpy as np
from chromadb.api import ClientAPI
from chromadb.api.models.Collection import Collection
from chromadb.config import Settings as ChromaSettings

from index.models.embedders import settings_hint
from index.errors import EmbedderMismatch, VectorStoreUnavailable
from index.settings import ANN_EF_SEARCH

log = logging.getLogger(__name__)

CONNECT_TIMEOUT = 2.0  # seconds to open a connection to a chroma server: a live one answers in ms
LOCKED_PAUSES = (0.05, 0.2, 0.5, 1.0, 2.0)  # seconds before each new try of a write that found the file locked
PAGE_SIZE = 5000  # ids per page when listing the whole collection

T = TypeVar("T")


def _chroma_settings() -> ChromaSettings:
    # Identical settings on every open: chroma refuses a second client for the same path with others.
    return ChromaSettings(anonymized_telemetry=False, allow_reset=False)


class VectorStore:
    """One chroma collection of unit vectors, with the model that made them recorded in its metadata."""

    def __init__(self, client: ClientAPI, collection: Collection, *, dim: int, where: str) -> None:
        self._client = client
        self._collection = collection
        self.dim = dim
        self.where = where  # the chroma path or URL, for messages
        self._max_batch = client.get_max_batch_size()

    @classmethod
    def open(cls, kb_dir: Path, *, embedder_name: str, dim: int, chroma_url: str | None = None,
             collection: str = "zhiku_chunks", timeout: float = 30.0,
             ef_search: int = ANN_EF_SEARCH) -> VectorStore:
        """Open or create the collection; refuse one built with another model (:class:`EmbedderMismatch`).

        ``timeout`` bounds every request to a chroma server (it is not used by the embedded store);
        a server that is down or does not answer raises :class:`VectorStoreUnavailable`. ``ef_search`` is
        set on a new collection and brought to this value on an existing one (a KB made before it existed).
        """
        if chroma_url:
            where = chroma_url
            with _unavailable_as_error(chroma_url):
                client = _http_client(chroma_url, timeout)
        else:
            path = Path(kb_dir) / "chroma"
            where = str(path)
            client = chromadb.PersistentClient(path=where, settings=_chroma_settings())
        try:
            with _unavailable_as_error(where):
                col = client.get_or_create_collection(
                    collection,
                    configuration={"hnsw": {"space": "cosine", "ef_search": ef_search}},
                    metadata={"model": embedder_name, "dim": dim},
                    embedding_function=None,
                )
                _check_model(col, where, embedder_name, dim)
                if _ef_search(col) != ef_search:  # before any query loads the index with the old value
                    _retried(lambda: col.modify(configuration={"hnsw": {"ef_search": ef_search}}))
                return cls(client, col, dim=dim, where=where)
        except BaseException:
            client.close()  # an embedded client left open keeps the path's files locked
            raise

    # --- writes ------------------------------------------------------------------------------------
    def upsert(self, ids: Sequence[str], vectors: np.ndarray, metadatas: Sequence[Mapping[str, Any]]) -> None:
        """Insert or replace vectors, in batches under chroma's limit."""
        vectors = np.asarray(vectors, dtype=np.float32)
        if not len(ids) == len(vectors) == len(metadatas):
            raise ValueError(f"{len(ids)} ids, {len(vectors)} vectors and {len(metadatas)} metadatas")
        if len(ids) == 0:
            return
        self._check_dim(vectors.shape[1:])
        with _unavailable_as_error(self.where):
            for start in range(0, len(ids), self._max_batch):
                stop = start + self._max_batch
                self._collection.upsert(ids=list(ids[start:stop]), embeddings=vectors[start:stop],
                                        metadatas=[dict(m) for m in metadatas[start:stop]])

    def delete(self, ids: Sequence[str]) -> None:
        """Delete these ids; unknown ids are ignored."""
        with _unavailable_as_error(self.where):
            for start in range(0, len(ids), self._max_batch):
                self._collection.delete(ids=list(ids[start:start + self._max_batch]))

    # --- reads -------------------------------------------------------------------------------------
    def query(self, vector: np.ndarray, n: int, where: dict[str, Any] | None = None) -> list[tuple[str, float]]:
        """The ``n`` nearest chunks as (id, cosine similarity), best first; see the module doc for ``where``."""
        vector = np.asarray(vector, dtype=np.float32).reshape(-1)
        self._check_dim(vector.shape)
        if n <= 0:
            return []
        # No count() to clamp n first: chroma returns the rows it has when asked for more (none from an empty
        # collection), and the count was a second call per query (3.5 of 11.5 ms, bench/query.py profile).
        with _unavailable_as_error(self.where):
            result = self._collection.query(query_embeddings=vector[None, :], n_results=n, where=where,
                                            include=["distances"])
        distances = result["distances"]
        assert distances is not None  # requested via include
        return [(cid, 1.0 - float(d)) for cid, d in zip(result["ids"][0], distances[0])]

    def cosines(self, vector: np.ndarray, ids: Sequence[str]) -> dict[str, float]:
        """The cosine of ``vector`` to each of these stored chunks (unknown ids are left out).

        For the BM25 candidates the nearest-neighbour list did not reach: ranking needs how close each
        candidate is to the question, not a bound on it.
        """
        vector = np.asarray(vector, dtype=np.float32).reshape(-1)
        self._check_dim(vector.shape)
        return cosines_to(vector, self.embeddings(ids))

    def embeddings(self, ids: Sequence[str]) -> dict[str, np.ndarray]:
        """The stored vector of each of these chunks (unknown ids are left out), each an array of its own: a
        cache that keeps some of them must not hold on to the others."""
        if not ids:
            return {}
        with _unavailable_as_error(self.where):
            found = self._collection.get(ids=list(ids), include=["embeddings"])
        return {cid: row.copy() for cid, row in _embedding_rows(found).items()}

    def all_embeddings(self) -> dict[str, np.ndarray]:
        """Every stored vector, read a page at a time (for :class:`index.store.matrix.VectorMatrix`)."""
        found: dict[str, np.ndarray] = {}
        for page in self._pages(["embeddings"]):
            found.update(_embedding_rows(page))
        return found

    def ids(self) -> set[str]:
        return {cid for page in self._pages([]) for cid in page["ids"]}

    def hashes(self) -> dict[str, str]:
        """{chunk id: the ``hash`` metadata it was stored with} ("" if it has none)."""
        found: dict[str, str] = {}
        for page in self._pages(["metadatas"]):
            metadatas = page["metadatas"] or [{}] * len(page["ids"])
            found.update((cid, str(meta.get("hash", ""))) for cid, meta in zip(page["ids"], metadatas))
        return found

    def count(self) -> int:
        with _unavailable_as_error(self.where):
            return self._collection.count()

    def heartbeat(self) -> bool:
        """True if the store answers (always, for the embedded one)."""
        try:
            self._client.heartbeat()
        except httpx.TransportError:
            return False
        return True

    @property
    def collection(self) -> str:
        return self._collection.name

    def drop(self) -> None:
        """Delete the collection and release the client: the KB it belongs to is being deleted."""
        with _unavailable_as_error(self.where):
            self._client.delete_collection(self._collection.name)
        self.close()

    def close(self) -> None:
        """Release the client (and, for the last embedded client of a path, its files)."""
        self._client.close()

    def _pages(self, include: list[str]) -> Iterator[Any]:
        """The whole collection with the ``include`` fields, a page at a time, so memory stays bounded on a
        large KB (each page is chroma's ``GetResult``)."""
        offset = 0
        while True:
            with _unavailable_as_error(self.where):
                page = self._collection.get(include=include, limit=PAGE_SIZE, offset=offset)  # type: ignore[arg-type]
            yield page
            if len(page["ids"]) < PAGE_SIZE:
                return
            offset += PAGE_SIZE

    def _check_dim(self, shape: tuple[int, ...]) -> None:
        if shape != (self.dim,):
            raise ValueError(f"vectors must have {self.dim} dimensions (the KB's embedder), got shape {shape}")


def _http_client(url: str, timeout: float) -> ClientAPI:
    """A client for a ``chroma run`` server that fails within ``timeout`` instead of hanging."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.port is None:
        raise ValueError(f"ZHIKU_CHROMA_URL must look like http://HOST:PORT, got {url!r}")
    request_timeout = httpx.Timeout(timeout, connect=min(CONNECT_TIMEOUT, timeout))
    # HttpClient makes requests while it is constructed, with no timeout: probe first.
    httpx.get(f"{url.rstrip('/')}/api/v2/heartbeat", timeout=request_timeout).raise_for_status()
    client = chromadb.HttpClient(host=parts.hostname, port=parts.port, ssl=parts.scheme == "https",
                                 settings=_chroma_settings())
    session = getattr(getattr(client, "_server", None), "_session", None)
    if isinstance(session, httpx.Client):
        session.timeout = request_timeout
    else:
        log.warning("cannot set a request timeout on this chromadb version's HTTP client; "
                    "calls to a hung chroma server may block")
    return client


@contextmanager
def _unavailable_as_error(where: str) -> Iterator[None]:
    """Turn network failures (refused, reset, timed out) into one error that names the server."""
    try:
        yield
    except (httpx.TransportError, httpx.HTTPStatusError) as exc:
        raise VectorStoreUnavailable(
            f"{where} 的 chroma 服务没有响应（{type(exc).__name__}: {exc}）。请用 "
            "chroma run --path DIR --host HOST --port PORT 启动它，或取消 ZHIKU_CHROMA_URL，"
            "改用知识库目录中的内嵌向量库"
        ) from exc


def _retried(write: Callable[[], T], pauses: Sequence[float] = LOCKED_PAUSES) -> T:
    """``write()``, tried again after each pause while chroma says its SQLite file is locked (module doc)."""
    for pause in pauses:
        try:
            return write()
        except chromadb.errors.InternalError as exc:
            if "database is locked" not in str(exc):
                raise
            log.info("chroma's database was locked; trying again in %.2f s", pause)
            time.sleep(pause)
    return write()


def _ef_search(col: Collection) -> int | None:
    hnsw = (col.configuration or {}).get("hnsw") or {}
    return hnsw.get("ef_search")


def _check_model(col: Collection, where: str, embedder_name: str, dim: int) -> None:
    """Vectors of two models live in unrelated spaces: refuse to mix them, and say how to proceed."""
    meta = col.metadata or {}
    built_with, built_dim = meta.get("model"), meta.get("dim")
    if built_with == embedder_name and built_dim == dim:
        return
    raise EmbedderMismatch(
        f"知识库（{where}，集合 {col.name!r}）是用向量模型 {built_with!r}（{built_dim} 维）建的，"
        f"而当前配置的向量模型是 {embedder_name!r}（{dim} 维）。请重新设置 {settings_hint(str(built_with))}，"
        "或用 zhiku ingest 路径 --kb 新目录 重建到一个新目录"
    )


def cosines_to(vector: np.ndarray, stored: Mapping[str, np.ndarray]) -> dict[str, float]:
    """The cosine of ``vector`` (float32) to each stored vector, each row on its own.

    Row by row (``einsum``), not one BLAS product: its blocking ties a row's rounding to its place among the
    others (~1e-8), so a chunk's cosine to a question would change with the other chunks asked along with it,
    and with the order chroma returns them in.
    """
    if not stored:
        return {}
    matrix = np.stack(list(stored.values()))
    return dict(zip(stored, row_cosines(matrix, np.linalg.norm(matrix, axis=1), vector).tolist()))


def _embedding_rows(result: Any) -> dict[str, np.ndarray]:
    """{id: float32 row} of a chroma ``get`` with embeddings; an empty result has no rows to reshape."""
    if not result["ids"]:
        return {}
    rows = np.asarray(result["embeddings"], dtype=np.float32).reshape(len(result["ids"]), -1)
    return dict(zip(result["ids"], rows))


def row_cosines(matrix: np.ndarray, norms: np.ndarray, vector: np.ndarray) -> np.ndarray:
    """Each row's cosine to ``vector``, given the rows' norms: one row's value never depends on the others."""
    scale = norms * max(float(np.linalg.norm(vector)), 1e-12)
    return np.einsum("ij,j->i", matrix, vector) / np.maximum(scale, 1e-12)
