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
from index.search.ranking import question_words
from index.search.text import analyze_query, normalize

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

    The rewrite is asked first; then, where it may have read the question wrong, the question led by the
    previous question's topic (:func:`with_topic`): a rewrite that added the subject to the previous question
    and was answered without it (试用期最长多久 → 工资呢 was answered 试用期最长不得超过六个月: 试用期工资); a
    question without 那 or 呢 that found nothing alone (多久开一次 after 职工代表大会有哪些职权); one too vague
    to stand alone (补偿多少 after 竞业限制最长几年), if the topic makes it a better match. The second answer
    is taken only when it finds something, quotes the subject or the question's own words (职代会多久开一次
    after 工会经费按什么比例拨缴 must not become 工会经费's 第四十三条), and opens with another sentence than
    the topic alone would: otherwise the topic found it, not the question (最低工资标准 after 加班费怎么算, over
    a KB without the minimum wage, found 加班费's own passage).
    """
    query = rewrite(question, previous)
    answer = ask(query)
    reading = _second_reading(question, query, previous, answer)
    if reading is None:
        return answer
    again, about, must_beat = reading
    second = ask(again)
    if not (second.found and _names(second, about)) or (must_beat and _best(second) <= _best(answer)):
        return answer
    topic = topic_of(previous)  # there is one: ``again`` leads with it
    alone = ask(topic) if topic else None
    said_alone = alone is not None and [s.text for s in alone.sentences[:1]] == [second.sentences[0].text]
    return answer if said_alone else second


def _second_reading(question: str, query: str, previous: str | None,
                    first: Answer) -> tuple[str, str, bool] | None:
    """Another query for ``question`` after ``previous``: the query, what its answer must name, and whether
    it must also be a better match than ``first``; None when ``first`` stands."""
    if query != question:  # a rewritten follow-up
        subject = _subject(question)
        answered = not (subject and query.endswith(f" {subject}")) or _names(first, subject)
        again = None if answered else with_topic(subject, previous)
        return (again, subject, False) if again else None
    if not first.found or _vague(question):
        again = with_topic(question, previous)
        return (again, question, first.found) if again else None
    return None


def _vague(question: str) -> bool:
    """A short question with no term longer than two characters (补偿多少, 有什么成果): after another question it
    may well be about that one's topic."""
    terms = analyze_query(question).base_terms
    return len(question.strip()) <= MAX_SUBJECT_CHARS and max(map(len, terms), default=0) <= 2


def _best(answer: Answer) -> float:
    return max((passage.score for passage in answer.passages), default=0.0)


def _names(answer: Answer, words: str) -> bool:
    """Whether a quoted sentence names one of the words of ``words`` in any of their forms (周末: 休息日), one
    of more than a character where there are such (成果 in 有什么成果, not 有)."""
    concepts = question_words(analyze_query(words))
    long = [forms for forms in concepts if len(forms[0]) > 1]
    sentences = [normalize(sentence.text) for sentence in answer.sentences]
    return any(form in text for forms in long or concepts for form in forms for text in sentences)


def with_topic(question: str, previous: str | None) -> str | None:
    """``question`` led by the topic of ``previous`` (不交怎么办 → 工会经费不交怎么办), or None when there is no
    previous question or ``question`` names the topic already.

    The topic is the previous question's longest term — the thing it asked about (工会经费 in
    工会经费按什么比例拨缴), not its question words — and the first of equals: a Chinese question names its
    topic first.
    """
    topic = topic_of(previous)
    return None if topic is None or topic in question else f"{topic}{question.strip()}"


def topic_of(question: str | None) -> str | None:
    """A question's topic: its longest term, the first of equals (工会经费 in 工会经费按什么比例拨缴)."""
    terms = analyze_query(question).base_terms if question else []
    return max(terms, key=len) if terms else None


def _subject(question: str) -> str | None:
    """What a follow-up asks about (那女职工呢？ → 女职工), or None when the question stands alone."""
    text = question.strip()
    cue, tail = _CUE.match(text), _TAIL.search(text)
    if not cue and not (tail and "呢" in tail.group(0)):
        return None
    subject = text[cue.end() if cue else 0:tail.start() if tail else len(text)].strip()
    return subject if 0 < len(subject) <= (MAX_SUBJECT_CHARS if cue else MAX_BARE_SUBJECT_CHARS) else None
