"""Normalise decoded text so that every reader hands the same clean text to metadata and chunking.

The clean text is what chunk offsets point into and what users see quoted, so cleaning is deliberately
conservative: it unifies what is *layout* (line endings, indentation, full-width Latin letters and digits,
invisible characters) and leaves *content* alone.  In particular Chinese punctuation such as ，。；：“”（）
is kept as it is: NFKC would turn （ into ( and ： into :, which changes how citations read and how
jieba segments them, so only the full-width letters, digits and the ideographic space are folded.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

LAWREF_HEADER_END = "<!-- INFO END -->"

_LINE_BREAKS = re.compile(r"\r\n?|[\x0b\x0c\x85\u2028\u2029]")
_EXCESS_BLANK_LINES = re.compile(r"\n{3,}")
# A line of zero-width characters alone between two lines of text: scraped web pages (the government work
# reports) break a paragraph there, mid-word (健全优胜劣汰质量竞 / U+200B / 争机制); the text runs on.
_ZERO_WIDTH_LINE = re.compile(r"(?<=\S)\n[^\S\n]*[\u200b\u200c\u200d\u2060\ufeff]+[^\S\n]*\n[^\S\n]*(?=\S)")
_FIRST_H1 = re.compile(r"^#[ \t]+(.+?)[ \t#]*$", re.MULTILINE)


def _translation_table() -> dict[int, int | None]:
    """Full-width ASCII letters/digits → ASCII, U+3000 and other spaces → space, invisible/control chars → removed."""
    table: dict[int, int | None] = {}
    for first, last in ((0xFF10, 0xFF19), (0xFF21, 0xFF3A), (0xFF41, 0xFF5A)):  # ０-９ Ａ-Ｚ ａ-ｚ
        for code in range(first, last + 1):
            table[code] = code - 0xFEE0
    for code in (0x3000, 0x00A0, *range(0x2000, 0x200B), 0x202F, 0x205F):  # ideographic, no-break, … spaces
        table[code] = ord(" ")
    for code in (0x200B, 0x200C, 0x200D, 0x2060, 0xFEFF, 0x00AD):  # zero-width characters, soft hyphen
        table[code] = None
    for code in [*range(0x00, 0x20), *range(0x7F, 0xA0)]:  # C0/C1 controls; newlines and tabs carry layout
        if chr(code) not in "\n\t":
            table[code] = None
    return table


_TABLE = _translation_table()


@dataclass(frozen=True)
class CleanText:
    """The clean body text, plus what was taken out of a LawRefBook header (kept for metadata)."""

    text: str
    header_title: str | None = None  # the header's first "# " heading
    header: str = ""  # the header's clean text (promulgation and amendment dates live here)


def normalise(raw: str) -> str:
    """Unify line endings, fold full-width letters/digits, drop invisible characters, tidy whitespace.

    Lines are stripped at both ends: leading full-width spaces are Chinese paragraph indentation (layout),
    and trailing spaces are noise.  Runs of blank lines collapse to one blank line (= a paragraph break).
    Two lines of text with only zero-width characters between them are one line (:data:`_ZERO_WIDTH_LINE`).
    """
    text = _ZERO_WIDTH_LINE.sub("", _LINE_BREAKS.sub("\n", raw)).translate(_TABLE)
    text = "\n".join(line.strip() for line in text.split("\n"))
    return _EXCESS_BLANK_LINES.sub("\n\n", text).strip()


def split_lawref_header(text: str) -> tuple[str | None, str]:
    """Split a LawRefBook file at ``<!-- INFO END -->`` into (header, body); (None, text) without a marker."""
    header, marker, body = text.partition(LAWREF_HEADER_END)
    return (header, body) if marker else (None, text)


def clean(raw: str) -> CleanText:
    """Normalise ``raw`` and remove a LawRefBook metadata header, keeping its title and dates for metadata."""
    text = normalise(raw)
    header, body = split_lawref_header(text)
    if header is None:
        return CleanText(text)
    title_match = _FIRST_H1.search(header)
    return CleanText(
        text=normalise(body),
        header_title=title_match.group(1).strip() if title_match else None,
        header=normalise(header),
    )
