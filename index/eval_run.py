"""``zhiku eval``: build a temporary KB from a BEIR-style corpus and score every query per method.

The KB is built through the normal ingest path (a .jsonl corpus is just another file format), and the
hybrid figures come from :meth:`KnowledgeBase.search` exactly as users get it; the embedding cache makes a
second run of the same corpus cost only the queries.
"""
from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path

from index.errors import ZhikuIndexError
from index.evaluate import aggregate, load_qrels, load_queries
from index.kb import KnowledgeBase
from index.models import Method
from index.settings import Settings

METHODS: tuple[Method, ...] = ("hybrid", "bm25", "dense")


def record_id(doc_id: str) -> str:
    """``corpus.jsonl#A0001`` → ``A0001``: hits map back to the corpus ids the qrels use."""
    return doc_id.rsplit("#", 1)[-1]


def run_eval(settings: Settings, corpus: Path, queries: Path, qrels: Path, *,
             methods: Sequence[Method] = METHODS, k: int = 10, query_ids: Sequence[str] | None = None,
             progress: bool = False) -> dict[str, dict[str, float]]:
    """Return ``{method: {"hit@1", "recall@10", "mrr@10", "ndcg@10", "n"}}``."""
    texts = load_queries(queries)
    judged = load_qrels(qrels)
    ids = [q for q in (query_ids or texts) if q in judged and q in texts]
    with tempfile.TemporaryDirectory(prefix="zhiku-eval-") as tmp:
        kb = KnowledgeBase.open(settings.model_copy(update={"kb": Path(tmp), "chroma_url": None}))
        try:
            report = kb.ingest([corpus], progress=progress)
            if report.skipped:  # scoring an empty KB would print zeros that look like a result
                raise ZhikuIndexError(f"the corpus could not be ingested: {report.skipped[0][1]}")
            results = {}
            for method in methods:
                run = {q: [record_id(h.doc_id) for h in kb.search(texts[q], k=k, method=method).hits]
                       for q in ids}
                results[method] = aggregate(run, {q: judged[q] for q in ids}, k=k)
            return results
        finally:
            kb.close()
