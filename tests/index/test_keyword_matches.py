"""A keyword lists every passage that holds it, though the relevance model scores a government work report's
many-topic paragraph below the cut-off (工匠精神 listed the 2017 report alone; 2016 and 2018 say it too), and
a case report's long paragraph likewise (the 案例 tab found no case for 排舞, which the real case report names).
A question asking when something was first said lists every passage that says it, the earliest first; one
that names a report by its year searches that year's documents."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from index.kb import KnowledgeBase
from index.records import Filters
from index.search.ranking import relevance_model
from index.settings import Settings

REPORTS = ("1957", "2015", "2016", "2017", "2018")
CASE = "江钨控股集团工会全力推进产改走深走实(2023-11-01).txt"


@pytest.fixture(scope="module")
def kb(tmp_path_factory: pytest.TempPathFactory, shared: Path) -> KnowledgeBase:
    root = tmp_path_factory.mktemp("keywords")
    (root / "docs" / "cases").mkdir(parents=True)
    for year in REPORTS:
        name = f"{year}年中华人民共和国国务院政府工作报告.txt"
        shutil.copy(shared / "corpus" / "reports" / name, root / "docs" / name)
    shutil.copy(shared / "corpus" / "cases" / CASE, root / "docs" / "cases" / CASE)
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


def test_the_case_tab_finds_a_case_by_a_word_it_holds(kb: KnowledgeBase) -> None:
    (found,) = kb.cases(q="排舞")  # 健步走、排舞、球类运动等系列文体…活动; “…”排舞比赛中，集团公司工会获得优秀组织奖
    assert found["doc_id"].endswith(CASE)
    assert kb.cases(q="工匠精神") == []  # the reports say it, but they are not case reports


def test_a_keyword_is_matched_whole_not_by_jiebas_pieces(kb: KnowledgeBase) -> None:
    """jieba cuts 排舞 into 排 + 舞; the paragraph on red culture has 创排 and 上舞台 but never 排舞."""
    hits = kb.search("排舞", k=10).hits
    assert hits and all("排舞" in h.text for h in hits)


def test_when_something_was_first_said_the_earliest_report_answers(kb: KnowledgeBase) -> None:
    """Over the reports the question listed the 1957 report first (整整一年: a year, said); 2016 said 工匠精神 first."""
    result = kb.search("哪一年的政府工作报告首次提出工匠精神", k=10)
    assert result.order == "date" and result.total == 3
    assert [h.title[:4] for h in result.hits][0] == "2016" and all("工匠精神" in h.text for h in result.hits)
    dates = [h.date for h in result.hits]
    assert dates == sorted(dates)
    assert "工匠精神" in result.terms and not {"一年", "首次", "提出"} & set(result.terms)  # what is highlighted
    answer = kb.ask("哪一年的政府工作报告首次提出工匠精神")
    assert answer.sentences and all(s.citation.startswith("《2016年") and "工匠精神" in s.text for s in answer.sentences)


def test_a_first_mention_is_found_across_punctuation(kb: KnowledgeBase) -> None:
    """The reports write 大众创业、万众创新; the 2015 report is the first of them to say it."""
    result = kb.search("哪一年首次提出大众创业万众创新", k=10)
    assert result.order == "date" and result.hits[0].title.startswith("2015")
    assert {h.title[:4] for h in result.hits} == {"2015", "2016", "2017", "2018"}


def test_every_year_that_says_it_answers_which_years(kb: KnowledgeBase) -> None:
    """哪些年的…提到了工匠精神 listed the 1954–1964 reports: each report that says it answers, by its year."""
    result = kb.search("哪些年的政府工作报告提到了工匠精神", k=10)
    assert result.order == "date" and [h.title[:4] for h in result.hits][0] == "2016"
    answer = kb.ask("哪些年的政府工作报告提到了工匠精神")
    assert [s.citation[1:5] for s in answer.sentences] == ["2016", "2017", "2018"]  # one sentence of each report
    assert all("工匠精神" in s.text for s in answer.sentences)
    several = kb.ask("哪些年的政府工作报告提到了大众创业万众创新")  # several passages of each report say it
    assert [p.title[:4] for p in several.passages] == ["2015", "2016", "2017", "2018"]  # one of each


def test_when_no_named_document_says_it_none_is_listed(kb: KnowledgeBase) -> None:
    """No work report says 产业工人 (the case report does, and is no 政府工作报告): the reports likest the
    question (职工, 工人) were listed and quoted, which read as the years that said it."""
    result = kb.search("哪些年的政府工作报告提到了产业工人", k=10)
    assert (result.order, result.hits, result.related) == ("date", [], [])
    assert not kb.ask("哪一年的政府工作报告首次提出产业工人").found
    assert kb.search("产业工人", k=10).hits  # the case report, for a question that names no documents


def test_other_questions_keep_the_order_of_relevance(kb: KnowledgeBase) -> None:
    assert kb.search("工匠精神是什么", k=10).order == "relevance"
    chosen = kb.search("哪一年首次提出工匠精神", k=10, min_relevance=0.0)  # a caller's cut-off: its own order
    assert chosen.order == "relevance" and chosen.hits[0].score == max(h.score for h in chosen.hits)


def test_a_question_naming_a_years_report_is_answered_from_it(kb: KnowledgeBase) -> None:
    """2016, 2017 and 2018 all say 工匠精神; over the 87 reports the 2000 report came first and 问答 quoted 2017's."""
    result = kb.search("2018年政府工作报告关于工匠精神怎么说", k=10)
    assert result.year == 2018 and result.hits and all(h.title.startswith("2018年") for h in result.hits)
    answer = kb.ask("2018年政府工作报告关于工匠精神怎么说")
    assert "工匠精神" in answer.sentences[0].text and answer.sentences[0].citation.startswith("《2018年")
    assert kb.search("2030年政府工作报告说了什么", k=10).hits == []  # no 2030 report: not another year's
    chosen = kb.search("2018年政府工作报告关于工匠精神怎么说", k=10, filters=Filters(date_from="2017-01-01",
                                                                                  date_to="2017-12-31"))
    assert chosen.year is None and {h.title[:4] for h in chosen.hits} == {"2017"}  # the caller's dates win
    latest = kb.search("最新的政府工作报告关于工匠精神怎么说", k=10)  # the latest of the KB's: 2018
    assert latest.year == 2018 and all(h.title.startswith("2018年") for h in latest.hits)
    current = kb.search("今年的政府工作报告关于工匠精神怎么说", k=10)  # the KB holds none of this year: its latest
    assert current.year == 2018 and current.hits and all(h.title.startswith("2018年") for h in current.hits)


def test_within_a_named_report_only_what_says_it_is_listed(kb: KnowledgeBase) -> None:
    """Every passage of the 2018 report holds its title, which the question names: 平安中国建设 and 城镇化率
    were listed beside the one passage that says 工匠精神, and 2016's 产业 passages for 产业工人, said nowhere."""
    said = kb.search("2018年政府工作报告关于工匠精神怎么说", k=10).hits
    assert said and all("工匠精神" in hit.text for hit in said)
    silent = kb.search("2016年政府工作报告对产业工人怎么说", k=10)
    assert silent.year == 2016 and silent.hits == [] and silent.related == []
    assert kb.ask("2016年政府工作报告对产业工人怎么说").found is False
