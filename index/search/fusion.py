"""Pure rank-fusion functions: several candidate lists in, one ranking out.

Kept free of any index or model so they are trivially testable and can be compared on the same candidate
lists (``bench/bm25_stard.py`` measures BM25 alone; the hybrid benchmark compares these).
Ties are broken by id so that a fused ranking never depends on dict iteration order.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence


def _weight(weights: Mapping[str, float], method: str) -> float:
    """A method missing from ``weights`` counts fully: forgetting a weight should not silently drop a method."""
    weight = weights.get(method, 1.0)
    if weight < 0:
        raise ValueError(f"weight of {method!r} must be >= 0, got {weight}")
    return weight


def _ranked(scores: dict[str, float]) -> list[tuple[str, float]]:
    return sorted(scores.items(), key=lambda item: (-item[1], item[0]))


def rrf(rankings: Mapping[str, Sequence[str]], weights: Mapping[str, float], k: int = 60) -> list[tuple[str, float]]:
    """Weighted reciprocal rank fusion: score(d) = Σ_method weight / (k + rank_method(d)), ranks from 1.

    Uses only ranks, so methods with incomparable score scales (BM25 vs cosine) mix safely. A document
    repeated within one ranking counts once, at its best rank.
    """
    if k < 0:
        raise ValueError(f"k must be >= 0, got {k}")
    fused: dict[str, float] = {}
    for method, ranking in rankings.items():
        weight = _weight(weights, method)
        for rank, doc in enumerate(dict.fromkeys(ranking), 1):
            fused[doc] = fused.get(doc, 0.0) + weight / (k + rank)
    return _ranked(fused)


def score_fusion(
    results: Mapping[str, Sequence[tuple[str, float]]], weights: Mapping[str, float]
) -> list[tuple[str, float]]:
    """Weighted sum of min-max normalised scores (a document absent from a method's list gets 0 there).

    Unlike RRF it keeps *how much* better the top candidate is, which helps when one method is confident;
    with a single candidate (or all scores equal) a method contributes its full weight to each of them.
    """
    fused: dict[str, float] = {}
    for method, scored in results.items():
        weight = _weight(weights, method)
        best: dict[str, float] = {}
        for doc, score in scored:
            best[doc] = max(score, best.get(doc, score))
        if not best:
            continue
        low, high = min(best.values()), max(best.values())
        for doc, score in best.items():
            normalised = (score - low) / (high - low) if high > low else 1.0
            fused[doc] = fused.get(doc, 0.0) + weight * normalised
    return _ranked(fused)
