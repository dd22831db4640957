"""What every reader shares: the error it raises, the record it returns and the context it is given.

Readers know nothing of titles, dates or chunks: they turn a file's bytes into text (plus the few fields
a format declares itself) and raise ``UnreadableFile`` with a reason a user can act on when that is
impossible.  Paged formats (PDF, images, OFD, slides, sheets) also record where each page starts, so a
chunk can later say 第3页.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ingest.clean import normalise

ProgressCallback = Callable[[int, int], None]  # (pages done, pages total) of the document being read


class UnreadableFile(Exception):
    """A file that cannot be turned into text; ``str(exc)`` is the reason shown to the user."""


@dataclass(frozen=True)
class RawRecord:
    """Text from one file (or one .jsonl record) before cleaning."""

    text: str
    fields: dict[str, object] = field(default_factory=dict)  # metadata the file itself declares
    record_id: str | None = None  # set for .jsonl records
    title_hint: str | None = None  # a format-level title (HTML <title>, .docx core property)
    page_starts: tuple[int, ...] = ()  # offsets in ``text`` where pages 1, 2, … start (paged formats only)


@dataclass(frozen=True)
class ReadContext:
    """What a reader may need besides the bytes; plain values, since ingest imports nothing from index.

    ``cache_dir`` holds the OCR page cache (no cache when None); ``on_progress`` hears about every page
    a slow reader (OCR) finishes, so a CLI or an upload can show pages done / total.
    """

    cache_dir: Path | None = None
    on_progress: ProgressCallback | None = None
    convert_timeout: float = 120.0  # seconds LibreOffice may take to convert one file


def paged_record(pages: list[str], **fields: object) -> RawRecord:
    """One record from page texts, each page normalised on its own so that cleaning keeps the offsets.

    ``clean`` normalises the whole text the same way; since every page is already normal and pages are
    joined by exactly one blank line, it changes nothing, and ``page_starts`` stay true offsets.  Blank
    pages keep their number (their start is that of the next page) but add no text.
    """
    text, starts = "", []
    for page in pages:
        body = normalise(page)
        if body and text:
            text += "\n\n"
        starts.append(len(text))
        text += body
    return RawRecord(text, page_starts=tuple(starts), **fields)  # type: ignore[arg-type]
