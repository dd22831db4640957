"""A question that names no region gets the national rule first, but the local rule when no national one says
it (real provincial and municipal regulations beside the national labour and union laws)."""
from __future__ import annotations

from pathlib import Path

import pytest

from index.kb import KnowledgeBase
from statutes import statutes_kb

LAWS = ("DLC/上海地方法规/地方性法规/上海/上海市职工代表大会条例(2017-11-23).md",
        "DLC/河南地方法规/地方性法规/河南/河南省企业工资集体协商条例(2013-11-29).md",
        "社会法/劳动合同法(2012-12-28).md", "社会法/劳动法(2018-12-29).md", "社会法/工会法(2021-12-24).md")


@pytest.fixture(scope="module")
def kb(tmp_path_factory: pytest.TempPathFactory, shared: Path) -> KnowledgeBase:
    kb = statutes_kb(tmp_path_factory.mktemp("local"), shared, LAWS)
    yield kb
    kb.close()


def test_only_a_local_rule_says_it_so_it_is_listed(kb: KnowledgeBase) -> None:
    """No national law here sets how often a 职代会 meets; 上海市职工代表大会条例 第二十二条 does. With the local-rule
    shift it fell under the cut-off and the question got nothing."""
    first = kb.search("职代会一年至少开几次？").hits[0]
    assert first.title.startswith("上海市职工代表大会条例") and "每年至少召开一次" in first.text
    answer = "".join(s.text for s in kb.ask("职代会一年至少开几次？").sentences)
    assert "每年至少召开一次" in answer


def test_a_national_rule_that_says_it_stays_first(kb: KnowledgeBase) -> None:
    assert kb.search("集体合同草案要经过谁讨论通过？").hits[0].title == "中华人民共和国劳动合同法"
    assert kb.search("职工代表大会有哪些职权？").hits[0].title == "中华人民共和国工会法"
