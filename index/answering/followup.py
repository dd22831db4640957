"""Follow-up questions: "那女职工呢？" means the previous question asked again about 女职工.

Retrieval sees only the question, so an elliptical follow-up is rewritten into a standalone one before the
search: a word of the previous question that ends like the new subject is swapped for it (男职工 → 女职工),
else the new subject is added to the previous question. Where that reads wrong, the answer shows it, and
the question is asked once more led by the previous question's topic (:func:`answer_in_turn`). Rules rather
than an LLM call: follow-ups are short and formulaic in this domain, and the rewrite must also work when no
LLM is configured.
"""
from __future__ import annotations

import re
from collections.abc import Callable

from index.records import Answer
from index.search.text import analyze_query

MAX_SUBJECT_CHARS = 12  # longer questions carry their own subject: they are asked as they are
MAX_BARE_SUBJECT_CHARS = 6  # without 那/还有 only "女职工呢？" is a follow-up, not "工会经费按什么比例拨缴呢？"
_CUE = re.compile(r"^(那么|那|还有|另外|如果是|要是|换成)")
_TAIL = re.compile(r"(的话|的情况|怎么样|怎么办|如何|呢)*[？?。！!，,\s]*$")
_END = re.compile(r"[？?。！!\s]+$")


def rewrite(question: str, previous: str | None) -> str:
    """A standalone question for retrieval; ``question`` itself unless it is a follow-up of ``previous``."""
    subject = _subject(question)
    if not previous or subject is None:
        return question
    previous = _END.sub("", previous.strip())
    size = len(subject)
    for start in range(len(previous) - size + 1):
        word = previous[start:start + size]
        if size >= 2 and word != subject and word[-2:] == subject[-2:]:
            return previous[:start] + subject + previous[start + size:]
    return f"{previous} {subject}"


def answer_in_turn(question: str, previous: str | None, ask: Callable[[str], Answer]) -> Answer:
    """The answer to ``question``, read as a follow-up of ``previous`` where it is one.

    The rewrite comes first. It is asked once more led by the previous question's topic when the rewrite
    added the new subject to the previous question and the answer never names it (试用期最长多久 → 工资呢 was
    answered 试用期最长不得超过六个月: asked again as 试用期工资), and when a question without 那 or 呢 found
    nothing alone (多久开一次 after 职工代表大会有哪些职权 → 职工代表大会多久开一次). The second answer is
    taken only when it finds something, and names the subject where there is one.
    """
    query = rewrite(question, previous)
    answer = ask(query)
    subject = _subject(question)
    if query == question:
        again = None if answer.found else with_topic(question, previous)
    elif subject and query.endswith(f" {subject}") and not _names(answer, subject):
        again = with_topic(subject, previous)
    else:
        again = None
    if again is None:
        return answer
    second = ask(again)
    return second if second.found and (subject is None or _names(second, subject)) else answer


def _names(answer: Answer, subject: str) -> bool:
    """Whether a quoted sentence names ``subject`` in its words or the statutes' (周末: 休息日)."""
    terms = analyze_query(subject).terms
    return any(term in sentence.text for sentence in answer.sentences for term in terms)


def with_topic(question: str, previous: str | None) -> str | None:
    """``question`` led by the topic of ``previous`` (不交怎么办 → 工会经费不交怎么办), or None when there is no
    previous question or ``question`` names the topic already.

    The topic is the previous question's longest term — the thing it asked about (工会经费 in
    工会经费按什么比例拨缴), not its question words — and the first of equals: a Chinese question names its
    topic first.
    """
    terms = analyze_query(previous).base_terms if previous else []
    if not terms:
        return None
    topic = max(terms, key=len)
    return None if topic in question else f"{topic}{question.strip()}"


def _subject(question: str) -> str | None:
    """What a follow-up asks about (那女职工呢？ → 女职工), or None when the question stands alone."""
    text = question.strip()
    cue, tail = _CUE.match(text), _TAIL.search(text)
    if not cue and not (tail and "呢" in tail.group(0)):
        return None
    subject = text[cue.end() if cue else 0:tail.start() if tail else len(text)].strip()
    return subject if 0 < len(subject) <= (MAX_SUBJECT_CHARS if cue else MAX_BARE_SUBJECT_CHARS) else None
