"""The questions the page offers a first-time visitor (试试：…): those staff and trainers ask that this KB answers.

Fixed examples fit one corpus: over a union's own KB without case reports, 师带徒 案例 listed a 职业教育条例,
and a visitor's first click showed something that looked broken. Each KB offers the examples it answers —
a search example when its first passage is about the question's topic (and a case report, for one that asks
for cases), a 问答 example when it quotes sentences from such a passage — worked out once per write to the KB.
"""
from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from itertools import islice

from index.answering.followup import topic_of
from index.kb import KnowledgeBase
from index.records import Hit
from index.search.intent import names_cases
from index.search.text import normalize, with_other_names

# What staff and trainers ask, in the order offered; the first of each are the shipped corpus's examples.
SEARCH = ("技术工人待遇怎么提高", "工会经费按什么比例拨缴", "师带徒 案例", "产改是什么", "加班费怎么算",
          "职工代表大会有哪些职权", "技能竞赛 案例", "女职工产假多少天")
ASK = ("企业年金缴费比例是多少", "职工代表大会有哪些职权", "哪家企业用师带徒培养青年技工", "工会经费按什么比例拨缴",
       "试用期最长多久", "有没有企业搞技能竞赛的案例")
SHOWN = {"search": 4, "ask": 3}

_lock = threading.Lock()
# a KB → (its generation, its examples); a KB deleted and made anew is another object
_answered: weakref.WeakKeyDictionary[KnowledgeBase, tuple[int, dict[str, list[str]]]] = weakref.WeakKeyDictionary()


def examples(kb: KnowledgeBase) -> dict[str, list[str]]:
    """The search and 问答 examples this KB answers, as the KB stands now (at most :data:`SHOWN` of each)."""
    generation = kb.store.generation
    with _lock:
        known = _answered.get(kb)
        if known is None or known[0] != generation:
            known = (generation, {"search": _first(kb, SEARCH, SHOWN["search"], _listed),
                                  "ask": _first(kb, ASK, SHOWN["ask"], _answered_by)})
            _answered[kb] = known
        return known[1]


def _first(kb: KnowledgeBase, questions: tuple[str, ...], n: int,
           works: Callable[[KnowledgeBase, str], bool]) -> list[str]:
    return list(islice((q for q in questions if works(kb, q)), n))


def _listed(kb: KnowledgeBase, question: str) -> bool:
    hits = kb.search(question, k=1).hits
    return bool(hits) and _about(hits[0], question)


def _answered_by(kb: KnowledgeBase, question: str) -> bool:
    answer = kb.ask(question)
    return bool(answer.sentences) and _about(answer.passages[0], question)


def _about(hit: Hit, question: str) -> bool:
    """Whether the first passage is about the question's topic (师带徒 in 哪家企业用师带徒培养青年技工: a case report
    without it was quoted for it), and is a case report where the question asks for cases."""
    topic = topic_of(question)
    forms = with_other_names(topic) if topic else ()
    text = normalize(" ".join((hit.title, *hit.heading, hit.text)))
    holds_topic = not forms or any(normalize(form) in text for form in forms)
    return holds_topic and (not names_cases(question) or hit.doc_type == "case")
