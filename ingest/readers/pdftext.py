"""A PDF page's text layer as line boxes, read by PDFium: the same input ``layout`` gets from OCR.

Why not pypdf's ``extract_text``: a word processor leaves the gap after 第一条 as a position, not a space
glyph, and pypdf drops it, so ``第一条为了…`` was no article heading and a Word-made law PDF was not chunked
article by article; and it gives no positions, so a running header could not be told from body text.
PDFium keeps such a gap as a generated space and gives every character's box.  Its lines become ``Line``
boxes, and ``layout`` drops running headers, orders columns and joins wrapped lines exactly as it does for
OCR'd lines: a digital page and its scan read alike.

PDFium also generates a space where the type changes from a Latin to a Chinese font (``附件 2``, ``2024 年``);
nobody typed those, so a generated space between a Chinese character and a Latin letter or digit is dropped.
Generated spaces between two Chinese characters stay: they are gaps a reader sees (``第一条 为了``).
"""

from __future__ import annotations

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c

from ingest.readers.layout import Line, PageScan

_LINE_BREAKS = "\r\n"


def page_size(page: pdfium.PdfPage) -> tuple[float, float]:
    """Width and height of the page in its own coordinates (character boxes ignore ``/Rotate``)."""
    width, height = page.get_size()
    return (height, width) if page.get_rotation() in (90, 270) else (width, height)


def _utf16(codes: list[int]) -> str:
    """Characters from PDFium's UTF-16 code units (a character outside the BMP comes as a surrogate pair)."""
    return "".join(map(chr, codes)).encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


def _is_cjk(char: str) -> bool:
    return "\u3000" <= char <= "\u9fff" or "\uff00" <= char <= "\uffef"


def _font_switch_space(before: str, after: str) -> bool:
    """A gap between Chinese and Latin type: PDFium's space there is an artefact of the font change."""
    def latin(char: str) -> bool:
        return char.isascii() and char.isalnum()
    return (_is_cjk(before) and latin(after)) or (latin(before) and _is_cjk(after))


def layer_scan(page: pdfium.PdfPage) -> PageScan:
    """Every line of the page's text layer with its box, in points from the top left corner.

    Characters of a line are put in left-to-right order: a word processor draws the runs of each font in turn
    (the Latin quotes of ``“三个代表”`` after the Chinese line they sit in), and PDFium keeps drawing order.
    """
    width, height = page_size(page)
    textpage = page.get_textpage()
    lines: list[Line] = []
    placed: list[tuple[float, int, str]] = []  # (x, drawing order, character) of the line being read
    box: list[float] = []  # left, bottom, right, top of the line's visible characters (PDF coordinates)

    def end_line() -> None:
        text = " ".join(_utf16([ord(char) for _, _, char in sorted(placed)]).split())
        if text and box:
            lines.append(Line(text, box[0], height - box[3], box[2], height - box[1]))
        placed.clear()
        box.clear()

    try:
        count = textpage.count_chars()
        chars = [chr(pdfium_c.FPDFText_GetUnicode(textpage.raw, index)) for index in range(count)]
        x = 0.0
        for index, char in enumerate(chars):
            if char in _LINE_BREAKS:
                end_line()
                continue
            if (char == " " and 0 < index < count - 1 and pdfium_c.FPDFText_IsGenerated(textpage.raw, index) == 1
                    and _font_switch_space(chars[index - 1], chars[index + 1])):
                continue
            if not char.isspace() and ord(char) >= 0x20 and not "\udc00" <= char <= "\udfff":  # not a pair's 2nd half
                left, bottom, right, top = textpage.get_charbox(index, loose=True)
                x = left
                if box:
                    box[:] = [min(box[0], left), min(box[1], bottom), max(box[2], right), max(box[3], top)]
                else:
                    box.extend((left, bottom, right, top))
            placed.append((x, index, char))  # a space keeps the place of the character before it, as does
            # the second half of a surrogate pair
        end_line()
    finally:
        textpage.close()
    return PageScan(round(width), round(height), tuple(lines))


def layer_text(scan: PageScan) -> str:
    """The raw text of a layer scan, one line per line: what ``usable_layer`` judges."""
    return "\n".join(line.text for line in scan.lines)
