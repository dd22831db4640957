"""The KB's source of truth: documents, chunks and their tokens in one SQLite file.

Everything else in a KB (chroma vectors, the BM25 matrix) is derived from this file and can be rebuilt
from it, which is what makes ingest crash-safe: a document's rows change in one SQLite transaction, and
``generation`` counts committed writes so that derived indexes know when they are stale.
"""
from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path

from index.store.snapshots import Snapshots
from ingest.models import DATE_PRECISION_KEY, Chunk, DatePrecision, Document, KnownDoc

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS documents (
    doc_id TEXT PRIMARY KEY, root TEXT NOT NULL, title TEXT NOT NULL, doc_type TEXT NOT NULL,
    date TEXT, source TEXT, content_hash TEXT NOT NULL, source_hash TEXT NOT NULL,
    text TEXT NOT NULL, extra TEXT NOT NULL DEFAULT '{}', enabled INTEGER NOT NULL DEFAULT 1
);
CREATE TABLE IF NOT EXISTS chunks (
    chunk_id TEXT PRIMARY KEY, doc_id TEXT NOT NULL REFERENCES documents(doc_id) ON DELETE CASCADE,
    position INTEGER NOT NULL, text TEXT NOT NULL, start INTEGER NOT NULL, end INTEGER NOT NULL,
    heading TEXT NOT NULL, tokens TEXT NOT NULL, text_hash TEXT NOT NULL, page INTEGER
);
CREATE INDEX IF NOT EXISTS chunks_doc ON chunks(doc_id, position);
"""


def _migrate(conn: sqlite3.Connection) -> None:
    """Bring a KB written by an older zhiku up to ``SCHEMA`` (columns added since; their rows get NULL)."""
    columns = {row[1] for row in conn.execute("PRAGMA table_info(chunks)")}
    if "page" not in columns:
        conn.execute("ALTER TABLE chunks ADD COLUMN page INTEGER")
    if "enabled" not in {row[1] for row in conn.execute("PRAGMA table_info(documents)")}:
        conn.execute("ALTER TABLE documents ADD COLUMN enabled INTEGER NOT NULL DEFAULT 1")


@dataclass(frozen=True)
class ChunkRow:
    """A chunk joined with the metadata of its document: what retrieval needs to build a hit."""

    chunk_id: str
    doc_id: str
    position: int
    text: str
    start: int
    end: int
    heading: tuple[str, ...]
    page: int | None  # 1-based page of a paged document (PDF, scan, OFD, slides), else None
    title: str
    doc_type: str
    date: str | None
    source: str | None
    jurisdiction: str | None  # region of a local rule (上海市), None for national documents
    last: bool = False  # the document's last passage (a case report's closing paragraph: 下一步…, 一年来…)
    date_precision: DatePrecision = "day"  # a year alone (1954年政府工作报告) is dated its 1 January


# title, type, date, source, jurisdiction, enabled, date precision
DocMeta = tuple[str, str, str | None, str | None, str | None, int, DatePrecision]
_DATE_PRECISION = f"coalesce(json_extract(extra, '$.{DATE_PRECISION_KEY}'), 'day')"  # as date_precision_of
Stamp = tuple[int, int]  # (generation, disabled_version): changes with every write that a search can see
# Chunk rows kept per Store: all of the shipped KB's 12,276. 32,768 take ~50 MB (1.6 KB each in the shipped KB),
# and their texts are the very strings that key the normalised-passage cache (``index.search.retrieval``).
ROW_CACHE_SIZE = 32768


@dataclass(frozen=True)
class NewChunk:
    """A chunk ready to be written: its tokens for BM25 and the hash its vector is cached under."""

    chunk: Chunk
    tokens: Sequence[str]
    text_hash: str


def _contains(text: str) -> str:
    """A LIKE pattern (with ESCAPE '\\') matching any value that contains ``text`` literally."""
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


@contextmanager
def immediate_transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """An IMMEDIATE transaction on an autocommit connection: one writer at a time, all-or-nothing."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def _chunk_row(raw: tuple, doc: DocMeta) -> ChunkRow | None:
    """A ``chunks`` row and its document's metadata as a :class:`ChunkRow`; None if the document is disabled."""
    return ChunkRow(*raw[:6], tuple(json.loads(raw[6])), raw[7], *doc[:5], bool(raw[8]), doc[6]) if doc[5] else None


class Store:
    """Thread-safe access to the KB's SQLite file (WAL: readers never wait for a writer)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._local = threading.local()
        self._doc_meta: tuple[Stamp, dict[str, DocMeta]] = ((-1, -1), {})  # see chunk_rows
        self._rows: Snapshots[ChunkRow | None] = Snapshots(ROW_CACHE_SIZE)  # None: a disabled document's chunk
        with self._connect() as conn:
            conn.executescript(SCHEMA)
            _migrate(conn)

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=60, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA foreign_keys=ON")
        return conn

    @property
    def conn(self) -> sqlite3.Connection:
        """One connection per thread: sqlite3 connections must not be shared across threads mid-query."""
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = self._connect()
        return conn

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def transaction(self) -> AbstractContextManager[sqlite3.Connection]:
        return immediate_transaction(self.conn)

    # --- meta ---------------------------------------------------------------------------------------
    def get_meta(self, key: str, default: str | None = None) -> str | None:
        row = self.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else default

    def set_meta(self, key: str, value: str, conn: sqlite3.Connection | None = None) -> None:
        (conn or self.conn).execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, value))

    @property
    def generation(self) -> int:
        """Counts committed writes; derived indexes compare it with the generation they were built at."""
        return int(self.get_meta("generation", "0") or 0)

    # --- writes -------------------------------------------------------------------------------------
    def replace_documents(
        self, documents: Sequence[tuple[Document, Sequence[NewChunk]]], removed: Sequence[str]
    ) -> tuple[int, list[str]]:
        """Write added/updated documents and drop removed ones in ONE transaction.

        Returns the new generation and the chunk ids that disappeared (for the vector store).
        """
        doc_ids = [d.doc_id for d, _ in documents] + list(removed)
        with self.transaction() as conn:
            old = set(self._chunk_ids_of(conn, doc_ids))
            disabled = self._disabled(conn, doc_ids)  # a disabled document stays disabled when its file changes
            conn.executemany("DELETE FROM documents WHERE doc_id = ?", [(d,) for d in doc_ids])
            for doc, chunks in documents:
                conn.execute(
                    "INSERT INTO documents VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                    (doc.doc_id, doc.root, doc.title, doc.doc_type, doc.date, doc.source, doc.content_hash,
                     doc.source_hash, doc.text, json.dumps(doc.extra, ensure_ascii=False),
                     int(doc.doc_id not in disabled)),
                )
                conn.executemany(
                    "INSERT INTO chunks (chunk_id, doc_id, position, text, start, end, heading, tokens, text_hash, "
                    "page) VALUES (?,?,?,?,?,?,?,?,?,?)",
                    [(c.chunk.chunk_id, c.chunk.doc_id, c.chunk.position, c.chunk.text, c.chunk.start,
                      c.chunk.end, json.dumps(c.chunk.heading, ensure_ascii=False), " ".join(c.tokens),
                      c.text_hash, c.chunk.page) for c in chunks],
                )
            new = {c.chunk.chunk_id for _, chunks in documents for c in chunks}
            generation = self.generation + 1
            self.set_meta("generation", str(generation), conn)
        return generation, sorted(old - new)

    def set_enabled(self, doc_id: str, enabled: bool) -> bool:
        """Take a document out of search (kept, not searched) or put it back; False when there is none.

        It bumps only ``disabled_version``, not ``generation``: the BM25 matrix and the vectors stay as they are
        (rebuilding them for a switch would cost seconds) and :meth:`chunk_rows` leaves the document's chunks out.
        """
        with self.transaction() as conn:
            changed = conn.execute("UPDATE documents SET enabled = ? WHERE doc_id = ?", (int(enabled), doc_id))
            if changed.rowcount == 0:
                return False
            version = int(self.get_meta("disabled_version", "0") or 0) + 1
            self.set_meta("disabled_version", str(version), conn)
        return True

    def is_enabled(self, doc_id: str) -> bool:
        row = self.conn.execute("SELECT enabled FROM documents WHERE doc_id = ?", (doc_id,)).fetchone()
        return bool(row and row[0])

    @staticmethod
    def _disabled(conn: sqlite3.Connection, doc_ids: Sequence[str]) -> set[str]:
        found: set[str] = set()
        for i in range(0, len(doc_ids), 500):
            part = list(doc_ids[i:i + 500])
            found.update(r[0] for r in conn.execute(
                f"SELECT doc_id FROM documents WHERE enabled = 0 AND doc_id IN ({','.join('?' * len(part))})", part))
        return found

    @staticmethod
    def _chunk_ids_of(conn: sqlite3.Connection, doc_ids: Sequence[str]) -> Iterable[str]:
        for doc_id in doc_ids:
            for (chunk_id,) in conn.execute("SELECT chunk_id FROM chunks WHERE doc_id = ?", (doc_id,)):
                yield chunk_id

    # --- reads --------------------------------------------------------------------------------------
    def known(self) -> dict[str, KnownDoc]:
        rows = self.conn.execute("SELECT doc_id, root, source_hash, content_hash FROM documents")
        return {r[0]: KnownDoc(*r) for r in rows}

    def count_read_otherwise(self, rules: str) -> int:
        """How many documents were read under other rules than ``rules`` (their hashes end otherwise)."""
        return self.conn.execute("SELECT COUNT(*) FROM documents WHERE substr(content_hash, -?) != ?",
                                 (len(rules), rules)).fetchone()[0]

    def document(self, doc_id: str) -> Document | None:
        row = self.conn.execute(
            "SELECT doc_id, title, text, doc_type, date, source, content_hash, source_hash, root, extra "
            "FROM documents WHERE doc_id = ?", (doc_id,)).fetchone()
        if row is None:
            return None
        return Document(*row[:9], extra=json.loads(row[9]))

    def chunks_of(self, doc_id: str) -> list[Chunk]:
        rows = self.conn.execute(
            "SELECT doc_id, position, text, start, end, heading, page FROM chunks WHERE doc_id = ? ORDER BY position",
            (doc_id,))
        return [Chunk(r[0], r[1], r[2], r[3], r[4], tuple(json.loads(r[5])), r[6]) for r in rows]

    def chunk_rows(self, chunk_ids: Sequence[str]) -> dict[str, ChunkRow]:
        """Chunks with their document metadata, read in one snapshot so no hit mixes two versions; the chunks of
        a disabled document are left out, which is what keeps it out of every search.

        Rows come from a cache of the snapshot's stamp when it holds them, the others are read here: a search
        meets the same chunks again and again, and a cached row costs a dict look-up instead of SQL and JSON.
        The documents' metadata is read once per stamp and kept: joining it per chunk made SQLite walk each
        candidate document's whole text to reach ``extra`` (stored after ``text``), 1.2 of 2.9 ms for a
        hybrid search's ~190 candidates.
        """
        conn = self.conn
        conn.execute("BEGIN")
        try:
            stamp = self._stamp()
            cache = self._rows.at(stamp)
            rows, missing = cache.split(chunk_ids)
            if missing:
                docs = self._documents_meta(stamp)
                raw = self._raw_rows(missing)
                if not docs.keys() >= {r[1] for r in raw}:  # only if the file was replaced under the same stamp
                    docs = self._documents_meta(stamp, reload=True)
                    self._rows.clear()  # what it held came from the file before
                    cache = self._rows.at(stamp)
                    rows, raw = {}, self._raw_rows(chunk_ids)
                read = {r[0]: _chunk_row(r, docs[r[1]]) for r in raw}
                cache.add(read)
                rows.update(read)
        finally:
            conn.execute("COMMIT")
        return {chunk_id: row for chunk_id, row in rows.items() if row is not None}

    def _stamp(self) -> Stamp:
        """The open snapshot's (generation, disabled_version)."""
        generation, disabled = self.conn.execute(
            "SELECT coalesce(max(CASE key WHEN 'generation' THEN value END), 0), "
            "coalesce(max(CASE key WHEN 'disabled_version' THEN value END), 0) FROM meta").fetchone()
        return int(generation), int(disabled)

    def _raw_rows(self, chunk_ids: Sequence[str]) -> list[tuple]:
        """The ``chunks`` rows of these ids, 500 at a time (SQLite caps the bound parameters of a statement)."""
        rows = []
        for i in range(0, len(chunk_ids), 500):
            part = chunk_ids[i:i + 500]
            marks = ",".join("?" * len(part))
            rows += self.conn.execute("SELECT chunk_id, doc_id, position, text, start, end, heading, page, position = "
                                      "(SELECT MAX(position) FROM chunks AS c WHERE c.doc_id = chunks.doc_id) FROM chunks "
                                      f"WHERE chunk_id IN ({marks})", part).fetchall()
        return rows

    def _documents_meta(self, stamp: Stamp, reload: bool = False) -> dict[str, DocMeta]:
        """Every document's :data:`DocMeta` as of the open snapshot."""
        cached, docs = self._doc_meta
        if reload or cached != stamp:
            docs = {r[0]: r[1:] for r in self.conn.execute(
                "SELECT doc_id, title, doc_type, date, source, json_extract(extra, '$.jurisdiction'), enabled, "
                f"{_DATE_PRECISION} FROM documents")}
            self._doc_meta = (stamp, docs)  # one assignment: other threads see the old pair or the new
        return docs

    def all_tokens(self) -> tuple[list[str], list[list[str]]]:
        """Every chunk's BM25 tokens, in a stable order, to (re)build the keyword index."""
        ids: list[str] = []
        tokens: list[list[str]] = []
        for chunk_id, toks in self.conn.execute("SELECT chunk_id, tokens FROM chunks ORDER BY chunk_id"):
            ids.append(chunk_id)
            tokens.append(toks.split(" ") if toks else [])
        return ids, tokens

    def chunk_hashes(self) -> dict[str, str]:
        return dict(self.conn.execute("SELECT chunk_id, text_hash FROM chunks"))

    def vector_inputs(self, chunk_ids: Sequence[str]) -> list[tuple[str, str, str, str, str | None]]:
        """(chunk_id, embedding text, doc_id, doc_type, date) for chunks whose vectors must be (re)written."""
        out = []
        for i in range(0, len(chunk_ids), 500):
            part = chunk_ids[i:i + 500]
            marks = ",".join("?" * len(part))
            out.extend(self.conn.execute(
                "SELECT c.chunk_id, c.text, c.heading, d.title, d.doc_id, d.doc_type, d.date "
                f"FROM chunks c JOIN documents d USING (doc_id) WHERE c.chunk_id IN ({marks})", part))
        return out

    def latest_date(self, title_word: str) -> str | None:
        """The latest date of the searchable documents whose title holds ``title_word`` (最新的政府工作报告)."""
        row = self.conn.execute("SELECT max(date) FROM documents WHERE enabled = 1 AND instr(title, ?) > 0",
                                (title_word,)).fetchone()
        return row[0]

    def filter_chunk_ids(self, where_sql: str, params: Sequence[object]) -> set[str]:
        rows = self.conn.execute(
            f"SELECT c.chunk_id FROM chunks c JOIN documents d USING (doc_id) WHERE {where_sql}", params)
        return {r[0] for r in rows}

    def documents(self, doc_type: str | None, offset: int, limit: int, include_disabled: bool = True,
                  title: str | None = None) -> tuple[list[dict[str, object]], int]:
        pattern = None if title is None else _contains(title)
        wanted = (("doc_type = ?", doc_type), ("enabled = 1", not include_disabled),
                  ("(title LIKE ? ESCAPE '\\' OR doc_id LIKE ? ESCAPE '\\')", pattern))
        conditions = [c for c, want in wanted if want]
        where = f"WHERE {' AND '.join(conditions)}" if conditions else ""
        params = [*([doc_type] if doc_type else []), *([pattern, pattern] if pattern else [])]
        total = self.conn.execute(f"SELECT count(*) FROM documents {where}", params).fetchone()[0]
        rows = self.conn.execute(
            "SELECT d.doc_id, d.title, d.doc_type, d.date, d.source, "
            "(SELECT count(*) FROM chunks c WHERE c.doc_id = d.doc_id), d.enabled, "
            f"{_DATE_PRECISION} "
            f"FROM documents d {where} ORDER BY d.doc_id LIMIT ? OFFSET ?", [*params, limit, offset])
        keys = ("doc_id", "title", "doc_type", "date", "source", "chunks", "enabled", "date_precision")
        return [{**dict(zip(keys, r)), "enabled": bool(r[6])} for r in rows], total

    def counts(self) -> dict[str, object]:
        docs = self.conn.execute("SELECT count(*) FROM documents").fetchone()[0]
        chunks = self.conn.execute("SELECT count(*) FROM chunks").fetchone()[0]
        by_type = dict(self.conn.execute("SELECT doc_type, count(*) FROM documents GROUP BY doc_type"))
        disabled = self.conn.execute("SELECT count(*) FROM documents WHERE enabled = 0").fetchone()[0]
        return {"documents": docs, "chunks": chunks, "doc_types": by_type, "disabled": disabled}

    def extras(self, doc_type: str) -> list[tuple[str, str, str | None, str | None, dict[str, object]]]:
        rows = self.conn.execute(
            "SELECT doc_id, title, date, source, extra FROM documents WHERE doc_type = ? AND enabled = 1 "
            "ORDER BY date DESC",
            (doc_type,))
        return [(r[0], r[1], r[2], r[3], json.loads(r[4])) for r in rows]

    def extras_of(self, doc_ids: Sequence[str]) -> dict[str, dict[str, object]]:
        """The ``extra`` of each of these documents that exists, in one statement (no text, no Document)."""
        marks = ",".join("?" * len(doc_ids))
        rows = self.conn.execute(f"SELECT doc_id, extra FROM documents WHERE doc_id IN ({marks})", list(doc_ids))
        return {r[0]: json.loads(r[1]) for r in rows}

    def titles(self) -> list[str]:
        return [r[0] for r in self.conn.execute("SELECT title FROM documents WHERE enabled = 1")]
