"""A keyword lists every passage that holds it, though the relevance model scores a government work report's
long, many-topic paragraph below the cut-off (工匠精神 listed the 2017 report alone; 2016 and 2018 say it too)."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from index.kb import KnowledgeBase
from index.search.ranking import relevance_model
from index.settings import Settings

REPORTS = ("1957", "2016", "2017", "2018")


@pytest.fixture(scope="module")
def kb(tmp_path_factory: pytest.TempPathFactory, shared: Path) -> KnowledgeBase:
    root = tmp_path_factory.mktemp("keywords")
    (root / "docs").mkdir()
    for year in REPORTS:
        name = f"{year}年中华人民共和国国务院政府工作报告.txt"
        shutil.copy(shared / "corpus" / "reports" / name, root / "docs" / name)
    kb = KnowledgeBase.open(Settings(kb=root / "kb", cache_dir=root / "cache"))
    kb.ingest([root / "docs"])
    yield kb
    kb.close()


def test_a_keyword_lists_every_passage_that_holds_it(kb: KnowledgeBase) -> None:
    result = kb.search("工匠精神", k=10)
    threshold = relevance_model(kb.settings.embedder).threshold
    years = {h.title[:4] for h in result.hits}
    assert years == {"2016", "2017", "2018"} and result.total == 3  # the 1957 report never says it
    assert all("工匠精神" in h.text for h in result.hits)
    assert result.hits[0].score >= threshold > result.hits[-1].score  # above the cut-off first, then the rest
    assert kb.search("劳模精神 工匠精神", k=10).hits  # every word of the query: nothing passed the cut-off


def test_a_question_or_a_chosen_cut_off_lists_only_what_passes(kb: KnowledgeBase) -> None:
    threshold = relevance_model(kb.settings.embedder).threshold
    assert all(h.score >= threshold for h in kb.search("工匠精神是什么时候提出的", k=10).hits)
    assert all(h.score >= threshold for h in kb.search("工匠精神", k=10, min_relevance=threshold).hits)
    assert all("工匠精神" in h.text for h in kb.search("劳模精神 工匠精神", k=10).hits)
