"""Ranking steps on hand-made rows: intent cues, coverage, the relevance scale and grouping by document."""
from __future__ import annotations

import dataclasses
from datetime import date

import pytest

from index.search.intent import asks_of, defining_what_is_there, document_year, intent_of, offers
from index.search.ranking import (Candidate, Relevance, concepts, coverage, grouped, kind_features,
                                  local_rules_without_rival, title_key)
from index.store.sqlite import ChunkRow
from index.search.text import normalize


def row(doc_id: str, position: int, doc_type: str = "policy", jurisdiction: str | None = None) -> ChunkRow:
    return ChunkRow(chunk_id=f"{doc_id}::{position}", doc_id=doc_id, position=position, text="正文",
                    start=10 * position, end=10 * position + 2, page=None,
                    heading=(doc_id,), title=doc_id, doc_type=doc_type, date=None, source=None,
                    jurisdiction=jurisdiction)


@pytest.mark.parametrize(("query", "case", "rule", "asks"), [
    ("有没有企业搞师带徒的例子", True, False, "other"),
    ("哪家企业用师带徒培养青年技工？", True, False, "other"),
    ("师带徒 案例", True, False, "other"),
    ("产改 技能培训", True, False, "other"),  # bare keywords: a trainer browsing a topic
    ("加班费按什么标准算？", False, True, "other"),
    ("企业年金缴费比例是多少", False, True, "figure"),
    ("职工代表大会有哪些职权", False, False, "list"),
    ("产改是什么", False, False, "definition"),
    ("试用期可以不交社保吗", False, True, "yesno"),
    ("集体协商怎么开展", False, False, "howto"),
    ("被公司辞退，经济补偿怎么算？", False, True, "figure"),  # an amount, not steps
    ("年假工资怎么计算", False, True, "figure"),
    ("上下班路上被车撞了算工伤吗？", False, True, "yesno"),
    # questions without a question mark or 吗 are still questions, not a trainer's keywords
    ("职代会平时的工作归谁管", False, False, "other"),
    ("当协商代表合同到期了会不会被辞掉", False, True, "yesno"),
    # asking whether there is a case asks for the case, not for a rule's 可以 or 不得
    ("有没有农民工转产业工人的案例？", True, False, "other"),
    ("技能竞赛获奖能晋级，有企业这么做吗？", True, False, "other"),
    # 哪些企业… asks who, not for a list: a policy's list of what any enterprise may do answered it
    ("哪些企业给技能人才发津贴", True, False, "other"),
])
def test_intent_reads_what_the_query_wants(query: str, case: bool, rule: bool, asks: str) -> None:
    intent = intent_of(query)
    assert (intent.wants_case, intent.wants_rule) == (case, rule)
    assert asks_of(query) == intent.asks == asks


@pytest.mark.parametrize(("query", "example"), [
    ("有没有企业搞技能等级认定的做法", True),
    ("企业怎么跟职业院校合作培养技能工人？有现成做法吗", True),
    ("哪家企业用师带徒培养青年技工？", True),
    ("师带徒 案例", True),
    ("职业技能提升行动取得了哪些成效", False),  # results a policy report may state, not an enterprise's example
    ("产改 技能培训", False),  # a trainer's keywords want cases first, but name no example to quote
    ("有没有规定加班费的标准", False),
])
def test_a_question_asks_for_an_enterprises_example(query: str, example: bool) -> None:
    assert intent_of(query).example is example


@pytest.mark.parametrize(("query", "chronology", "named"), [
    ("哪一年的政府工作报告首次提出工匠精神", "first", ("政府工作报告", "工匠精神")),
    ("工匠精神最早是在哪年的政府工作报告里提出的", "first", ("工匠精神", "政府工作报告")),
    ("最早提出“互联网+”是哪一年", "first", ("互联网+",)),  # the + is part of the name
    ("中国制造2025最早在哪年提出", "first", ("中国制造2025",)),  # 中 is trimmed only at the end of what is left
    ("最早提出“互联网+”的是哪份报告", "first", ("互联网+", "报告")),
    ("哪些年的政府工作报告提到了工匠精神", "every", ("政府工作报告", "工匠精神")),  # every time, not the first
    ("政府工作报告哪几年提到过新质生产力", "every", ("政府工作报告", "新质生产力")),
    ("「Aeronomy」这个词是在哪个期刊发表的文章中首次提及？", None, ()),  # where, not when
    ("工匠精神是什么", None, ()),
    ("公司第一次安排加班要给多少钱", None, ()),  # first, but not when something was said
])
def test_a_question_asking_when_something_was_said_names_it(query: str, chronology: str | None,
                                                           named: tuple[str, ...]) -> None:
    intent = intent_of(query)
    assert (intent.chronology, intent.mentioned) == (chronology, named)


@pytest.mark.parametrize(("query", "year"), [
    ("2018年政府工作报告关于工匠精神怎么说", 2018),
    ("《2019年政府工作报告》提出了什么", 2019),
    ("2019年政府工作报告对2018年工作怎么总结", 2019),  # 2018年 names the work, not a document
    ("２０２０年工作总结", 2020),
    ("矿业集团2023年给班组长办了几期技能培训班", None),  # a year of what happened
    ("2018年和2019年的政府工作报告相比有什么变化", None),  # two documents
])
def test_a_question_names_a_document_by_its_year(query: str, year: int | None) -> None:
    assert intent_of(query).document_year == year


def test_a_document_named_by_this_year_or_as_the_latest() -> None:
    assert (document_year("今年政府工作报告关于就业的目标是多少", 2026), document_year("去年的工作总结", 2026)) == (2026, 2025)
    assert document_year("今年新增技师多少人", 2026) is None  # this year's events, not a document
    assert intent_of("今年的政府工作报告说了什么").document_year == date.today().year
    assert intent_of("最新的政府工作报告对技能人才怎么说").latest_document == "政府工作报告"
    assert intent_of("最近一次工作总结说了什么").latest_document == "工作总结"
    this_year = intent_of("今年的政府工作报告说了什么")  # this year's, or the latest when the KB has none yet
    assert (this_year.document_year, this_year.latest_document) == (date.today().year, "政府工作报告")
    assert intent_of("去年的政府工作报告说了什么").latest_document is None  # last year's, never another


@pytest.mark.parametrize(("query", "article"), [
    ("劳动合同法第三十九条是什么", ("劳动合同法", "第三十九条")),
    ("请问劳动法第44条", ("请问劳动法", "第四十四条")),  # the law's name ends the words before it
    ("《中华人民共和国工会法》第43条怎么规定的", ("中华人民共和国工会法", "第四十三条")),
    ("民法典第1260条", ("民法典", "第一千二百六十条")),
    ("第105条", None),  # no law named
    ("川纹笛鲷体侧的3条川字横带", None),
])
def test_a_question_names_an_article_by_its_number(query: str, article: tuple[str, str] | None) -> None:
    assert intent_of(query).article == article


def test_coverage_counts_a_word_in_any_of_its_lexicon_forms() -> None:
    words = concepts(["产改", "技能"], {"产改": ["产业工人队伍建设改革"]})
    idf = {"产改": 2.0, "技能": 1.0}
    assert coverage(normalize("深化产业工人队伍建设改革，提升技能"), words, idf) == pytest.approx(1.0)
    assert coverage(normalize("提升技能"), words, idf) == pytest.approx(1 / 3)
    assert coverage("任何文字", concepts(["火星"], {}), idf) == 0.0  # an unknown word weighs like the rarest


def test_relevance_is_a_probability_that_grows_with_each_piece_of_evidence() -> None:
    model = Relevance(fused=2.0, cosine=1.0, coverage=3.0, form=0.5, kind=(0.5, -0.5, -0.7, 2.0, -1.0, 2.0), bias=-3.0,
                      threshold=0.5, cosine_scale={False: (0.85, 0.05)})

    def p(fused: float, cosine: float, cover: float, kind: tuple[float, ...] = (0, 0, 0, 0, 0, 0)) -> float:
        return model.probability(Candidate(row("a", 0), fused, cosine, cover, 0.0, kind, adapted=False))

    assert 0 < p(0, 0.7, 0) < p(1, 0.7, 0) < p(1, 0.9, 0) < p(1, 0.9, 1) < 1
    assert p(1, 0.9, 1, (0, 0, 1, 0, 0, 0)) < p(1, 0.9, 1) < p(1, 0.9, 1, (1, 0, 0, 0, 0, 0)) < p(1, 0.9, 1, (1, 0, 0, 1, 0, 0))
    assert p(1, 0.9, 1, (1, 0, 0, 0, 1, 0)) < p(1, 0.9, 1, (1, 0, 0, 0, 0, 0)) < p(1, 0.9, 1, (1, 0, 0, 0, 0, 1))


def test_kind_features_follow_the_hierarchy_of_norms_and_the_intent() -> None:
    local = row("上海市工会条例", 0, "law", jurisdiction="上海市")
    assert kind_features(local, "工会经费怎么拨缴？", intent_of("工会经费怎么拨缴？")) == (0.0, 0.0, 1.0, 0.0, 0.0, 0.0)
    assert kind_features(local, "上海工会经费怎么拨缴？", intent_of("上海工会经费怎么拨缴？")) == (0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
    case = row("某公司案例", 0, "case")
    assert kind_features(case, "师带徒 案例", intent_of("师带徒 案例")) == (1.0, 0.0, 0.0, 0.0, 0.0, 0.0)
    assert kind_features(case, "加班费合法吗", intent_of("加班费合法吗")) == (0.0, 1.0, 0.0, 0.0, 0.0, 0.0)
    # only a case report names an enterprise: 哪家企业… wants one twice as much
    assert kind_features(case, "哪家企业搞师带徒", intent_of("哪家企业搞师带徒")) == (2.0, 0.0, 0.0, 0.0, 0.0, 0.0)
    # a case report's closing paragraph (下一步将…) gives way to its practices for a query that wants cases only
    closing = dataclasses.replace(case, last=True)
    assert kind_features(closing, "师带徒 案例", intent_of("师带徒 案例")) == (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)
    assert kind_features(closing, "江钨想把集团建成什么样的企业？", intent_of("江钨想把集团建成什么样的企业？"))[4] == 0.0


@pytest.mark.parametrize(("query", "text", "prohibits"), [
    ("用人单位在什么情况下不得解除劳动合同？", "用人单位不得依照本法第四十条、第四十一条的规定解除劳动合同", 1.0),
    ("用人单位在什么情况下不得解除劳动合同？", "用人单位有下列情形之一的，劳动者可以解除劳动合同", 0.0),
    ("女职工经期不能安排哪些劳动？", "用人单位不得安排女职工在经期从事高处作业", 1.0),
    ("员工怀孕了，公司能不能把她辞退？", "用人单位不得因女职工怀孕降低其工资", 0.0),  # 能不能 asks yes or no
])
def test_a_passage_prohibiting_what_the_question_asks_may_not_be_done(query: str, text: str, prohibits: float) -> None:
    passage = dataclasses.replace(row("劳动合同法", 0, "law"), text=text)
    assert kind_features(passage, query, intent_of(query))[5] == prohibits


def test_a_query_that_is_a_documents_title_names_it() -> None:
    """A title pasted into the box (or most of it, its marks aside) names its document; a short word does not."""
    dispute = row("处理加班费争议，如何分配举证责任", 0, "case")
    for query in ("处理加班费争议，如何分配举证责任", "处理加班费争议 如何分配举证责任", "如何分配举证责任"):
        assert kind_features(dispute, query, intent_of(query), title_key(query))[3] == 1.0, query
    policy = row("《关于提高技术工人待遇的意见》要点摘编", 0)
    assert kind_features(policy, "关于提高技术工人待遇的意见", intent_of("x"), title_key("关于提高技术工人待遇的意见"))[3] == 1.0
    for query in ("加班费", "加班费争议怎么处理"):  # too short to name one; words of it, not the title
        assert kind_features(dispute, query, intent_of(query), title_key(query))[3] == 0.0, query


def test_grouped_keeps_a_documents_passages_together_and_caps_them() -> None:
    ranked = [(row("A", 0), 0.9), (row("B", 0), 0.8), (row("A", 1), 0.7), (row("A", 2), 0.6), (row("A", 3), 0.5),
              (row("C", 0), 0.4)]
    shown = grouped(ranked, k=5, per_document=3)
    assert [(r.doc_id, r.position) for r, _ in shown] == [("A", 0), ("A", 1), ("A", 2), ("B", 0), ("C", 0)]
    assert [(r.doc_id, r.position) for r, _ in grouped(ranked, k=3, per_document=1)] == [("A", 0), ("B", 0),
                                                                                          ("C", 0)]


def test_grouped_shows_a_sentence_once() -> None:
    """Chunks of a long paragraph share a sentence; the second one that overlaps the first is left out."""
    first, overlapping, apart = row("A", 0), dataclasses.replace(row("A", 1), start=1, end=12), row("A", 2)
    shown = grouped([(first, 0.9), (overlapping, 0.8), (apart, 0.7)], k=5, per_document=3)
    assert [r.position for r, _ in shown] == [0, 2]


@pytest.mark.parametrize("text, figure", [
    ("劳动者在试用期内提前三日通知用人单位，可以解除劳动合同。", True),  # days as 日, the statutes' word
    ("延长工作时间每日不得超过三小时", True),
    ("须经三分之二以上会员同意", True),
    ("企业缴费每年不超过本企业职工工资总额的8%", True),
    ("第三十七条 劳动者可以解除劳动合同。", False),  # an article's number is not a figure
    ("依照本法第47条的规定", False),
])
def test_a_figure_is_an_amount_not_an_articles_number(text: str, figure: bool) -> None:
    assert offers("figure", text) is figure


@pytest.mark.parametrize("question, text, figure", [
    ("婚假能休几天？", "年休假在1个年度内可以集中安排，也可以分段安排。", False),  # a number, but not of days
    ("婚假能休几天？", "职工本人结婚的，给予婚假三天。", True),
    ("提前几天通知？", "劳动者在试用期内提前三日通知用人单位。", True),
    ("会费按工资的百分之几交？", "按每月全部职工工资总额的百分之二向工会拨缴经费。", True),
    ("加班工资按几倍算？", "支付不低于工资的百分之一百五十的工资报酬。", True),
    ("最低工资标准是每月多少钱？", "月工资收入高于用人单位所在直辖市、设区的市级人民政府公布的本地区上年度职工月平均工资3倍的",
     False),
    ("师傅带徒弟每个月有多少补贴？", "每月发放带徒津贴300元。", True),
    ("国庆节上班给多少工资？", "支付不低于工资的百分之三百的工资报酬。", True),  # pay, as a share of pay
    ("加班工资是多少？", "支付不低于工资的百分之一百五十的工资报酬。", True),  # 多少 names no unit: any figure
    ("失业金最多能领多长时间？", "领取失业保险金的期限最长为24个月。", True),
    ("职工代表大会多久开一次？", "职代会每年至少召开一次。", True),  # how often: 每年 and 一次 have no number of years
    ("职工代表大会多久开一次？", "职代会每届任期三至五年。", False),  # a span, not how often
    ("多长时间体检一次？", "每两年进行一次健康检查。", True),
    ("技能人才收入提高了多少？", "2021年，技能人才平均工资增长11.6%。", True),  # a change: a share, not a count
    ("技能人才收入提高了多少？", "集团现有职工1.2万人，其中技能人才约8700人。", False),
    ("6S管理一年节约了多少钱？", "公司一年节约费用460万元。", True),
    # money by what it pays for (多少经费, 津贴多少): the page quoted 建设创新工作室18家 for the first
    ("劳模创新工作室每年有多少经费？", "集团按标准建设创新工作室18家。", False),
    ("劳模创新工作室每年有多少经费？", "每年为每家工作室安排运行经费10万元至30万元。", True),
    ("群众安全监督员每月津贴多少？", "公司选聘群众安全生产监督员630名。", False),
])
def test_a_figure_is_in_the_unit_the_question_names(question: str, text: str, figure: bool) -> None:
    intent = intent_of(question)
    assert intent.asks == "figure" and offers("figure", text, intent.unit) is figure


@pytest.mark.parametrize("asks, text, offered", [
    ("definition", "只就其中某一项签订的叫专项集体合同。", True),
    ("definition", "本意见所说的高技能人才，指高级工以上的技能人才。", True),
    ("definition", "期满或约定的终止条件出现即行终止。", False),  # 即行 is "at once", not "that is"
    ("definition", "职工代表大会是职工行使民主管理权力的机构。", True),
    ("yesno", "不受学历、年限限制破格晋升技术等级。", True),
    ("yesno", "劳动争议仲裁不收费。", True),
    ("yesno", "竞赛获奖选手可按规定晋升一级技能等级。", True),
    ("yesno", "实行行政许可可能影响效率。", False),  # 许可, 可能: not a rule's 可
    ("yesno", "本案中，人民法院不应予以支持。", False),  # a court's reasoning, not a rule
])
def test_the_form_of_an_answer_in_the_statutes_own_words(asks: str, text: str, offered: bool) -> None:
    assert offers(asks, text) is offered


@pytest.mark.parametrize(("question", "text", "offered"), [
    # 劳动法's 劳动合同是…的协议 defines a term, but not the one asked for
    ("什么是集体合同？", "第十六条 劳动合同是劳动者与用人单位确立劳动关系、明确双方权利和义务的协议。", False),
    ("什么是集体合同？", "第三条 本条例所称集体合同，是指职工一方与用人单位订立的书面协议。", True),
    ("职代会是什么？", "职工代表大会是职工行使民主管理权力的机构。", True),  # the lexicon's other name
    # 产改的总体要求是什么 asks for content, not a term: any definition-like sentence offers itself as before
    ("产改的总体要求是什么", "《改革方案》是推进产改的纲领性文件。", True),
])
def test_a_definition_question_wants_its_own_term_defined(question: str, text: str, offered: bool) -> None:
    intent = intent_of(question)
    assert offers(intent.asks, text, intent.unit, intent.defined) is offered


def test_a_local_rule_keeps_its_shift_only_while_a_national_rule_answers_as_well() -> None:
    """什么是集体合同: no national law defines it; 劳动法's chapter on 劳动合同和集体合同 holds every word of the
    question in its heading and defines 劳动合同. Only Beijing's and Chongqing's 条例 define 集体合同, and the
    local-rule shift had left them below the cut-off."""
    def candidate(doc_id: str, coverage: float, form: float, local: bool) -> Candidate:
        return Candidate(row(doc_id, 0, "law"), 0.5, 0.2, coverage, form, (0, 0, float(local), 0, 0, 0), adapted=True)

    national = candidate("劳动法", 1.0, -1.0, local=False)
    defines = candidate("北京市集体合同条例", 1.0, 1.0, local=True)
    restates = candidate("河南省企业集体合同条例", 1.0, -1.0, local=True)
    kept = {c.row.doc_id: c.kind[2] for c in local_rules_without_rival([national, defines, restates])}
    assert kept == {"劳动法": 0.0, "北京市集体合同条例": 0.0, "河南省企业集体合同条例": 1.0}
    # a national rule that has the form too is the rival
    rival = candidate("劳动合同法", 0.9, 1.0, local=False)
    assert local_rules_without_rival([rival, defines])[1].kind[2] == 1.0
    # a local rule holding far more of the question's words than any national one loses the shift, as before
    assert local_rules_without_rival([candidate("劳动法", 0.2, 1.0, local=False),
                                      candidate("上海市职工代表大会条例", 0.63, -1.0, local=True)])[1].kind[2] == 0.0


def test_the_term_a_definition_question_asks_about_is_read_out_of_its_frame() -> None:
    assert intent_of("请问所谓“集体合同”是什么呢").defined == ("集体合同",)
    assert intent_of("什么是法律顾问").defined == ("法律顾问",)  # 问 is part of the term, not of 请问
    assert intent_of("职代会是什么？").defined == ("职代会", "职工代表大会")
    assert intent_of("产改的总体要求是什么").defined == ()


def test_a_term_no_passage_names_asks_for_any_definition() -> None:
    """劳动仲裁时效是什么: the statutes say 仲裁时效, never 劳动仲裁时效; a court's 时效是指… answers it."""
    intent = intent_of("劳动仲裁时效是什么")
    texts = [normalize("时效是指权利人不行使权利的事实状态持续经过法定期间的制度。")]
    assert not offers(intent.asks, texts[0], defined=intent.defined)
    generic = defining_what_is_there(intent, texts)
    assert generic.defined == () and offers(generic.asks, texts[0], defined=generic.defined)
    named = [normalize("本条例所称集体合同，是指职工一方与用人单位订立的书面协议。")]
    assert defining_what_is_there(intent_of("什么是集体合同"), named).defined == ("集体合同",)
