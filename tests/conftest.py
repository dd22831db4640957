"""Fixtures shared by every test package: where the real data in ``../shared`` lives.

Tests read that data in place (it must never be copied into the repository).  Its location is the env var
``ZHIKU_SHARED`` or ``../shared`` beside the project root, as on every developer machine and in CI.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest


def shared_dir() -> Path:
    """The ``../shared`` folder (or ``$ZHIKU_SHARED``), resolved; it may not exist."""
    configured = os.environ.get("ZHIKU_SHARED")
    base = Path(configured) if configured else Path(__file__).resolve().parents[1] / ".." / "shared"
    return base.resolve()


@pytest.fixture(scope="session")
def shared() -> Path:
    """The shared data folder; fails the test with a clear message when it is missing."""
    path = shared_dir()
    if not (path / "corpus").is_dir():
        pytest.fail(
            f"shared test data not found at {path} (expected corpus/ and eval/ inside): "
            "put ../shared beside the project root or set ZHIKU_SHARED to its location"
        )
    return path
