"""Chinese text analysis shared by indexing, querying and display: one tokeniser, query expansion, highlighting.

Documents and queries must go through the *same* normalisation and segmentation or BM25 silently stops
matching, so both sides use :class:`Tokenizer`. Highlighting lives here too because it has to find the same
(normalised) terms in the raw text the user sees.
"""
from __future__ import annotations

import html
import logging
import re
import threading
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import jieba
import zhconv

from ingest.lexicon import Lexicon, load_lexicon

jieba.setLogLevel(logging.WARNING)  # jieba logs "Building prefix dict..." at INFO on every first use

ELLIPSIS = "…"


_PUNCTUATION = re.compile(r"[\s、，,·“”‘’\"'《》〈〉]+")


def holds_all(text: str, words: Sequence[Sequence[str]]) -> bool:
    """Whether normalised ``text`` holds every word in one of its forms, as written: spaces and punctuation
    between its characters aside (大众创业、万众创新 holds 大众创业万众创新)."""
    plain = _PUNCTUATION.sub("", text)
    return all(any(_PUNCTUATION.sub("", form) in plain for form in forms) for forms in words)


def normalize(text: str) -> str:
    """Full-width -> half-width (NFKC), Traditional -> Simplified, lower case: the form every term is kept in."""
    return zhconv.convert(unicodedata.normalize("NFKC", text), "zh-cn").lower()


def _is_word(token: str) -> bool:
    """Punctuation and whitespace are never terms; any letter, digit or Han character makes one."""
    return token.isalnum() or any(ch.isalnum() for ch in token)  # most tokens are all Han: one C call


@dataclass(frozen=True)
class QueryAnalysis:
    """The BM25 / highlighting terms of a query and the lexicon expansions that produced some of them."""

    terms: list[str]
    expansions: dict[str, list[str]]  # form found in the query -> the equivalent forms added, e.g. 产改 -> [...]
    base_terms: list[str] = field(default_factory=list)  # the query's own terms, before any expansion
    statute_terms: list[str] = field(default_factory=list)  # the statutes' terms for its everyday words
    full_names: list[str] = field(default_factory=list)  # the full names of its abbreviations (产改, 职代会)
    # What the query adapter's learned expansion translates: the question's own words and the statutes' terms for
    # its everyday words, not the synonyms the lexicon added (产改's full name holds 建设, which STARD's judged
    # questions tie to 建设工程施工合同: every 产改 question got 工程施工).
    translatable: list[str] = field(default_factory=list)

    def dense_text(self, query: str, *, full_names: bool = True) -> str:
        """What the dense model embeds: the question, then the statutes' terms for its everyday words, so that
        周末加班 also lands near 休息日 (appending beat replacing the words on the domain tune questions: the
        question keeps its own meaning and gains the legal one), then the full names of its abbreviations: the
        model never saw 产改 or 职代会, and 产改有哪些主要任务 landed nearer a case report than the reform plan.
        Only that direction: 加班费's alternatives (加班工资, 加班加点工资) moved questions the model already read
        right. ``full_names=False`` for a query that wants cases: case reports say 产改 where the policies'
        titles say 产业工人队伍建设改革, and 产改 案例 would be drawn to the reform plan (docs/domain.md)."""
        return " ".join([query, *self.statute_terms, *(self.full_names if full_names else ())])


# Verb-object words that Chinese splits around a quantity or a particle (离合词): 加多少个小时的班 is 加班,
# 请的假 is 请假, 放三天假 is 放假. Verb → the objects it takes; what may stand between them.
SEPARABLE = {"加": "班", "上": "班", "下": "班", "值": "班", "倒": "班", "请": "假", "休": "假", "放": "假"}
_SEPARATED = re.compile("([" + "".join(SEPARABLE) + "])((?:了|过|的|个|几|多少|多长|[0-9]+|[零一二两三四五六七八九十百半]|"
                        "小时|钟头|天|日|周|星期|次|点|会儿){1,6})([班假])")


class Tokenizer:
    """jieba segmentation with the domain user dictionary, for documents and queries alike.

    The jieba dictionary (~0.7 s, ~50 MB) is loaded lazily on first use and once per instance, under a lock
    so concurrent first requests do not each build it; afterwards segmentation is read-only and thread-safe.
    Defaults measured on STARD (``bench/bm25_stard.py``): search mode (``cut_for_search`` also yields the 2-
    and 3-character words inside longer ones) beats the precise cut on the tune split (MRR@10 .512 vs .501);
    jieba's HMM guesser changes nothing measurable (.512 either way), so it is off: segmentation then
    depends only on the dictionaries, and unknown names are not glued into one-off tokens.
    """

    def __init__(self, lexicon: Lexicon | None = None, *, hmm: bool = False, search: bool = True) -> None:
        self.lexicon = lexicon or load_lexicon()
        self.hmm = hmm
        self.search = search
        self._jieba: jieba.Tokenizer | None = None
        self._lock = threading.Lock()
        self._stopwords = frozenset(normalize(word) for word in self.lexicon.stopwords)
        self._synonyms = {normalize(form): (form, others) for form, others in self.lexicon.synonyms.items()}
        self._full_names = {normalize(form): name for form, name in self.lexicon.canonical.items()}
        # (normalised word, word, statute terms, normalised statute terms), longest word first
        self._colloquial = sorted(((normalize(word), word, terms, tuple(normalize(t) for t in terms))
                                   for word, terms in self.lexicon.colloquial.items()), key=lambda e: -len(e[0]))

    def _segmenter(self) -> jieba.Tokenizer:
        if self._jieba is None:
            with self._lock:
                if self._jieba is None:
                    segmenter = jieba.Tokenizer()
                    segmenter.initialize()
                    for word, (freq, tag) in self.lexicon.words.items():
                        key = normalize(word)  # text is normalised before cutting, so the dictionary must be too
                        segmenter.add_word(key, max(freq, segmenter.FREQ.get(key, 0)), tag or None)
                    self._jieba = segmenter
        return self._jieba

    def _cut(self, normalized: str, search: bool) -> list[str]:
        cut = self._segmenter().cut_for_search if search else self._segmenter().cut
        words = cut(normalized, HMM=self.hmm)
        return [w for w in words if _is_word(w) and w not in self._stopwords]

    def tokenize(self, text: str) -> list[str]:
        """The BM25 terms of a text, in order, repeats kept (term frequency matters for documents)."""
        return self._cut(normalize(text), self.search)

    def analyze_query(self, query: str) -> QueryAnalysis:
        """Query terms plus lexicon expansions (abbreviation <-> full form, everyday word -> statute terms).

        Synonyms are detected on jieba's precise cut so that a sub-word which ``cut_for_search`` finds inside
        a longer term (劳模 inside 劳模创新工作室) does not drag in the synonyms of the shorter word. Everyday
        words are found in the text itself, longest first, because jieba cuts several of them apart (劳保用品);
        each becomes one of the question's own words, in place of the pieces it was cut into, so that coverage
        asks a passage for 劳保用品 or 劳动防护用品 rather than for 劳保.
        """
        normalized = normalize(query)
        rejoined = self._separated_words(normalized)
        if rejoined:  # 一个月最多能加多少个小时的班 asks about 加班: read it as if it said so
            normalized = " ".join([normalized, *rejoined])
        terms = dict.fromkeys(self._cut(normalized, self.search))
        base = list(terms)
        expansions: dict[str, list[str]] = {}
        statute_terms: list[str] = []
        full_names: list[str] = []
        for word in dict.fromkeys(self._cut(normalized, search=False)):
            if word in self._synonyms:
                form, others = self._synonyms[word]
                expansions[form] = list(others)
                name = self._full_names.get(word)
                if name and normalize(name) not in normalized:
                    full_names.append(name)
                for other in others:
                    terms.update(dict.fromkeys(self.tokenize(other)))
        statute_words: list[str] = []
        for word, form, statute in self._everyday_words(normalized):
            expansions[form] = list(dict.fromkeys([*expansions.get(form, []), *statute]))  # 加班费: both tables
            base = [term for term in base if term not in word] + [word]
            statute_terms += statute
            for other in statute:
                statute_words += self.tokenize(other)
        terms.update(dict.fromkeys(statute_words))
        return QueryAnalysis(terms=list(terms), expansions=expansions, base_terms=base,
                             statute_terms=list(dict.fromkeys(statute_terms)), full_names=full_names,
                             translatable=list(dict.fromkeys([*base, *statute_words])))

    def _separated_words(self, normalized: str) -> list[str]:
        """The separable words (:data:`SEPARABLE`) the question splits, joined (加…班 → 加班). Only a quantity or
        a particle may stand between verb and object, and neither may be part of a longer word: 增加了班组 is
        neither 加班 (增加) nor about a 班 (班组)."""
        known = self._segmenter().FREQ
        found = []
        for m in _SEPARATED.finditer(normalized):
            verb, obj = m.group(1), m.group(3)
            verb_word = normalized[m.start() - 1:m.start() + 1] if m.start() else ""  # 增加, 参加: part of a word
            obj_word = normalized[m.end() - 1:m.end() + 1]  # 班组, 班会: so is the object
            inside_words = known.get(verb_word) or (len(obj_word) == 2 and known.get(obj_word))
            if SEPARABLE[verb] == obj and not inside_words:
                found.append(verb + obj)
        return list(dict.fromkeys(found))

    def _everyday_words(self, normalized: str) -> list[tuple[str, str, tuple[str, ...]]]:
        """The colloquial table's words in the question, longest first and not overlapping (国庆节, not 国庆);
        none whose statute term the question already uses (赔偿 inside 赔偿金)."""
        found = []
        taken = [False] * len(normalized)
        for word, form, statute, legal in self._colloquial:
            if any(term in normalized for term in legal):
                continue
            start = normalized.find(word)
            while start >= 0 and any(taken[start:start + len(word)]):
                start = normalized.find(word, start + 1)
            if start >= 0:
                taken[start:start + len(word)] = [True] * len(word)
                found.append((word, form, statute))
        return found


_FUNCTION_TAGS = frozenset("cpumqrdyeof")  # jieba's tags for conjunctions, prepositions, particles, numerals …


@lru_cache(maxsize=4096)
def is_function_word(word: str) -> bool:
    """Whether ``word`` is one word that only links or counts (但是, 以及, 按照, 二百), by jieba's part of speech."""
    import jieba.posseg  # loads its model on first use: only words learned for a search ever ask

    tagged = list(jieba.posseg.cut(word))
    return len(tagged) == 1 and tagged[0].flag[:1] in _FUNCTION_TAGS


@lru_cache(maxsize=1)
def default_tokenizer() -> Tokenizer:
    """The process-wide tokeniser over the packaged lexicon (jieba loads once per process)."""
    return Tokenizer()


def tokenize(text: str) -> list[str]:
    return default_tokenizer().tokenize(text)


def analyze_query(query: str) -> QueryAnalysis:
    return default_tokenizer().analyze_query(query)


def with_other_names(word: str) -> tuple[str, ...]:
    """``word`` and the lexicon's other names for it (职代会 → 职代会, 职工代表大会; 辞退 → 辞退, 解除劳动合同)."""
    return (word, *analyze_query(word).expansions.get(word, ()))


@lru_cache(maxsize=4096)
def _shadow(text: str) -> str:
    """A normalised copy of ``text`` with the same length, so match offsets map back to the raw text.

    Cached: zhconv's conversion is most of a snippet's cost, and a server shows the same chunks to many
    different queries (4,096 chunks of ~400 characters hold a few MB).

    NFKC and phrase-level conversion can change the length; then fall back to plain lower-casing, which
    still finds Simplified terms in Simplified text.
    """
    shadow = normalize(text)
    if len(shadow) == len(text):
        return shadow
    lowered = text.lower()
    return lowered if len(lowered) == len(text) else text


_CONTEXT = 8  # characters each side of a match that jieba reads to place the word boundaries around it


@lru_cache(maxsize=16384)
def _boundaries(window: str) -> frozenset[int]:
    """Offsets in ``window`` where jieba's precise cut starts or ends a word."""
    offsets, cursor = {0}, 0
    for word in default_tokenizer()._segmenter().cut(window, HMM=False):
        cursor += len(word)
        offsets.add(cursor)
    return frozenset(offsets)


def _reads_as_word(shadow: str, start: int, end: int) -> bool:
    """Whether ``shadow[start:end]`` is read as the term it matches: a one-character term must be a word of
    its own (能 of 能不能, never inside 技能 or 可能); a longer one may sit inside a word (工资 in 工资总额) but
    not straddle two (工人 across 职工|人数). Only a few characters around the match are cut: cutting each
    whole passage of a page cost ~0.4 ms per 250 characters."""
    lo = max(0, start - _CONTEXT)
    edges = _boundaries(shadow[lo:min(len(shadow), end + _CONTEXT)])
    first, last = start - lo, end - lo
    if first in edges and last in edges:
        return True
    return end - start > 1 and not any(first < edge < last for edge in edges)


def match_spans(text: str, terms: Iterable[str]) -> list[tuple[int, int]]:
    """Non-overlapping ``(start, end)`` spans of the terms in ``text``, longest terms first, merged when adjacent.

    A Han term is marked only where it reads as that word (:func:`_reads_as_word`): 能 of 能不能 never inside
    技能, 工人 never across 职工人数.
    """
    shadow = _shadow(text)
    taken = bytearray(len(text))
    spans: list[tuple[int, int]] = []
    for term in sorted({normalize(t) for t in terms if t and t.strip()}, key=len, reverse=True):
        han = "\u4e00" <= term[0] <= "\u9fff"
        start = shadow.find(term)
        while start != -1:
            end = start + len(term)
            if not any(taken[start:end]) and (not han or _reads_as_word(shadow, start, end)):
                taken[start:end] = b"\x01" * len(term)
                spans.append((start, end))
            start = shadow.find(term, start + 1)
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and merged[-1][1] == start:
            merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return merged


def _render(text: str, spans: Sequence[tuple[int, int]], lo: int, hi: int) -> str:
    """Escape ``text[lo:hi]`` piece by piece, wrapping the spans (clipped to the window) in ``<mark>``."""
    out: list[str] = []
    cursor = lo
    for start, end in spans:
        start, end = max(start, lo), min(end, hi)
        if start >= end:
            continue
        out.append(html.escape(text[cursor:start]))
        out.append(f"<mark>{html.escape(text[start:end])}</mark>")
        cursor = end
    out.append(html.escape(text[cursor:hi]))
    return "".join(out)


_SENTENCE_ENDS = ("。", "！", "？")
_MARKDOWN_LINE = re.compile(r"^(?:#{1,6}[ \t]+|[-*+>][ \t]+)", re.MULTILINE)
_BLANK_LINES = re.compile(r"[ \t]*\n\s*")  # a paragraph break is one line break on a card


def lead_sentence(heading: Sequence[str]) -> str:
    """The lead sentence a case report's paragraph is headed by (项目建会，把农民工组织起来。), or "": a heading
    that ends like a sentence is one, a section's title (三、缴费规定) is not."""
    lead = heading[-1] if heading else ""
    return lead if lead.endswith(_SENTENCE_ENDS) else ""


def readable(text: str, heading: Sequence[str] = ()) -> str:
    """A passage as a person reads it on a card: no Markdown markers (## 三、缴费规定, - item, **bold**), and
    no opening that only repeats the card's own heading path: a line, or the lead sentence a case report's
    paragraph is headed by (项目建会，把农民工组织起来。), which the card already shows above the text.
    Its line breaks stay, one per paragraph or list item (the page keeps them): a case's 案例分析 of five
    paragraphs, or an article's （一）（二）…, read as one run of text without them."""
    plain = _MARKDOWN_LINE.sub("", text).replace("**", "")
    first, newline, rest = plain.partition("\n")
    if newline and first.strip() in heading:
        plain = rest
    plain = plain.strip()
    lead = lead_sentence(heading)
    if lead and plain.startswith(lead) and len(plain) > len(lead):
        plain = plain[len(lead):]
    return _BLANK_LINES.sub("\n", plain.strip())


def marked_terms(terms: Sequence[str]) -> list[str]:
    """The query terms a result card marks: a one-character term (按 of 按什么比例, 不 of 拖着工资不发) only when
    the query has no longer one. It stands as a word in most passages, and a card lit up at every 按 and 不
    says nothing about why the passage was found; a query of one character (税) still has it marked."""
    longer = [term for term in terms if len(term) > 1]
    return longer or list(terms)


def highlight(text: str, terms: Sequence[str]) -> str:
    """HTML-escaped ``text`` with every occurrence of the terms in ``<mark>`` (longest first, never nested)."""
    return _render(text, match_spans(text, terms), 0, len(text))


def snippet(text: str, terms: Sequence[str], width: int = 120) -> str:
    """A highlighted window of about ``width`` characters around the densest cluster of matches.

    Density is the number of matched characters inside the window; the window is then centred on the cluster
    so the user sees context on both sides. Cut ends are marked with an ellipsis.
    """
    spans = match_spans(text, terms)
    if len(text) <= width:
        return _render(text, spans, 0, len(text))
    lo = _densest_window(spans, width)
    if spans:
        covered = [s for s in spans if s[0] >= lo and s[1] <= lo + width] or spans[:1]
        cluster_start, cluster_end = covered[0][0], covered[-1][1]
        lo = cluster_start - max(0, width - (cluster_end - cluster_start)) // 2
    lo = max(0, min(lo, len(text) - width))
    hi = lo + width
    return (ELLIPSIS if lo > 0 else "") + _render(text, spans, lo, hi) + (ELLIPSIS if hi < len(text) else "")


def _densest_window(spans: Sequence[tuple[int, int]], width: int) -> int:
    """Start of the window, beginning at some span, that covers the most matched characters (0 if none).

    A sliding window over the sorted spans: linear even for a long document full of matches.
    """
    best_start, best_cover = 0, -1
    cover, j = 0, 0
    for i, (start, end) in enumerate(spans):
        if j <= i:  # the window must at least hold span i (a span wider than the window counts alone)
            cover, j = end - start, i + 1
        while j < len(spans) and spans[j][1] <= start + width:
            cover += spans[j][1] - spans[j][0]
            j += 1
        if cover > best_cover:
            best_start, best_cover = start, cover
        cover -= end - start
    return best_start


QUESTION_CUES = ("?", "？", "吗", "呢", "怎么", "怎样", "如何", "什么", "是否", "能否", "可否", "哪", "谁", "几",
                 "多少", "多久", "多长", "为什么", "为何", "应当", "应该", "可以", "能不能", "有没有", "是不是",
                 "算不算", "要不要", "会不会")


def is_question(query: str) -> bool:
    """A question asks what the rules say; a few bare terms ask for material on a topic."""
    return any(cue in query for cue in QUESTION_CUES)
