"""Helpers for the reliability tests: the law files they ingest, the articles they look for, and the check
that every chunk of a source is stored exactly once in SQLite, the vector store and the keyword index.

A plain module (not conftest) so test modules can import its constants and helpers. Subprocess and server
helpers come from tests/service/zhiku_live.py, so both packages start ``zhiku`` the same way.
"""
from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

_SERVICE_TESTS = Path(__file__).resolve().parents[1] / "service"
if str(_SERVICE_TESTS) not in sys.path:  # on sys.path already when tests/service is collected too
    sys.path.insert(0, str(_SERVICE_TESTS))

from zhiku_live import API_KEY, REPO, Server, run_zhiku, start_server, stop_server  # noqa: E402

from index.kb import KnowledgeBase  # noqa: E402
from index.records import SearchResult  # noqa: E402
from index.settings import Settings  # noqa: E402
from ingest.pipeline import scan  # noqa: E402

__all__ = ["API_KEY", "REPO", "Server", "run_zhiku", "start_server", "stop_server"]

# Under corpus/laws: the 9 social laws and the 10 official labour cases — 19 files, ~830 chunks.
SOURCE_FOLDERS = ("社会法", "案例/劳动人事")
# Small batches so that this corpus spans several committed batches (~7), which the crash points need.
BATCH_CHUNKS = 128

# (distinctive phrase, the document whose article contains it); the top hit for the phrase must be that doc.
KNOWN_ARTICLES: list[tuple[str, str]] = [
    ("用人单位自用工之日起即与劳动者建立劳动关系", "laws/社会法/劳动合同法(2012-12-28).md"),
    ("劳动者在试用期的工资不得低于本单位相同岗位最低档工资", "laws/社会法/劳动合同法(2012-12-28).md"),
    ("国家实行劳动者每日工作时间不超过八小时", "laws/社会法/劳动法(2018-12-29).md"),
    ("妇女的人格尊严不受侵犯", "laws/社会法/妇女权益保障法(2022-10-30).md"),
    ("生产经营单位的主要负责人是本单位安全生产第一责任人", "laws/社会法/安全生产法(2021-06-10).md"),
    ("国家把扩大就业放在经济社会发展的突出位置", "laws/社会法/就业促进法(2015-04-24).md"),
    ("工会是中国共产党领导的职工自愿结合的工人阶级群众组织", "laws/社会法/工会法(2021-12-24).md"),
    ("矿山建设工程的安全设施必须和主体工程同时设计", "laws/社会法/矿山安全法(2009-08-27).md"),
    ("基本养老保险实行社会统筹与个人账户相结合", "laws/社会法/社会保险法(2018-12-29).md"),
    ("职业病防治工作坚持预防为主、防治结合的方针", "laws/社会法/职业病防治法(2018-12-29).md"),
]


def copy_laws(shared: Path, dest: Path) -> Path:
    """Copy the source folders into ``dest/laws`` (so doc ids read ``laws/…`` as in the shared corpus)."""
    root = dest / "laws"
    for folder in SOURCE_FOLDERS:
        shutil.copytree(shared / "corpus" / "laws" / folder, root / folder)
    return root


def zhiku_ok(*args: object, env: dict[str, str], timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """Run ``zhiku`` and require exit code 0, showing its stderr when it fails."""
    done = run_zhiku(*map(str, args), env=env, timeout=timeout)
    assert done.returncode == 0, f"zhiku {' '.join(map(str, args))} exited {done.returncode}:\n{done.stderr[-3000:]}"
    return done


def zhiku_json(*args: object, env: dict[str, str]) -> dict:
    return json.loads(zhiku_ok(*args, "--json", env=env).stdout)


def settings_for(kb: Path, env: dict[str, str]) -> Settings:
    """The settings a ``zhiku`` subprocess started with ``env`` would use (the test process has no ZHIKU_*)."""
    return Settings(kb=kb, **{key.removeprefix("ZHIKU_").lower(): value for key, value in env.items()
                              if key.startswith("ZHIKU_") and key != "ZHIKU_SHARED"})


@contextmanager
def open_kb(kb: Path, env: dict[str, str]) -> Iterator[KnowledgeBase]:
    """The KB opened in this process — only while no ``zhiku`` process uses it (embedded chroma)."""
    knowledge_base = KnowledgeBase.open(settings_for(kb, env))
    try:
        yield knowledge_base
    finally:
        knowledge_base.close()


def raw_meta(kb: Path) -> dict[str, str]:
    """The KB's meta table as a crash left it, read without opening the KB (which would repair it)."""
    with sqlite3.connect(f"file:{kb / 'zhiku.sqlite'}?mode=ro", uri=True) as conn:
        return dict(conn.execute("SELECT key, value FROM meta"))


def assert_consistent(knowledge_base: KnowledgeBase) -> list[str]:
    """SQLite, vectors and keyword index hold the same chunks, each once, and ``check`` agrees; returns the ids."""
    sql_ids = list(knowledge_base.store.chunk_hashes())
    vector_ids = knowledge_base.vectors.ids()
    keyword_ids = list(knowledge_base.keywords().ids)
    vector_count = knowledge_base.vectors.count()
    positions = knowledge_base.store.conn.execute("SELECT doc_id, position FROM chunks").fetchall()
    assert not [cid for cid, n in Counter(keyword_ids).items() if n > 1], "duplicate rows in the keyword index"
    assert not [key for key, n in Counter(positions).items() if n > 1], "two chunks at one document position"
    assert len(sql_ids) == vector_count == len(keyword_ids), (len(sql_ids), vector_count, len(keyword_ids))
    orphans, missing = vector_ids - set(sql_ids), set(sql_ids) - vector_ids
    assert not orphans and not missing, f"{len(orphans)} orphan vectors, {len(missing)} chunks without a vector"
    assert set(keyword_ids) == set(sql_ids)
    report = knowledge_base.check()
    assert report.problems == [] and report.ok, report
    return sql_ids


def assert_exactly_once(knowledge_base: KnowledgeBase, source: Path) -> None:
    """Consistent, and holding exactly the documents and chunks a fresh ingest of ``source`` would."""
    settings = knowledge_base.settings
    plan = scan([source], {}, chunk_size=settings.chunk_size, overlap_sentences=settings.chunk_overlap)
    expected = sorted(chunk.chunk_id for change in plan.changes for chunk in change.chunks)
    stored = sorted(assert_consistent(knowledge_base))
    assert stored == expected, f"{len(set(stored) - set(expected))} extra, {len(set(expected) - set(stored))} missing"
    assert {doc["doc_id"] for doc in knowledge_base.documents(limit=10_000)[0]} == {c.doc_id for c in plan.changes}


def top_doc(result: dict | SearchResult) -> str | None:
    """The doc id of the first hit of a search (CLI --json, API response or in-process), None if none."""
    if isinstance(result, SearchResult):
        return result.hits[0].doc_id if result.hits else None
    return result["results"][0]["doc_id"] if result["results"] else None
