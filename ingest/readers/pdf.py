"""PDF, page by page: a page's text layer when it is usable, OCR of the rendered page when it is not.

A scanned PDF has no text layer, or one made of garbage (fonts without a Unicode map give private-use or
replacement characters); such pages are rendered with PDFium and OCR'd.  The other pages keep their digital
text, read as line boxes by PDFium (``pdftext``) with ruled tables turned into header-carrying rows
(``pdftables``).  Both kinds of page then go through the same ``layout`` rules: running headers, footers
and page numbers dropped, columns in reading order, wrapped lines joined.  Each page's start is recorded so
chunks can say 第3页.
"""

from __future__ import annotations

import io
import math
import unicodedata
from collections.abc import Iterator
from contextlib import ExitStack

import pypdf
import pypdfium2 as pdfium
from PIL import Image

from ingest.readers.base import RawRecord, ReadContext, UnreadableFile, paged_record
from ingest.readers.layout import PageScan, drop_running_lines, page_text
from ingest.readers.ocr import MAX_PIXELS, ocr_pages
from ingest.readers.pdftables import TableFinder, with_tables
from ingest.readers.pdftext import layer_scan, layer_text, page_size

MAX_PAGES = 2000  # a union office's longest real document is a few hundred pages; more is a mistake or a bomb
OCR_DPI = 200  # RapidOCR's error rate is below 1 % from here up (bench/README.md); 300 dpi costs 2× the time
MIN_DPI = 72  # a page so large that it would render below this is refused instead of OCR'd blind
MIN_LAYER_CHARS = 10  # fewer visible characters: a stamp or a page number on a scan, not a text layer
MAX_LAYER_GARBAGE = 0.05


def read_pdf(data: bytes, context: ReadContext) -> list[RawRecord]:
    """PDF → text of every page, OCR'ing only the pages without a usable text layer."""
    count = _page_count(data)
    try:
        layers = _text_layers(data, count)
    except UnreadableFile:
        raise
    except Exception as exc:  # PDFium and pdfminer raise their own error types for damaged files
        raise UnreadableFile(f"PDF 文件损坏或无法读取（{type(exc).__name__}）") from exc
    pages: list[str | None] = [None] * count
    digital = [number for number, scan in enumerate(layers) if scan is not None]
    for number, scan in zip(digital, drop_running_lines([layers[number] for number in digital])):
        pages[number] = page_text(scan)
    missing = [number for number, text in enumerate(pages) if text is None]
    if missing:
        scans = list(ocr_pages(_render(data, missing), count, context, done=count - len(missing)))
        for number, scan in zip(missing, drop_running_lines(scans)):
            pages[number] = page_text(scan)
    if not any(text and text.strip() for text in pages):
        raise UnreadableFile("PDF 没有文字层，OCR 也未识别出文字")
    return [paged_record([text or "" for text in pages])]


def _page_count(data: bytes) -> int:
    """The number of pages, after refusing an encrypted, damaged or overlong PDF."""
    try:
        reader = pypdf.PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise UnreadableFile("PDF 已加密（设有打开密码），无法读取；请取消密码后另存，再重新导入")
        count = len(reader.pages)
    except UnreadableFile:
        raise
    except Exception as exc:  # pypdf raises many error types for damaged files
        raise UnreadableFile(f"PDF 文件损坏或无法读取（{type(exc).__name__}）") from exc
    if count > MAX_PAGES:
        raise UnreadableFile(f"PDF 页数过多：{count} 页（上限 {MAX_PAGES} 页）")
    return count


def _text_layers(data: bytes, count: int) -> list[PageScan | None]:
    """Each page's usable text layer as line boxes, ruled tables as rows; None where the page needs OCR."""
    layers: list[PageScan | None] = []
    with ExitStack() as stack:
        document = pdfium.PdfDocument(data)
        stack.callback(document.close)
        finder = TableFinder(data)
        stack.callback(finder.close)
        for number in range(count):
            page = document[number]
            layer = layer_scan(page)
            if usable_layer(layer_text(layer)):
                layers.append(with_tables(layer, finder.tables(page, number)))
            else:
                finder.skip()
                layers.append(None)
            page.close()
    return layers


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
            width, height = page_size(page)  # points, 1/72 inch
            dpi = min(OCR_DPI, 72 * math.sqrt(MAX_PIXELS / max(width * height, 1)))
            if dpi < MIN_DPI:
                raise UnreadableFile(f"第{number + 1}页尺寸过大（{width:.0f}×{height:.0f} 点），无法识别")
            yield page.render(scale=dpi / 72, grayscale=True).to_pil()
            page.close()
    finally:
        document.close()
