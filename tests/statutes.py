"""A KB of a few real statutes from ../shared/corpus/laws, for tests that ask what staff ask of them."""
from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path

from index.kb import KnowledgeBase
from index.settings import Settings


def statutes_kb(root: Path, shared: Path, laws: Sequence[str]) -> KnowledgeBase:
    """Copy ``laws`` (paths under corpus/laws) into ``root`` and ingest them with the defaults; close it after."""
    (root / "docs").mkdir()
    for law in laws:
        shutil.copy(shared / "corpus" / "laws" / law, root / "docs" / Path(law).name)
    kb = KnowledgeBase.open(Settings(kb=root / "kb", cache_dir=root / "cache"))
    kb.ingest([root / "docs"])
    return kb
