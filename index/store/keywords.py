"""BM25 over chunk token lists: a sparse term-frequency matrix, immutable, updated by building a new one.

Why not keep a ``bm25s.BM25`` object: bm25s can only be rebuilt from *all* token lists (≈13 s at 100k
chunks) and cannot drop rows. This index keeps the term frequencies (one CSC matrix) and recomputes the
BM25 weights with numpy, so removing and adding chunks costs a sparse row filter plus a vectorised
reweighting, and only the added chunks are turned into term ids in Python. The scoring is bm25s's "lucene"
variant (idf = ln(1 + (N - df + .5) / (df + .5)), tf / (tf + k1 (1 - b + b dl / avgdl))); a test checks the
scores against bm25s itself. Parameters and features were measured on STARD (``bench/bm25_stard.py``).
"""
from __future__ import annotations

import dataclasses
import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from index.store.locks import exclusive

FORMAT = 1
CURRENT = "CURRENT"  # names the live snapshot folder; replaced atomically by save()
ABANDONED_STAGING_SECONDS = 3600  # a staging folder this old belongs to a save that was killed
CHAR_PREFIX = "@"
_TF_MAX = np.iinfo(np.uint16).max


@dataclass(frozen=True)
class BM25Params:
    """Chosen on the STARD tune split (the k1/b surface is flat: ±0.005 MRR over k1 0.9-1.5, b 0.6-0.9).

    ``chars`` adds each chunk's distinct Han characters as features (:func:`features`).
    """

    k1: float = 1.2
    b: float = 0.9
    chars: bool = True


def features(tokens: Iterable[str], chars: bool = True) -> list[str]:
    """The BM25 features of a token list: the words, plus each distinct Han character once.

    jieba sometimes cuts the same phrase differently in a colloquial question and in a statute (被侵权人 vs
    侵权 + 人); distinct characters give those pairs partial credit. Counting each character once per chunk
    keeps them from swamping the words. Measured on STARD: +0.02 recall@10, see ``bench/bm25_stard.py``.
    """
    words = list(tokens)
    if not chars:
        return words
    return words + [CHAR_PREFIX + ch for ch in dict.fromkeys("".join(words)) if "\u4e00" <= ch <= "\u9fff"]


class KeywordIndex:
    """An immutable BM25 index over string ids; build it with :meth:`build`, change it with :meth:`with_changes`.

    Rows are the internal order of ``ids``; ``allowed`` masks in :meth:`search` are over these rows
    (see :meth:`mask`). ``generation`` is a number the owner bumps on every change and stores with the
    index, so a knowledge base can tell whether its saved keyword index matches its other stores.
    """

    def __init__(
        self, ids: Sequence[str], vocab: Sequence[str], tf: sp.csc_matrix, params: BM25Params, generation: int
    ) -> None:
        """Internal: use :meth:`build`, :meth:`with_changes` or :meth:`load`."""
        self.ids: tuple[str, ...] = tuple(ids)
        self.vocab: tuple[str, ...] = tuple(vocab)
        self.params = params
        self.generation = generation
        self._rows = {chunk_id: row for row, chunk_id in enumerate(self.ids)}
        if len(self._rows) != len(self.ids):
            raise ValueError("duplicate ids in keyword index")
        self._terms = {term: col for col, term in enumerate(self.vocab)}
        self._tf = tf
        self._weights = _bm25_weights(tf, params)

    # --- construction -------------------------------------------------------------------------------

    @classmethod
    def build(
        cls,
        ids: Sequence[str],
        tokens: Sequence[Sequence[str]],
        params: BM25Params = BM25Params(),
        generation: int = 0,
    ) -> KeywordIndex:
        """Index chunks given their ids and token lists (from :func:`index.search.text.tokenize`)."""
        if len(ids) != len(tokens):
            raise ValueError(f"{len(ids)} ids but {len(tokens)} token lists")
        vocab: dict[str, int] = {}
        tf = _tf_matrix(tokens, vocab, params.chars)
        return cls(ids, list(vocab), tf, params, generation)

    def with_changes(
        self,
        remove_ids: Iterable[str],
        add_ids: Sequence[str],
        add_tokens: Sequence[Sequence[str]],
        generation: int | None = None,
    ) -> KeywordIndex:
        """A new index without ``remove_ids`` (unknown ids are ignored) and with the added chunks.

        An id may be removed and added in the same call (a changed chunk). Terms no longer used by any chunk
        leave the vocabulary. ``generation`` defaults to this index's generation + 1.
        """
        if len(add_ids) != len(add_tokens):
            raise ValueError(f"{len(add_ids)} ids but {len(add_tokens)} token lists")
        drop = {self._rows[chunk_id] for chunk_id in remove_ids if chunk_id in self._rows}
        keep = np.ones(len(self.ids), dtype=bool)
        keep[list(drop)] = False
        vocab = dict(self._terms)
        added = _tf_matrix(add_tokens, vocab, self.params.chars)
        kept = self._tf[keep] if drop else self._tf
        tf = sp.vstack([_widen(kept, len(vocab)), added], format="csc")
        used = np.diff(tf.indptr) > 0
        terms = [term for term, is_used in zip(vocab, used) if is_used]
        ids = [chunk_id for chunk_id, k in zip(self.ids, keep) if k] + list(add_ids)
        next_generation = self.generation + 1 if generation is None else generation
        return KeywordIndex(ids, terms, tf[:, used], self.params, next_generation)

    # --- queries ------------------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self.ids)

    def __contains__(self, chunk_id: object) -> bool:
        return chunk_id in self._rows

    def mask(self, allowed_ids: Iterable[str]) -> np.ndarray:
        """A boolean row mask for :meth:`search` that admits only ``allowed_ids`` (unknown ids are ignored)."""
        allowed = np.zeros(len(self.ids), dtype=bool)
        allowed[[self._rows[i] for i in allowed_ids if i in self._rows]] = True
        return allowed

    def search(self, query_terms: Sequence[str], n: int, allowed: np.ndarray | None = None,
               extra: Mapping[str, float] | None = None) -> list[tuple[str, float]]:
        """The ``n`` best ``(id, score)`` pairs, best first, among rows that share a feature with the query.

        ``allowed`` is a boolean mask over rows (:meth:`mask`); ties break by row order so results are stable.
        ``extra`` adds words at a weight of their own (a query word's features count 1 each): the learned
        expansions of :mod:`index.models.expansion`, which must not outweigh what the user typed.
        """
        if allowed is not None and np.shape(allowed) != (len(self.ids),):
            raise ValueError(f"allowed mask has shape {allowed.shape}, expected ({len(self.ids)},)")
        weights = {self._terms[f]: 1.0 for f in features(dict.fromkeys(query_terms), self.params.chars)
                   if f in self._terms}
        for term, weight in (extra or {}).items():
            col = self._terms.get(term)
            if col is not None and col not in weights:
                weights[col] = weight
        if n <= 0 or not weights:
            return []
        scores = self._weights[:, list(weights)] @ np.fromiter(weights.values(), dtype=np.float64)  # these postings only
        if allowed is not None:
            scores[~np.asarray(allowed, dtype=bool)] = 0.0
        k = min(n, len(scores))
        cutoff = max(scores[np.argpartition(-scores, k - 1)[k - 1]], np.finfo(scores.dtype).tiny)
        top = np.flatnonzero(scores >= cutoff)  # everything tied with the n-th too, so ties break by row
        best = top[np.lexsort((top, -scores[top]))][:n]
        return [(self.ids[row], float(scores[row])) for row in best]

    def has_term(self, term: str) -> bool:
        """Whether some chunk holds ``term`` (a word, as :func:`index.search.text.tokenize` gives it)."""
        return term in self._terms

    def idf(self, terms: Iterable[str]) -> dict[str, float]:
        """BM25 idf of the known terms (unknown terms are left out): how telling each query term is.

        Reads only these terms' column bounds, not the whole vocabulary's document frequencies.
        """
        bounds = self._tf.indptr
        cols = {term: self._terms[term] for term in terms if term in self._terms}
        return {term: float(_idf(bounds[col + 1] - bounds[col], len(self.ids))) for term, col in cols.items()}

    # --- persistence --------------------------------------------------------------------------------

    def save(self, directory: Path) -> None:
        """Write a new snapshot folder, then switch ``CURRENT`` to it with one atomic ``os.replace``.

        A crash at any point leaves the previous snapshot live. The previous snapshot is kept (a reader may
        have just resolved ``CURRENT`` to it); older ones are deleted. So are staging folders a killed save
        left behind, once they are an hour old: a younger one may belong to a save in progress in another
        process (a save takes seconds).

        Two processes can save at once: a server that meets a new generation rebuilds while ``zhiku ingest``
        saves the same one. Publishing (rename, pointer, clean-up) holds an exclusive lock on ``.lock``, so
        neither takes the other's pointer file nor deletes the snapshot the other is about to name.
        """
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=directory))
        np.savez(
            staging / "tf.npz", indptr=self._tf.indptr, indices=self._tf.indices, data=self._tf.data,
            shape=np.array(self._tf.shape),
        )
        (staging / "ids.json").write_text(json.dumps(self.ids, ensure_ascii=False), encoding="utf-8")
        (staging / "vocab.json").write_text(json.dumps(self.vocab, ensure_ascii=False), encoding="utf-8")
        meta = {"format": FORMAT, "generation": self.generation, "params": dataclasses.asdict(self.params)}
        (staging / "meta.json").write_text(json.dumps(meta), encoding="utf-8")
        for path in staging.iterdir():
            _fsync(path)
        with exclusive(directory / ".lock"):
            previous = _current_snapshot(directory)
            snapshot = f"gen-{self.generation}-{staging.name.removeprefix('.staging-')}"
            os.replace(staging, directory / snapshot)
            pointer = directory / f".{CURRENT}.tmp"
            pointer.write_text(snapshot, encoding="utf-8")
            _fsync(pointer)
            os.replace(pointer, directory / CURRENT)
            abandoned_before = time.time() - ABANDONED_STAGING_SECONDS
            for stale in directory.iterdir():
                old_snapshot = stale.name.startswith("gen-") and stale.name not in (snapshot, previous)
                abandoned = stale.name.startswith(".staging-") and stale.stat().st_mtime < abandoned_before
                if stale.is_dir() and (old_snapshot or abandoned):
                    shutil.rmtree(stale, ignore_errors=True)

    @classmethod
    def load(cls, directory: Path) -> KeywordIndex:
        """The snapshot ``CURRENT`` names; ``FileNotFoundError`` if none was saved.

        Saves keep only the live snapshot and the one before it, so two saves in other processes between
        reading ``CURRENT`` and opening its files delete the folder it named: then ``CURRENT`` has moved on,
        and the newer snapshot is read instead.
        """
        while True:
            snapshot = _current_snapshot(Path(directory))
            if snapshot is None:
                raise FileNotFoundError(f"no keyword index in {directory}")
            try:
                return cls._load_snapshot(Path(directory) / snapshot)
            except FileNotFoundError:
                if _current_snapshot(Path(directory)) == snapshot:
                    raise

    @classmethod
    def _load_snapshot(cls, folder: Path) -> KeywordIndex:
        meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
        if meta.get("format") != FORMAT:
            raise ValueError(f"{folder}: keyword index format {meta.get('format')}, expected {FORMAT}")
        with np.load(folder / "tf.npz") as arrays:
            tf = sp.csc_matrix((arrays["data"], arrays["indices"], arrays["indptr"]), shape=tuple(arrays["shape"]))
        ids = json.loads((folder / "ids.json").read_text(encoding="utf-8"))
        vocab = json.loads((folder / "vocab.json").read_text(encoding="utf-8"))
        return cls(ids, vocab, tf, BM25Params(**meta["params"]), meta["generation"])


def _tf_matrix(tokens: Sequence[Sequence[str]], vocab: dict[str, int], chars: bool) -> sp.csc_matrix:
    """Term counts of the token lists' features (rows = lists), growing ``vocab`` with new terms in place."""
    indptr = [0]
    cols: list[int] = []
    for doc in tokens:
        cols.extend(vocab.setdefault(term, len(vocab)) for term in features(doc, chars))
        indptr.append(len(cols))
    lengths = np.diff(np.asarray(indptr, dtype=np.int64))
    rows = np.repeat(np.arange(len(tokens), dtype=np.int32), lengths)
    counts = sp.csr_matrix(
        (np.ones(len(cols), dtype=np.uint32), (rows, np.asarray(cols, dtype=np.int32))),
        shape=(len(tokens), len(vocab)),
    )
    counts.sum_duplicates()
    counts.data = np.minimum(counts.data, _TF_MAX).astype(np.uint16)
    return counts.tocsc()


def _idf(df: np.ndarray, n_docs: int) -> np.ndarray:
    """Lucene's idf: always positive, so a term in most chunks still counts a little."""
    return np.log1p((n_docs - df + 0.5) / (df + 0.5))


def _widen(matrix: sp.csc_matrix, n_cols: int) -> sp.csc_matrix:
    """The same matrix with empty columns appended up to ``n_cols`` (for terms new in this change)."""
    extra = np.full(n_cols - matrix.shape[1], matrix.indptr[-1], dtype=matrix.indptr.dtype)
    indptr = np.concatenate([matrix.indptr, extra])
    return sp.csc_matrix((matrix.data, matrix.indices, indptr), shape=(matrix.shape[0], n_cols))


def _bm25_weights(tf: sp.csc_matrix, params: BM25Params) -> sp.csc_matrix:
    """Per (chunk, term) BM25 contributions, same sparsity as ``tf``: a query only sums columns."""
    n_docs = tf.shape[0]
    if tf.nnz == 0:
        return sp.csc_matrix(tf.shape, dtype=np.float32)
    doc_len = np.asarray(tf.sum(axis=1, dtype=np.float64)).ravel()
    norm = params.k1 * (1.0 - params.b + params.b * doc_len / doc_len.mean())
    df = np.diff(tf.indptr)
    idf = _idf(df, n_docs)
    counts = tf.data.astype(np.float64)
    cols = np.repeat(np.arange(tf.shape[1]), df)
    data = (idf[cols] * counts / (counts + norm[tf.indices])).astype(np.float32)
    return sp.csc_matrix((data, tf.indices, tf.indptr), shape=tf.shape)


def _current_snapshot(directory: Path) -> str | None:
    pointer = directory / CURRENT
    return pointer.read_text(encoding="utf-8").strip() if pointer.exists() else None


def _fsync(path: Path) -> None:
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())
