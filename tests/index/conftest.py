"""Fixtures for the index tests.

``chroma_server`` yields the URL of a real ``chroma run`` server (tests/chroma_live.py); ``chroma_process`` is
the handle to stop, start, pause and resume it. ``stard_slice`` writes a small real BEIR-style set.
"""
from __future__ import annotations

from pathlib import Path

import pytest
from beir_slice import BeirSet, write_stard_slice
from chroma_live import ChromaProcess, chroma_process, chroma_server  # noqa: F401  (fixtures by import)


@pytest.fixture
def stard_slice(tmp_path: Path, shared: Path) -> BeirSet:
    return write_stard_slice(shared, tmp_path)
