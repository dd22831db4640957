"""A trainer who asks for an enterprise's practice gets the case report that holds it, even when the relevance
model ranks the report's long passage below the cut-off (the real 产改 case report beside the laws on vocational schools)."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from index.kb import KnowledgeBase
from index.search.ranking import relevance_model
from index.settings import Settings

CASE = "江钨控股集团工会全力推进产改走深走实(2023-11-01).txt"
LAWS = ("行政法/职业教育法(2022-04-20).md", "社会法/就业促进法(2015-04-24).md",
        "DLC/浙江地方法规/地方性法规/浙江/宁波市职业教育校企合作促进条例(2020-10-10).md",
        "DLC/上海地方法规/地方性法规/上海/上海市职业教育条例(2018-11-22).md")
QUESTION = "有没有企业跟职业院校合作培养技能工人的做法"


@pytest.fixture(scope="module")
def kb(tmp_path_factory: pytest.TempPathFactory, shared: Path) -> KnowledgeBase:
    root = tmp_path_factory.mktemp("fallback")
    (root / "docs" / "cases").mkdir(parents=True)
    (root / "docs" / "laws").mkdir()
    shutil.copy(shared / "corpus" / "cases" / CASE, root / "docs" / "cases" / CASE)
    for law in LAWS:
        shutil.copy(shared / "corpus" / "laws" / law, root / "docs" / "laws" / Path(law).name)
    kb = KnowledgeBase.open(Settings(kb=root / "kb", cache_dir=root / "cache"))
    kb.ingest([root / "docs"])
    yield kb
    kb.close()


def test_a_question_asking_for_cases_lists_the_case_that_holds_its_words(kb: KnowledgeBase) -> None:
    hits = kb.search(QUESTION, k=10).hits
    threshold = relevance_model(kb.settings.embedder).threshold
    cases = [h for h in hits if h.doc_type == "case"]
    assert len(cases) == 1 and "技术人才培训合作协议" in cases[0].text
    assert cases[0].score < threshold and hits[-1] is cases[0]  # below the cut-off, so after the rest
    assert all(h.score >= threshold for h in hits if h.doc_type != "case")
    assert kb.search(QUESTION, k=2).hits[-1].doc_type == "case"  # within the k shown


def test_no_case_is_added_without_a_case_cue_or_under_a_chosen_cut_off(kb: KnowledgeBase) -> None:
    threshold = relevance_model(kb.settings.embedder).threshold
    assert all(h.score >= threshold for h in kb.search("企业跟职业院校怎么合作培养技能工人", k=10).hits)
    assert all(h.score >= threshold for h in kb.search(QUESTION, k=10, min_relevance=threshold).hits)
    assert kb.search("有没有企业做红烧肉的例子", k=10).hits == []  # off-topic: none of its words in a case
