"""Extractive answers on hand-made search results: the form the question asks for, never a bare heading."""
from __future__ import annotations

from index.answering.extract import citation, extract_answer, sentence_spans, units
from index.records import Hit, SearchResult
from index.search.text import analyze_query

PENSION = ("## 三、缴费规定\n\n- 企业年金所需费用由企业和职工个人共同缴纳。\n"
           "- 企业缴费每年不超过本企业职工工资总额的8%；企业和职工个人缴费合计不超过本企业职工工资总额的12%。\n"
           "- 企业年金基金实行完全积累。")
POWERS = ("二、职工代表大会的职权\n\n（一）听取和审议。职代会听取企业主要负责人的报告。\n\n"
          "（二）审议通过。集体合同草案应当提交职代会审议。\n\n（三）评议监督。职代会可以民主评议企业管理人员。")


def hit(text: str, title: str, heading: tuple[str, ...], doc_id: str = "d.md", score: float = 0.9) -> Hit:
    return Hit(doc_id=doc_id, title=title, doc_type="policy", date=None, source=None, heading=(title, *heading),
               text=text, start=100, end=100 + len(text), position=0, score=score)


def result(query: str, *hits: Hit) -> SearchResult:
    analysis = analyze_query(query)
    return SearchResult(query=query, hits=list(hits), terms=analysis.terms, expansions=analysis.expansions,
                        facets={}, took_ms=0.0)


IDF = {"企业年金": 3.0, "缴费": 2.0, "比例": 2.0, "职工代表大会": 3.0, "职权": 3.0, "工会": 1.0, "安全生产": 2.0,
       "监督": 2.0}


def test_a_figure_question_quotes_the_sentences_with_the_figures() -> None:
    sentences, found = extract_answer(result("企业年金缴费比例是多少", hit(PENSION, "企业年金办法", ("三、缴费规定",))), IDF)
    answer = "".join(s.text for s in sentences)
    assert found and "8%" in answer and "12%" in answer
    assert not any(s.text.startswith(("-", "#")) for s in sentences)  # no Markdown markers quoted
    assert sentences[0].start >= 100 and sentences[0].citation == "《企业年金办法》 › 三、缴费规定"


def test_a_list_question_gets_the_whole_list_in_order() -> None:
    sentences, found = extract_answer(result("职工代表大会有哪些职权", hit(POWERS, "企业民主管理规定",
                                                                       ("二、职工代表大会的职权",))), IDF)
    assert found and [s.text[:4] for s in sentences] == ["（一）听", "（二）审", "（三）评"]


def test_a_heading_alone_is_never_the_answer_but_the_passage_is_still_shown() -> None:
    bare = hit("## 四、工会的监督职责", "安全生产法", ("四、工会的监督职责",))
    sentences, found = extract_answer(result("工会对安全生产有什么监督权", bare), IDF)
    assert found and sentences == []  # relevant passage, nothing quotable: the page shows the passage
    assert [u.parts for u in units("## 三、缴费规定\n\n正文一句。", 0)] == [((11, 16),)]


def test_a_case_paragraphs_lead_sentence_is_its_heading_not_an_answer() -> None:
    lead = "设立技能津贴，让技能等级更有含金量。"
    paragraph = hit(lead + "集团把技能津贴纳入工资结构，技师每月800元。", "某集团提高技术工人待遇", (lead,))
    sentences, found = extract_answer(result("集团的技能津贴是怎么设的", paragraph), {"技能津贴": 3.0})
    assert found and [s.text for s in sentences] == ["集团把技能津贴纳入工资结构，技师每月800元。"]


def test_a_colloquial_question_is_answered_from_a_confident_first_passage() -> None:
    """试用期里不想干了 shares only 提前 with the article that answers it: no sentence holds 30 % of the
    question's words, yet search is confident in the article, so its figure sentence is quoted."""
    article = "第三十七条 劳动者提前三十日以书面形式通知用人单位，可以解除劳动合同。劳动者在试用期内提前三日通知用人单位，可以解除劳动合同。"
    question = "入职才几天不想干了，提前几天说就行？"
    idf = {"入职": 3.0, "才": 1.0, "不想": 3.0, "干": 2.0, "提前": 2.0, "说": 1.0, "行": 1.0}
    sentences, found = extract_answer(result(question, hit(article, "劳动合同法", ("第三十七条",), score=0.4)), idf)
    assert found and sentences and "提前三十日" in sentences[0].text
    weak, found = extract_answer(result(question, hit(article, "劳动合同法", ("第三十七条",), score=0.12)), idf)
    assert found and weak == []  # a weak first passage is shown, not quoted as the answer


def test_nothing_found_when_search_lists_nothing() -> None:
    assert extract_answer(result("今天天气怎么样"), IDF) == ([], False)


def test_citation_names_the_article_of_a_law() -> None:
    article = hit("第四十三条 经费……", "中华人民共和国工会法", ("第五章 经费", "第四十三条"))
    assert citation(article) == "《中华人民共和国工会法》第四十三条"


def test_sentences_of_one_passage_are_quoted_in_its_own_order() -> None:
    """The later sentence holds more of the question, yet the answer reads as the article does."""
    article = ("第四十条 职业学校可以通过与企业共同举办职业教育机构等多种形式进行合作。"
               "国家鼓励职业学校与企业建立合作机制，合作培养技能人才。")
    idf = {"企业": 2.0, "职业": 2.0, "学校": 2.0, "合作": 2.0, "培养": 0.3, "技能": 0.3, "能人": 0.1, "人才": 0.3,
           "技能人才": 0.3}
    sentences, found = extract_answer(result("企业和职业学校怎么合作培养技能人才",
                                             hit(article, "职业教育法", ("第四十条",))), idf)
    assert found and len(sentences) == 2 and max(sentences, key=lambda s: s.score) is sentences[1]
    assert [s.start for s in sentences] == sorted(s.start for s in sentences)


def test_a_list_is_quoted_with_the_sentence_that_introduces_it() -> None:
    """The items alone do not say what they are for; the colon sentence before them does."""
    article = ("第七十九条 用人单位应当采取下列措施预防和制止对妇女的性骚扰：\n\n（一）制定禁止性骚扰的规章制度；\n\n"
               "（二）明确负责机构或者人员；\n\n（三）开展预防和制止性骚扰的教育培训活动。")
    idf = {"用人单位": 1.0, "预防": 2.0, "性骚扰": 3.0, "采取": 1.0, "措施": 2.0}
    sentences, found = extract_answer(result("用人单位预防性骚扰要采取哪些措施",
                                             hit(article, "妇女权益保障法", ("第七十九条",))), idf)
    assert found and [s.text[:4] for s in sentences] == ["第七十九", "（一）制", "（二）明", "（三）开"]
    assert sentences[0].text.endswith("性骚扰：")


def test_a_sentence_that_only_says_a_list_follows_is_quoted_with_the_list() -> None:
    """妇女权益保障法关于性骚扰的规定 asks no list, yet its best sentence is the list's colon: quoted alone it said
    only that measures follow, and the answer ran on into another article."""
    article = ("第二十五条 用人单位应当采取下列措施预防和制止对妇女的性骚扰：\n\n（一）制定禁止性骚扰的规章制度；\n\n"
               "（二）明确负责机构或者人员；\n\n（三）开展预防和制止性骚扰的教育培训活动。")
    idf = {"妇女权益保障法": 2.0, "性骚扰": 3.0, "规定": 1.0}
    sentences, _ = extract_answer(result("妇女权益保障法关于性骚扰的规定",
                                         hit(article, "妇女权益保障法", ("第二十五条",))), idf)
    assert [s.text[:4] for s in sentences] == ["第二十五", "（一）制", "（二）明", "（三）开"]


def test_a_list_written_in_one_line_is_quoted_whole() -> None:
    """工会的监督权：…；…；…。 is a list without line breaks: a list question gets every clause, not the first."""
    article = ("第六十条 工会的监督权：对建设项目安全设施实施监督；对侵犯从业人员合法权益的违法行为有权要求纠正；"
               "有权依法参加事故调查。")
    idf = {"工会": 1.0, "安全生产": 2.0, "监督": 2.0, "监督权": 3.0}
    sentences, found = extract_answer(result("工会对安全生产有哪些监督权", hit(article, "安全生产法", ("第六十条",))), idf)
    assert found and len(sentences) == 3
    assert sentences[0].text.startswith("第六十条") and sentences[-1].text == "有权依法参加事故调查。"


def test_labelled_lines_after_a_colon_are_one_list() -> None:
    """Digests write a list as paragraphs that start with a label and a colon, with no （一） or bullet."""
    section = ("## 三、重点任务\n\n规划部署的重点任务主要有以下几方面：\n\n健全终身职业技能培训制度：面向城乡全体劳动者。\n\n"
               "强化企业职工培训：支持企业开展岗前培训。\n\n加强数字技能培训：开发新职业培训标准和课程。")
    idf = {"规划": 2.0, "重点": 1.0, "任务": 1.0, "培训": 1.0}
    sentences, found = extract_answer(result("培训规划有哪些重点任务", hit(section, "培训规划", ("三、重点任务",))), idf)
    assert found and [s.text[:4] for s in sentences] == ["规划部署", "健全终身", "强化企业", "加强数字"]


def test_a_sentence_that_enumerates_is_a_list_for_a_list_question() -> None:
    """基本原则有四条：A、B、C、D。 answers 有哪些基本原则 by itself, ahead of longer sentences with more words."""
    section = ("指导思想是大规模开展职业技能培训，建设知识型、技能型、创新型劳动者大军。基本原则有四条：促进普惠均等、"
               "坚持需求导向、创新体制机制、坚持统筹推进。\n\n培训制度面向城乡全体劳动者，职业技能培训贯穿职业生涯。")
    idf = {"职业": 1.0, "技能": 1.0, "培训": 1.0, "制度": 1.0, "基本": 1.0, "原则": 2.0}
    sentences, found = extract_answer(result("职业技能培训制度有哪些基本原则", hit(section, "意见", ("一、总体要求",))), idf)
    assert found and sentences[0].text.startswith("基本原则有四条")


def test_a_figure_question_is_answered_with_its_figure_first() -> None:
    """The best unit leads a figure question's answer; further sentences follow in the article's order."""
    article = ("第七条 女职工生育享受98天产假，其中产前可以休假15天；难产的，增加产假15天；"
               "生育多胞胎的，每多生育1个婴儿，增加产假15天。")
    idf = {"难产": 1.0, "产假": 2.0, "能": 0.5, "多": 0.5, "休": 0.5, "几天": 0.5}
    sentences, found = extract_answer(result("难产的话产假能多休几天？", hit(article, "女职工劳动保护特别规定", ("第七条",))), idf)
    assert found and sentences[0].text == "难产的，增加产假15天；"
    assert [s.start for s in sentences[1:]] == sorted(s.start for s in sentences[1:])


def test_items_between_commas_are_a_list_when_the_head_counts_them() -> None:
    """从五个方面提出了25条改革举措：A，B，C，D，E。 answers 有哪些主要任务; commas alone do not make a list."""
    lead = ("《改革方案》在明确指导思想、基本原则和目标任务之后，从五个方面提出了25条改革举措：加强和改进产业工人队伍"
            "思想政治建设，构建产业工人技能形成体系，运用互联网促进产业工人队伍建设，创新产业工人发展制度，"
            "强化产业工人队伍建设支撑保障。")
    goals = "主要目标：产业工人主人翁地位更加显著，成就感、获得感、幸福感进一步增强，主要任务全面完成。"
    idf = {"产改": 3.0, "有": 0.5, "主要": 1.0, "任务": 1.0}
    passage = hit(lead + "\n\n" + goals, "改革方案", ("一、产改的总体要求",))
    sentences, found = extract_answer(result("产改有哪些主要任务", passage), idf)
    assert found and sentences[0].text.startswith("《改革方案》") and len(sentences) == 1  # a list stands alone


def test_a_clause_that_opens_a_longer_list_is_not_a_list_by_itself() -> None:
    """其中劳动报酬可以谈：A、B、C； begins a ；-list: the whole list is quoted, not its first clause."""
    text = "其中劳动报酬可以谈：工资水平、工资分配制度、工资标准和分配形式；工资支付办法；工资调整办法。"
    idf = {"工资": 1.0, "集体": 1.0, "协商": 2.0, "内容": 1.0}
    sentences, found = extract_answer(result("工资集体协商可以谈哪些内容", hit(text, "工资集体协商", ("二、协商内容",))), idf)
    assert found and [s.text for s in sentences][-1] == "工资调整办法。"


def test_a_rule_in_several_clauses_is_quoted_whole_with_the_case_asked_about() -> None:
    """工会法 第二十三条: three ；-clauses, then the cases. The case asked about comes with every clause of its rule."""
    article = ("第二十三条 企业侵犯职工劳动权益的，工会应当代表职工与企业交涉；企业应当予以研究处理；"
               "企业拒不改正的，工会可以提请当地人民政府依法作出处理：\n（一）克扣、拖欠职工工资的；\n（二）不提供劳动安全卫生条件的。")
    idf = {"克扣": 3.0, "拖欠": 3.0, "工资": 1.0, "工会": 1.0, "交涉": 2.0}
    sentences, found = extract_answer(result("公司克扣拖欠工资，工会能不能出面交涉", hit(article, "工会法", ("第二十三条",))), idf)
    assert found and [s.text[-4:] for s in sentences] == ["业交涉；", "究处理；", "出处理：", "工资的；"]


def test_a_closing_quote_at_a_passages_start_is_not_quoted() -> None:
    """A passage cut between 。 and ” (…特别仲裁时效。” in the chunk before) must not open its answer with ”."""
    text = "”《劳动法》第四十四条规定：“延长工作时间的，支付不低于工资的百分之一百五十的工资报酬。”其后一句。"
    first, second = sentence_spans(text)[:2]
    assert text[first[0]:first[1]].startswith("《劳动法》") and text[first[0]:first[1]].endswith("。”")
    assert text[second[0]:second[1]] == "其后一句。"


def test_a_sentence_that_introduces_a_list_and_holds_the_figure_asked_is_quoted_alone() -> None:
    """裁员要提前多少天通知工会: 第四十一条's colon sentence says 提前三十日; its four cases say nothing of days,
    and quoting them buried the answer under them."""
    article = ("第四十一条 有下列情形之一，需要裁减人员二十人以上的，用人单位提前三十日向工会或者全体职工说明情况，"
               "可以裁减人员：\n\n（一）依照企业破产法规定进行重整的；\n\n（二）生产经营发生严重困难的；")
    idf = {"裁员": 3.0, "提前": 2.0, "通知": 1.0, "工会": 1.0}
    sentences, found = extract_answer(result("裁员要提前多少天通知工会",
                                             hit(article, "劳动合同法", ("第四十一条",))), idf)
    assert found and [s.text[:5] for s in sentences] == ["第四十一条"]
    assert "提前三十日" in sentences[0].text
