"""Every stored vector of a small KB as one matrix in memory: exact nearest neighbours instead of chroma's HNSW.

chroma's HNSW graph is approximate: on ../shared's laws and case report (6,861 chunks) it missed some of the
exact top 100 even at ``ef_search`` 400, and a missed passage was often the answer (the same rule restated
by one local regulation after another crowds the graph). Up to ``Settings.exact_search_up_to`` chunks, one
pass over all of them costs about as much CPU as the graph walk (12k × 384: ~1 ms against chroma's 2-3 ms)
and misses nothing. Larger KBs, and searches with a type or date filter (which chroma applies inside its
search), stay on chroma.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np

from index.store.vectors import row_cosines


class VectorMatrix:
    """The vectors of one state of a KB, row ``i`` belonging to ``ids[i]``; read-only once built.

    Cosines are :func:`index.store.vectors.cosines_to`'s, row by row: a chunk gets the same float whether it
    comes from :meth:`nearest`, from :meth:`cosines` or from chroma's stored copy. Rows are kept in id order,
    so equal cosines rank the same whether the matrix was read from chroma or followed a write (:meth:`updated`).
    """

    def __init__(self, vectors: Mapping[str, np.ndarray], dim: int) -> None:
        self.ids = sorted(vectors)
        self._row = {cid: i for i, cid in enumerate(self.ids)}
        self._matrix = (np.stack([vectors[cid] for cid in self.ids]).astype(np.float32, copy=False) if self.ids
                        else np.zeros((0, dim), np.float32))
        self._norms = np.linalg.norm(self._matrix, axis=1)

    def updated(self, removed: Iterable[str], written: Mapping[str, np.ndarray]) -> VectorMatrix:
        """The matrix after a write: ``removed`` rows gone, ``written`` rows added or replaced.

        The process that made a write knows its ids, so the next state costs a read of the batch's rows and one
        copy of the matrix (~20 ms at 20,000 rows) instead of reading every vector back from chroma (~1 s).
        """
        gone = set(removed) | set(written)
        kept = {cid: self._matrix[i] for i, cid in enumerate(self.ids) if cid not in gone}
        return VectorMatrix(kept | dict(written), self._matrix.shape[1])

    def __len__(self) -> int:
        return len(self.ids)

    def nearest(self, vector: np.ndarray, n: int) -> list[tuple[str, float]]:
        """The ``n`` rows most similar to ``vector`` as (id, cosine), best first; ties keep row order."""
        if n <= 0 or not self.ids:
            return []
        sims = row_cosines(self._matrix, self._norms, _flat(vector))
        top = np.argpartition(-sims, n)[:n] if len(sims) > n else np.arange(len(sims))
        top = top[np.lexsort((top, -sims[top]))]
        return [(self.ids[i], float(sims[i])) for i in top.tolist()]

    def cosines(self, vector: np.ndarray, ids: Sequence[str]) -> dict[str, float]:
        """The cosine of ``vector`` to each of these rows; unknown ids are left out."""
        rows = [self._row[cid] for cid in ids if cid in self._row]
        if not rows:
            return {}
        sims = row_cosines(self._matrix[rows], self._norms[rows], _flat(vector))
        return dict(zip((self.ids[i] for i in rows), sims.tolist()))


def _flat(vector: np.ndarray) -> np.ndarray:
    return np.asarray(vector, dtype=np.float32).reshape(-1)
