"""The ingest floor on the real shared corpus: every file reads, metadata is right, chunks are sound."""

from __future__ import annotations

import re
from pathlib import Path

from ingest.models import Change, IngestPlan

ARTICLE_START = re.compile(r"^第[一二三四五六七八九十百千零〇两\d]+条(?:之[一二三四五六七八九十]+)?\s", re.MULTILINE)
SENTENCE_END = re.compile(r"(?:[。！？；!?;]|…+)[”’」』）)】》\]]*$")
BOUNDARY = re.compile(r"(?:[。！？；!?;]|…+)[”’」』）)】》\]]*|\n")
NAME_DATE = re.compile(r"\((\d{4}-\d{2}-\d{2})\)\.md$")
TRADE_UNION_LAW = "laws/社会法/工会法(2021-12-24).md"
CASE_REPORT = "cases/江钨控股集团工会全力推进产改走深走实(2023-11-01).txt"


def ends_mid_sentence(text: str, end: int) -> bool:
    return not (end == len(text) or text[end] == "\n" or SENTENCE_END.search(text, 0, end))


def sentence_around(text: str, end: int) -> tuple[int, int]:
    """Span of the sentence (between sentence ends or line ends) that contains offset ``end``."""
    before = [m.end() for m in BOUNDARY.finditer(text, 0, end)]
    after = BOUNDARY.search(text, end)
    return (before[-1] if before else 0), (after.start() if after else len(text))


def test_every_file_ingests_without_skips(corpus_plan: IngestPlan, shared: Path) -> None:
    assert corpus_plan.skipped == []
    assert all(change.kind == "add" for change in corpus_plan.changes)
    by_folder: dict[str, int] = {}
    for change in corpus_plan.changes:
        folder = change.doc_id.split("/", 1)[0]
        by_folder[folder] = by_folder.get(folder, 0) + 1
    assert by_folder == {"laws": 156, "reports": 87, "cases": 1}
    assert all(change.document and change.document.root.startswith(str(shared)) for change in corpus_plan.changes)


def test_titles_dates_and_types(corpus_changes: dict[str, Change]) -> None:
    for doc_id, change in corpus_changes.items():
        doc = change.document
        assert doc is not None and doc.title.strip(), doc_id
        name_date = NAME_DATE.search(doc_id)
        if name_date:
            assert doc.date == name_date.group(1), doc_id
        expected = {"laws": "law", "reports": "report", "cases": "case"}[doc_id.split("/", 1)[0]]
        if doc_id.startswith("laws/案例/"):
            expected = "case"  # LawRefBook's official typical labour cases
        assert doc.doc_type == expected, doc_id
    law = corpus_changes[TRADE_UNION_LAW].document
    assert law is not None and law.title == "中华人民共和国工会法"
    assert "INFO END" not in law.text and law.text.startswith("## 第一章")  # header stripped
    report = corpus_changes["reports/1957年中华人民共和国国务院政府工作报告.txt"].document
    assert report is not None and report.title == "1957年中华人民共和国国务院政府工作报告"
    assert report.date == "1957-06-26"  # its dateline, better than the year in the title


def test_case_report_metadata(corpus_changes: dict[str, Change]) -> None:
    doc = corpus_changes[CASE_REPORT].document
    assert doc is not None
    assert (doc.date, doc.source, doc.doc_type) == ("2023-11-01", "集团工会", "case")
    assert doc.title == "江钨控股集团工会全力推进产改走深走实让广大产业工人地位得到新提升"


def test_chunk_offsets_are_exact_for_every_document(corpus_plan: IngestPlan) -> None:
    for change in corpus_plan.changes:
        doc = change.document
        assert doc is not None and change.chunks, change.doc_id
        assert [chunk.position for chunk in change.chunks] == list(range(len(change.chunks)))
        previous_start = -1
        for chunk in change.chunks:
            assert doc.text[chunk.start : chunk.end] == chunk.text, (change.doc_id, chunk.position)
            assert chunk.text.strip() == chunk.text and chunk.doc_id == doc.doc_id
            assert chunk.start > previous_start
            previous_start = chunk.start
            assert chunk.heading[0] == doc.title


def test_no_chunk_ends_mid_sentence_unless_the_sentence_is_too_long(corpus_plan: IngestPlan, chunk_size: int) -> None:
    cut_sentences = 0
    for change in corpus_plan.changes:
        text = change.document.text if change.document else ""
        for chunk in change.chunks:
            assert len(chunk.text) <= chunk_size * 1.5 + chunk_size // 2, (change.doc_id, chunk.position)
            if ends_mid_sentence(text, chunk.end):
                start, end = sentence_around(text, chunk.end)
                assert end - start > chunk_size, (change.doc_id, chunk.text[-40:])
                cut_sentences += 1
    assert cut_sentences < 10  # a few resolutions have sentences of 400+ characters; nothing else is cut


def test_trade_union_law_chunks_are_single_articles(corpus_changes: dict[str, Change]) -> None:
    law = corpus_changes[TRADE_UNION_LAW]
    chunks = law.chunks
    for chunk in chunks:
        assert len(ARTICLE_START.findall(chunk.text)) <= 1, chunk.text[:80]
    article = [chunk for chunk in chunks if chunk.heading[-1] == "第四十三条"]
    assert len(article) == 1
    assert "百分之二" in article[0].text
    title, chapter, number = article[0].heading
    assert "工会法" in title and chapter.startswith("第五章") and number == "第四十三条"
    articles = {chunk.heading[-1] for chunk in chunks if chunk.heading[-1].endswith("条")}
    assert law.document is not None and len(articles) == len(ARTICLE_START.findall(law.document.text))
