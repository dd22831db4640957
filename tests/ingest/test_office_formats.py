"""Spreadsheets, slides, OFD and legacy office files, generated here and read through ``read_document``.

The legacy formats go through the real LibreOffice (``make test`` installs Debian's nogui packages).
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import docx
import openpyxl
import pptx
import pytest

from ingest.models import Document
from ingest.pipeline import read_document
from ingest.readers import ReadContext, UnreadableFile
from ingest.readers.office import convert
from libreoffice_tools import LibreOffice

TRAINING = [("培训项目", "人数", "技能等级"), ("焊工技能提升", 120, "高级工"), ("数控车工", 45.0, "技师")]


def read_one(path: Path, context: ReadContext | None = None) -> Document:
    result = read_document(path, context=context)
    assert isinstance(result, list) and len(result) == 1, result
    return result[0]


def skip_reason(path: Path, context: ReadContext | None = None) -> str:
    result = read_document(path, context=context)
    assert not isinstance(result, list), result
    return result.reason


def test_xlsx_rows_carry_their_header_and_each_sheet_is_a_section(tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "2024年培训"
    for row in TRAINING:
        sheet.append(row)
    book.create_sheet("补贴").append(("补贴标准（元）",))
    book["补贴"].append((1500,))
    path = tmp_path / "培训人次统计.xlsx"
    book.save(path)
    assert read_one(path).text.splitlines() == [
        "## 2024年培训", "培训项目 | 人数 | 技能等级",
        "培训项目：焊工技能提升；人数：120；技能等级：高级工", "培训项目：数控车工；人数：45；技能等级：技师", "",
        "## 补贴", "补贴标准（元）", "补贴标准（元）：1500",
    ]


def test_csv_in_gbk_reads_like_the_sheet(tmp_path: Path) -> None:
    path = tmp_path / "培训.csv"
    path.write_bytes("\n".join(",".join(str(c) for c in row) for row in TRAINING).encode("gbk"))
    assert "培训项目：焊工技能提升；人数：120；技能等级：高级工" in read_one(path).text


def test_docx_table_rows_keep_their_header(tmp_path: Path) -> None:
    document = docx.Document()
    document.add_paragraph("附表：培训情况")
    table = document.add_table(rows=0, cols=3)
    for row in TRAINING:
        cells = table.add_row().cells
        for cell, value in zip(cells, row):
            cell.text = f"{value:g}" if isinstance(value, float) else str(value)
    path = tmp_path / "附表.docx"
    document.save(str(path))
    assert "培训项目：数控车工；人数：45；技能等级：技师" in read_one(path).text


def make_deck(path: Path) -> None:
    deck = pptx.Presentation()
    for title, body in (("产改推进会", "2024年工作回顾"), ("下一步工作", "一、抓技能培训\n二、强激励保障")):
        slide = deck.slides.add_slide(deck.slide_layouts[1])
        slide.shapes.title.text = title
        slide.placeholders[1].text_frame.text = body
    deck.save(str(path))


def test_pptx_slides_are_pages_and_sections_with_their_titles(tmp_path: Path) -> None:
    path = tmp_path / "推进会.pptx"
    make_deck(path)
    doc = read_one(path)
    assert doc.text == "## 产改推进会\n2024年工作回顾\n\n## 下一步工作\n一、抓技能培训\n二、强激励保障"
    assert [doc.page_at(doc.text.index(s)) for s in ("2024年", "强激励")] == [1, 2]


NOTICE = [("关于开展职工技能竞赛的通知", 40, 30), ("第一条 为弘扬劳模精神和工匠精神，", 20, 60), ("制定本办法。", 20, 66),
          ("第二条 本办法自发布之日起施行。", 20, 80)]


def write_ofd(path: Path, pages: list[list[tuple[str, float, float]]] | None = None) -> None:
    """A minimal OFD package as GB/T 33190 lays it out: OFD.xml → Document.xml → each page's Content.xml.

    ``pages``: each page's text objects as (text, x, baseline y) in mm on an A4 page; default the one-page notice.
    """
    ns = 'xmlns:ofd="http://www.ofdspec.org/2016"'
    with zipfile.ZipFile(path, "w") as package:
        package.writestr("OFD.xml", f'<ofd:OFD {ns} Version="1.0"><ofd:DocBody><ofd:DocInfo><ofd:Title>技能竞赛通知'
                                    '</ofd:Title><ofd:CreationDate>2024-03-08</ofd:CreationDate></ofd:DocInfo>'
                                    '<ofd:DocRoot>Doc_0/Document.xml</ofd:DocRoot></ofd:DocBody></ofd:OFD>')
        listed = "".join(f'<ofd:Page ID="{n + 1}" BaseLoc="Pages/Page_{n}/Content.xml"/>' for n in range(len(pages or [[]])))
        package.writestr("Doc_0/Document.xml", f'<ofd:Document {ns}><ofd:Pages>{listed}</ofd:Pages></ofd:Document>')
        for number, texts in enumerate(pages or [NOTICE]):
            objects = "".join(
                f'<ofd:TextObject ID="{i + 10}" Boundary="{x} {y - 5} {170 if t.endswith("，") else 5 * len(t)} 6" '
                f'Size="5"><ofd:TextCode X="0" Y="5">{t}</ofd:TextCode></ofd:TextObject>'
                for i, (t, x, y) in enumerate(texts)
            )
            package.writestr(f"Doc_0/Pages/Page_{number}/Content.xml",
                             f'<ofd:Page {ns}><ofd:Area><ofd:PhysicalBox>0 0 210 297</ofd:PhysicalBox></ofd:Area>'
                             f'<ofd:Content><ofd:Layer ID="2">{objects}</ofd:Layer></ofd:Content></ofd:Page>')


def test_ofd_text_in_reading_order_with_title_and_date(tmp_path: Path) -> None:
    path = tmp_path / "notice.ofd"
    write_ofd(path)
    doc = read_one(path)
    assert doc.text.splitlines() == ["关于开展职工技能竞赛的通知", "第一条 为弘扬劳模精神和工匠精神，制定本办法。",
                                     "第二条 本办法自发布之日起施行。"]
    assert (doc.title, doc.date, doc.page_at(0)) == ("技能竞赛通知", "2024-03-08", 1)


def test_ofd_page_numbers_and_running_header_are_dropped(tmp_path: Path) -> None:
    """A 公文 OFD: the issuing body's name atop every page and — N — at its foot, as government systems lay it."""
    path = tmp_path / "办法.ofd"
    articles = ["第一条 为弘扬劳模精神和工匠精神，制定本办法。", "第二条 本办法适用于全市各级工会。", "第三条 本办法自发布之日起施行。"]
    write_ofd(path, [[("××市总工会", 90, 12), (article, 20, 60), (f"— {n} —", 100, 285)] for n, article in
                     enumerate(articles, start=1)])
    doc = read_one(path)
    assert doc.text == "\n\n".join(articles)
    assert [doc.page_at(doc.text.index(article)) for article in articles] == [1, 2, 3]


def test_legacy_doc_and_xls_through_libreoffice(tmp_path: Path, libreoffice: LibreOffice) -> None:
    document = docx.Document()
    document.add_heading("职工技能提升办法", level=1)
    document.add_paragraph("第一条 为提升产业工人技能水平，制定本办法。")
    source = tmp_path / "办法.docx"
    document.save(str(source))
    legacy = libreoffice.convert(source, "doc")
    doc = read_one(legacy)
    assert "# 职工技能提升办法\n\n第一条 为提升产业工人技能水平，制定本办法。" in doc.text
    assert read_one(legacy.rename(legacy.with_suffix(".wps"))).text == doc.text  # WPS Office's name for it

    book = openpyxl.Workbook()
    for row in TRAINING:
        book.active.append(row)
    sheet = tmp_path / "培训.xlsx"
    book.save(sheet)
    assert "培训项目：焊工技能提升；人数：120；技能等级：高级工" in read_one(libreoffice.convert(sheet, "xls")).text


def test_libreoffice_that_takes_too_long_is_stopped_with_a_message(tmp_path: Path) -> None:
    document = docx.Document()
    document.add_paragraph("内容")
    buffer = tmp_path / "a.docx"
    document.save(str(buffer))
    with pytest.raises(UnreadableFile, match=r"^LibreOffice 转换 \.doc 超时（0 秒），已停止"):
        convert(buffer.read_bytes(), ".doc", "docx", timeout=0.2)
    assert not list(Path("/tmp").glob("zhiku-lo-*/input.doc"))  # its private folder is gone too
