"""OCR'd lines → text a person would have typed: reading order, paragraphs, no running headers.

Pure functions over line boxes (no OCR here), so every rule is cheap to test and to change without
OCR'ing again.  The rules:

- **Reading order.** A page with a vertical gutter that no line crosses in its middle third is read as two
  columns: left column, then right, between the full-width lines (titles) that cross the gutter.
- **Paragraphs.** Lines of a column are joined without a space (a Chinese line break is not a space; only
  two Latin letters or digits get one).  A paragraph ends after a line ending in 。！？；：, a line that
  stops well short of the column's right edge, before an indented line, before a wide vertical gap, and
  before a line that opens 第X章/第X条/一、/（一）.
- **Structure.** ``第一条为了…`` read without the gap becomes ``第一条 为了…`` so that the chunker sees the
  same article heading as in the digital text.
- **Running headers and footers.** Page numbers in the top or bottom margin go; so do margin lines that
  repeat (digits aside) on most pages of a document.
- **Whole lines.** A line marked ``whole`` (a table row that already carries its header) is a paragraph of
  its own: never merged with a box beside it, never joined to the line before or after.

The same rules read a PDF's text layer (``pdftext``) and OFD text objects, so a digital page and its scan
come out alike.
"""

from __future__ import annotations

import re
import statistics
from collections import Counter
from dataclasses import dataclass, replace

from ingest.chunking import ARTICLE_NUMBER, CN_NUMBER, starts_structure

MARGIN = 0.08  # share of the page height at the top and at the bottom where running lines live
_PARAGRAPH_END = re.compile(r"[。！？；：!?;:][”’」』）)]*$")
_PAGE_NUMBER = re.compile(rf"^[-—–·\s]*(?:第\s*{CN_NUMBER}\s*页(?:\s*共\s*{CN_NUMBER}\s*页)?|{CN_NUMBER}(?:\s*/\s*\d+)?)[-—–·\s]*$")
_GLUED_LABEL = re.compile(rf"^({ARTICLE_NUMBER}|第{CN_NUMBER}[编章节])(?=[^\s，。、；：,.])")
_DIGITS = re.compile(r"\d+")


@dataclass(frozen=True)
class Line:
    """One recognised line of text and its box, in pixels of the upright page."""

    text: str
    left: float
    top: float
    right: float
    bottom: float
    whole: bool = False  # a paragraph by itself (a table row): see the module docstring

    @property
    def height(self) -> float:
        return self.bottom - self.top


@dataclass(frozen=True)
class PageScan:
    """The lines OCR found on one page, the page turned upright (``width`` × ``height`` as read)."""

    width: int
    height: int
    lines: tuple[Line, ...]


def _in_margin(line: Line, page: PageScan) -> bool:
    return line.bottom < MARGIN * page.height or line.top > (1 - MARGIN) * page.height


def drop_running_lines(pages: list[PageScan]) -> list[PageScan]:
    """Pages without page numbers and without margin lines repeated on most pages (running headers)."""
    repeated: Counter[str] = Counter()
    for page in pages:
        repeated.update({_DIGITS.sub("#", line.text) for line in page.lines if _in_margin(line, page)})
    running = {text for text, count in repeated.items() if len(pages) >= 3 and count >= 0.6 * len(pages)}
    return [
        replace(page, lines=tuple(
            line for line in page.lines
            if not (_in_margin(line, page) and (_PAGE_NUMBER.match(line.text) or _DIGITS.sub("#", line.text) in running))
        ))
        for page in pages
    ]


def _rows(lines: list[Line]) -> list[Line]:
    """Boxes on the same visual line merged left to right (OCR splits a line at wide gaps)."""
    rows: list[list[Line]] = []
    for line in sorted(lines, key=lambda item: (item.top + item.bottom) / 2):
        centre = (line.top + line.bottom) / 2
        if line.whole or (rows and rows[-1][0].whole):
            rows.append([line])
        elif rows and abs(centre - (rows[-1][0].top + rows[-1][0].bottom) / 2) < 0.5 * rows[-1][0].height:
            rows[-1].append(line)
        else:
            rows.append([line])
    merged = []
    for row in rows:
        if row[0].whole:
            merged.append(row[0])
            continue
        row.sort(key=lambda item: item.left)
        text = _GLUED_LABEL.sub(r"\1 ", row[0].text)
        for before, after in zip(row, row[1:]):
            text += (" " if after.left - before.right > 0.8 * before.height else "") + after.text
        merged.append(Line(text, row[0].left, min(b.top for b in row), row[-1].right, max(b.bottom for b in row)))
    return merged


def _gutter(lines: list[Line], width: int) -> float | None:
    """The x of a column gutter in the page's middle third, if at least 3 lines lie on each side of it."""
    best: tuple[int, float] | None = None
    for step in range(21):
        x = width * (1 / 3 + step / 60)
        crossing = sum(line.left < x < line.right for line in lines)
        if best is None or crossing < best[0]:
            best = (crossing, x)
    if best is None or best[0] > 0.15 * len(lines):
        return None
    x = best[1]
    left, right = sum(line.right <= x for line in lines), sum(line.left >= x for line in lines)
    return x if min(left, right) >= 3 else None


def _reading_order(lines: list[Line], width: int) -> list[list[Line]]:
    """Runs of lines to read one after the other: one column, or left then right between spanning lines."""
    lines = sorted(lines, key=lambda item: item.top)
    gutter = _gutter(lines, width)
    if gutter is None:
        return [_rows(lines)]
    flows: list[list[Line]] = []
    block: list[Line] = []
    for line in [*lines, None]:
        if line is None or line.left < gutter < line.right:
            left = [item for item in block if item.right <= gutter]
            right = [item for item in block if item.right > gutter]
            flows += [_rows(column) for column in (left, right) if column]
            if line is not None:
                flows.append(_rows([line]))
            block = []
        else:
            block.append(line)
    return flows


def _paragraphs(flow: list[Line]) -> list[str]:
    """Join the rows of one column into paragraphs (see the module docstring for when one ends)."""
    if not flow:
        return []
    text_lines = [line for line in flow if not line.whole] or flow  # table rows are taller and set no margins
    height = statistics.median(line.height for line in text_lines)
    left_edge = min(line.left for line in text_lines)
    right_edge = max(line.right for line in text_lines)
    paragraphs: list[str] = []
    previous: Line | None = None
    for line in flow:
        continues = (
            previous is not None
            and not previous.whole
            and not line.whole
            and not _PARAGRAPH_END.search(previous.text)
            and previous.right > right_edge - 2 * height  # the line before ran to the margin
            and line.left < left_edge + 1.5 * height  # this one is not indented
            and line.top - previous.bottom < 1.2 * height
            and not starts_structure(line.text)
        )
        if continues:
            glue = " " if paragraphs[-1][-1:].isascii() and paragraphs[-1][-1:].isalnum() and line.text[0].isascii() else ""
            paragraphs[-1] += glue + line.text
        else:
            paragraphs.append(line.text)
        previous = line
    return paragraphs


def page_text(page: PageScan) -> str:
    """The text of one page (OCR'd, a PDF text layer, OFD), paragraphs on their own lines, in reading order."""
    return "\n".join(p for flow in _reading_order(list(page.lines), page.width) for p in _paragraphs(flow))
