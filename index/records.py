"""Plain data objects the index hands to the service: filters, hits, answers, reports."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from ingest.models import CaseKind, DatePrecision

Method = Literal["hybrid", "bm25", "dense"]
# How the hits are ordered: most relevant first, or earliest first (a question asking when something was first said)
Order = Literal["relevance", "date"]


@dataclass(frozen=True)
class Filters:
    """Metadata filters; every field narrows the result set, an empty field does nothing."""

    doc_types: tuple[str, ...] = ()  # any of these doc_type values
    date_from: str | None = None  # ISO date, inclusive
    date_to: str | None = None  # ISO date, inclusive
    source: str | None = None  # substring of the document's source
    title_contains: str | None = None  # substring of the title


@dataclass(frozen=True)
class Hit:
    """One search result: a passage of a document, with its relevance on the 0–1 scale (``score``)."""

    doc_id: str
    title: str
    doc_type: str
    date: str | None  # ISO; a year or a month alone is stored as its first day (``date_precision``)
    source: str | None
    heading: tuple[str, ...]
    text: str  # the passage shown to the user
    start: int  # offsets of the passage in the document's clean text
    end: int
    position: int  # chunk position of the best chunk
    score: float
    ranks: dict[str, int | None] = field(default_factory=dict)  # 1-based rank per method, None = not found
    page: int | None = None  # 1-based page the passage starts on (第3页), for paged documents
    case_kind: CaseKind | None = None  # a case report's kind (an enterprise's practice, a labour dispute); else None
    date_precision: DatePrecision = "day"  # how much of ``date`` the source gave: show 2018, not 2018-01-01


@dataclass(frozen=True)
class SearchResult:
    query: str
    hits: list[Hit]
    terms: list[str]  # the query terms used for BM25 and highlighting, after lexicon expansion
    expansions: dict[str, list[str]]  # lexicon expansions applied, e.g. {"产改": ["产业工人队伍建设改革"]}
    facets: dict[str, dict[str, int]]  # {"doc_type": {...}, "year": {...}, "source": {...}} over the candidates
    took_ms: float
    method: Method = "hybrid"
    learned: list[str] = field(default_factory=list)  # words the query adapter added to BM25, strongest first
    total: int = 0  # documents listed: above the relevance cut-off, or a case report asked for (hits shows the best)
    related: list[Hit] = field(default_factory=list)  # weak matches, offered only when hits is empty
    order: Order = "relevance"
    year: int | None = None  # the year of the document the question names (2018年政府工作报告): only it was searched


@dataclass(frozen=True)
class AnswerSentence:
    text: str
    citation: str  # e.g. 《工会法》第四十三条
    doc_id: str
    heading: tuple[str, ...]
    start: int  # offsets of the sentence in the document's clean text
    end: int
    score: float


@dataclass(frozen=True)
class Answer:
    query: str
    found: bool  # False = nothing relevant: the service says so instead of quoting noise
    sentences: list[AnswerSentence]
    passages: list[Hit]
    took_ms: float
    related: list[Hit] = field(default_factory=list)  # when not found: the search's weak matches, never quoted
    terms: list[str] = field(default_factory=list)  # the search's query terms, to highlight the weak matches with
    year: int | None = None  # the search's: the year of the document the question names, when only it was read


@dataclass(frozen=True)
class UploadStep:
    """Where an upload's ingest is, for the person waiting on it: file ``file`` of ``files`` (from 1), being
    read (a scan or photo: ``pages_done`` of ``pages_total`` pages recognised) or indexed (cut into passages
    and embedded). A scan of thirty pages takes a minute or more here, and a wait without news looks stuck."""

    file: int
    files: int
    name: str
    stage: Literal["reading", "indexing"]
    pages_done: int = 0
    pages_total: int = 0


@dataclass(frozen=True)
class FileOutcome:
    """What became of one uploaded file: added, updated, unchanged, or failed with the reason."""

    name: str
    status: Literal["added", "updated", "unchanged", "failed"]
    reason: str | None = None
    doc_ids: tuple[str, ...] = ()


@dataclass
class IngestReport:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    chunks_written: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    doc_ids: list[str] = field(default_factory=list)  # documents added or updated
    pages: dict[str, tuple[int, int]] = field(default_factory=dict)  # upload → (pages read, total) when OCR'd
    files: list[FileOutcome] = field(default_factory=list)  # one per uploaded file, in order


@dataclass
class CheckReport:
    documents: int
    chunks: int
    vectors: int
    keyword_rows: int
    problems: list[str]
    repaired: list[str]
    outdated: int = 0  # documents read under older chunking or metadata rules: consistent, but not as now

    @property
    def ok(self) -> bool:
        """Consistent, or every problem found was repaired by this run."""
        return len(self.repaired) >= len(self.problems)
