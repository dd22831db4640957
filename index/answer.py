"""Extractive answers without an LLM: the sentences of the top passages that best cover the question.

Each sentence is scored by the IDF-weighted share of the question's terms it contains (so a sentence
that names 拨缴 and 经费 beats one that only repeats 企业). The answer takes the best sentence of each
passage in retrieval order, so the ranking's judgement (hierarchy of norms, fusion) decides which source
is quoted first, and every quoted sentence cites a different passage. When no sentence covers enough of
the question we say so instead of quoting noise.
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
    """《工会法》第四十三条 for a law article; 《title》 › section for anything else; （第3页） for paged files.

    A title that itself quotes a title gets the nested marks 〈〉, as Chinese typography wants.
    """
    return _place(hit) + (f"（第{hit.page}页）" if hit.page else "")


def _place(hit: Hit) -> str:
    title = "《" + hit.title.replace("《", "〈").replace("》", "〉") + "》"
    inner = [h for h in hit.heading if h != hit.title]
    for heading in reversed(inner):
        article = _ARTICLE.match(heading)
        if article:
            return title + article.group(0)
    return title + (f" › {inner[-1]}" if inner else "")


def sentence_spans(text: str) -> list[tuple[int, int]]:
    return [(m.start(), m.end()) for m in _SENTENCE.finditer(text) if m.group(0).strip()]


def extract_answer(result: SearchResult, idf: Mapping[str, float]) -> tuple[list[AnswerSentence], bool]:
    """Up to three sentences, one per passage in hit order; ``found`` is False when none covers the question."""
    # a term the corpus never uses is as telling as its rarest word: no sentence can cover it, and a
    # question made of such terms ("火星移民签证") must not be "answered" by its one common word (办理)
    rarest = max(idf.values(), default=1.0)
    weights = {t: idf.get(t, rarest) for t in dict.fromkeys(result.terms)}
    terms = [t for t, w in weights.items() if w > 0]
    total = sum(weights[t] for t in terms)
    chosen: list[AnswerSentence] = []
    for hit in result.hits if terms else []:
        best = max(((coverage(hit.text[a:b], terms, weights, total), a, b) for a, b in sentence_spans(hit.text)),
                   default=None)
        if best is None or best[0] < MIN_COVERAGE:
            continue
        score, start, end = best
        chosen.append(AnswerSentence(text=hit.text[start:end].strip(), citation=citation(hit), doc_id=hit.doc_id,
                                     heading=hit.heading, start=hit.start + start, end=hit.start + end,
                                     score=round(score, 4)))
        if len(chosen) == MAX_SENTENCES:
            break
    return chosen, bool(chosen)


def coverage(sentence: str, terms: Sequence[str], idf: Mapping[str, float], total: float) -> float:
    """The IDF-weighted share of the question's terms that occur in the sentence."""
    return sum(idf[t] for t in terms if t in sentence) / total
