"""Fixtures for the ingest tests: one scan of the real corpus, and LibreOffice making files as offices do."""

from __future__ import annotations

from pathlib import Path

import pytest
from libreoffice_tools import LibreOffice

from ingest.models import Change, IngestPlan
from ingest.pipeline import scan

CORPUS_FOLDERS = ("laws", "reports", "cases")


@pytest.fixture(scope="session")
def chunk_size() -> int:
    """The chunk size the corpus is scanned with (the product default)."""
    return 400


@pytest.fixture(scope="session")
def corpus_plan(shared: Path, chunk_size: int) -> IngestPlan:
    """A first ingest (nothing known) of the three real corpus folders."""
    roots = [shared / "corpus" / name for name in CORPUS_FOLDERS]
    return scan(roots, {}, chunk_size=chunk_size, overlap_sentences=1)


@pytest.fixture(scope="session")
def corpus_changes(corpus_plan: IngestPlan) -> dict[str, Change]:
    """The scan's changes by doc_id."""
    return {change.doc_id: change for change in corpus_plan.changes}


@pytest.fixture
def libreoffice(tmp_path: Path) -> LibreOffice:
    """LibreOffice headless with a profile of this test's own."""
    return LibreOffice(tmp_path)
