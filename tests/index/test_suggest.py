"""Search-box suggestions as pure functions: completions for a prefix, related terms and titles for a phrase or a
question, over the packaged lexicon and titles of the shipped corpus."""
from __future__ import annotations

import pytest

from index.search.suggest import longest, suggestions
from ingest.lexicon import load_lexicon

TITLES = [
    "《关于提高技术工人待遇的意见》要点摘编",
    "某市轨道交通集团提高技术工人待遇的实践",
    "《关于加强新时代高技能人才队伍建设的意见》要点摘编",
    "西南某化工集团劳模创新工作室集群带动“五小”创新",
    "东部某港口集团以职代会和集体协商推进民主管理",
    "《企业民主管理规定》要点摘编（职工代表大会部分）",
    "华东某装备制造公司以“师带徒”加快青年技能人才成长",
    "中华人民共和国工会法",
    "《企业年金办法》要点摘编",
]


def suggest(text: str, limit: int = 8) -> list[str]:
    return suggestions(text, TITLES, load_lexicon(), limit)


def test_a_prefix_is_completed_as_before() -> None:
    found = suggest("劳模")
    assert found[:2] == ["劳模精神", "劳模创新工作室"]  # terms starting with it, shortest first
    assert "西南某化工集团劳模创新工作室集群带动“五小”创新" in found  # then titles containing it
    assert found[-1] == "劳动模范"  # with room left, related terms follow: here its full form
    assert all("劳模" in s for s in found[:-1])


def test_a_question_gets_the_titles_and_terms_it_names() -> None:
    found = suggest("技术工人待遇怎么提高")
    assert set(found[:2]) == {"《关于提高技术工人待遇的意见》要点摘编", "某市轨道交通集团提高技术工人待遇的实践"}
    assert "技术工人待遇" in found  # a lexicon term (a case topic) the question contains
    assert not any("怎么" in s for s in found)


def test_abbreviations_find_titles_that_spell_them_out() -> None:
    found = suggest("职代会有哪些职权")
    assert "职代会" in found and "职工代表大会" in found
    assert "《企业民主管理规定》要点摘编（职工代表大会部分）" in found  # 职代会 = 职工代表大会
    assert "东部某港口集团以职代会和集体协商推进民主管理" in found


def test_a_whole_term_gets_its_topic() -> None:
    assert suggest("新八级工") == ["技能等级认定"]  # the case topic it is a cue of


@pytest.mark.parametrize("text", ["劳模", "技术工人待遇怎么提高", "师带徒 案例", "企业年金缴费比例是多少", "工会"])
@pytest.mark.parametrize("limit", [1, 3, 8])
def test_never_more_than_limit_never_the_input(text: str, limit: int) -> None:
    found = suggest(text, limit)
    assert 1 <= len(found) <= limit and text not in found and len(set(found)) == len(found)


@pytest.mark.parametrize("text", ["", "   ", "今天天气怎么样"])
def test_nothing_to_suggest(text: str) -> None:
    assert suggest(text) == []


def test_unrelated_titles_are_not_suggested() -> None:
    found = suggest("企业年金缴费比例是多少")
    assert found[:2] == ["企业年金", "《企业年金办法》要点摘编"]  # 企业年金 is the key; 比例 alone is not enough
    assert not [s for s in found if "企业年金" not in s and s not in load_lexicon().synonyms.get("企业年金", ())]


def test_longest() -> None:
    assert longest(["技术工人", "技术工人待遇", "提高", "待遇", "提高"]) == ["技术工人待遇", "提高"]
