"""``zhiku eval`` and ``zhiku train-adapter``: build a temporary KB from a BEIR-style corpus, then score
every query per method, or fit a query adapter to the judged questions.

The KB is built through the normal ingest path (a .jsonl corpus is just another file format), and the
hybrid figures come from :meth:`KnowledgeBase.search` exactly as users get it; the embedding cache makes a
second run of the same corpus cost only the queries.
"""
from __future__ import annotations

import tempfile
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path

from index.models.adapter import QueryAdapter, TrainingParams, train_matrix
from index.errors import ZhikuIndexError
from index.eval.metrics import aggregate, load_qrels, load_queries
from index.models.expansion import TermTranslations
from index.kb import KnowledgeBase, embedding_input
from index.records import Method
from index.settings import Settings
from index.search.text import analyze_query

METHODS: tuple[Method, ...] = ("hybrid", "bm25", "dense")


def record_id(doc_id: str) -> str:
    """``corpus.jsonl#A0001`` → ``A0001``: hits map back to the corpus ids the qrels use."""
    return doc_id.rsplit("#", 1)[-1]


@contextmanager
def corpus_kb(settings: Settings, corpus: Path, *, progress: bool = False) -> Iterator[KnowledgeBase]:
    """A throw-away embedded KB holding ``corpus``, deleted afterwards (the embedding cache stays)."""
    with tempfile.TemporaryDirectory(prefix="zhiku-eval-") as tmp:
        kb = KnowledgeBase.open(settings.model_copy(update={"kb": Path(tmp), "chroma_url": None}))
        try:
            report = kb.ingest([corpus], progress=progress)
            if report.skipped:  # scoring an empty KB would print zeros that look like a result
                raise ZhikuIndexError(f"无法导入评测语料：{report.skipped[0][1]}")
            yield kb
        finally:
            kb.close()


def judged_ids(texts: dict[str, str], judged: dict[str, dict[str, int]],
               query_ids: Sequence[str] | None) -> list[str]:
    return [q for q in (query_ids or texts) if q in judged and q in texts]


def run_eval(settings: Settings, corpus: Path, queries: Path, qrels: Path, *,
             methods: Sequence[Method] = METHODS, k: int = 10, query_ids: Sequence[str] | None = None,
             progress: bool = False) -> dict[str, dict[str, float]]:
    """Return ``{method: {"hit@1", "recall@10", "mrr@10", "ndcg@10", "n"}}``.

    Ranking quality: one hit per record and no relevance cut-off (every question here has an answer; what
    the cut-off costs and gains is measured on the domain set, ``bench.domain``)."""
    texts = load_queries(queries)
    judged = load_qrels(qrels)
    ids = judged_ids(texts, judged, query_ids)
    with corpus_kb(settings, corpus, progress=progress) as kb:
        results = {}
        for method in methods:
            run = {q: [record_id(h.doc_id) for h in kb.search(texts[q], k=k, method=method, per_document=1,
                                                             min_relevance=0.0).hits]
                   for q in ids}
            results[method] = aggregate(run, {q: judged[q] for q in ids}, k=k)
        return results


def train_adapter(settings: Settings, corpus: Path, queries: Path, qrels: Path, *,
                  query_ids: Sequence[str] | None = None, params: TrainingParams = TrainingParams(),
                  progress: bool = False) -> QueryAdapter:
    """Fit a query adapter so the judged questions find their passages in ``corpus``.

    The targets are every chunk of every relevant record; the passage vectors are the ones ingest stored
    (from the embedding cache), the query vectors the embedder's own, never an older adapter's.
    """
    texts = load_queries(queries)
    judged = load_qrels(qrels)
    with corpus_kb(settings.model_copy(update={"query_adapter": "none"}), corpus, progress=progress) as kb:
        chunk_ids = list(kb.keywords().ids)
        rows = kb.store.chunk_rows(chunk_ids)
        passages = kb.embedder.embed_passages(
            [embedding_input(rows[c].title, rows[c].heading, rows[c].text) for c in chunk_ids])
        chunks_of: dict[str, list[int]] = {}
        for index, chunk_id in enumerate(chunk_ids):
            chunks_of.setdefault(record_id(rows[chunk_id].doc_id), []).append(index)
        used, relevant = [], []
        for q in judged_ids(texts, judged, query_ids):
            targets = [i for doc, grade in judged[q].items() if grade > 0 for i in chunks_of.get(doc, ())]
            if targets:
                used.append(q)
                relevant.append(targets)
        if not used:
            raise ZhikuIndexError("没有一个标注问题在语料中有相关记录，无法训练：请检查 --qrels 与 --corpus 是否对应")
        matrix = train_matrix(kb.embedder.embed_queries([texts[q] for q in used]), passages, relevant, params)
        translations = learn_translations(kb, [texts[q] for q in used], relevant)
        info = {"corpus": corpus.name, "queries": len(used), "passages": len(chunk_ids), **asdict(params),
                "expansion_pairs": len(translations)}
        return QueryAdapter(embedder=kb.embedder.name, matrix=matrix, info=info, translations=translations)


def learn_translations(kb: KnowledgeBase, questions: Sequence[str],
                       relevant: Sequence[Sequence[int]]) -> TermTranslations:
    """The adapter's BM25 half: question words → the words of the passages that answer them.

    ``relevant[i]`` are row indices into the keyword index (as for :func:`train_matrix`); a question's
    answer is every word of its relevant passages, their heading paths included (a law's name is part of
    what people's words point to).
    """
    ids, tokens = kb.store.all_tokens()
    row_of = {chunk_id: row for row, chunk_id in enumerate(ids)}
    words = [set(tokens[row_of[chunk_id]]) for chunk_id in kb.keywords().ids]
    frequency = Counter(word for passage in words for word in passage)
    answers = [set().union(*(words[row] for row in rows)) for rows in relevant]
    return TermTranslations.learn([analyze_query(q).translatable for q in questions], answers, frequency, len(words))
