"""PDF, page by page: a page's text layer when it is usable, OCR of the rendered page when it is not.

A scanned PDF has no text layer, or one made of garbage (fonts without a Unicode map give private-use or
replacement characters); such pages are rendered with PDFium and OCR'd, the others keep their digital text
with visually wrapped lines re-joined.  Each page's start is recorded so chunks can say 第3页.
"""

from __future__ import annotations

import io
import math
import re
import unicodedata
from collections.abc import Iterator

import pypdf
import pypdfium2 as pdfium
from PIL import Image

from ingest.chunking import starts_structure
from ingest.readers.base import RawRecord, ReadContext, UnreadableFile, paged_record
from ingest.readers.layout import drop_running_lines, page_text
from ingest.readers.ocr import MAX_PIXELS, ocr_pages

MAX_PAGES = 2000  # a union office's longest real document is a few hundred pages; more is a mistake or a bomb
OCR_DPI = 200  # RapidOCR's error rate is below 1 % from here up (bench/README.md); 300 dpi costs 2× the time
MIN_DPI = 72  # a page so large that it would render below this is refused instead of OCR'd blind
MIN_LAYER_CHARS = 10  # fewer visible characters: a stamp or a page number on a scan, not a text layer
MAX_LAYER_GARBAGE = 0.05

# Re-flowing PDF text: a line ending in these ends its paragraph; a line at least _WRAP_RATIO as wide as
# the page's widest line (and _MIN_WRAP_WIDTH columns) ran into the margin and may continue below.
_PDF_LINE_END = re.compile(r"[。！？；：:!?;…”’」』）)】]$")
_WRAP_RATIO = 0.8
_MIN_WRAP_WIDTH = 20


def read_pdf(data: bytes, context: ReadContext) -> list[RawRecord]:
    """PDF → text of every page, OCR'ing only the pages without a usable text layer."""
    try:
        reader = pypdf.PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise UnreadableFile("PDF 已加密（有密码保护）/ encrypted PDF (password protected)")
        count = len(reader.pages)
        if count > MAX_PAGES:
            raise UnreadableFile(f"PDF 页数过多：{count} 页（上限 {MAX_PAGES} 页）/ too many pages: {count} (limit {MAX_PAGES})")
        layers = [page.extract_text() or "" for page in reader.pages]
    except UnreadableFile:
        raise
    except Exception as exc:  # pypdf raises many error types for damaged files
        raise UnreadableFile(f"PDF 文件损坏或无法读取 / corrupt or unreadable PDF ({type(exc).__name__}: {exc})") from exc
    pages = [_join_wrapped_lines(text) if usable_layer(text) else None for text in layers]
    missing = [number for number, text in enumerate(pages) if text is None]
    if missing:
        done = count - len(missing)
        scans = list(ocr_pages(_render(data, missing), count, context, done=done))
        for number, scan in zip(missing, drop_running_lines(scans)):
            pages[number] = page_text(scan)
    if not any(text and text.strip() for text in pages):
        raise UnreadableFile("PDF 没有文字层，OCR 也未识别出文字 / PDF has no text layer and OCR found no text")
    return [paged_record([text or "" for text in pages])]


def usable_layer(text: str) -> bool:
    """A text layer worth keeping: enough visible characters, hardly any of them unmapped glyphs."""
    visible = [char for char in text if not char.isspace()]
    if len(visible) < MIN_LAYER_CHARS:
        return False
    garbage = sum(unicodedata.category(char) in ("Co", "Cc", "Cn") or char == "\ufffd" for char in visible)
    return garbage <= MAX_LAYER_GARBAGE * len(visible)


def _render(data: bytes, numbers: list[int]) -> Iterator[Image.Image]:
    """Pages ``numbers`` as images at ``OCR_DPI``, scaled down where a huge page would pass ``MAX_PIXELS``."""
    document = pdfium.PdfDocument(data)
    try:
        for number in numbers:
            page = document[number]
            width, height = page.get_size()  # points, 1/72 inch
            dpi = min(OCR_DPI, 72 * math.sqrt(MAX_PIXELS / max(width * height, 1)))
            if dpi < MIN_DPI:
                raise UnreadableFile(f"第{number + 1}页尺寸过大（{width:.0f}×{height:.0f} 点）/ "
                                     f"page {number + 1} too large to OCR ({width:.0f}×{height:.0f} pt)")
            yield page.render(scale=dpi / 72, grayscale=True).to_pil()
            page.close()
    finally:
        document.close()


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
