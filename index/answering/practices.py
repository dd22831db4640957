"""What a named enterprise did: its case report's practices, one per thematic paragraph, in the report's order.

A case report is cut at its thematic paragraphs, each headed by its lead sentence (订立师徒协议，传承岗位绝活。;
ingest's case chunking). A trainer who asks 华东某装备制造公司师带徒有哪些做法 wants those leads. The sentence that
words, form and the embedding model pick is the report's opening (…现有职工3600余人…): who the enterprise is, not
what it did. The question must name the enterprise (江钨 for 江钨控股集团, 装备制造 for 华东某装备制造公司) and its
report must be the first hit: 有没有企业…的做法 searches for a case rather than asking about one.
"""
from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from ingest.models import Chunk
from index.answering.extract import MAX_ITEMS, cite
from index.records import AnswerSentence
from index.search.ranking import coverage, question_words
from index.search.text import analyze_query, lead_sentence, normalize

_ASKS = re.compile(r"(?:哪些|什么|主要|几点|几条|几项)[^？?，,。]{0,8}(?:做法|经验|举措|措施|工作)|"
                   r"(?:做法|经验|举措|措施)(?:有哪些|是什么|有什么)|(?:怎么|如何|怎样)(?:做|干|搞)的")
_ASKING_WORDS = frozenset(("做法", "经验", "举措", "措施", "工作", "哪些", "什么", "主要", "怎么", "如何", "怎样"))
_KIND = re.compile(r"(?:股份有限公司|有限责任公司|有限公司|控股集团|集团|公司)?(?:工会)?$")
_PLACE = re.compile(r"^[^某]*某[省市区县]?")  # 华东某, 某省: the region an anonymised case is named by
MIN_PRACTICES = 2  # one paragraph is a passage, which 问答's usual extraction quotes better


def asks_for_practices(query: str) -> bool:
    """有哪些做法, 主要经验是什么, 是怎么做的: the question asks what was done, not one fact of it."""
    return bool(_ASKS.search(query))


def enterprise_names(organisations: Sequence[str]) -> list[str]:
    """How a question may name a reporting enterprise: 江钨控股集团 as 江钨, 华东某装备制造公司 as 华东某装备制造 or
    装备制造 (people drop the anonymised region)."""
    names = []
    for organisation in organisations:
        core = _KIND.sub("", organisation)
        names += [name for name in (core, _PLACE.sub("", core)) if len(name) >= 2]
    return list(dict.fromkeys(names))


def practices(query: str, title: str, chunks: Sequence[Chunk], names: Sequence[str],
              idf: Mapping[str, float]) -> list[AnswerSentence]:
    """The lead sentences of the report's thematic paragraphs, in order; only the paragraphs about the question's
    topic when it names one besides the enterprise and the report's own title (江钨在技能提升上有哪些做法).
    Each is cited to the report alone: the place a sentence is cited to is its paragraph's lead, itself.

    Empty when the question does not name the enterprise, or fewer than :data:`MIN_PRACTICES` paragraphs fit.
    """
    if not any(name in query for name in names):
        return []
    analysis = analyze_query(query)
    words = question_words(analysis)
    own = normalize(title) + " " + " ".join(normalize(name) for name in names)
    topic = [forms for forms in words
             if len(forms[0]) >= 2 and forms[0] not in _ASKING_WORDS and not any(normalize(f) in own for f in forms)]
    found = []
    for chunk in chunks:
        lead = lead_sentence(chunk.heading[1:])  # below the title
        if not lead:
            continue
        text = normalize(chunk.text)
        if topic and not any(normalize(form) in text for forms in topic for form in forms):
            continue
        start = chunk.start + max(chunk.text.find(lead), 0)
        found.append(AnswerSentence(text=lead, citation=cite(title, chunk.heading[:-1], chunk.page), doc_id=chunk.doc_id,
                                    heading=chunk.heading, start=start, end=start + len(lead),
                                    score=round(coverage(normalize(f"{title} {lead}"), words, idf), 4)))
    return found[:MAX_ITEMS] if len(found) >= MIN_PRACTICES else []
