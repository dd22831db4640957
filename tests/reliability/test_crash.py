"""Crash safety: ``zhiku ingest`` killed with SIGKILL at each step of a batch loses and duplicates nothing.

``ZHIKU_CRASH_AT`` (index/store/faults.py) makes the real CLI kill itself at a chosen point: after a batch is
embedded but before SQLite commits it (``embedding``), between the two vector writes of a committed batch
(``vectors``), or while the keyword index is rebuilt (``keywords``). After each crash the KB must open and
answer, ``zhiku check`` must run, and re-running the same command must leave every chunk of the source
stored exactly once in SQLite, the vector store and the keyword index.
"""
from __future__ import annotations

import signal
from pathlib import Path

import httpx
import pytest
from reliability_live import (API_KEY, KNOWN_ARTICLES, assert_consistent, assert_exactly_once, open_kb, raw_meta,
                              run_zhiku, start_server, stop_server, top_doc, zhiku_json, zhiku_ok)

from bench.scans import fax_tiff, law_paragraphs

CONTRACT_LAW = "laws/社会法/劳动合同法(2012-12-28).md"
UNION_LAW = "laws/社会法/工会法(2021-12-24).md"
NEW_ARTICLE = "第九十九条 试点地区用人单位应当为高原作业劳动者发放供氧补贴。"
NEW_PHRASE = "高原作业劳动者发放供氧补贴"
REMOVED_CASE = "案例/劳动人事/加班费的仲裁时效应当如何认定.md"


def ingest_killed_at(crash_at: str, source: Path, kb: Path, env: dict[str, str]) -> None:
    """Run ``zhiku ingest`` with a crash point and require that it died by SIGKILL there."""
    done = run_zhiku("ingest", str(source), "--kb", str(kb), env={**env, "ZHIKU_CRASH_AT": crash_at})
    assert done.returncode == -signal.SIGKILL, (
        f"expected death by SIGKILL at {crash_at}, got exit {done.returncode}:\n{done.stderr[-2000:]}")


def assert_usable(kb: Path, env: dict[str, str]) -> None:
    """A crashed KB opens in a new process (repairing what the crash left) where ``zhiku check`` finds it
    sound, and then answers a search with its stores in agreement."""
    checked = zhiku_json("check", "--kb", kb, env=env)
    assert checked["ok"] and not checked["problems"], checked
    assert checked["chunks"] == checked["vectors"] == checked["keyword_rows"] > 0, checked
    with open_kb(kb, env) as knowledge_base:
        assert knowledge_base.search("劳动者 工资 用人单位").hits, "committed batches must be searchable"
        assert_consistent(knowledge_base)


@pytest.mark.parametrize("crash_at", ["embedding:2", "vectors:2", "keywords:1"])
def test_killed_ingest_then_rerun_stores_every_chunk_once(crash_at: str, laws: Path, env: dict[str, str],
                                                          tmp_path: Path) -> None:
    kb = tmp_path / "kb"
    ingest_killed_at(crash_at, laws, kb, env)

    meta = raw_meta(kb)  # what the kill left, before anything opens (and repairs) the KB
    generation, vectors_generation = int(meta["generation"]), int(meta.get("vectors_generation", 0))
    if crash_at == "embedding:2":  # batch 1 fully written; batch 2 never reached SQLite
        assert (generation, vectors_generation) == (1, 1)
    elif crash_at == "vectors:2":  # batch 2 committed in SQLite, its vectors only half written
        assert (generation, vectors_generation) == (2, 1)
    else:  # every batch written; the keyword index never saved
        assert generation == vectors_generation >= 3
        assert not (kb / "bm25" / "CURRENT").exists()

    assert_usable(kb, env)
    zhiku_ok("ingest", laws, "--kb", kb, env=env)
    with open_kb(kb, env) as knowledge_base:
        assert_exactly_once(knowledge_base, laws)
        for query, doc_id in KNOWN_ARTICLES:
            assert top_doc(knowledge_base.search(query)) == doc_id, query


def test_killed_reingest_of_edited_files(laws: Path, env: dict[str, str], tmp_path: Path) -> None:
    """Edits (a new article, a rewritten one, a deleted file) survive a kill mid-write of their batch."""
    kb = tmp_path / "kb"
    zhiku_ok("ingest", laws, "--kb", kb, env=env)
    contract = laws / "社会法" / Path(CONTRACT_LAW).name
    contract.write_text(contract.read_text(encoding="utf-8") + f"\n\n{NEW_ARTICLE}\n", encoding="utf-8")
    union = laws / "社会法" / Path(UNION_LAW).name
    union_text = union.read_text(encoding="utf-8")
    assert "工人阶级群众组织" in union_text
    union.write_text(union_text.replace("工人阶级群众组织", "工人阶级群众团体"), encoding="utf-8")
    (laws / REMOVED_CASE).unlink()
    before = int(raw_meta(kb)["generation"])

    ingest_killed_at("vectors:1", laws, kb, env)
    assert int(raw_meta(kb)["generation"]) == before + 1  # the edited documents' batch committed, no more

    assert_usable(kb, env)
    zhiku_ok("ingest", laws, "--kb", kb, env=env)
    with open_kb(kb, env) as knowledge_base:
        assert_exactly_once(knowledge_base, laws)
        assert top_doc(knowledge_base.search(NEW_PHRASE)) == CONTRACT_LAW
        union_hits = [hit for hit in knowledge_base.search("工人阶级群众团体", k=50, per_document=False).hits
                      if hit.doc_id == UNION_LAW]
        assert union_hits and all("工人阶级群众组织" not in hit.text for hit in union_hits)
        assert knowledge_base.document(f"laws/{REMOVED_CASE}") is None


def test_kill_during_the_first_keyword_save(laws: Path, env: dict[str, str], tmp_path: Path) -> None:
    """A kill inside the first ``KeywordIndex.save`` leaves ``bm25/`` with a half-written snapshot and no
    ``CURRENT`` pointer; the KB must treat that as "no keyword index yet" and rebuild, not fail every search."""
    kb = tmp_path / "kb"
    ingest_killed_at("keywords:1", laws, kb, env)
    staging = kb / "bm25" / ".staging-killed"  # the on-disk state of a kill between mkdir and CURRENT
    staging.mkdir(parents=True)
    (staging / "tf.npz").write_bytes(b"PK\x03\x04 cut short")

    query, doc_id = KNOWN_ARTICLES[2]
    assert top_doc(zhiku_json("search", query, "--method", "bm25", "--kb", kb, env=env)) == doc_id
    assert (kb / "bm25" / "CURRENT").exists()  # rebuilt and saved, so the next process need not rebuild


def test_a_server_told_to_stop_finishes_the_upload_it_accepted(kb_copy: Path, shared: Path, env: dict[str, str],
                                                               tmp_path: Path) -> None:
    """An upload answered 202 (Prefer: respond-async) runs on after its request: a server stopped (SIGTERM)
    right after accepting one finishes it before closing the KB, and exits cleanly. The uploader was told it
    was accepted; nothing accepted is lost."""
    scan = fax_tiff(law_paragraphs(shared / "corpus" / UNION_LAW, "第四十三条", 6))  # three pages to recognise
    server = start_server(kb_copy, {**env, "ZHIKU_API_KEY": API_KEY}, tmp_path / "server.log")
    try:
        accepted = httpx.post(f"{server.url}/api/documents", timeout=60,
                              files=[("files", ("停机前上传.tif", scan, "image/tiff"))],
                              headers={"Authorization": f"Bearer {API_KEY}", "Prefer": "respond-async"})
        assert accepted.status_code == 202
    finally:
        stop_server(server)
    assert server.process.returncode == -signal.SIGTERM  # uvicorn's own exit on SIGTERM: not killed at the deadline
    assert "Application shutdown complete" in server.log.read_text()
    listed = zhiku_json("search", "工会经费 拨缴", "--kb", kb_copy, "-k", "20", env=env)
    assert "停机前上传.tif" in {hit["doc_id"] for hit in listed["results"]}
    assert_usable(kb_copy, env)
