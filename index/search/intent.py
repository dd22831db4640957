"""What a query asks for, read off its wording: the kind of document it wants and the kind of answer.

Ranking uses the first (a trainer asking 有没有企业搞师带徒的例子 wants case reports; a worker asking 加班费
怎么算 wants the rules), answering the second (比例是多少 wants the sentence with the figure, 有哪些 the list).
Cue lists, not a model: every cue is a phrase our users type, and a query that matches none is "other".
"""
from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import Literal

from index.search.text import is_question, normalize, with_other_names

Asks = Literal["figure", "list", "definition", "yesno", "howto", "other"]
Chronology = Literal["first", "every"]  # when something was first said; every time it was

# Asking for an enterprise's example (有没有企业…的做法, …的案例), which a policy is not; the rest of the case cues
# want case reports first but may ask what a policy achieved (职业技能提升行动取得了哪些成效).
EXAMPLE_CUES = ("案例", "例子", "实例", "经验", "做法", "有没有企业", "有没有单位", "有企业")
CASE_CUES = (*EXAMPLE_CUES, "典型", "实践", "哪家", "哪个企业", "哪些企业", "哪个单位", "哪些单位", "哪个公司",
             "哪些公司", "哪个集团", "怎么做的", "如何做的", "搞了", "办了", "开展了", "取得了", "效果", "成效", "成果")
RULE_CUES = ("法律", "法规", "条例", "规定", "办法", "违法", "合法", "依法", "权利", "义务", "赔偿", "补偿",
             "仲裁", "起诉", "处罚", "罚款", "合同", "工资", "加班", "辞退", "开除", "试用期", "社保", "工伤",
             "产假", "年假", "休假", "政策", "意见", "文件", "要求", "标准", "比例", "应当", "必须")
# 怎么算 asks for an amount or a rate (经济补偿怎么算 → 每满一年支付一个月工资), not for steps: read as a figure
# question, it prefers the article with the figure to the one that only says when it is due (docs/domain.md).
_FIGURE = re.compile(r"(?:怎么|怎样|如何|咋)(?:计|折)?算|多少|几[个次期项人天年月倍家名所条级]|比例|百分之|天数|人数|金额|多长|多久|多高|多大|几")
_LIST = re.compile(r"哪些|有几种|包括什么|包括哪|主要内容|主要任务|几个方面|都有什么|有什么[^？?]*(?:权|职责|措施|任务|条件|内容|要求)")
_DEFINITION = re.compile(r"是什么|什么是|什么叫|指什么|是指|含义|定义|是啥|啥是")
_YESNO = re.compile(r"能不能|可不可以|是否|算不算|会不会|要不要|需不需要|行不行|有没有[^企单]|吗[？?]?$")
_WHICH_ENTERPRISE = re.compile(r"哪家|哪(?:些|个)(?:企业|单位|公司|集团)")
_HOWTO = re.compile(r"怎么|如何|怎样|咋|办法|步骤|流程|程序")
_NUMBER = r"(?:\d+(?:\.\d+)?|[零〇一二两三四五六七八九十百千万半]+)"
# The unit a figure question names, and how its answer writes it; the first cue that matches wins (百分之几
# before 几). A question that names no unit (多少, 几个) takes any figure.
_FIGURE_UNITS = tuple((re.compile(cue), re.compile(answer)) for cue, answer in (
    (r"(?:多久|多长时间|隔多长|几天|几年|几个月)[^，。？?]{0,6}一次", rf"每{_NUMBER}?个?(?:[年月周日天]|季度)|{_NUMBER}次"),  # how often
    (r"百分之几|百分之多少|百分比|比例|几成", rf"百分之|[%％]|分之|倍|{_NUMBER}成"),
    (r"几倍|多少倍", r"倍|百分之|[%％]"),
    (r"几天|多少天|天数|几日|多少日", rf"{_NUMBER}个?(?:工作)?[天日周]"),
    (r"几个月|多少个月", rf"{_NUMBER}个?月"),
    (r"几年|多少年", rf"{_NUMBER}年(?!度)"),
    (r"多长时间|多久|多长", rf"{_NUMBER}个?(?:工作)?(?:[天日周月年]|小时)"),
    (r"(?:涨|提高|增长|增加|上升|降|下降|减少|降低|节约|节省)了?多少", rf"百分之|[%％]|倍|个百分点|{_NUMBER}多?[万千百]?元"),  # a change
    (r"多少钱|多少元|几元|金额|多少(?:经费|资金|奖金|津贴|补助)|(?:经费|资金|奖金|津贴|补助)多少[钱？?]?$",
     rf"{_NUMBER}多?[万千百]?元"),
    (r"多少补贴|多少工资|多少费", rf"{_NUMBER}多?[万千百]?元|百分之|[%％]|倍"),  # pay is often a share of pay
    (r"多少人|几人|几名|人数|多少名", rf"{_NUMBER}多?万?[人名]"),
    (r"几次|几期|多少次|多少期", rf"{_NUMBER}[次期批]"),
    (r"几岁|多少岁|年龄", rf"{_NUMBER}周?岁"),
))


# 哪一年首次提出工匠精神, 最早提出“互联网+”是哪一年, 哪些年的政府工作报告提到了工匠精神: over dated documents
# (the work reports, a union's yearly plans) the answer is the documents that say it, by date, which no
# passage's likeness to the question tells.
_FIRST = re.compile(r"首次|第一次|最早|最先|首提")
_WHEN = re.compile(r"哪一?年|什么时候|何时|什么时间|哪一?次")
_YEARS = re.compile(r"哪些年份?|哪几年|哪一些年|历年")
_SAID = re.compile(r"提出|提到|提及|写入|写进|出现|部署|强调")
_WHICH_DOCUMENT = re.compile(r"哪[份篇]|哪个(?:文件|报告|文档)")  # not 哪个期刊…首次提及: that asks where, not when
# What is left of such a question once its frame is cut out (multi-character frame words split it; particles
# are trimmed only from the ends of what is left, never from inside a name: 中国制造2025).
_FRAME = re.compile(rf"{_FIRST.pattern}|{_YEARS.pattern}|{_WHEN.pattern}|{_SAID.pattern}|{_WHICH_DOCUMENT.pattern}|"
                    r"哪里|哪儿|这个?(?:词|提法|说法|概念|表述)|[^\w+]")
_LEADING, _TRAILING = "的是在了里过", "的是在了里中上过"
# 2018年政府工作报告关于工匠精神怎么说 names one year's document: the reports' likeness to the question does not
# tell the years apart (the 2000 report came first, and 问答 quoted 2017's), so only that year's documents answer.
_DOCUMENT = r"(?:中华人民共和国)?(?:国务院)?((?:政府)?(?:工作报告|报告|工作总结|总结|工作要点|工作计划))"
_DOCUMENT_YEAR = re.compile(rf"((?:19|20)\d{{2}}|今|去|前)年度?的?{_DOCUMENT}")
# The latest the KB holds; 今年的政府工作报告 is the current one too, which a KB not yet given this year's lacks.
_LATEST_DOCUMENT = re.compile(rf"(?:最新|最近一次|最近一份|最近|今年度?)的?{_DOCUMENT}")
_YEARS_BACK = {"今": 0, "去": 1, "前": 2}  # 今年, 去年, 前年: counted from today
_PROHIBITION = re.compile(r"(?:不得|(?<!能)不能|(?<!可)不可以|不准|禁止|不允许)([\u4e00-\u9fff]{2})")
# 劳动法第四十四条, 《中华人民共和国工会法》第43条是什么: a law named and one of its articles by number. The run of
# Han characters before 第…条 holds the law's name at its end (请问劳动法 …); which document it names is for the KB
# to say (:func:`index.search.retrieval.named_article`).
_ARTICLE = re.compile(r"([\u4e00-\u9fff]+)》?\s*第([零〇一二两三四五六七八九十百千]+|\d{1,4})条")
_YEARS_JOINED = re.compile(r"(?:19|20)\d{2}年?(?:和|与|、|及|至|到|同|跟|比|-|—|~)(?:19|20)\d{2}")  # 2018年和2019年的报告


@dataclass(frozen=True)
class Intent:
    """``wants_case``: case reports first; ``wants_rule``: laws and policies first; ``asks``: the answer's form;
    ``unit``: for a figure question that names one (几天, 百分之几, 多少钱), how its answer writes it;
    ``which_enterprise``: it asks which enterprise (哪家企业…), which only a case report can name;
    ``example``: it asks for an enterprise's example (有没有企业…的做法, …的案例, 哪家企业…), which a policy is not;
    ``chronology`` and ``mentioned``: a question asking when something was first said, or every time it was,
    and the words that name it;
    ``document_year``: the year of the one document it names by its year (2018年政府工作报告, 今年的报告);
    ``latest_document``: what it calls the latest document (最新的政府工作报告 → 政府工作报告), or this year's (今年的
    政府工作报告: the latest, when the KB holds none of this year);
    ``article``: a law's article it names by number: the words before it (normalised), and the article as
    statutes write it (劳动法第44条 → 劳动法, 第四十四条);
    ``prohibited``: what a question asks may not be done, in its words and the statutes' (不得解除劳动合同 →
    解除; 不能辞退 → 辞退, 解除劳动合同), which a passage that permits it (劳动者可以解除劳动合同) does not
    answer, however many of its words it holds;
    ``defined``: the term a definition question asks about, with its other names (:func:`defined_of`): a
    sentence defining another term (劳动合同是…的协议 for 什么是集体合同) is not that question's form."""

    question: bool
    wants_case: bool
    wants_rule: bool
    asks: Asks
    unit: re.Pattern[str] | None = None
    which_enterprise: bool = False
    example: bool = False
    chronology: Chronology | None = None
    mentioned: tuple[str, ...] = ()
    document_year: int | None = None
    latest_document: str | None = None
    article: tuple[str, str] | None = None
    prohibited: tuple[str, ...] = ()
    defined: tuple[str, ...] = ()


def asks_of(query: str) -> Asks:
    """The form of answer the question wants; the more specific cue wins (有哪些 before 怎么).

    有没有…的案例 and 有企业这么做吗 ask for an enterprise's practice, not for a rule's 可以 or 不得: a case report
    never has that form, so reading them as yes/no questions counted against every case passage.
    """
    for kind, pattern in (("definition", _DEFINITION), ("list", _LIST), ("figure", _FIGURE),
                          ("yesno", _YESNO), ("howto", _HOWTO)):
        if pattern.search(query):
            if (kind == "yesno" and names_cases(query)) or (kind == "list" and asks_which_enterprise(query)):
                return "other"
            return kind  # type: ignore[return-value]
    return "other"


def unit_of(query: str) -> re.Pattern[str] | None:
    """How the answer to a figure question writes the unit the question names (婚假能休几天 → 3天, 三日).

    Any number was the figure's form, and every statute has one: 年休假在1个年度内可以集中安排 offered itself as
    the answer to 婚假能休几天, and 月工资收入高于…3倍 to 最低工资标准是每月多少钱 (docs/domain.md).
    """
    return next((answer for cue, answer in _FIGURE_UNITS if cue.search(query)), None)


def asks_which_enterprise(query: str) -> bool:
    """哪家企业…, 哪些单位…: only a case report can name them (a policy says what any enterprise may do)."""
    return bool(_WHICH_ENTERPRISE.search(query))


def mentioned(query: str) -> tuple[Chronology | None, tuple[str, ...]]:
    """Whether a question asks when something was first said, or every time it was, and what it names,
    normalised (哪一年的政府工作报告首次提出工匠精神 → first: 政府工作报告, 工匠精神; 哪些年的报告提到了工匠精神 →
    every: 报告, 工匠精神; 最早提出“互联网+”是哪一年 → first: 互联网+); (None, ()) for any other query."""
    said = _SAID.search(query)
    if _FIRST.search(query) and (_WHEN.search(query) or (said and _WHICH_DOCUMENT.search(query))):
        chronology: Chronology = "first"
    elif said and _YEARS.search(query):
        chronology = "every"
    else:
        return None, ()
    parts = (part.lstrip(_LEADING).rstrip(_TRAILING) for part in _FRAME.split(normalize(query)))
    return chronology, tuple(dict.fromkeys(part for part in parts if part))


def document_year(query: str, this_year: int | None = None) -> int | None:
    """The year of the document a question names by its year (2018年政府工作报告, 2023年工作总结, 今年的政府工作
    报告); None when it names none, or two (2018年和2019年的报告相比): a year in what it asks about
    (2023年新增技师多少人) names no document."""
    normalized = normalize(query)
    this_year = this_year or date.today().year
    years = {this_year - _YEARS_BACK[y] if y in _YEARS_BACK else int(y) for y, _ in _DOCUMENT_YEAR.findall(normalized)}
    return years.pop() if len(years) == 1 and not _YEARS_JOINED.search(normalized) else None


def without_named_document(query: str) -> str:
    """The question less the document it names by year: what it asks within that document
    (2018年政府工作报告关于工匠精神怎么说 → 关于工匠精神怎么说)."""
    normalized = normalize(query)
    return _LATEST_DOCUMENT.sub("", _DOCUMENT_YEAR.sub("", normalized)).strip()


def is_document_kind(word: str) -> bool:
    """Whether a word names a kind of document (政府工作报告, 报告, 工作总结), as titles say it."""
    return re.fullmatch(_DOCUMENT, word) is not None


def latest_document(query: str) -> str | None:
    """What a question calls the latest, or this year's, of its documents (最新的政府工作报告, 今年的政府工作报告 →
    政府工作报告), or None."""
    found = _LATEST_DOCUMENT.search(normalize(query))
    return found.group(1) if found else None


def article_of(query: str) -> tuple[str, str] | None:
    """The law's words and the article a query names by number (劳动合同法第39条 → 劳动合同法, 第三十九条), or
    None; statutes number their articles in Chinese numerals, so 第39条 is read as 第三十九条."""
    found = _ARTICLE.search(normalize(query))
    if found is None:
        return None
    number = found.group(2)
    return found.group(1), f"第{chinese_number(int(number)) if number.isdigit() else number}条"


def chinese_number(n: int) -> str:
    """39 → 三十九, 105 → 一百零五, 110 → 一百一十, 1260 → 一千二百六十: as statutes number their articles."""
    digits = "零一二三四五六七八九"
    if n < 20:
        return digits[n] if n < 10 else "十" + (digits[n % 10] if n % 10 else "")
    parts, gap, rest = [], False, n
    for value, unit in ((1000, "千"), (100, "百"), (10, "十")):
        digit, rest = divmod(rest, value)
        if digit:
            parts += ["零"] * gap + [digits[digit] + unit]
            gap = False
        elif parts:
            gap = True
    if rest:
        parts += ["零"] * gap + [digits[rest]]
    return "".join(parts)


def names_cases(query: str) -> bool:
    """Whether the query itself asks for cases (有没有企业…, 哪家企业…, …的做法, 案例)."""
    return any(cue in query for cue in CASE_CUES)


def intent_of(query: str) -> Intent:
    """A bare keyword query (师带徒 案例, 产改 技能培训) is mostly a trainer browsing a topic: it wants cases.

    Read once per question and year (今年 is the year asked in): a search reads it at every step."""
    return _intent_of(query, date.today().year)


@lru_cache(maxsize=4096)
def _intent_of(query: str, this_year: int) -> Intent:
    question = is_question(query)
    wants_case = names_cases(query)
    wants_rule = not wants_case and any(cue in query for cue in RULE_CUES)
    asks = asks_of(query)
    chronology, words = mentioned(query)
    which_enterprise = asks_which_enterprise(query)
    return Intent(question=question, wants_case=wants_case or not (question or wants_rule),
                  wants_rule=wants_rule, asks=asks, unit=unit_of(query) if asks == "figure" else None,
                  which_enterprise=which_enterprise, example=which_enterprise or any(cue in query for cue in EXAMPLE_CUES),
                  chronology=chronology, mentioned=words,
                  document_year=document_year(query, this_year), latest_document=latest_document(query),
                  article=article_of(query), prohibited=prohibited_of(query),
                  defined=defined_of(query) if asks == "definition" else ())


def defined_of(query: str) -> tuple[str, ...]:
    """The term a definition question asks about, with the lexicon's other names for it (什么是集体合同 → 集体合同;
    职代会是什么 → 职代会, 职工代表大会); none when it asks what something of a term is (产改的总体要求是什么):
    that is no definition but its content."""
    found = _DEFINED.search(normalize(query))
    if found is None:
        return ()
    term = _TERM_FRAME.sub("", found.group("after") or found.group("before") or "")
    if not 2 <= len(term) <= MAX_DEFINED or "的" in term:
        return ()
    return with_other_names(term)


def defining_what_is_there(intent: Intent, texts: Iterable[str]) -> Intent:
    """``intent``, asking for any definition when none of ``texts`` (normalised) names its term: 劳动仲裁时效是什么
    asks what the statutes call 仲裁时效期间, and a definition of 时效 (时效是指…) is its answer."""
    if intent.defined and not any(form in text for text in texts for form in intent.defined):
        return dataclasses.replace(intent, defined=())
    return intent


def prohibited_of(query: str) -> tuple[str, ...]:
    """The verb a question asks about as prohibited (不得解除, 不能安排, 禁止使用 → 解除, 安排, 使用), with the
    statutes' words for it (辞退 → 解除劳动合同); none for the 能不能 or 可不可以 of a yes/no question."""
    found = _PROHIBITION.search(normalize(query))
    if found is None:
        return ()
    return with_other_names(found.group(1))


def says_prohibited(text: str, forms: tuple[str, ...]) -> bool:
    """Whether ``text`` prohibits what ``forms`` name (用人单位不得依照本法第四十条…解除劳动合同): a 不得 a clause
    before it."""
    return _prohibiting(forms).search(text) is not None


@lru_cache(maxsize=256)
def _prohibiting(forms: tuple[str, ...]) -> re.Pattern[str]:
    return re.compile(rf"(?:不得|不能|禁止|不准)[^。；]{{0,20}}(?:{'|'.join(map(re.escape, forms))})")


_HAS_FIGURE = re.compile(r"\d|百分之|[一二两三四五六七八九十百千万]+(?:[个次期项名人天日年月倍家条级岁周元]|小时|分之|%)")
# 从五个方面提出了25条改革举措: a head that counts its items (a whole number, not 第五十六条's ordinal)
_COUNTED = re.compile(r"(?<![第一二三四五六七八九十两几\d])[一二三四五六七八九十两几\d]+(?:个方面|方面|条|项|类|种|点)[^，。：]{0,12}$")
_SENTENCE_END = re.compile(r"(?<=。)|\n")
_CLAUSES = re.compile(r"[。；;\n]")
_ORDINAL = re.compile(r"第[零〇一二两三四五六七八九十百千0-9]+")  # 第三十七条 names an article: not a figure
# 失业保险金的标准，由省、自治区、直辖市人民政府确定: the law's answer to 多少钱 is the authority that sets the
# figure (not 具体比例由企业和职工一方协商确定, beside the 8% it bounds)
_SETS_FIGURE = re.compile(r"(?:标准|数额|幅度)[^。；]{0,6}由[^。；]{0,20}(?:人民政府|国务院|部门)[^。；]{0,10}(?:确定|规定|制定)")
_HAS_DEFINITION = re.compile(r"是指|指的是|[，,]指(?![导出定挥示南标])|简称|叫做|称为|的叫|(?<![立随])即(?![行使将可时日])|所称|"
                             r"是.{2,30}的(?:制度|文件|组织|方案|意见|改革|纲领|规定|办法|机构|形式|协议|行为|活动)")
# 什么是集体合同, 什么叫同工同酬, 劳务派遣是什么, 产改指什么, 竞业限制的含义: the term, after or before the cue
_DEFINED = re.compile(r"(?:什么是|什么叫|啥是)(?P<after>[^？?，,。！!]+)|"
                      r"(?P<before>[^？?，,。！!]+?)(?:是什么|指什么|是指什么|是啥|的含义|的定义|的意思|啥意思)")
_TERM_FRAME = re.compile(r"^(?:请问|所谓|[\s“”\"'《》])*|(?:呢|啊|呀)?[\s“”\"'《》]*$")  # 请问所谓“集体合同”是什么呢
MAX_DEFINED = 12
_HAS_RULE = re.compile(r"可以|应当|不得|有权|禁止|必须|不能|无权|依法|享有|无效|视为|计入|不受|不收|不缴|不具有|"
                       r"(?<![许认])可(?=[按实试由在向])")
_HAS_LIST = re.compile(r"(?:^|\n)\s*(?:[-*•·]\s|[（(][一二三四五六七八九十]+[）)]|\d{1,2}[.、．])")


def offers(asks: Asks, text: str, unit: re.Pattern[str] | None = None,
           defined: tuple[str, ...] = ()) -> bool | None:
    """Whether ``text`` has the form of answer the question asks for (None: the question asks no form).

    A figure question wants a number, a list question an enumeration, a definition question 是指/简称/…的叫,
    a yes/no question a rule (可以/应当/不得/有权, and the statutes' other ways of saying yes or no: 不受…限制,
    不收费, 享有, 无效, 可按规定). 即 counts as "that is" but not in 即行/即使, 可 as "may" but not in 许可/可能:
    such a false form outranked the definition of 专项集体合同 (docs/domain.md). ``unit``: the figure must be in
    the unit the question names (:func:`unit_of`); ``defined``: a definition must be of one of these names.
    """
    if asks == "figure":
        return bool((unit or _HAS_FIGURE).search(_ORDINAL.sub("", text)) or _SETS_FIGURE.search(text))
    if asks == "list":
        return len(_HAS_LIST.findall(text)) >= 2 or any(enumerates(s, series=False) for s in _SENTENCE_END.split(text))
    if asks == "definition":
        if not defined:
            return bool(_HAS_DEFINITION.search(text))
        return any(_HAS_DEFINITION.search(sentence) and any(form in sentence for form in defined)
                   for sentence in _CLAUSES.split(normalize(text)))
    if asks == "yesno":
        return bool(_HAS_RULE.search(text))
    return None


def enumerates(text: str, *, series: bool = True) -> bool:
    """A sentence that is a list by itself: items between commas after a head that counts them (从五个方面提出了
    25条改革举措：加强和改进…，构建产业工人技能形成体系，…。), or — with ``series`` — a colon, then three or more
    short items (基本原则有四条：促进普惠均等、坚持需求导向、创新体制机制、坚持统筹推进。). A clause ending in ；
    heads a longer list, which 问答 reads with the items after it.

    问答 reads both as an answer's unit; search counts only the first as a passage's form. A 、 series after a
    colon is a phrase of many passages that are no list (CMRC's encyclopaedia paragraphs), and as a form it
    cost the CMRC smoke sample a question (192 → 191 of 202)."""
    if text.rstrip().endswith(("；", ";")):
        return False
    head, colon, rest = text.strip().rstrip("。").rpartition("：")
    counted = bool(_COUNTED.search(head)) and _short_items(rest, "，", 20)
    return bool(colon) and (counted or (series and _short_items(rest, "、", 15)))


def _short_items(text: str, separator: str, longest: int) -> bool:
    """Three or more non-empty items of at most ``longest`` characters between ``separator``."""
    parts = text.split(separator)
    return len(parts) >= 3 and all(0 < len(part.strip()) <= longest for part in parts)
