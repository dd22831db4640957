"""Bytes → raw text, one module per format family, and the registry that picks a reader by suffix.

- ``text``: .txt .md .html .jsonl (Chinese-aware encoding detection)
- ``office``: .docx .pptx, and .doc .wps .rtf .xls .et .ppt .dps through LibreOffice
- ``tables``: .xlsx .csv (rows with their header)
- ``pdf``: text layer per page (``pdftext``, ruled tables by ``pdftables``), OCR where a page has none
- ``ocr``: images, and the OCR engine with its page cache; ``layout`` turns line boxes (OCR'd, a PDF's text
  layer, OFD's text objects) into paragraphs
- ``ofd``: GB/T 33190 e-documents
- ``locked``: password-protected office files, told as such before any parser sees them
"""

from __future__ import annotations

import hashlib
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ingest.readers.base import RawRecord, ReadContext, UnreadableFile
from ingest.readers.locked import refuse_locked
from ingest.readers.ocr import read_image
from ingest.readers.ofd import read_ofd
from ingest.readers.office import LEGACY, read_docx, read_pptx
from ingest.readers.pdf import read_pdf
from ingest.readers.tables import read_csv, read_xlsx
from ingest.readers.text import decode, read_html, read_jsonl, read_markdown, read_plain

__all__ = [
    "MAX_FILE_BYTES", "PIPELINE_VERSION", "SIDECAR_SUFFIX", "SUPPORTED_SUFFIXES", "RawRecord", "ReadContext",
    "SourceFile", "UnreadableFile", "decode", "extract", "load_source", "reader_for", "sidecar_for",
]

MAX_FILE_BYTES = 50 * 1024 * 1024
SIDECAR_SUFFIX = ".meta.json"

# Part of every source hash: bump it when a change to reading, cleaning, metadata or chunking should
# re-read files that have not changed on disk (the content hash then decides what really changed).
PIPELINE_VERSION = "5"

Reader = Callable[[bytes, ReadContext], list[RawRecord]]

_READERS: dict[str, Reader] = {
    ".txt": read_plain,
    ".md": read_markdown,
    ".markdown": read_markdown,
    ".html": read_html,
    ".htm": read_html,
    ".jsonl": read_jsonl,
    ".docx": read_docx,
    ".pptx": read_pptx,
    ".xlsx": read_xlsx,
    ".csv": read_csv,
    ".pdf": read_pdf,
    ".ofd": read_ofd,
    **dict.fromkeys((".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp"), read_image),
    **LEGACY,
}
SUPPORTED_SUFFIXES: tuple[str, ...] = tuple(_READERS)


@dataclass(frozen=True)
class SourceFile:
    """A file's raw bytes (and its ``.meta.json`` sidecar, if any) with the hash that detects edits."""

    path: Path
    data: bytes
    sidecar: bytes | None
    sidecar_path: Path | None
    source_hash: str


def sidecar_for(path: Path) -> Path | None:
    """The sidecar of ``path``: ``name.ext.meta.json`` or, failing that, ``name.meta.json``."""
    for candidate in (path.with_name(path.name + SIDECAR_SUFFIX), path.with_name(path.stem + SIDECAR_SUFFIX)):
        if candidate.is_file():
            return candidate
    return None


def load_source(path: Path, *, max_bytes: int = MAX_FILE_BYTES) -> SourceFile:
    """Read a file's bytes (refusing huge files and unsupported types before reading) with its sidecar hash."""
    reader_for(path.suffix)
    try:
        status = path.stat()
        if not stat.S_ISREG(status.st_mode):  # reading a FIFO or device would block or never end
            raise UnreadableFile("不是普通文件（管道或设备），无法读取")
        size = status.st_size
        if size > max_bytes:
            raise UnreadableFile(f"文件过大：{size / 2**20:.1f} MB（上限 {max_bytes / 2**20:.0f} MB）")
        data = path.read_bytes()
        sidecar_path = sidecar_for(path)
        sidecar = sidecar_path.read_bytes() if sidecar_path else None
    except OSError as exc:
        raise UnreadableFile(f"无法读取文件：{exc.strerror or exc}") from exc
    digest = hashlib.sha256(PIPELINE_VERSION.encode() + b"\x00" + data)
    if sidecar is not None:
        digest.update(b"\x00sidecar\x00" + sidecar)
    return SourceFile(path, data, sidecar, sidecar_path, digest.hexdigest())


def reader_for(suffix: str) -> Reader:
    """The reader of a file suffix (any case), or ``UnreadableFile`` naming the supported ones."""
    reader = _READERS.get(suffix.lower())
    if reader is None:
        shown = suffix or "（无扩展名）"
        raise UnreadableFile(f"不支持的文件类型 {shown}；支持：{'、'.join(SUPPORTED_SUFFIXES)}")
    return reader


def extract(data: bytes, suffix: str, context: ReadContext | None = None) -> list[RawRecord]:
    """Turn a file's bytes into raw records according to its suffix.

    Readers raise ``UnreadableFile`` for what they foresee; a failure they did not foresee inside a
    third-party parser (openpyxl, python-pptx, PDFium, onnxruntime) is still one file's problem, reported
    with its type, and never stops a batch.  A password-protected office file is told as such before any
    parser or LibreOffice sees it (``locked``); an encrypted PDF is told by the PDF reader.
    """
    reader = reader_for(suffix)
    if not data:
        raise UnreadableFile("空文件（0 字节）")
    refuse_locked(data, suffix)
    try:
        return reader(data, context or ReadContext())
    except UnreadableFile:
        raise
    except Exception as exc:  # see the docstring: one bad file must not end the batch
        raise UnreadableFile(f"无法读取此 {suffix} 文件（{type(exc).__name__}：{str(exc)[:200]}）") from exc
