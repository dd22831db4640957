"""Every supported format and encoding, read through the same path an upload uses (``read_document``)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import docx
import pytest
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen import canvas

from ingest.models import Document, Skipped
from ingest.pipeline import read_document

CASE_REPORT = "corpus/cases/江钨控股集团工会全力推进产改走深走实(2023-11-01).txt"
TRADE_UNION_LAW = "corpus/laws/社会法/工会法(2021-12-24).md"


def read_one(path: Path) -> Document:
    result = read_document(path)
    assert isinstance(result, list) and len(result) == 1, result
    return result[0]


def skip_reason(path: Path, max_bytes: int = 1024**2) -> str:
    result = read_document(path, max_bytes=max_bytes)
    assert isinstance(result, Skipped), result
    return result.reason


@pytest.mark.parametrize("name", [CASE_REPORT, TRADE_UNION_LAW])
@pytest.mark.parametrize("encoding", ["gbk", "gb18030", "utf-16", "utf-8-sig"])
def test_encodings_give_the_same_clean_text(shared: Path, tmp_path: Path, name: str, encoding: str) -> None:
    original = shared / name
    copy = tmp_path / original.name
    text = original.read_text(encoding="utf-8").replace("\xa0", " ")  # GBK has no NBSP; clean() folds it anyway
    copy.write_bytes(text.encode(encoding))
    expected, got = read_one(original), read_one(copy)
    assert (got.text, got.title, got.date, got.source, got.doc_type) == (
        expected.text,
        expected.title,
        expected.date,
        expected.source,
        expected.doc_type,
    )
    assert got.content_hash == expected.content_hash and got.source_hash != expected.source_hash


def test_windows_line_endings_and_full_width_letters_are_normalised(tmp_path: Path) -> None:
    path = tmp_path / "note.txt"
    path.write_bytes("关于ＡＩ技能培训的通知\r\n\r\n２０２４年起，　每年培训一次。  \r\n".encode("gbk"))
    doc = read_one(path)
    assert doc.text == "关于AI技能培训的通知\n\n2024年起， 每年培训一次。"  # Chinese punctuation kept


def test_binary_empty_and_unsupported_files_are_skipped_with_reasons(tmp_path: Path) -> None:
    binary = tmp_path / "image.txt"
    binary.write_bytes(bytes(range(256)) * 8)
    assert "二进制文件" in skip_reason(binary)
    empty = tmp_path / "empty.md"
    empty.write_bytes(b"")
    assert skip_reason(empty) == "空文件（0 字节）"
    blank = tmp_path / "blank.txt"
    blank.write_text(" \n\u200b\n\u3000\n", encoding="utf-8")
    assert skip_reason(blank) == "文件没有文字"
    other = tmp_path / "drawing.dwg"
    other.write_bytes(b"AC1032")
    assert skip_reason(other).startswith("不支持的文件类型 .dwg；支持：.txt、.md")
    broken = tmp_path / "slides.pptx"
    broken.write_bytes(b"PK\x03\x04")
    assert skip_reason(broken).startswith(".pptx 文件损坏或无法读取")
    fifo = tmp_path / "pipe.txt"
    os.mkfifo(fifo)
    assert "不是普通文件" in skip_reason(fifo)  # and the read does not hang
    big = tmp_path / "big.txt"
    big.write_text("很长的文件。" * 1000, encoding="utf-8")
    assert skip_reason(big, max_bytes=1024).startswith("文件过大")


def test_docx_paragraphs_headings_and_tables(tmp_path: Path) -> None:
    document = docx.Document()
    document.add_heading("职工技能提升办法", level=1)
    document.add_heading("第一章 总则", level=2)
    document.add_paragraph("第一条 为提升产业工人技能水平，制定本办法。")
    table = document.add_table(rows=1, cols=2)
    table.rows[0].cells[0].text = "技能等级"
    table.rows[0].cells[1].text = "补贴标准"
    path = tmp_path / "办法.docx"
    document.save(str(path))
    doc = read_one(path)
    assert doc.title == "职工技能提升办法"
    assert "## 第一章 总则\n\n第一条 为提升产业工人技能水平，制定本办法。" in doc.text
    assert "技能等级 | 补贴标准" in doc.text


def test_html_drops_scripts_styles_and_navigation(tmp_path: Path) -> None:
    path = tmp_path / "page.html"
    path.write_text(
        """<html><head><title>网页标题</title><style>p { color: red }</style></head><body>
        <nav>首页 | 新闻</nav><script>var x = "脚本";</script><!-- 注释 -->
        <h1>产改经验交流</h1><p>各地工会积极推进
        产业工人队伍建设改革。</p><h2>主要做法</h2><ul><li>抓培训</li><li>强激励</li></ul></body></html>""",
        encoding="utf-8",
    )
    doc = read_one(path)
    assert doc.title == "产改经验交流"
    assert doc.text == "# 产改经验交流\n\n各地工会积极推进 产业工人队伍建设改革。\n\n## 主要做法\n\n抓培训\n\n强激励"
    assert doc.doc_type == "case"  # 做法 / 经验 are case cues


def test_html_with_declared_gbk_charset(tmp_path: Path) -> None:
    path = tmp_path / "gbk.htm"
    path.write_bytes('<meta charset="gbk"><p>职工代表大会</p>'.encode("gbk"))
    assert read_one(path).text == "职工代表大会"


def _pdf(path: Path, lines: list[str]) -> None:
    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    page = canvas.Canvas(str(path))
    page.setFont("STSong-Light", 12)
    for i, line in enumerate(lines):
        page.drawString(72, 720 - 20 * i, line)
    page.rect(72, 300, 200, 100)  # a drawing, not text
    page.showPage()
    page.save()


def test_pdf_text_layer_with_wrapped_lines_rejoined(tmp_path: Path) -> None:
    path = tmp_path / "通知.pdf"
    _pdf(
        path,
        [
            "关于开展劳模工匠进校园活动的通知",
            "第一条 为弘扬劳模精神和工匠精神，",
            "制定本办法。",
            "第二条 本办法自发布之日起施行。",
        ],
    )
    doc = read_one(path)
    assert doc.title == "关于开展劳模工匠进校园活动的通知"
    assert doc.text.splitlines()[1:] == [
        "第一条 为弘扬劳模精神和工匠精神，制定本办法。",
        "第二条 本办法自发布之日起施行。",
    ]


def test_scanned_and_corrupt_files_are_skipped(tmp_path: Path) -> None:
    scanned = tmp_path / "scan.pdf"
    _pdf(scanned, [])
    assert skip_reason(scanned) == "PDF 没有文字层，OCR 也未识别出文字"
    for name in ("broken.pdf", "broken.docx"):
        path = tmp_path / name
        path.write_bytes(b"%PDF-1.4 this is not really a document" * 3)
        assert "文件损坏或无法读取" in skip_reason(path)


def test_jsonl_records_become_documents(tmp_path: Path) -> None:
    path = tmp_path / "articles.jsonl"
    records = [
        {
            "id": "A1",
            "title": "劳动法 第四十四条",
            "text": "有下列情形之一的，用人单位应当支付加班工资。",
            "doc_type": "law",
            "region": "全国",
        },
        {"id": 2, "text": "某公司工会推行技能等级制度。\n来源：市总工会", "date": "2024年3月8日"},
    ]
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in records) + "\n\n", encoding="utf-8")
    first, second = read_document(path, tmp_path)  # type: ignore[misc]
    assert first.doc_id == f"{tmp_path.name}/articles.jsonl#A1"
    assert (first.title, first.doc_type, first.extra) == (
        "劳动法 第四十四条",
        "law",
        {"region": "全国", "record_id": "A1"},
    )
    assert second.doc_id.endswith("articles.jsonl#2") and second.extra["record_id"] == "2"
    assert (second.date, second.source, second.title) == ("2024-03-08", "市总工会", "articles#2")


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ('{"id": 1, "text": "好"}\n{not json}\n', "第2行 JSON 无效"),
        ('{"text": "无编号"}\n', "第1行缺少 id"),
        ('{"id": 1, "text": ""}\n', "缺少 text"),
        ('{"id": 1, "text": "一"}\n{"id": 1, "text": "二"}\n', "第2行 id 重复：'1'"),
        ('["a list"]\n', "第1行应为 JSON 对象"),
        ('{"id": 1, "text": "好", "doc_type": "novel"}\n', "记录 '1'：doc_type 'novel' 无效"),
    ],
)
def test_bad_jsonl_is_skipped_with_the_line_and_reason(tmp_path: Path, content: str, reason: str) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(content, encoding="utf-8")
    assert reason in skip_reason(path)


def test_markdown_emphasis_links_and_code_marks_are_dropped(tmp_path: Path) -> None:
    path = tmp_path / "指引.md"
    path.write_text("# 技能人才薪酬分配指引\n\n## 一、工资单元\n\n- **岗位工资单元**：依据[岗位评价](https://example.org/p)确定；"
                    "__能力工资单元__与`职业技能等级`挂钩。\n- 夜班津贴 * 系数\n", encoding="utf-8")
    doc = read_one(path)
    assert "- 岗位工资单元：依据岗位评价确定；能力工资单元与职业技能等级挂钩。" in doc.text
    assert "*" * 2 not in doc.text and "](" not in doc.text and "`" not in doc.text
    assert "夜班津贴 * 系数" in doc.text  # a lone * is not emphasis
    assert "## 一、工资单元" in doc.text  # headings stay for the chunker
