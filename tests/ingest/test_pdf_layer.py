"""PDFs with a text layer as offices make them (Word documents saved as PDF by LibreOffice): tables keep their
header, running headers and page numbers go, and a law is chunked article by article like its digital text."""

from __future__ import annotations

from pathlib import Path

import docx
from docx.oxml import parse_xml
from docx.oxml.ns import nsdecls

from bench.scans import law_paragraphs
from ingest.chunking import chunk_document
from ingest.models import Document
from ingest.pipeline import read_document, with_pages
from libreoffice_tools import LibreOffice

TRADE_UNION_LAW = "corpus/laws/社会法/工会法(2021-12-24).md"
TRAINING = [("培训项目", "人数", "补贴（元）"), ("焊工技能提升", "120", "1500"), ("数控车工", "45", "2000"),
            ("电工取证", "80", "800")]


def read_one(path: Path) -> Document:
    result = read_document(path)
    assert isinstance(result, list) and len(result) == 1, result
    return result[0]


def test_a_ruled_table_in_a_pdf_keeps_its_rows_with_the_header(tmp_path: Path, libreoffice: LibreOffice) -> None:
    document = docx.Document()
    document.add_paragraph("附件2")
    document.add_paragraph("2024年职工技能培训补贴情况")
    table = document.add_table(rows=0, cols=3)
    table.style = "Table Grid"  # ruled, as such tables are
    for row in TRAINING:
        for cell, value in zip(table.add_row().cells, row):
            cell.text = value
    document.add_paragraph("以上补贴由市总工会职工技能提升专项资金列支。")
    source = tmp_path / "培训补贴.docx"
    document.save(str(source))
    doc = read_one(libreoffice.convert(source, "pdf"))
    assert doc.text.splitlines() == [
        "附件2", "2024年职工技能培训补贴情况",
        "培训项目 | 人数 | 补贴（元）",
        "培训项目：焊工技能提升；人数：120；补贴（元）：1500",
        "培训项目：数控车工；人数：45；补贴（元）：2000",
        "培训项目：电工取证；人数：80；补贴（元）：800",
        "以上补贴由市总工会职工技能提升专项资金列支。",
    ]
    (chunk,) = chunk_document(doc)
    assert "培训项目：焊工技能提升；人数：120；补贴（元）：1500" in chunk.text


def test_running_header_and_page_numbers_are_dropped_and_articles_stay_whole(
    tmp_path: Path, shared: Path, libreoffice: LibreOffice
) -> None:
    """A 公文-style Word file (header on every page, ``- N -`` at the foot) of real law text, saved as PDF."""
    articles = law_paragraphs(shared / TRADE_UNION_LAW, "第一条", 45)
    document = docx.Document()
    section = document.sections[0]
    section.header.paragraphs[0].text = "××市总工会文件"
    footer = section.footer.paragraphs[0]
    footer.add_run("- ")
    footer._p.append(parse_xml(f'<w:fldSimple {nsdecls("w")} w:instr="PAGE"><w:r><w:t>1</w:t></w:r></w:fldSimple>'))
    footer.add_run(" -")
    document.add_paragraph("中华人民共和国工会法")
    for article in articles:
        document.add_paragraph(article)
    source = tmp_path / "工会法.docx"
    document.save(str(source))

    doc = read_one(libreoffice.convert(source, "pdf"))
    assert len(doc.page_starts) >= 3
    assert "××市总工会文件" not in doc.text and "- 2 -" not in doc.text
    assert doc.title == "中华人民共和国工会法"
    typed = "中华人民共和国工会法" + "".join(articles)
    assert "".join(doc.text.split()) == "".join(typed.split())  # nothing lost, nothing added, in order

    digital = Document("law", doc.title, "\n".join(["中华人民共和国工会法", *articles]), "law", None, None, "", "", "")
    chunks = with_pages(doc, chunk_document(doc))
    assert [c.heading for c in chunks] == [c.heading for c in chunk_document(digital)]
    assert chunks[0].heading == ("中华人民共和国工会法", "第一条") and chunks[0].page == 1
    assert chunks[-1].page == len(doc.page_starts)


def test_a_table_running_over_a_page_break_keeps_its_header_on_the_next_page(
    tmp_path: Path, libreoffice: LibreOffice
) -> None:
    document = docx.Document()
    document.add_paragraph("2024年各基层工会职工技能培训人数")
    table = document.add_table(rows=0, cols=3)
    table.style = "Table Grid"
    rows = [TRAINING[0]] + [(f"第{number}期焊工技能提升班", str(20 + number), str(1000 + 10 * number)) for number in range(1, 71)]
    for row in rows:
        for cell, value in zip(table.add_row().cells, row):
            cell.text = value
    source = tmp_path / "培训人数.docx"
    document.save(str(source))
    doc = read_one(libreoffice.convert(source, "pdf"))
    assert len(doc.page_starts) == 2
    lines = [line for line in doc.text.splitlines() if line]  # pages are parted by a blank line
    assert lines[:3] == ["2024年各基层工会职工技能培训人数", "培训项目 | 人数 | 补贴（元）",
                         "培训项目：第1期焊工技能提升班；人数：21；补贴（元）：1010"]
    assert lines[3:] == [f"培训项目：{name}；人数：{people}；补贴（元）：{money}" for name, people, money in rows[2:]]
    assert doc.text[doc.page_starts[1]:].startswith("培训项目：第")  # page 2's rows carry page 1's header
