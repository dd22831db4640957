"""Plain data objects that cross the floors: what ingest hands to the index."""
from __future__ import annotations

from bisect import bisect_right
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal, cast

DocType = Literal["law", "policy", "case", "report", "other"]
DOC_TYPES: tuple[str, ...] = ("law", "policy", "case", "report", "other")
DatePrecision = Literal["day", "month", "year"]  # a date from a year alone is stored as its 1 January
CaseKind = Literal["practice", "dispute"]  # a case report: an enterprise's or union's practice, or a labour dispute
DATE_PRECISION_KEY = "date_precision"  # in a document's extra, only when the date is less than a day's


def date_precision_of(extra: Mapping[str, object]) -> DatePrecision:
    """How much of its date a document's source gave, from its ``extra`` (a day's unless it says otherwise)."""
    return cast(DatePrecision, extra.get(DATE_PRECISION_KEY, "day"))


@dataclass(frozen=True)
class Document:
    """One logical document: a file, or one record of a .jsonl file.

    ``doc_id`` is content-independent (the path relative to the ingested root, plus ``#record-id`` for
    .jsonl records) so that editing a file updates the same document instead of adding a new one.
    """

    doc_id: str
    title: str
    text: str  # the clean text every chunk offset points into
    doc_type: DocType
    date: str | None  # ISO 8601 date, YYYY-MM-DD
    source: str | None  # issuing body or 来源
    content_hash: str  # sha256 of the clean text and metadata: changes when anything indexed changes
    source_hash: str  # sha256 of the raw file bytes: lets a re-ingest skip an unchanged file unread
    root: str  # absolute path of the folder (or file) the user ingested; scopes removals
    extra: dict[str, object] = field(default_factory=dict)  # e.g. jsonl record id, case facts
    page_starts: tuple[int, ...] = ()  # offsets in ``text`` where pages 1, 2, … start (PDF, scans, OFD, slides)

    @property
    def date_precision(self) -> DatePrecision:
        return date_precision_of(self.extra)

    def page_at(self, offset: int) -> int | None:
        """The 1-based page that ``text[offset]`` lies on, or None for a document without pages."""
        return bisect_right(self.page_starts, offset) or None if self.page_starts else None


@dataclass(frozen=True)
class Chunk:
    """A passage of a document with its place in it: ``doc.text[start:end] == text``."""

    doc_id: str
    position: int  # 0-based order within the document
    text: str
    start: int
    end: int
    heading: tuple[str, ...]  # heading path, e.g. ("工会法", "第五章 工会的经费和财产", "第四十三条")
    page: int | None = None  # 1-based page the chunk starts on, for paged documents (第3页)

    @property
    def chunk_id(self) -> str:
        return f"{self.doc_id}::{self.position}"


@dataclass(frozen=True)
class Skipped:
    """A file that was not ingested, and why (shown to the user; never a crash)."""

    path: str
    reason: str


@dataclass(frozen=True)
class Change:
    """One document-level change for the index to apply."""

    kind: Literal["add", "update", "remove"]
    doc_id: str
    document: Document | None = None  # None for "remove"
    chunks: tuple[Chunk, ...] = ()


@dataclass(frozen=True)
class KnownDoc:
    """What the index already holds of a document: enough for a scan to decide add/update/skip/remove."""

    doc_id: str
    root: str
    source_hash: str
    content_hash: str


@dataclass
class IngestPlan:
    """What a scan of some paths found, compared with what the index already holds."""

    changes: list[Change] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)  # doc_ids
    skipped: list[Skipped] = field(default_factory=list)
