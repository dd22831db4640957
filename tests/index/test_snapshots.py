"""``Store.chunk_rows`` answers repeated chunks from its cache (index/store/snapshots.py), and never with a row
older than the file."""
from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from index.store.snapshots import Snapshots, StampedCache
from index.store.sqlite import Store


def _write(path: Path, *statements: str) -> None:
    """Change the file as another process would, bumping the meta key that such a write bumps."""
    with sqlite3.connect(path) as conn:
        for statement in statements:
            conn.execute(statement)


DOCUMENT = ("INSERT INTO documents (doc_id, root, title, doc_type, date, source, content_hash, source_hash, text) "
            "VALUES ('a.md', '/r', '标题', 'law', NULL, NULL, 'h', 's', '正文。')")


@pytest.fixture()
def store(tmp_path: Path) -> Iterator[Store]:
    """One document of three chunks at generation 1."""
    path = tmp_path / "zhiku.sqlite"
    store = Store(path)
    chunks = [f"INSERT INTO chunks VALUES ('a.md::{i}', 'a.md', {i}, '第{i}段。', 0, 3, '[\"一\"]', '段', 'x', NULL)"
              for i in range(3)]
    _write(path, DOCUMENT, *chunks, "INSERT INTO meta VALUES ('generation', '1')")
    yield store
    store.close()


def test_a_cached_row_is_the_same_object_until_a_write(store: Store) -> None:
    first = store.chunk_rows(["a.md::0", "a.md::1", "none"])
    assert set(first) == {"a.md::0", "a.md::1"} and first["a.md::0"].heading == ("一",)
    again = store.chunk_rows(["a.md::1", "a.md::0"])
    assert again["a.md::0"] is first["a.md::0"] and list(again) == ["a.md::1", "a.md::0"]
    _write(store.path, "UPDATE documents SET title = '新标题'",
           "UPDATE meta SET value = '2' WHERE key = 'generation'")
    assert store.chunk_rows(["a.md::0"])["a.md::0"].title == "新标题"


def test_a_disabled_document_is_cached_as_absent_and_comes_back(store: Store) -> None:
    assert store.chunk_rows(["a.md::0"])
    assert store.set_enabled("a.md", False)
    assert store.chunk_rows(["a.md::0", "a.md::1"]) == {}
    assert store.chunk_rows(["a.md::0"]) == {}  # from the cache: the chunk exists, its document is disabled
    assert store.set_enabled("a.md", True)
    assert set(store.chunk_rows(["a.md::0", "a.md::1"])) == {"a.md::0", "a.md::1"}


def test_a_cache_keeps_its_newest_values_up_to_its_size() -> None:
    cache: StampedCache[None] = StampedCache((1, 0), size=2)
    cache.add({"a": None, "b": None})
    cache.add({"c": None})
    assert list(cache.values) == ["b", "c"]
    assert cache.split(["a", "b"]) == ({"b": None}, ["a"])


def test_a_new_stamp_or_a_clear_starts_an_empty_cache() -> None:
    snapshots: Snapshots[int] = Snapshots(size=4)
    snapshots.at((1, 0)).add({"a": 1})
    assert snapshots.at((1, 0)).split(["a"]) == ({"a": 1}, [])
    assert snapshots.at((2, 0)).split(["a"]) == ({}, ["a"])
    snapshots.at((2, 0)).add({"a": 2})
    snapshots.clear()
    assert snapshots.at((2, 0)).split(["a"]) == ({}, ["a"])
