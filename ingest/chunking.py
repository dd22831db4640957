"""Structure-aware, sentence-safe chunks of a clean document, each with its heading path and offsets.

Three levels, coarse to fine:

1. **Sections** — a document is cut at its structure: Markdown ``#`` headings, 第X编/章/节 headings,
   一、 / （一） outlines and 第X条 articles.  Each section knows its heading path, e.g.
   ("中华人民共和国工会法", "第五章 工会的经费和财产", "第四十三条").  （一） lines inside an article or
   after a line ending in a colon are list items, not sections — until an outline line of a higher rank
   (二、 after （一） items), which opens the next part.  附录： / 附件1： after the last article opens an
   appendix, headed by its label and the title on the line after it.  A section holding only headings is
   merged into the section it introduces, so a chapter title travels with its first article.  A case
   report is cut at its paragraphs, which are its themes (办好工匠学院，系统开展技能培训。…), each
   headed by its lead sentence — unless the report has headings of its own (## 案例分析) and a heading's
   paragraphs fit in one chunk together: they are then steps of one argument, read together.  The
   title line and the 来源/日期/说明 lines at the head are metadata: they are in the heading path and
   the document's fields, not in any chunk.
2. **Whole sections** — a section that fits is one chunk.  An article (and a case paragraph) may use
   up to 1.5 × ``chunk_size`` so that a citation (《工会法》第四十三条) maps to exactly one chunk;
   articles are never merged with each other for the same reason.  Short sibling sections under one
   heading — the （一）（二）（三） items of a list — are packed together under that heading while they
   fit, so a list is read whole and never one item per chunk.
3. **Sentences** — a longer section is packed greedily from sentences (and newline-terminated lines),
   preferring to break at a line end once a chunk is half full; the next chunk repeats the last
   ``overlap_sentences`` sentence(s) of the previous one, but never across a section boundary.  Only a
   single sentence longer than ``chunk_size`` is cut inside, at commas and 、 (langchain's
   ``RecursiveCharacterTextSplitter``), else hard.

Every chunk satisfies ``doc.text[chunk.start:chunk.end] == chunk.text``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from itertools import pairwise

from langchain_text_splitters import RecursiveCharacterTextSplitter

from ingest.models import Chunk, Document

CHUNKING_VERSION = 4  # raise when the rules below change what a document's chunks are: KBs then re-chunk
MIN_CHUNK_SIZE = 20
ARTICLE_FACTOR = 1.5  # an article stays whole up to this multiple of chunk_size
MAX_HEADING_LINE = 40  # longer lines that start like a heading are paragraphs, not headings
MAX_LABEL = 30

CN_NUMBER = r"[一二三四五六七八九十百千零〇两\d]+"
ARTICLE_NUMBER = rf"第{CN_NUMBER}条(?:之{CN_NUMBER})?"  # 第四十三条, 第十条之一
_MD_HEADING = re.compile(r"#{1,6}(?=[ \t])")
_CN_HEADING = re.compile(rf"第{CN_NUMBER}([编章节])(?:\s|$)")
_ARTICLE = re.compile(rf"({ARTICLE_NUMBER})(?:\s|$)")
# 附录： / 附件1：… after a statute's last article: what follows is no part of that article (女职工劳动保护特别规定's
# 女职工禁忌从事的劳动范围 was read as 第十六条 本规定自公布之日起施行, and shown under it).
_APPENDIX = re.compile(rf"(?:附录|附件|附表)(?:{CN_NUMBER})?(?:[：:\s]|$)")
_OUTLINE = re.compile(r"[一二三四五六七八九十百]+、|[（(][一二三四五六七八九十百]+[）)]")
_ITEM = re.compile(r"[（(][一二三四五六七八九十百]+[）)]")  # （一）: an item of a list, not a part of a document
_CLAUSE_END = re.compile(r"[。！？；：，!?;:,]")
_LIST_INTRO = ("：", ":")  # "经费的来源：" — the （一）（二） lines after it are list items, not sections
_SENTENCE_END = re.compile(r"(?:[。！？；!?;]|…+)[”’」』）)】》\]]*")
_RANK = {"编": 2, "章": 3, "节": 4}  # below Markdown "#" (1); outlines 一、 = 5, （一） = 6
_LONG_SENTENCE_SEPARATORS = ["，", "、", ",", "；", "：", ":", " ", ""]
_META_LINE = re.compile(r"(?:来源|日期|说明|发布机关|发文机关|发布日期|发布时间|作者|编者按)[ \t]*[：:]")
_TITLE_NOISE = re.compile(r"[#\s“”\"《》〈〉「」『』]")
MAX_LEAD = 30  # a case paragraph's lead sentence (its theme) is at most this long


@dataclass
class _Section:
    start: int
    end: int
    path: tuple[str, ...]
    is_article: bool
    has_body: bool  # False = heading lines only
    long_ok: bool = False  # may use the article limit (a case paragraph kept whole)
    packed: bool = False  # sibling items packed under their parent heading
    themed: bool = False  # a case paragraph headed by its lead sentence, the last element of ``path``
    headed: bool = False  # a case paragraph under a heading of the document's own


@dataclass(frozen=True)
class _Marker:
    """What a structural line opens: a heading (with rank) or an article."""

    label: str
    rank: int  # 0 for articles, which do not nest
    has_body: bool  # the line carries text besides its label (a long outline paragraph, an article)


@dataclass(frozen=True)
class _Unit:
    start: int
    end: int
    line_end: bool  # the unit ends its line: a preferred break point


def chunk_document(doc: Document, *, chunk_size: int = 400, overlap_sentences: int = 1) -> list[Chunk]:
    """Split ``doc.text`` into ordered chunks; see the module docstring for the rules."""
    if chunk_size < MIN_CHUNK_SIZE:
        raise ValueError(f"chunk_size must be at least {MIN_CHUNK_SIZE} characters, got {chunk_size}")
    if overlap_sentences < 0:
        raise ValueError(f"overlap_sentences must be 0 or more, got {overlap_sentences}")
    text = doc.text
    spans: list[tuple[int, int, tuple[str, ...]]] = []
    sections = _merge_argument(_sections(text, doc.title, paragraphs=doc.doc_type == "case"), chunk_size)
    for section in _merge_siblings(_merge_heading_only(sections, chunk_size), chunk_size):
        for start, end in _split_section(text, section, chunk_size, overlap_sentences):
            spans.append((start, end, section.path))
    return [
        Chunk(doc_id=doc.doc_id, position=i, text=text[start:end], start=start, end=end, heading=path)
        for i, (start, end, path) in enumerate(spans)
    ]


def _lines(text: str, start: int = 0, end: int | None = None) -> Iterator[tuple[int, int]]:
    """Spans of the non-blank lines of ``text[start:end]``, without surrounding whitespace."""
    end = len(text) if end is None else end
    pos = start
    while pos < end:
        newline = text.find("\n", pos, end)
        line_end = end if newline == -1 else newline
        line = text[pos:line_end]
        stripped = line.strip()
        if stripped:
            lead = len(line) - len(line.lstrip())
            yield pos + lead, pos + lead + len(stripped)
        pos = line_end + 1


def starts_structure(line: str) -> bool:
    """True if ``line`` opens a heading, an article or an outline section (used to re-flow PDF text)."""
    return _classify(line.strip(), in_list=False) is not None


def _classify(line: str, *, in_list: bool) -> _Marker | None:
    """The structure a line opens, or None for an ordinary line of text.

    ``in_list``: inside an article or after a line ending in a colon, （一） / 一、 lines enumerate
    items of the same passage and must stay with it.
    """
    md = _MD_HEADING.match(line)
    if md:
        return _Marker(line[md.end() :].strip(" \t#"), len(md.group()), has_body=False)
    article = _ARTICLE.match(line)
    if article:
        return _Marker(article.group(1), 0, has_body=True)
    heading_like = _heading_like(line)
    if heading_like and _APPENDIX.match(line):  # beside the whole body, below only a Markdown "#"
        return _Marker(line.rstrip("：: \t"), 1, has_body=False)
    chapter = _CN_HEADING.match(line)
    if chapter and heading_like:
        return _Marker(line, _RANK[chapter.group(1)], has_body=False)
    outline = _OUTLINE.match(line)
    if outline is None or in_list:
        return None
    rank = _outline_rank(line)
    if heading_like:
        return _Marker(line, rank, has_body=False)
    clause = _CLAUSE_END.search(line, outline.end())  # a paragraph led by its topic: label = first clause
    return _Marker(line[: clause.start() if clause else None][:MAX_LABEL], rank, has_body=True)


def _outline_rank(line: str) -> int:
    """5 for an outline line (一、), 6 for an item line (（一）), 0 for any other."""
    if not _OUTLINE.match(line):
        return 0
    return 6 if line[0] in "（(" else 5


def _body_start(text: str, title: str) -> int:
    """Offset of the first line after the head: the title line and the 来源/日期/说明 lines.

    Those lines are the document's metadata (shown as its title, date and source); as the opening of its
    first chunk they only pushed the content out of the passage people are shown.
    """
    start = 0
    for index, (line_start, line_end) in enumerate(_lines(text)):
        line = text[line_start:line_end]
        is_title = index == 0 and (line.startswith("# ") or _same_title(line, title))
        if not (is_title or _META_LINE.match(line)):
            return line_start
        start = line_end
    return start


def _untitled_appendix(section: _Section) -> bool:
    """A section that is an appendix's label alone (附录：), whose title the next line gives."""
    return not section.has_body and bool(section.path) and bool(_APPENDIX.fullmatch(section.path[-1]))


def _heading_like(line: str) -> bool:
    """Short and no sentence: a line that can be a heading or a title."""
    return len(line) <= MAX_HEADING_LINE and not _SENTENCE_END.search(line)


def _same_title(line: str, title: str) -> bool:
    return bool(title) and _TITLE_NOISE.sub("", line) == _TITLE_NOISE.sub("", title)


def _lead(text: str, start: int, end: int) -> str | None:
    """The paragraph's opening sentence when it is short enough to be its theme (办好工匠学院，系统开展技能培训。)."""
    match = _SENTENCE_END.search(text, start, min(end, start + MAX_LEAD + 1))
    if match is None or match.end() >= end:
        return None
    return text[start:match.end()].strip() or None


def _sections(text: str, title: str, *, paragraphs: bool = False) -> list[_Section]:
    """Cut the text at its structural lines, tracking the heading path.

    ``paragraphs``: every blank-line-separated paragraph starts a section of its own (case reports), headed
    by its lead sentence when it has one.
    """
    base = (title,) if title else ()
    stack: list[tuple[int, str]] = []
    sections: list[_Section] = []
    current: _Section | None = None
    list_open = False  # the previous line ended with a colon, or continued such a list
    list_rank = 0  # the outline rank of the open list's items, once its first item is read
    previous_end = -1
    for start, end in _lines(text, _body_start(text, title)):
        line = text[start:end]
        new_paragraph = previous_end >= 0 and "\n\n" in text[previous_end:start]
        previous_end = end
        in_article = current is not None and current.is_article
        rank = _outline_rank(line)
        # 二、 after a list of （一） items is the next part, not another item (an appendix: 一、…：（一）…二、…：)
        breaks = list_open and not in_article and list_rank > rank > 0
        marker = _classify(line, in_list=in_article or (list_open and not breaks))
        if line.endswith(_LIST_INTRO):
            list_open, list_rank = True, 0
        elif list_open and rank and not breaks:
            list_rank = list_rank or rank
        else:
            list_open, list_rank = False, 0
        if marker is None and current is not None and _untitled_appendix(current) and _heading_like(line) \
                and not line.endswith(_LIST_INTRO):
            current.path = (*current.path[:-1], f"{current.path[-1]} {line.strip()}")  # 附录： then its title
            stack[-1] = (stack[-1][0], current.path[-1])
            current.end = end
            continue
        if marker is None:
            if paragraphs and (current is None or new_paragraph) and (current is None or current.has_body):
                if current is not None:
                    sections.append(current)
                lead = _lead(text, start, _paragraph_end(text, start))
                path = (*base, *(label for _, label in stack), *((lead,) if lead else ()))
                current = _Section(start, end, path, is_article=False, has_body=True, long_ok=True,
                                   themed=lead is not None, headed=bool(stack))
                continue
            if current is None:
                current = _Section(start, end, base, is_article=False, has_body=True)
            current.end, current.has_body = end, True
            continue
        if current is not None:
            sections.append(current)
        if marker.rank:
            while stack and stack[-1][0] >= marker.rank:
                stack.pop()
            if marker.label != title:
                stack.append((marker.rank, marker.label))
            path = (*base, *(label for _, label in stack))
        else:
            path = (*base, *(label for _, label in stack), marker.label)
        current = _Section(start, end, path, is_article=not marker.rank, has_body=marker.has_body)
    if current is not None:
        sections.append(current)
    return sections


def _merge_argument(sections: list[_Section], chunk_size: int) -> list[_Section]:
    """Join the paragraphs of one heading of a case's own (## 案例分析) when together they fit one chunk.

    A labour-dispute case is 基本案情 / 处理结果 / 案例分析 / 典型意义; the paragraphs of its 案例分析 are the
    steps of one argument, and its conclusion (约定放弃加班费的协议…应认定无效) read alone answers nothing.
    A report without headings keeps one chunk per thematic paragraph.
    """
    runs: list[list[_Section]] = []
    for section in sections:
        run = runs[-1] if runs else None
        # the heading's first paragraph is in the heading's own section (run[0]), the rest are paragraphs
        if run and section.headed and not run[0].is_article and _parent(run[0]) == _parent(section):
            run.append(section)
        else:
            runs.append([section])
    merged: list[_Section] = []
    for run in runs:
        if len(run) > 1 and run[-1].end - run[0].start <= int(chunk_size * ARTICLE_FACTOR):
            merged.append(_Section(run[0].start, run[-1].end, _parent(run[0]), is_article=False, has_body=True,
                                   long_ok=True))
        else:
            merged += run
    return merged


def _parent(section: _Section) -> tuple[str, ...]:
    return section.path[:-1] if section.themed else section.path


def _paragraph_end(text: str, start: int) -> int:
    end = text.find("\n\n", start)
    return len(text) if end == -1 else end


def _limit(section: _Section, chunk_size: int) -> int:
    return int(chunk_size * ARTICLE_FACTOR) if section.is_article or section.long_ok else chunk_size


def _merge_heading_only(sections: list[_Section], chunk_size: int) -> list[_Section]:
    """Let a heading-only section start the section it introduces (one nested under it).

    It is not merged when that would push a section that fits on its own over its limit: the heading
    then stays a chunk of its own rather than splitting an article.
    """
    merged: list[_Section] = []
    pending: _Section | None = None
    for section in sections:
        if pending is not None:
            nested = section.path[: len(pending.path)] == pending.path
            own = section.end - section.start
            fits = section.end - pending.start <= _limit(section, chunk_size) or own > _limit(section, chunk_size)
            if nested and fits:
                section.start = pending.start
            else:
                merged.append(pending)
            pending = None
        if not section.has_body and section.end - section.start <= chunk_size // 2:
            pending = section
        else:
            merged.append(section)
    if pending is not None:
        merged.append(pending)
    return merged


def _merge_siblings(sections: list[_Section], chunk_size: int) -> list[_Section]:
    """Pack consecutive short list items (（一）（二）… under one parent heading, none an article) while they fit.

    The merged section is headed by the parent alone: its text names each item, and a question about the
    list ("有哪些职权") finds the whole list instead of one item of it.
    """
    merged: list[_Section] = []
    for section in sections:
        last = merged[-1] if merged else None
        parent = section.path[:-1]
        item = len(section.path) > 1 and _ITEM.match(section.path[-1]) is not None
        sibling = last is not None and ((last.packed and last.path == parent)
                                        or (last.path[:-1] == parent and _ITEM.match(last.path[-1]) is not None))
        if (item and sibling and not (last.is_article or last.long_ok)
                and not (section.is_article or section.long_ok) and section.end - last.start <= chunk_size):
            last.end, last.path, last.packed = section.end, parent, True
        else:
            merged.append(section)
    return merged


def _split_section(text: str, section: _Section, chunk_size: int, overlap: int) -> list[tuple[int, int]]:
    if section.end - section.start <= _limit(section, chunk_size):
        return [(section.start, section.end)]
    return _pack(list(_units(text, section.start, section.end, chunk_size)), chunk_size, overlap)


def _units(text: str, start: int, end: int, chunk_size: int) -> Iterator[_Unit]:
    """Sentences of each line (a line end also ends a sentence); over-long sentences cut into pieces."""
    for line_start, line_end in _lines(text, start, end):
        bounds = [line_start, *(m.end() for m in _SENTENCE_END.finditer(text, line_start, line_end))]
        if bounds[-1] != line_end:
            bounds.append(line_end)
        sentences = [_trim(text, a, b) for a, b in pairwise(bounds)]
        sentences = [(a, b) for a, b in sentences if a < b]
        for i, (a, b) in enumerate(sentences):
            pieces = _cut_long_sentence(text, a, b, chunk_size) if b - a > chunk_size else [(a, b)]
            for j, (pa, pb) in enumerate(pieces):
                yield _Unit(pa, pb, line_end=i == len(sentences) - 1 and j == len(pieces) - 1)


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


@lru_cache(maxsize=8)
def _long_sentence_splitter(chunk_size: int) -> RecursiveCharacterTextSplitter:
    return RecursiveCharacterTextSplitter(
        separators=_LONG_SENTENCE_SEPARATORS,
        keep_separator="end",
        chunk_size=chunk_size,
        chunk_overlap=0,
        strip_whitespace=False,  # pieces must concatenate back to the sentence for exact offsets
    )


def _cut_long_sentence(text: str, start: int, end: int, chunk_size: int) -> list[tuple[int, int]]:
    """Cut one sentence longer than ``chunk_size`` at commas/、 (hard cuts only where there are none)."""
    sentence = text[start:end]
    pieces = _long_sentence_splitter(chunk_size).split_text(sentence)
    if "".join(pieces) != sentence:  # never trust a third-party splitter with our offset invariant
        pieces = [sentence[i : i + chunk_size] for i in range(0, len(sentence), chunk_size)]
    spans: list[tuple[int, int]] = []
    pos = start
    for piece in pieces:
        span = _trim(text, pos, pos + len(piece))
        if span[0] < span[1]:
            spans.append(span)
        pos += len(piece)
    return spans


def _pack(units: list[_Unit], chunk_size: int, overlap: int) -> list[tuple[int, int]]:
    """Greedy packing of units into spans of at most ``chunk_size``, with sentence overlap."""
    spans: list[tuple[int, int]] = []
    first = 0
    while True:
        last = first
        while last + 1 < len(units) and units[last + 1].end - units[first].start <= chunk_size:
            last += 1
        if last + 1 < len(units):  # prefer to end at a line end once the chunk is half full
            for k in range(last, first, -1):
                if units[k].line_end and units[k].end - units[first].start >= chunk_size // 2:
                    last = k
                    break
        spans.append((units[first].start, units[last].end))
        following = last + 1
        if following == len(units):
            return spans
        # Repeat up to `overlap` trailing units, as many as still leave room for the next new unit;
        # never all of the previous chunk, so that every chunk adds something.
        previous_first, first = first, following
        for back in range(min(overlap, last - previous_first), 0, -1):
            if units[following].end - units[following - back].start <= chunk_size:
                first = following - back
                break
