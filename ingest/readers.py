"""Bytes → raw text, one function per file format, with Chinese-aware encoding detection.

Readers know nothing of titles, dates or chunks: they turn a file's bytes into text (plus the few fields
a format declares itself, e.g. .jsonl record fields or an HTML ``<title>``) and raise ``UnreadableFile``
with a reason a user can act on when that is impossible.  Headings of HTML and .docx files become Markdown
``#`` lines so that metadata and chunking see one structure syntax whatever the format.
"""

from __future__ import annotations

import codecs
import hashlib
import io
import json
import re
import stat
import unicodedata
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import docx
import pypdf
from bs4 import BeautifulSoup, Comment, NavigableString
from bs4.dammit import EncodingDetector
from charset_normalizer import from_bytes
from docx.table import Table

from ingest.chunking import starts_structure

MAX_FILE_BYTES = 50 * 1024 * 1024
# python-docx inflates every part of a .docx into memory; a real document unpacks to a few MB, so a package
# declaring more is a zip bomb (hundreds of MB of XML from a few hundred KB) or not a text document.
MAX_DOCX_UNPACKED_BYTES = 64 * 1024 * 1024
SIDECAR_SUFFIX = ".meta.json"

# Share of control / replacement characters above which "text" is really binary decoded by accident.
_MAX_GARBAGE_RATIO = 0.01
_GARBAGE = re.compile(r"[\x00-\x08\x0e-\x1f\x7f\ufffd]")
_HANZI = re.compile(r"[\u4e00-\u9fff]")
_HANZI_SAMPLE = 20000  # hanzi looked at to tell GB from Big5: plenty, and bounded on huge files

# Part of every source hash: bump it when a change to reading, cleaning, metadata or chunking should
# re-read files that have not changed on disk (the content hash then decides what really changed).
PIPELINE_VERSION = "3"


class UnreadableFile(Exception):
    """A file that cannot be turned into text; ``str(exc)`` is the reason shown to the user."""


@dataclass(frozen=True)
class SourceFile:
    """A file's raw bytes (and its ``.meta.json`` sidecar, if any) with the hash that detects edits."""

    path: Path
    data: bytes
    sidecar: bytes | None
    sidecar_path: Path | None
    source_hash: str


@dataclass(frozen=True)
class RawRecord:
    """Text from one file (or one .jsonl record) before cleaning."""

    text: str
    fields: dict[str, object] = field(default_factory=dict)  # metadata the file itself declares
    record_id: str | None = None  # set for .jsonl records
    title_hint: str | None = None  # a format-level title (HTML <title>, .docx core property)


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
            raise UnreadableFile("not a regular file")
        size = status.st_size
        if size > max_bytes:
            raise UnreadableFile(f"file too large: {size / 2**20:.1f} MB (limit {max_bytes / 2**20:.0f} MB)")
        data = path.read_bytes()
        sidecar_path = sidecar_for(path)
        sidecar = sidecar_path.read_bytes() if sidecar_path else None
    except OSError as exc:
        raise UnreadableFile(f"cannot read file: {exc.strerror or exc}") from exc
    digest = hashlib.sha256(PIPELINE_VERSION.encode() + b"\x00" + data)
    if sidecar is not None:
        digest.update(b"\x00sidecar\x00" + sidecar)
    return SourceFile(path, data, sidecar, sidecar_path, digest.hexdigest())


def decode(data: bytes) -> str:
    """Decode text bytes: strict UTF-8 (± BOM), UTF-16 by BOM, strict GB18030 or Big5, then charset-normalizer.

    GB18030 is tried before statistical detection because it is a strict superset of GBK/GB2312 and
    rejects most non-Chinese byte soup, while detectors often mistake short Chinese texts for Big5 or
    Shift-JIS.  Big5 bytes are valid GB18030 too, though, so :func:`_gb_or_big5` picks between the two.
    NUL bytes outside UTF-16 mean a binary file that merely has a text extension.
    """
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise UnreadableFile(f"invalid UTF-16 text: {exc.reason}") from exc
    if b"\x00" in data:
        raise UnreadableFile("binary file (contains NUL bytes), not text")
    try:
        return _gb_or_big5(data, _reject_garbage(data.decode("gb18030")))
    except UnicodeDecodeError:
        pass
    best = from_bytes(data).best()
    if best is None:
        raise UnreadableFile("cannot detect the text encoding (not UTF-8, UTF-16 or GB18030/GBK)")
    return _reject_garbage(str(best))


def _gb_or_big5(data: bytes, gb_text: str) -> str:
    """The Big5 reading of ``data`` if it is valid and reads as more common characters than the GB one.

    Traditional-Chinese Big5 text also decodes as GB18030, into nonsense made of rare characters, while
    GBK text almost never decodes as strict Big5.  So the decoding whose hanzi are more often the common
    characters of its own charset (GB2312; Big5's level-1 block) is the right one.
    """
    gb_share = _common_hanzi_share(gb_text, big5=False)
    if gb_share == 1.0:
        return gb_text
    for encoding in ("big5", "cp950"):  # cp950 = Big5 with Microsoft's additions (files saved on Windows)
        try:
            big5_text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        return _reject_garbage(big5_text) if _common_hanzi_share(big5_text, big5=True) > gb_share else gb_text
    return gb_text


def _common_hanzi_share(text: str, *, big5: bool) -> float:
    """Share of the text's hanzi that are common characters: in GB2312, or in Big5 rows A4–C6 (level 1)."""
    hanzi = _HANZI.findall(text, 0, _HANZI_SAMPLE * 4)[:_HANZI_SAMPLE]
    if not hanzi:
        return 1.0
    common = 0
    for char in hanzi:
        try:
            encoded = char.encode("big5" if big5 else "gb2312")
        except UnicodeEncodeError:
            continue
        common += 0xA4 <= encoded[0] <= 0xC6 if big5 else 1
    return common / len(hanzi)


def _reject_garbage(text: str) -> str:
    """Refuse decodings that are mostly control characters: binary data that happened to decode."""
    if len(_GARBAGE.findall(text)) > _MAX_GARBAGE_RATIO * len(text):
        raise UnreadableFile("binary file (control characters), not text")
    return text


def _plain(data: bytes) -> list[RawRecord]:
    return [RawRecord(decode(data))]


_MARKDOWN_INLINE = (
    (re.compile(r"\*\*(.+?)\*\*"), r"\1"),  # **bold**
    (re.compile(r"(?<![A-Za-z0-9])__(.+?)__(?![A-Za-z0-9])"), r"\1"),  # __bold__, not snake__case__names
    (re.compile(r"!?\[([^\]\n]*)\]\([^)\n]*\)"), r"\1"),  # [text](url), ![alt](src)
    (re.compile(r"`([^`\n]+)`"), r"\1"),  # `code`
)


def _markdown(data: bytes) -> list[RawRecord]:
    """Markdown as its reader sees it: emphasis, link targets and code ticks go, or snippets show ``**…**``.

    ``#`` heading lines stay: the chunker reads them as headings. Single ``*`` is left alone (bullets, ×).
    """
    text = decode(data)
    for pattern, replacement in _MARKDOWN_INLINE:
        text = pattern.sub(replacement, text)
    return [RawRecord(text)]


_BLOCK_TAGS = ["p", "div", "li", "tr", "table", "section", "article", "blockquote", "pre", "ul", "ol", "dd", "dt"]


def _html(data: bytes) -> list[RawRecord]:
    """HTML → text lines: scripts, styles and navigation dropped, headings kept as ``#`` lines."""
    declared = EncodingDetector.find_declared_encoding(data, is_html=True)
    try:
        markup = data.decode(declared) if declared else decode(data)
    except (LookupError, UnicodeDecodeError):
        markup = decode(data)
    soup = BeautifulSoup(markup, "lxml")
    title = soup.title.get_text(" ", strip=True) if soup.title else None
    for tag in soup(["script", "style", "nav", "noscript", "template", "head"]):
        tag.decompose()
    for comment in soup.find_all(string=lambda node: isinstance(node, Comment)):
        comment.extract()
    for text_node in soup.find_all(string=True):
        if type(text_node) is NavigableString and text_node.find_parent("pre") is None:
            # In HTML a line break in the source is just a space; only markup makes paragraphs.
            text_node.replace_with(NavigableString(re.sub(r"\s+", " ", text_node)))
    for br in soup.find_all("br"):
        br.replace_with("\n")
    for level in range(1, 7):
        for heading in soup.find_all(f"h{level}"):
            heading.replace_with(f"\n\n{'#' * level} {heading.get_text(' ', strip=True)}\n\n")
    for block in soup.find_all(_BLOCK_TAGS):
        block.insert_before("\n")
        block.insert_after("\n")
    return [RawRecord(soup.get_text(), title_hint=title or None)]


def _docx(data: bytes) -> list[RawRecord]:
    """.docx → paragraphs and table rows in document order; Title/Heading N styles become ``#`` lines."""
    _refuse_zip_bomb(data)
    try:
        document = docx.Document(io.BytesIO(data))
    except Exception as exc:  # python-docx raises zip, XML and KeyError flavours for broken packages
        raise UnreadableFile(f"corrupt or unsupported .docx file ({type(exc).__name__})") from exc
    lines: list[str] = []
    for block in document.iter_inner_content():
        if isinstance(block, Table):
            for row in block.rows:
                cells = [cell.text.strip() for cell in row.cells]
                lines.append(" | ".join(c for i, c in enumerate(cells) if c and (i == 0 or c != cells[i - 1])))
            continue
        style = block.style.name if block.style is not None else ""
        level = 1 if style == "Title" else _heading_level(style)
        lines.append(f"{'#' * level} {block.text.strip()}" if level and block.text.strip() else block.text)
    title = (document.core_properties.title or "").strip()
    return [RawRecord("\n\n".join(lines), title_hint=title or None)]


def _refuse_zip_bomb(data: bytes) -> None:
    """Refuse a .docx whose parts would unpack past ``MAX_DOCX_UNPACKED_BYTES``, before inflating any.

    The declared sizes are a safe bound: Python's zipfile never inflates a member past its declared size.
    """
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as package:
            unpacked = sum(info.file_size for info in package.infolist())
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError) as exc:
        raise UnreadableFile(f"corrupt or unsupported .docx file ({type(exc).__name__})") from exc
    if unpacked > MAX_DOCX_UNPACKED_BYTES:
        limit = MAX_DOCX_UNPACKED_BYTES / 2**20
        raise UnreadableFile(f".docx unpacks to {unpacked / 2**20:.0f} MB (limit {limit:.0f} MB): "
                             "refused as a possible zip bomb")


def _heading_level(style_name: str) -> int:
    match = re.fullmatch(r"Heading (\d)", style_name)
    return min(int(match.group(1)), 6) if match else 0


# Re-flowing PDF text: a line ending in these ends its paragraph; a line at least _WRAP_RATIO as wide as
# the page's widest line (and _MIN_WRAP_WIDTH columns) ran into the margin and may continue below.
_PDF_LINE_END = re.compile(r"[。！？；：:!?;…”’」』）)】]$")
_WRAP_RATIO = 0.8
_MIN_WRAP_WIDTH = 20


def _pdf(data: bytes) -> list[RawRecord]:
    """PDF text layer → text, with visually wrapped lines re-joined into paragraphs."""
    try:
        reader = pypdf.PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise UnreadableFile("encrypted PDF (password protected)")
        pages = [page.extract_text() or "" for page in reader.pages]
    except UnreadableFile:
        raise
    except Exception as exc:  # pypdf raises many error types for damaged files
        raise UnreadableFile(f"corrupt or unreadable PDF ({type(exc).__name__}: {exc})") from exc
    text = "\n\n".join(_join_wrapped_lines(page) for page in pages)
    if not text.strip():
        raise UnreadableFile("PDF has no text layer (scanned image?); run OCR on it first")
    return [RawRecord(text)]


def _display_width(line: str) -> int:
    return sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in line)


def _join_wrapped_lines(page: str) -> str:
    """Re-join the lines a PDF text layer broke at the page width.

    A line continues the previous one only if the previous line is about as wide as the widest line of
    the page (it ran into the margin) and does not end a sentence, and the line itself is not indented
    and does not open a heading, article or outline item.  Short lines (titles, 来源：…, headings) stay.
    """
    lines = page.splitlines()
    full_width = _WRAP_RATIO * max((_display_width(line.strip()) for line in lines), default=0)
    out: list[str] = []
    previous_width = 0
    for raw in lines:
        line = raw.strip()
        wrapped = (
            out
            and out[-1]
            and line
            and previous_width >= max(full_width, _MIN_WRAP_WIDTH)
            and not raw[0].isspace()
            and not _PDF_LINE_END.search(out[-1])
            and not starts_structure(line)
        )
        if wrapped:
            out[-1] += (" " if out[-1][-1].isascii() and line[0].isascii() else "") + line
        else:
            out.append(line)
        previous_width = _display_width(line)
    return "\n".join(out)


def _jsonl(data: bytes) -> list[RawRecord]:
    """One record per line: ``{"id": ..., "text": ..., "title": ..., other fields}``."""
    records: list[RawRecord] = []
    seen: set[str] = set()
    for number, line in enumerate(decode(data).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise UnreadableFile(f"line {number}: invalid JSON ({exc.msg})") from exc
        if not isinstance(record, dict):
            raise UnreadableFile(f'line {number}: expected a JSON object like {{"id", "title", "text"}}')
        record_id, text = record.get("id"), record.get("text")
        if isinstance(record_id, bool) or not isinstance(record_id, str | int) or not str(record_id).strip():
            raise UnreadableFile(f'line {number}: record has no "id" (string or number)')
        if not isinstance(text, str) or not text.strip():
            raise UnreadableFile(f'line {number}: record {record_id!r} has no "text"')
        record_id = str(record_id).strip()
        if record_id in seen:
            raise UnreadableFile(f"line {number}: duplicate record id {record_id!r}")
        seen.add(record_id)
        # an empty field ("title": "") says nothing: detection fills it, as if the field were absent
        fields = {key: value for key, value in record.items() if key not in ("id", "text") and value != ""}
        records.append(RawRecord(text, fields=fields, record_id=record_id))
    if not records:
        raise UnreadableFile("no records in .jsonl file")
    return records


_READERS: dict[str, Callable[[bytes], list[RawRecord]]] = {
    ".txt": _plain,
    ".md": _markdown,
    ".markdown": _markdown,
    ".html": _html,
    ".htm": _html,
    ".docx": _docx,
    ".pdf": _pdf,
    ".jsonl": _jsonl,
}
SUPPORTED_SUFFIXES: tuple[str, ...] = tuple(_READERS)


def reader_for(suffix: str) -> Callable[[bytes], list[RawRecord]]:
    """The reader of a file suffix (any case), or ``UnreadableFile`` naming the supported ones."""
    reader = _READERS.get(suffix.lower())
    if reader is None:
        shown = suffix or "(no extension)"
        raise UnreadableFile(f"unsupported file type {shown}; supported: {', '.join(SUPPORTED_SUFFIXES)}")
    return reader


def extract(data: bytes, suffix: str) -> list[RawRecord]:
    """Turn a file's bytes into raw records according to its suffix."""
    reader = reader_for(suffix)
    if not data:
        raise UnreadableFile("empty file")
    return reader(data)
