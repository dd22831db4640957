"""Rank fusion on hand-computed examples."""
from __future__ import annotations

import pytest

from index.search.fusion import rrf, score_fusion


def test_rrf_hand_example() -> None:
    fused = rrf({"bm25": ["a", "b", "c"], "dense": ["b", "d", "a"]}, {"bm25": 1.0, "dense": 1.0}, k=60)
    expected = {"a": 1 / 61 + 1 / 63, "b": 1 / 62 + 1 / 61, "c": 1 / 63, "d": 1 / 62}
    assert [doc for doc, _ in fused] == ["b", "a", "d", "c"]
    assert dict(fused) == pytest.approx(expected)


def test_rrf_weights_shift_the_order() -> None:
    rankings = {"bm25": ["a", "b"], "dense": ["b", "a"]}
    assert rrf(rankings, {"bm25": 1.0, "dense": 0.5})[0][0] == "a"
    assert rrf(rankings, {"bm25": 0.5, "dense": 1.0})[0][0] == "b"
    assert rrf(rankings, {"bm25": 0.0, "dense": 1.0}, k=0) == [("b", 1.0), ("a", 0.5)]


def test_rrf_ties_break_by_id_and_repeats_count_once() -> None:
    assert rrf({"x": ["b"], "y": ["a"]}, {}) == [("a", 1 / 61), ("b", 1 / 61)]  # missing weights count 1
    assert rrf({"x": ["a", "a", "b"]}, {"x": 1.0}, k=0) == [("a", 1.0), ("b", 0.5)]
    assert rrf({}, {}) == [] and rrf({"x": []}, {"x": 1.0}) == []


def test_rrf_rejects_nonsense() -> None:
    with pytest.raises(ValueError):
        rrf({"x": ["a"]}, {"x": -1.0})
    with pytest.raises(ValueError):
        rrf({"x": ["a"]}, {"x": 1.0}, k=-1)


def test_score_fusion_hand_example() -> None:
    fused = score_fusion(
        {"bm25": [("a", 12.0), ("b", 6.0), ("c", 2.0)], "dense": [("b", 0.9), ("d", 0.8), ("a", 0.7)]},
        {"bm25": 1.0, "dense": 0.5},
    )
    # bm25 min-max: a 1, b 0.4, c 0; dense: b 1, d 0.5, a 0
    assert [doc for doc, _ in fused] == ["a", "b", "d", "c"]
    assert dict(fused) == pytest.approx({"a": 1.0, "b": 0.9, "d": 0.25, "c": 0.0})


def test_score_fusion_single_candidate_and_empty_lists() -> None:
    assert score_fusion({"bm25": [("a", 3.0)], "dense": []}, {"bm25": 0.5}) == [("a", 0.5)]
    assert score_fusion({"bm25": [("a", 3.0), ("a", 5.0), ("b", 1.0)]}, {}) == [("a", 1.0), ("b", 0.0)]
