"""Exact search over a small KB's vectors: the true nearest rows, with the cosines the rest of ranking uses."""
from __future__ import annotations

import numpy as np

from index.store.matrix import VectorMatrix
from index.store.vectors import cosines_to


def stored(n: int, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {f"c{i}": v for i, v in enumerate(rng.standard_normal((n, 384)).astype(np.float32))}


def test_nearest_is_the_exact_top_n_best_first() -> None:
    vectors = stored(2000)
    query = np.random.default_rng(9).standard_normal(384).astype(np.float32)
    every = cosines_to(query, vectors)  # brute force, one row at a time
    truth = sorted(every, key=lambda cid: -every[cid])[:100]
    found = VectorMatrix(vectors, 384).nearest(query * 4.0, 100)  # any length: a cosine
    assert [cid for cid, _ in found] == truth
    assert all(cosine == every[cid] for cid, cosine in found)  # the very floats cosines_to gives


def test_cosines_are_the_floats_nearest_gives_whatever_is_asked_with_them() -> None:
    vectors = stored(300, seed=1)
    matrix = VectorMatrix(vectors, 384)
    query = np.random.default_rng(2).standard_normal(384).astype(np.float32)
    listed = dict(matrix.nearest(query, 300))
    asked = matrix.cosines(query, ["c5", "not-there", "c250", "c5"])
    assert asked == {"c5": listed["c5"], "c250": listed["c250"]}
    assert matrix.cosines(query, ["c250"]) == {"c250": listed["c250"]}
    assert matrix.cosines(query, []) == {}


def test_small_and_empty_matrices() -> None:
    vectors = stored(3, seed=4)
    query = vectors["c1"]
    assert [cid for cid, _ in VectorMatrix(vectors, 384).nearest(query, 10)][0] == "c1"  # n above the rows
    assert len(VectorMatrix(vectors, 384).nearest(query, 10)) == 3
    assert VectorMatrix(vectors, 384).nearest(query, 0) == []
    empty = VectorMatrix({}, 384)
    assert len(empty) == 0 and empty.nearest(query, 5) == [] and empty.cosines(query, ["c1"]) == {}


def test_a_matrix_carried_over_a_write_is_the_one_built_afresh() -> None:
    vectors = stored(50, seed=5)
    new = stored(3, seed=6)
    written = {"c7": new["c0"], "z1": new["c1"]}  # one replaced, one added
    carried = VectorMatrix(vectors, 384).updated(["c3", "gone-already"], written)
    afresh = VectorMatrix({cid: v for cid, v in reversed(list((vectors | written).items())) if cid != "c3"}, 384)
    query = new["c2"]
    assert carried.ids == afresh.ids and len(carried) == 50
    assert carried.nearest(query, 50) == afresh.nearest(query, 50)  # the same rows, floats and ties
    assert carried.cosines(query, ["c7", "c3"]) == {"c7": afresh.cosines(query, ["c7"])["c7"]}
