"""Extractive answers without an LLM: the sentences of the top passages that best cover the question.

Each sentence is scored by the IDF-weighted share of the question's terms it contains (so a sentence
that names 拨缴 and 经费 beats one that only repeats 企业), plus a small bonus for the rank of its
passage. When no sentence covers enough of the question we say so instead of quoting noise.
"""
from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from index.models import AnswerSentence, Hit, SearchResult

MIN_COVERAGE = 0.45  # share of the question's IDF mass a sentence must contain to count as an answer
MAX_SENTENCES = 3
_ARTICLE = re.compile(r"^第[零一二三四五六七八九十百千0-9]+条")
_SENTENCE = re.compile(r"[^。！？；!?;\n]+[。！？；!?;]?[”’」』）)]*")


def citation(hit: Hit) -> str:
    """《工会法》第四十三条 for a law article; 《title》 › section for anything else."""
    inner = [h for h in hit.heading if h != hit.title]
    article = next((h for h in reversed(inner) if _ARTICLE.match(h)), None)
    if article:
        return f"《{hit.title}》{_ARTICLE.match(article).group(0)}"
    return f"《{hit.title}》" + (f" › {inner[-1]}" if inner else "")


def sentence_spans(text: str) -> list[tuple[int, int]]:
    return [(m.start(), m.end()) for m in _SENTENCE.finditer(text) if m.group(0).strip()]


def extract_answer(result: SearchResult, idf: Mapping[str, float]) -> tuple[list[AnswerSentence], bool]:
    """Pick up to three sentences from the hits; ``found`` is False when none covers the question."""
    terms = [t for t in dict.fromkeys(result.terms) if idf.get(t, 0) > 0]
    total = sum(idf[t] for t in terms)
    if not terms or not result.hits:
        return [], False
    candidates: list[AnswerSentence] = []
    for rank, hit in enumerate(result.hits):
        for start, end in sentence_spans(hit.text):
            sentence = hit.text[start:end].strip()
            coverage = sum(idf[t] for t in terms if t in sentence) / total
            score = coverage + 0.1 / (rank + 1)
            candidates.append(AnswerSentence(text=sentence, citation=citation(hit), doc_id=hit.doc_id,
                                             heading=hit.heading, start=hit.start + start,
                                             end=hit.start + end, score=round(score, 4)))
    best = _top(candidates, terms, idf, total)
    return best, bool(best)


def _coverage(s: AnswerSentence, terms: Sequence[str], idf: Mapping[str, float], total: float) -> float:
    return sum(idf[t] for t in terms if t in s.text) / total


def _top(candidates: list[AnswerSentence], terms: Sequence[str], idf: Mapping[str, float],
         total: float) -> list[AnswerSentence]:
    ranked = sorted(candidates, key=lambda s: -s.score)
    chosen: list[AnswerSentence] = []
    for s in ranked:
        if _coverage(s, terms, idf, total) < MIN_COVERAGE or any(s.text == c.text for c in chosen):
            continue
        chosen.append(s)
        if len(chosen) == MAX_SENTENCES:
            break
    return chosen
