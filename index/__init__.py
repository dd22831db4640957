"""Chunks → a searchable knowledge base: embeddings, vector store, keyword index, hybrid retrieval.

The objects a caller touches, re-exported here (``from index import KnowledgeBase, Settings``). They are loaded
on first use, not on ``import index``: a leaf such as ``index.search.text`` (the tokenizer BM25 benchmarks and
many tests use) must not pull in chromadb and the embedding models that ``index.kb`` loads.
"""
from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from index.kb import KnowledgeBase
    from index.records import Answer, AnswerSentence, CheckReport, Filters, Hit, IngestReport, SearchResult
    from index.settings import Settings

_HOMES = {
    "KnowledgeBase": "index.kb",
    "Settings": "index.settings",
    **{name: "index.records" for name in
       ("Answer", "AnswerSentence", "CheckReport", "Filters", "Hit", "IngestReport", "SearchResult")},
}
__all__ = sorted(_HOMES)


def __getattr__(name: str) -> object:
    if name not in _HOMES:
        raise AttributeError(f"module 'index' has no attribute {name!r}")
    return getattr(import_module(_HOMES[name]), name)
