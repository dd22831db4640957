"""Hostile and broken files: each one a clear per-file reason in Chinese, never a crash or a hang."""

from __future__ import annotations

import io
import struct
import time
import zlib
from pathlib import Path

import docx
import openpyxl
import pptx
import pypdf
from msoffcrypto.format.ooxml import OOXMLFile
from PIL import Image

from ingest.models import Skipped
from ingest.pipeline import scan
from ingest.readers import ReadContext
from libreoffice_tools import LibreOffice


def png_claiming(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width`` × ``height`` pixels (a 20,000 × 20,000 scan) with one row of data."""
    buffer = io.BytesIO()
    Image.new("L", (8, 1), 255).save(buffer, "PNG")
    data = bytearray(buffer.getvalue())
    header = struct.pack(">II", width, height) + bytes(data[24:29])
    data[16:29] = header
    data[29:33] = struct.pack(">I", zlib.crc32(b"IHDR" + header))
    return bytes(data)


def encrypted_pdf() -> bytes:
    writer = pypdf.PdfWriter()
    writer.add_blank_page(595, 842)
    writer.encrypt("工会密码")
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def many_page_pdf(pages: int, size: tuple[float, float] = (595, 842)) -> bytes:
    writer = pypdf.PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(*size)
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def test_a_batch_of_bad_files_is_reported_file_by_file_and_the_good_one_is_read(tmp_path: Path) -> None:
    folder = tmp_path / "收件箱"
    folder.mkdir()
    (folder / "good.txt").write_text("关于开展劳动竞赛的通知\n\n各基层工会：请积极组织。", encoding="utf-8")
    (folder / "empty.docx").write_bytes(b"")
    (folder / "encrypted.pdf").write_bytes(encrypted_pdf())
    (folder / "10000页.pdf").write_bytes(many_page_pdf(10_000))
    (folder / "huge.png").write_bytes(png_claiming(20_000, 20_000))
    (folder / "巨幅.pdf").write_bytes(many_page_pdf(1, (14_400, 14_400)))  # PDF's largest page: 5 m², 40,000 px at 200 dpi
    photo = io.BytesIO()
    Image.new("RGB", (400, 300), "white").save(photo, "JPEG")
    (folder / "truncated.jpg").write_bytes(photo.getvalue()[: len(photo.getvalue()) // 2])
    (folder / "broken.xlsx").write_bytes(b"PK\x03\x04 not a workbook")
    (folder / "broken.ofd").write_bytes(b"PK\x03\x04 not a package")

    plan = scan([folder], {}, chunk_size=400, overlap_sentences=1, context=ReadContext(cache_dir=tmp_path / "cache"))
    assert [change.doc_id for change in plan.changes] == ["收件箱/good.txt"]
    reasons = {Path(skip.path).name: skip.reason for skip in plan.skipped}
    expected = {
        "empty.docx": "空文件",
        "encrypted.pdf": "PDF 已加密",
        "10000页.pdf": "PDF 页数过多：10000 页",
        "huge.png": "图像过大（上限 40 百万像素）",
        "巨幅.pdf": "第1页尺寸过大（14400×14400 点），无法识别",
        "truncated.jpg": "图像文件损坏或不完整",
        "broken.xlsx": "Excel 文件损坏",
        "broken.ofd": ".ofd 文件损坏或无法读取",
    }
    assert {name: reason[: len(expected[name])] for name, reason in reasons.items()} == expected
    assert all(isinstance(skip, Skipped) for skip in plan.skipped)


def locked_docx(plain: Path, password: str) -> bytes:
    """``plain`` encrypted with ``password`` the way Word's 用密码进行加密 does it (ECMA-376 agile encryption)."""
    buffer = io.BytesIO()
    with plain.open("rb") as source:
        OOXMLFile(source).encrypt(password, buffer)
    return buffer.getvalue()


def test_password_protected_office_files_are_named_as_locked_and_the_rest_is_indexed(
    tmp_path: Path, libreoffice: LibreOffice
) -> None:
    """Files locked with a password by LibreOffice and Word; none reaches a parser or LibreOffice's converter."""
    made = tmp_path / "made"
    made.mkdir()
    letter = docx.Document()
    letter.add_paragraph("第一条 为提升产业工人技能水平，制定本办法。")
    plain_doc = made / "办法.docx"
    letter.save(str(plain_doc))
    book = openpyxl.Workbook()
    book.active.append(("培训项目", "人数"))
    book.active.append(("焊工技能提升", 120))
    plain_sheet = made / "培训.xlsx"
    book.save(plain_sheet)
    deck = pptx.Presentation()
    deck.slides.add_slide(deck.slide_layouts[0]).shapes.title.text = "产改推进会"
    plain_deck = made / "推进会.pptx"
    deck.save(str(plain_deck))

    folder = tmp_path / "收件箱"
    folder.mkdir()
    libreoffice.save_with_password(plain_doc, folder / "加密办法.doc", "MS Word 97", "工会2024")
    libreoffice.save_with_password(plain_doc, folder / "加密通知.wps", "MS Word 97", "工会2024")
    libreoffice.save_with_password(plain_sheet, folder / "加密培训.xls", "MS Excel 97", "工会2024")
    libreoffice.save_with_password(plain_deck, folder / "加密推进会.ppt", "MS PowerPoint 97", "工会2024")
    libreoffice.save_with_password(plain_doc, folder / "加密办法.odt", "writer8", "工会2024")
    (folder / "加密办法.docx").write_bytes(locked_docx(plain_doc, "工会2024"))
    (folder / "办法.doc").write_bytes(libreoffice.convert(plain_doc, "doc").read_bytes())  # the same, unlocked

    started = time.monotonic()
    plan = scan([folder], {}, chunk_size=400, overlap_sentences=1, context=ReadContext(convert_timeout=60))
    assert [change.doc_id for change in plan.changes] == ["收件箱/办法.doc"]
    reasons = {Path(skip.path).name: skip.reason for skip in plan.skipped}
    assert reasons == {
        name: f"此 {Path(name).suffix} 文件设有打开密码（已加密），无法读取；请取消密码后另存，再重新导入"
        for name in ("加密办法.doc", "加密通知.wps", "加密培训.xls", "加密推进会.ppt", "加密办法.odt", "加密办法.docx")
    }
    assert time.monotonic() - started < 30  # one LibreOffice conversion (the unlocked .doc), no timeouts
