"""Office formats: .docx and .pptx directly, legacy .doc/.wps/.rtf/.xls/.et/.ppt/.dps through LibreOffice.

LibreOffice runs headless as a subprocess with a private profile (two conversions never share one, and a
user's desktop LibreOffice is never touched) and a timeout after which its whole process group is killed:
a file it hangs on becomes one skipped file, not a stuck ingest.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import signal
import subprocess
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path

import docx
import pptx
from docx.table import Table

from ingest.readers.base import RawRecord, ReadContext, UnreadableFile, paged_record
from ingest.readers.tables import read_xlsx, row_lines

# python-docx inflates every part of a .docx into memory; a real document unpacks to a few MB, so a package
# declaring more is a zip bomb (hundreds of MB of XML from a few hundred KB) or not a text document.
MAX_UNPACKED_BYTES = 64 * 1024 * 1024
LIBREOFFICE_PACKAGES = "libreoffice-writer-nogui libreoffice-calc-nogui libreoffice-impress-nogui"
# Kingsoft WPS Office's own suffixes hold Microsoft binary formats; under its own name LibreOffice would take
# a .wps for the unrelated Microsoft Works format.
_MICROSOFT_SUFFIX = {".wps": ".doc", ".et": ".xls", ".dps": ".ppt"}


def read_docx(data: bytes, context: ReadContext) -> list[RawRecord]:
    """.docx → paragraphs and tables in document order; Title/Heading N styles become ``#`` lines."""
    refuse_zip_bomb(data, ".docx")
    try:
        document = docx.Document(io.BytesIO(data))
    except Exception as exc:  # python-docx raises zip, XML and KeyError flavours for broken packages
        raise UnreadableFile(f"Word 文件损坏或无法读取（{type(exc).__name__}）") from exc
    lines: list[str] = []
    for block in document.iter_inner_content():
        if isinstance(block, Table):
            lines.append("\n".join(row_lines([cell.text.strip() for cell in row.cells] for row in block.rows)))
            continue
        style = block.style.name if block.style is not None else ""
        level = 1 if style == "Title" else _heading_level(style)
        lines.append(f"{'#' * level} {block.text.strip()}" if level and block.text.strip() else block.text)
    title = (document.core_properties.title or "").strip()
    return [RawRecord("\n\n".join(lines), title_hint=title or None)]


def _heading_level(style_name: str) -> int:
    match = re.fullmatch(r"Heading (\d)", style_name)
    return min(int(match.group(1)), 6) if match else 0


def read_pptx(data: bytes, context: ReadContext) -> list[RawRecord]:
    """.pptx: each slide a page and a ``##`` section under its title; tables keep their header."""
    refuse_zip_bomb(data, ".pptx")
    try:
        deck = pptx.Presentation(io.BytesIO(data))
    except Exception as exc:  # python-pptx, like python-docx, raises many flavours for broken packages
        raise UnreadableFile(f"PPT 文件损坏或无法读取（{type(exc).__name__}）") from exc
    slides: list[str] = []
    for number, slide in enumerate(deck.slides, start=1):
        title_shape = slide.shapes.title
        title = title_shape.text_frame.text.strip() if title_shape is not None else ""
        lines = [f"## {' '.join(title.split()) or f'第{number}页'}"]
        for shape in slide.shapes:
            if title_shape is not None and shape.shape_id == title_shape.shape_id:
                continue
            if shape.has_text_frame and shape.text_frame.text.strip():
                lines.append(shape.text_frame.text)
            elif getattr(shape, "has_table", False) and shape.has_table:
                lines.extend(row_lines([cell.text for cell in row.cells] for row in shape.table.rows))
        slides.append("\n".join(lines))
    title = (deck.core_properties.title or "").strip()
    return [paged_record(slides, title_hint=title or None)]


def refuse_zip_bomb(data: bytes, kind: str) -> None:
    """Refuse a zip package whose parts would unpack past ``MAX_UNPACKED_BYTES``, before inflating any.

    The declared sizes are a safe bound: Python's zipfile never inflates a member past its declared size.
    """
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as package:
            unpacked = sum(info.file_size for info in package.infolist())
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError) as exc:
        raise UnreadableFile(f"{kind} 文件损坏或无法读取（{type(exc).__name__}）") from exc
    if unpacked > MAX_UNPACKED_BYTES:
        limit = MAX_UNPACKED_BYTES / 2**20
        raise UnreadableFile(f"{kind} 解压后 {unpacked / 2**20:.0f} MB（上限 {limit:.0f} MB），疑为压缩炸弹，拒绝读取")


def convert(data: bytes, suffix: str, target: str, timeout: float) -> bytes:
    """``data`` (a ``suffix`` file) converted by LibreOffice headless to ``target`` (docx, xlsx, pptx)."""
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    if soffice is None:
        raise UnreadableFile(f"读取 {suffix} 需要 LibreOffice，请安装：apt-get install {LIBREOFFICE_PACKAGES}")
    with tempfile.TemporaryDirectory(prefix="zhiku-lo-") as work:
        folder = Path(work)
        source = folder / f"input{_MICROSOFT_SUFFIX.get(suffix, suffix)}"
        source.write_bytes(data)
        command = [soffice, f"-env:UserInstallation={(folder / 'profile').as_uri()}", "--headless", "--norestore",
                   "--nolockcheck", "--convert-to", target, "--outdir", str(folder / "out"), str(source)]
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                   start_new_session=True, env={**os.environ, "HOME": work})
        try:
            _, stderr = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)  # soffice forks: kill the whole group it leads
            process.communicate()
            raise UnreadableFile(f"LibreOffice 转换 {suffix} 超时（{timeout:.0f} 秒），已停止；文件可能损坏或过于复杂") from None
        converted = folder / "out" / f"input.{target}"
        if not converted.is_file():
            raise UnreadableFile(f"LibreOffice 无法打开此 {suffix} 文件，文件可能已损坏")
        return converted.read_bytes()


def via_libreoffice(target: str, reader: Callable[[bytes, ReadContext], list[RawRecord]],
                    suffix: str) -> Callable[[bytes, ReadContext], list[RawRecord]]:
    """A reader for a legacy ``suffix`` that converts to ``target`` and hands the result to ``reader``."""
    def read(data: bytes, context: ReadContext) -> list[RawRecord]:
        return reader(convert(data, suffix, target, context.convert_timeout), context)
    read.__doc__ = f"{suffix} → .{target} through LibreOffice, then read as .{target}."
    return read


LEGACY: dict[str, Callable[[bytes, ReadContext], list[RawRecord]]] = {
    **{suffix: via_libreoffice("docx", read_docx, suffix) for suffix in (".doc", ".wps", ".rtf", ".odt")},
    **{suffix: via_libreoffice("xlsx", read_xlsx, suffix) for suffix in (".xls", ".et", ".ods")},
    **{suffix: via_libreoffice("pptx", read_pptx, suffix) for suffix in (".ppt", ".dps", ".odp")},
}
