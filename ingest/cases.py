"""What a case report is about, in the form the case finder filters and shows.

Trainers look for cases by who did it (the reporting organisation), when (year), what it is about (topics:
the practices they teach, 师带徒, 企业年金, 职代会 …) and, above all, by the figures that make a case teachable
("26家产改单位", "培训职工92557人", "企业年金覆盖32家"). These are pure functions over the clean text, run once
at ingest for ``doc_type == "case"``; the result is stored as JSON in ``Document.extra`` (hence
``to_dict``/``from_dict``), stamped with :func:`profile_rules` so that a KB profiled by older rules or an
older topics.tsv is re-profiled when read (``index.kb.KnowledgeBase.cases``).

A labour dispute (a typical case under 基本案情 / 处理结果 headings) is a case too, of another kind: what a
staff member reads in it is how it was decided, so its profile holds its result instead of figures.

Extraction prefers precision over recall: a figure whose meaning cannot be read off its clause is dropped
rather than shown with a wrong label, and ordinals, slogans and bare "一" are never figures.
"""
from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from functools import lru_cache
from itertools import takewhile
from pathlib import Path
from typing import Any

import jieba
import jieba.posseg

from ingest.lexicon import Lexicon
from ingest.metadata import detect_source
from ingest.models import CaseKind

jieba.setLogLevel(60)  # jieba prints its dictionary-loading chatter to stderr otherwise

PROFILE_VERSION = 5  # raise when the rules below change; a change to topics.tsv is seen by itself


@dataclass(frozen=True)
class Fact:
    """One figure in a case report: ``text[start:end]`` is the number with its unit, e.g. ``"92557人"``."""

    value: str  # the number as written, e.g. "92557", "1.2万", "百分之二十", "3600余"
    unit: str  # 人, 人次, 家, 个, 项, 万元, %, …
    counts: str  # what the figure counts, from its clause: "产改单位", "培训", "扩大企业年金覆盖面"
    sentence: str  # the sentence it came from, for display
    start: int
    end: int

    def to_dict(self) -> dict[str, object]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Fact:
        return cls(str(data["value"]), str(data["unit"]), str(data["counts"]), str(data["sentence"]),
                   int(data["start"]), int(data["end"]))


@dataclass(frozen=True)
class Outcome:
    """How a labour dispute ended, as its report states it: ``text[start:end]``."""

    text: str  # 仲裁委员会裁决某快递公司支付张某违法解除劳动合同赔偿金8000元（裁决为终局裁决）。
    start: int
    end: int

    def to_dict(self) -> dict[str, object]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Outcome:
        return cls(str(data["text"]), int(data["start"]), int(data["end"]))


@dataclass(frozen=True)
class CaseProfile:
    """The case finder's view of one case report."""

    organisations: list[str]  # the one reporting enterprise or union, normalised (empty when none is named)
    year: int | None
    topics: list[str]  # lexicon topics the report is about, title-cued first
    facts: list[Fact]  # in text order; none for a dispute (its figures are one worker's pay and claims)
    kind: CaseKind = "practice"  # an enterprise's or union's practice, or a labour dispute (:func:`dispute_outcome`)
    outcome: Outcome | None = None  # a dispute's award or judgment

    def to_dict(self) -> dict[str, object]:
        return {
            "organisations": list(self.organisations),
            "year": self.year,
            "topics": list(self.topics),
            "facts": [fact.to_dict() for fact in self.facts],
            "kind": self.kind,
            "outcome": None if self.outcome is None else self.outcome.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CaseProfile:
        year = data.get("year")
        outcome = data.get("outcome")
        return cls(
            organisations=[str(o) for o in data.get("organisations", [])],
            year=None if year is None else int(year),
            topics=[str(t) for t in data.get("topics", [])],
            facts=[Fact.from_dict(f) for f in data.get("facts", [])],
            kind="dispute" if data.get("kind") == "dispute" else "practice",
            outcome=None if outcome is None else Outcome.from_dict(outcome),
        )


def case_profile(text: str, title: str, date: str | None, lexicon: Lexicon) -> CaseProfile:
    """Profile a case report from its clean text, title and ISO date.

    The first call in a process loads a private jieba dictionary (about a second); later calls reuse it.
    """
    tagger = _tagger(lexicon.userdict)
    outcome = dispute_outcome(text)
    return CaseProfile(
        organisations=reporting_organisation(text, title, tagger),
        year=report_year(text, title, date),
        topics=topics(text, title, lexicon.topics),
        facts=[] if outcome else facts(text, tagger),
        kind="dispute" if outcome else "practice",
        outcome=outcome,
    )


def profile_rules(lexicon: Lexicon) -> str:
    """What a stored profile was made by: these rules and the lexicon's topics (a profile made otherwise is
    stale, though its file is unchanged)."""
    topics_digest = hashlib.sha256(json.dumps(lexicon.topics, ensure_ascii=False).encode()).hexdigest()[:16]
    return f"{PROFILE_VERSION}:{topics_digest}"


# --- disputes ----------------------------------------------------------------------------------------------

# A labour dispute is reported under fixed headings (人社部 and 最高法's typical cases: 基本案情, 申请人请求,
# 处理结果 or 裁判结果, 案例分析, 典型意义), written as Markdown headings, numbered (一、基本案情) or bracketed.
_HEADING_LINE = r"^[ \t]*(?:#{{1,6}}[ \t]*|[一二三四五六七八九十]+、[ \t]*|【)?(?:{})[ \t]*】?[ \t]*$"
_FACTS_HEADING = re.compile(_HEADING_LINE.format("基本案情|案情简介|简要案情"), re.MULTILINE)
_RESULT_HEADING = re.compile(_HEADING_LINE.format("处理结果|裁判结果|裁决结果|判决结果|仲裁结果"), re.MULTILINE)
_FIRST_SENTENCE = re.compile(r"[^\s。！？][^\n。！？]*[。！？]?[”’）)]*")


def dispute_outcome(text: str) -> Outcome | None:
    """A labour dispute's result, the first sentence under its result heading; None for any other report.

    A trainer looking for an enterprise's practice and a staff member looking for how a dispute was decided
    want different reports; the 案例 view tells them apart by this, and shows a dispute's result where a
    practice report shows its figures.
    """
    if not _FACTS_HEADING.search(text):
        return None
    heading = _RESULT_HEADING.search(text)
    if heading is None:
        return None
    sentence = _FIRST_SENTENCE.search(text, heading.end())
    if sentence is None:
        return None
    said = sentence.group().rstrip()
    return Outcome(said, sentence.start(), sentence.start() + len(said))


# --- tagging ------------------------------------------------------------------------------------------------

Token = tuple[str, str]  # (word, part-of-speech flag)


@lru_cache(maxsize=2)
def _tagger(userdict: Path) -> jieba.posseg.POSTokenizer:
    """A private jieba POS tagger with the domain words, so 产改/企业年金 stay whole without touching jieba's
    global tokenizer (the index floor configures that one for its own purposes)."""
    tagger = jieba.posseg.POSTokenizer(jieba.Tokenizer())
    tagger.load_userdict(str(userdict))
    return tagger


def _tag(tagger: jieba.posseg.POSTokenizer, text: str) -> list[Token]:
    return [(pair.word, pair.flag) for pair in tagger.cut(text)]


def _nounish(word: str, flag: str) -> bool:
    """Nouns, proper nouns, abbreviations (j), set phrases (l, i), place words (s), verbal nouns, foreign words,
    and the rate/amount words jieba tags as verbs (整改率, 覆盖率)."""
    return flag[:1] == "n" or flag in {"j", "l", "i", "s", "vn", "an", "eng"} or word.endswith(("率", "额", "量"))


# --- organisations --------------------------------------------------------------------------------------------

# Longest first, so "有限公司" wins over "公司" when deciding where a name ends.
_ORG_SUFFIXES = ("股份有限公司", "有限责任公司", "有限公司", "集团公司", "总工会", "公司", "集团", "工会", "总厂", "厂", "矿")
# Words that on their own do not name anyone: "集团公司工会", "上级工会", "基层工会", "所属公司"…
_GENERIC = frozenset(
    "集团 公司 集团公司 有限公司 总公司 分公司 子公司 所属 下属 各 各级 本 该 其 我 全 全省 全市 全国 全区 省 市 县 区 "
    "上级 基层 地方 产业 行业 企业 项目 车间 班组 系统 二级 三级".split()
)
# Words that end like an organisation but are common nouns or processes.
_NOT_SUFFIX = frozenset("工厂 厂矿 选矿 采矿 找矿".split())
# Verbs that occur inside enterprise names (装备制造公司, 建设集团); any other verb ends a name.
_NAME_VERBS = frozenset("制造 建设 发展 投资 控股 开发 运输 设计 勘探 勘察 检测 维修 建筑 服务 管理 经营 加工 冶炼 印刷 安装 "
                        "装饰 供应 销售 咨询 研究 创新 交通 物流 科技 实业 贸易".split())
# Tag initials of words that never belong to a name: prepositions, conjunctions, particles, adverbs, punctuation,
# measure words, times, pronouns (其, 该), modal and interjection words, adjectives and adverbs (认真).
_FUNCTION_TAGS = frozenset("pcudxqtryeowa")
_MAX_NAME_TOKENS = 6


def reporting_organisation(text: str, title: str, tagger: jieba.posseg.POSTokenizer) -> list[str]:
    """The one enterprise or union that reports, as a list of at most one name, e.g. ``["江钨控股集团"]``.

    The reporter is named in the title (华南某纺织公司工会建设…), else on the 来源 line; units inside it
    (选煤厂, 第二炼钢厂) and the bodies a report merely mentions are not its organisation, and a report that
    names no reporter (a court case: 张某入职某建筑公司…) has none. The name is normalised
    (:func:`normalise_organisation`) so that a company and its union are one organisation.
    """
    for place in (title, detect_source(text) or ""):
        names = _names(place, tagger)
        if names:
            return [normalise_organisation(names[0])]
    return []


def normalise_organisation(name: str) -> str:
    """``某省电力公司工会`` -> ``某省电力公司``, ``西南某化工集团有限公司`` -> ``西南某化工集团``.

    A union of a named enterprise stands for the enterprise; a 总工会 is an organisation of its own. A
    group's legal-form suffix is dropped because reports call the same group both ways.
    """
    base = name.removesuffix("工会")
    if base != name and not name.endswith("总工会") and _is_org_suffix(base):
        name = base
    for form in ("股份有限公司", "有限责任公司", "有限公司", "公司"):
        if name.endswith(form) and name.removesuffix(form).endswith("集团"):
            return name.removesuffix(form)
    return name


def _names(text: str, tagger: jieba.posseg.POSTokenizer) -> list[str]:
    """Enterprise and union names in the order they occur, e.g. ``["江钨控股集团", "江钨控股集团工会"]``.

    A name is a run of name-like tokens (nouns, places, 某) ending in an organisation suffix. Verbs may sit
    inside a name (装备 *制造* 公司) but never start one (*运用*中华钨矿公司), and a name made only of
    generic words (集团公司工会) is not a name.
    """
    found: dict[str, None] = {}
    for line in filter(None, re.split(r"[。！？；\n]", text)):
        tokens = _tag(tagger, line)
        for end in range(len(tokens)):
            if not _is_org_suffix(tokens[end][0]):
                continue
            following = tokens[end + 1][0] if end + 1 < len(tokens) else ""
            if _is_org_suffix(following) and not following.endswith("工会"):
                continue  # 轨道交通集团|有限公司: only the whole name counts; X集团|工会 names both
            name = _name_ending_at(tokens, end)
            if name:
                found.setdefault(name)
    return list(found)


def _is_org_suffix(word: str) -> bool:
    return word.endswith(_ORG_SUFFIXES) and word not in _NOT_SUFFIX


def _name_ending_at(tokens: list[Token], end: int) -> str | None:
    start = end
    while start > 0 and end - start < _MAX_NAME_TOKENS and _name_like(*tokens[start - 1]):
        start -= 1
    while start < end and (tokens[start][1][:1] == "v" or tokens[start][0] in _GENERIC):
        start += 1  # a name never starts with a verb or a scope word (运用…, 所属…)
    words = [word for word, _ in tokens[start : end + 1]]
    if all(word in _GENERIC or _strip_suffixes(word) in _GENERIC | {""} for word in words):
        return None
    name = "".join(words)
    return name if 3 <= len(name) <= 24 else None


def _strip_suffixes(word: str) -> str:
    """``"地方总工会"`` -> ``"地方"``; used to recognise generic single-token unions."""
    for suffix in _ORG_SUFFIXES:
        if word.endswith(suffix):
            return _strip_suffixes(word.removesuffix(suffix))
    return word


def _name_like(word: str, flag: str) -> bool:
    """Anything but function words, numbers, adjectives, idioms and stray verbs; jieba's tags for name parts
    vary too much (零部件 comes out as a measure word) for a list of what *is* allowed."""
    if "某" in word:
        return True  # 某省, 某市, 某: the generic names of illustrative cases
    if flag[:1] == "v":
        return word in _NAME_VERBS  # trimmed again if it would start the name
    if flag == "f":
        return len(word) >= 2  # 南方, 东部; not 上, 内
    return flag[:1] not in _FUNCTION_TAGS and flag not in {"m", "i", "l"} and not any(c.isdigit() for c in word)


# --- year ---------------------------------------------------------------------------------------------------

_YEAR = re.compile(r"(?<!\d)((?:19|20)\d{2})(?=年|[-/.]\d{1,2}[-/.]\d{1,2})")


def report_year(text: str, title: str, date: str | None) -> int | None:
    """The document date's year; failing that the latest year the title or text mentions (reports look back)."""
    if date and (match := re.match(r"(\d{4})", date)):
        return int(match.group(1))
    years = [int(y) for y in _YEAR.findall(f"{title}\n{text}")]
    return max(years) if years else None


# --- topics -------------------------------------------------------------------------------------------------


_META_LINE = re.compile(r"^(?:来源|日期|时间|说明|作者|发布|编辑|责任编辑)\s*[:：]")
LEAD_CHARS = 250  # a report without paragraph breaks has no lead paragraph, only a beginning
MIN_CUED_SENTENCES = 3  # a topic the lead does not name must come up again and again in the body


def lead_paragraph(text: str, title: str) -> str:
    """The report's first paragraph after its title and its 来源/日期/说明 lines (at most ``LEAD_CHARS``)."""
    title = title.strip().lstrip("#").strip()
    for line in text.splitlines():
        line = line.strip().lstrip("#").strip()
        if line and line != title and not _META_LINE.match(line):
            return line[:LEAD_CHARS]
    return ""


def topics(text: str, title: str, topic_cues: Mapping[str, tuple[str, ...]]) -> list[str]:
    """The topics a report is about: a cue in its title or lead paragraph, or in ``MIN_CUED_SENTENCES``
    sentences or more (a cue merely mentioned, or one list naming five practices, does not make a topic).

    Title-cued topics come first, then lead-cued ones, then the most-cued; lexicon order breaks ties.
    """
    lead = lead_paragraph(text, title)
    sentences = [s for s in re.split(f"[{_SENTENCE_END}]", text) if s.strip()]
    ranked: dict[str, tuple[bool, bool, int, int]] = {}
    for order, (topic, cues) in enumerate(topic_cues.items()):
        cue = re.compile("|".join(re.escape(c) for c in sorted(set(cues), key=len, reverse=True)))
        in_title, in_lead = bool(cue.search(title)), bool(cue.search(lead))
        cued = sum(1 for sentence in sentences if cue.search(sentence))
        if in_title or in_lead or cued >= MIN_CUED_SENTENCES:
            ranked[topic] = (not in_title, not in_lead, -cued, order)
    return sorted(ranked, key=ranked.__getitem__)


# --- facts --------------------------------------------------------------------------------------------------

_CN_DIGITS = "零〇一二两三四五六七八九十百千万亿"
_UNITS = (
    "个百分点 百分点 人次 平方米 课时 学时 小时 万元 亿元 % ％ 人 名 家 个 项 次 期 场 篇 元 对 批 所 座 台 套 件 条 门 户 "
    "间 处 部 册 本 支 天 倍"
).split()
_FACT = re.compile(
    r"(?<![A-Za-z\d.第前" + _CN_DIGITS + r"])"  # not mid-number, not an ordinal (第三十二条) or rank (前三名)
    r"(?:(?P<pct>百分之[" + _CN_DIGITS + r"点\d.]+)"
    r"|(?P<num>\d+(?:\.\d+)?[万亿]?|[" + _CN_DIGITS + r"]+)(?P<about>余|多)?"
    r"(?P<unit>" + "|".join(re.escape(u) for u in sorted(_UNITS, key=len, reverse=True)) + r")"
    r"(?!月|民|才|员))"  # 三个月, 人民, 人才, 人员: the "unit" is part of another word
)
_SENTENCE_END = "。！？；!?;\n"
_SEGMENT_END = _SENTENCE_END + "，,、：:（）()"
_CLAUSE_END = _SEGMENT_END.replace("、", "")  # before a figure, 、 may join what it counts (技师、高级技师185人)
# Words that link a count to its figure ("覆盖面至32家", "共培训92557人", "占比由31%提高到38%"); they are not
# what the figure counts, so they are stripped from the phrase before the number, or stepped over.
_LINKS = frozenset(
    "的 至 达 达到 为 到 共 共计 计 累计 合计 总计 近 约 逾 超过 超 多达 突破 了 是 有 由 从 其中 分别 已 均 再 另 又 各 仅 只 "
    "每年 每月 全年 年均 人均 全部".split()
)
_STEP_OVER = frozenset("由 从 “ ” \" ‘ ’ 《 》".split())  # "占比由31%提高到38%", 国家级“绿色工厂”3家
_JOINERS = frozenset("和 及 与 以及".split())
_MANNERS = frozenset("方式 方法 办法 形式 模式 标准 步骤 原则 要求 思路 路径 途径".split())  # 按照…的标准 建设…
_SAY_LITTLE = frozenset("职工 员工 企业 单位 人员 工人".split())  # what 9名职工 counts is in the verb after
_ENDS_PHRASE = frozenset("p x c".split())  # 在全省大赛中…, punctuation, conjunctions
_COMPARATIVES = ("高于", "低于", "多于", "少于")
_TO_LEVEL = ("到", "至")
_CHANGES = ("下降", "降低", "减少", "提高", "提升", "增长", "增加", "上升", "扩大", "缩短", "降", "增", "升")
_MAX_PHRASE_TOKENS = 5


def facts(text: str, tagger: jieba.posseg.POSTokenizer) -> list[Fact]:
    """Figures with units and what each counts; figures whose meaning the clause does not give are dropped."""
    matches = [m for m in _FACT.finditer(text) if _plausible(m, text)]
    spans = [(m.start(), m.end()) for m in matches]
    found = []
    for match in matches:
        value, unit = _value_and_unit(match)
        counts = _counts(text, match.start(), match.end(), spans, tagger)
        if counts:
            found.append(Fact(value, unit, counts, _sentence(text, match.start(), match.end()),
                              match.start(), match.end()))
    return found


def _plausible(match: re.Match[str], text: str) -> bool:
    """Chinese numerals are figures only when unambiguous: not a bare 一 (一线, 一户一策) and not in slogans."""
    number = match.group("num")
    if number is None or number[0].isdigit():
        return True
    if number in {"一", "零", "〇", "万", "亿", "千", "百"}:
        return False
    before = text[: match.start()]
    return before.count("“") <= before.count("”") and before.count("「") <= before.count("」")


def _value_and_unit(match: re.Match[str]) -> tuple[str, str]:
    """The number as written, 余/多 included (3600余人, 十多个: shown as 3600人 it would claim an exact count)."""
    if match.group("pct"):
        return match.group("pct"), "%"
    value, unit = match.group("num"), match.group("unit")
    about = match.group("about") or ""
    if unit == "元" and value[-1] in "万亿" and value[0].isdigit() and not about:
        return value[:-1], value[-1] + unit  # money is stated in 万元/亿元
    return value + about, "%" if unit == "％" else unit


def _sentence(text: str, start: int, end: int) -> str:
    left = max(text.rfind(ch, 0, start) for ch in _SENTENCE_END) + 1
    rights = [i for i in (text.find(ch, end) for ch in _SENTENCE_END) if i != -1]
    return text[left : min(rights, default=len(text))].strip().lstrip("*#> ").strip()  # no Markdown residue


def _counts(text: str, start: int, end: int, spans: list[tuple[int, int]],
            tagger: jieba.posseg.POSTokenizer) -> str:
    """The noun right after the figure ("26家产改单位" -> 产改单位), else the phrase before it within the
    clause ("培训职工92557人" -> 培训职工, "企业年金覆盖32家" -> 企业年金覆盖)."""
    left = max(text.rfind(ch, 0, start) for ch in _CLAUSE_END) + 1
    rights = [i for i in (text.find(ch, end) for ch in _SEGMENT_END) if i != -1]
    right = min(rights, default=len(text))
    before = text[left:start]
    compared = max((before.rfind(word) for word in _COMPARATIVES), default=-1)
    if compared != -1:  # 高于集团职工平均增幅3.2个百分点: the figure is the difference, not the 增幅
        return _clean(before[compared:])
    label = (_noun_after(_tag(tagger, text[end:right]))
             or _phrase_before(_tag(tagger, before), left, spans))
    if before.rstrip().endswith(_TO_LEVEL):  # 离职率由6.1%下降到3.4%: 3.4% is the 离职率, not its 下降
        label = _clean(label.removesuffix(next((c for c in _CHANGES if label.endswith(c)), "")))
    return label


def _noun_after(tokens: list[Token]) -> str:
    """The noun phrase the figure counts; a word such as 职工 says little alone, so its verb phrase comes
    with it ("9名职工获评省级技术能手" -> 职工获评省级技术能手)."""
    words = []
    for index, (word, flag) in enumerate(tokens[:_MAX_PHRASE_TOKENS]):
        if _nounish(word, flag) and word not in _LINKS:
            words.append(word)
            continue
        if "".join(words) in _SAY_LITTLE and flag[:1] == "v":
            rest = takewhile(lambda token: token[1] not in _ENDS_PHRASE, tokens[index:_MAX_PHRASE_TOKENS])
            words += [w for w, _ in rest]
        break
    return _clean("".join(words))


def _phrase_before(tokens: list[Token], offset: int, spans: list[tuple[int, int]]) -> str:
    """Walk back from the figure, stepping over link words and earlier figures, collecting content words.

    Conjunctions may join content words ("慰问资金和物资", "新增技师、高级技师185人", unless a figure comes
    before the 、) but not start the phrase; a word such as 职工 keeps the clause that says which
    ("参加企业年金的职工达2.3万人"); a phrase without a noun ("分", "提高") says too little to label a figure
    and is dropped.
    """
    positions, pos = [], offset
    for word, _ in tokens:
        positions.append(pos)
        pos += len(word)
    tagged: list[Token] = []
    stop = ""
    for (word, flag), at in zip(reversed(tokens), reversed(positions)):
        if any(s <= at < e for s, e in spans) or word in _STEP_OVER or (word in _LINKS and not tagged):
            continue
        enumerated = word == "、" and not any(offset <= s < at for s, _ in spans)
        joined = (word in _JOINERS or enumerated) and bool(tagged)
        said = word == "的" and "".join(w for w, _ in tagged) in _SAY_LITTLE
        content = _nounish(word, flag) or flag in {"v", "a", "b", "f"} or joined or said
        if not content or (word in _LINKS and not said) or _is_org_suffix(word) or len(tagged) == _MAX_PHRASE_TOKENS:
            stop = word  # an organisation is the subject of the clause, not what its figure counts
            break
        tagged.insert(0, (word, flag))
    while tagged and (tagged[0][0] in _LINKS or tagged[0][0] in _JOINERS or tagged[0][0] == "、"):
        tagged.pop(0)
    if stop == "的" and len(tagged) >= 2 and tagged[0][0] in _MANNERS:
        tagged.pop(0)  # 按照“…”的方式培养学徒420名: 方式 ends the manner, 培养学徒 is what the figure counts
    return _clean("".join(word for word, _ in tagged)) if any(_nounish(w, f) for w, f in tagged) else ""


def _clean(phrase: str) -> str:
    return phrase.strip("“”\"'‘’《》 ")
