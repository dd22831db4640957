"""问答 quotes the sentence that answers a colloquial question although it shares few of its words (real laws).

劳动仲裁多长时间出结果 is answered by 第四十三条's 四十五日内结束, which holds neither 多长时间 nor 出结果; 上班时突发
心脏病没抢救过来，算不算工伤 by 工伤保险条例 第十五条's 48小时之内经抢救无效死亡, which holds neither 心脏病 nor
抢救过来. A unit must hold a fifth of the question's words (``MIN_COVERAGE``); with the third it once needed,
仲裁 was answered with 第二十七条's 时效 alone. An article named by its number is listed first and quoted whole.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from index.answering.followup import answer_in_turn
from index.kb import KnowledgeBase
from statutes import statutes_kb

LAWS = ("诉讼与非诉讼程序法/劳动争议调解仲裁法(2007-12-29).md", "行政法规/工伤保险条例(2010-12-20).md",
        "社会法/社会保险法(2018-12-29).md", "社会法/劳动合同法(2012-12-28).md", "社会法/劳动法(2018-12-29).md",
        "行政法规/女职工劳动保护特别规定(2012-04-28).md", "社会法/工会法(2021-12-24).md",
        "DLC/重庆地方法规/地方性法规/重庆/重庆市工会条例(2011-11-29).md")


@pytest.fixture(scope="module")
def kb(tmp_path_factory: pytest.TempPathFactory, shared: Path) -> KnowledgeBase:
    kb = statutes_kb(tmp_path_factory.mktemp("reach"), shared, LAWS)
    yield kb
    kb.close()


@pytest.mark.parametrize(("question", "says", "article"), [
    ("劳动仲裁多长时间出结果？", "四十五日内结束", "第四十三条"),
    ("上班时突发心脏病没抢救过来，算不算工伤？", "48小时之内经抢救无效死亡", "第十五条"),
    # everyday words the statutes do not use (ingest/lexicon/colloquial.tsv): 一样的活 is 同工同酬, 动手动脚 性骚扰
    ("派遣来的工人跟正式工干一样的活，工资能不一样吗？", "同工同酬的权利", "第六十三条"),
    ("单位里有人对女同事动手动脚，单位该不该管？", "预防和制止对女职工的性骚扰", "第十一条"),
    ("加班费怎么算？", "百分之一百五十的工资报酬", "第四十四条"),  # 劳动法 never says 加班费: 延长工作时间…工资报酬
    ("公司不签劳动合同怎么办？", "应当自用工之日起一个月内订立书面劳动合同", "第十条"),  # 签 is 订立; it quoted 第三十八条
    # a figure the law leaves to an authority: who sets it is the answer (it quoted 第四十六条's durations)
    ("失业保险金标准是多少？", "由省、自治区、直辖市人民政府确定", "第四十七条"),
    ("最低工资标准是多少？", "由省、自治区、直辖市人民政府规定", "第四十八条"),
    # what may not be done: 不得…解除, not the 可以解除 of 第三十八条 and 第四十条, which hold the same words
    ("用人单位在什么情况下不得解除劳动合同？", "不得依照本法第四十条、第四十一条的规定解除劳动合同", "第四十二条"),
    ("哪些情况下公司不能辞退员工？", "不得依照本法第四十条、第四十一条的规定解除劳动合同", "第四十二条"),
])
def test_the_sentence_that_answers_is_quoted(kb: KnowledgeBase, question: str, says: str, article: str) -> None:
    sentences = kb.ask(question).sentences
    quoted = next(s for s in sentences if says in s.text)
    assert quoted.citation.endswith(article)


@pytest.mark.parametrize(("question", "opens"), [
    ("单位不交工会经费怎么办？", "第四十四条"),  # 拒不拨缴: it opened with 第四十三条, the fund's sources
    ("工会经费不交怎么办？", "第四十四条"),
    ("公司不给交社保怎么办？", "第六十条"),  # 缴纳社会保险费: nothing was found
])
def test_paying_in_everyday_words_is_answered_by_the_rule_on_paying(kb: KnowledgeBase, question: str,
                                                                    opens: str) -> None:
    """交 is the statutes' 缴纳 or 拨缴 (ingest/lexicon/colloquial.tsv)."""
    assert kb.ask(question).sentences[0].text.startswith(opens)


@pytest.mark.parametrize(("previous", "question", "query", "says"), [
    ("试用期最长多久？", "工资呢？", "试用期工资", "试用期的工资不得低于"),  # was 试用期最长不得超过六个月
    ("女职工产假多少天？", "那哺乳期呢？", "女职工哺乳期", "哺乳"),  # was 98天产假
    ("产假多少天？", "难产呢？", "产假多少天 难产", "难产的，增加产假15天"),  # the rewrite names it: kept
    ("劳动合同到期不续签？", "有补偿吗", "劳动合同有补偿吗", "应当向劳动者支付经济补偿"),  # too vague alone
    ("工会经费按什么比例拨缴？", "产假多少天？", "产假多少天？", "98天产假"),  # a new question: asked as it is
])
def test_a_follow_up_whose_answer_never_names_it_is_asked_with_the_topic(kb: KnowledgeBase, previous: str,
                                                                         question: str, query: str, says: str) -> None:
    answer = answer_in_turn(question, previous, kb.ask)
    assert answer.query == query and any(says in s.text for s in answer.sentences)


def test_a_case_of_a_rule_is_quoted_with_the_rule(kb: KnowledgeBase) -> None:
    """公司不给交社保 is 第三十八条's case （三）; quoted alone it would not say what follows from it (可以解除劳动合同),
    and the rule alone would not say that 社保 is one of its cases."""
    texts = [s.text for s in kb.ask("公司不给交社保，我能直接辞职吗？").sentences]
    case = next(i for i, t in enumerate(texts) if "未依法为劳动者缴纳社会保险费" in t)
    assert case > 0 and texts[case - 1].startswith("第三十八条") and texts[case - 1].endswith("可以解除劳动合同:")


def test_an_article_named_by_its_number_is_listed_first_and_quoted_whole(kb: KnowledgeBase) -> None:
    """劳动法第四十四条 listed 第十四条 and 第四十三条: neither search reads an article's number."""
    (first, *_) = kb.search("劳动法第44条").hits  # 劳动合同法 has a 第四十四条 too: not the law named
    assert (first.title, first.heading[-1], first.score) == ("中华人民共和国劳动法", "第四十四条", 1.0)
    sentences = kb.ask("劳动合同法第三十九条是什么").sentences  # a definition question quoted the rule alone
    assert sentences[0].text.startswith("第三十九条 劳动者有下列情形之一的")
    assert sentences[-1].text == "（六）被依法追究刑事责任的。" and len(sentences) == 7
    assert all(s.citation == "《中华人民共和国劳动合同法》第三十九条" for s in sentences)
    assert all(h.score < 1.0 for h in kb.search("民法典第一千零四十三条").hits)  # a law the KB does not hold


def test_asking_in_what_cases_quotes_every_case_the_statute_lists(kb: KnowledgeBase) -> None:
    """什么情况下… quoted 第三十八条's rule with the one case nearest the question."""
    sentences = kb.ask("劳动者在什么情况下可以解除劳动合同").sentences
    assert sentences[0].text.startswith("第三十八条 用人单位有下列情形之一的，劳动者可以解除劳动合同")
    assert [s.text[:3] for s in sentences[1:]] == ["（一）", "（二）", "（三）", "（四）", "（五）", "（六）"]


def test_a_sentence_two_laws_say_alike_is_quoted_once(kb: KnowledgeBase) -> None:
    """劳动法 第三十四条 and 劳动合同法 第五十四条 both say it, 工会法 and 重庆市工会条例 the term of a union committee;
    the answer said each twice, one after the other."""
    question = "集体合同报送劳动行政部门后多少天没异议就生效"
    said = [s for s in kb.ask(question).sentences if "十五日内未提出异议" in s.text]
    assert len(said) == 1 and said[0].text.startswith("劳动行政部门")  # so neither opens with its 第…条
    term = [s.text for s in kb.ask("基层工会委员会每届任期几年").sentences if "任期三年或者五年" in s.text]
    assert term == ["第十六条 基层工会委员会每届任期三年或者五年。"]  # 重庆市工会条例 says it too, in mid-article
    assert {h.title for h in kb.search(question, k=5).hits} >= {"中华人民共和国劳动法", "中华人民共和国劳动合同法"}
