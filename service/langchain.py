"""A LangChain retriever over a zhiku KnowledgeBase, for RAG chains that want zhiku's hybrid search.

Usage::

    kb = KnowledgeBase.open(Settings(kb="data/kb"))
    retriever = ZhikuRetriever(kb=kb, k=5, filters=Filters(doc_types=("law",)))
    docs = retriever.invoke("工会经费按什么比例拨缴？")

Metadata values are scalars (the heading path is joined with " > ") so the documents can be stored in any
LangChain vector store without conversion.
"""
from __future__ import annotations

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict, Field

from index.kb import KnowledgeBase
from index.records import Filters, Hit, Method
from service.schemas import join_heading


def to_document(hit: Hit) -> Document:
    return Document(page_content=hit.text, metadata={
        "doc_id": hit.doc_id, "title": hit.title, "doc_type": hit.doc_type, "date": hit.date,
        "date_precision": hit.date_precision, "source": hit.source, "heading": join_heading(hit.heading),
        "score": hit.score, "start": hit.start, "end": hit.end,
    })


class ZhikuRetriever(BaseRetriever):
    """Returns the best passage of each of the top ``k`` documents for a query."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    kb: KnowledgeBase
    k: int = Field(4, ge=1)
    filters: Filters = Field(default_factory=Filters)
    method: Method = "hybrid"

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun) -> list[Document]:
        result = self.kb.search(query, k=self.k, filters=self.filters, method=self.method)
        return [to_document(hit) for hit in result.hits]
