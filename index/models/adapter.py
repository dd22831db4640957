"""Query adapter: a linear map on query vectors that moves colloquial questions toward the passages
that answer them.

The small offline encoders put "老板拖欠工资怎么办" far from "用人单位应当按时足额支付劳动报酬": they were
trained on general text, and there is no offline cross-encoder to fix the ranking afterwards. An adapter
learned from judged questions (``zhiku train-adapter``) fixes part of it: ``q' = normalise(q @ W)``, with
``W`` kept close to the identity so the embedder's general knowledge stays. Only queries pass through it;
passage vectors are untouched, so an adapter is switched on, off or retrained without re-indexing. Its
lexical half (:mod:`index.models.expansion`), learned from the same questions, adds the statute words that go with
a question's everyday words to its BM25 query.

zhiku ships one adapter per built-in embedder that has one (``index/adapters/<kind>.npz``), trained on the
tune split of the STARD legal questions only; docs/retrieval.md has what it gains on the held-out split
(and what it costs on general-domain CMRC 2018). ``ZHIKU_QUERY_ADAPTER`` selects ``builtin`` (default),
``none``, or the path of an adapter a user trained on their own questions.
"""
from __future__ import annotations

import json
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from index.models.embedders import Embedder, text_list
from index.errors import EmbedderUnavailable
from index.models.expansion import TermTranslations
from index.search.text import is_question

BUILTIN_DIR = Path(__file__).parent / "adapters"


@dataclass(frozen=True)
class QueryAdapter:
    """A ``(dim, dim)`` map for the query vectors of the embedder called ``embedder``."""

    embedder: str
    matrix: np.ndarray
    info: dict[str, object] = field(default_factory=dict)  # how it was trained: data, sizes, parameters
    translations: TermTranslations | None = None  # BM25 expansions; None in adapters saved before them

    def apply(self, vectors: np.ndarray) -> np.ndarray:
        mapped = np.asarray(vectors, dtype=np.float32) @ self.matrix
        return mapped / np.maximum(np.linalg.norm(mapped, axis=1, keepdims=True), np.float32(1e-12))

    def expansions(self, query: str, terms: Sequence[str]) -> dict[str, float]:
        """Weighted BM25 words to add to ``query`` (whose terms are ``terms``): only questions get any,
        for the reason :class:`AdaptedEmbedder` gives."""
        if self.translations is None or not is_question(query):
            return {}
        return self.translations.expand(terms)

    def describe(self) -> str:
        """What ``zhiku stats`` and ``/api/health`` show: what the adapter was trained on, and whether it has
        its lexical half (adapters trained before :mod:`index.models.expansion` have only the map)."""
        trained = f"用 {self.info.get('corpus', '?')} 的 {self.info.get('queries', '?')} 个问题训练"
        return trained if self.translations is None else f"{trained}，{len(self.translations):,} 对扩展词"

    def save(self, path: Path) -> None:
        """Stored as the float16 difference from the identity: small numbers, a quarter of the bytes."""
        delta = (self.matrix - np.eye(len(self.matrix), dtype=np.float32)).astype(np.float16)
        lexical = self.translations.to_arrays() if self.translations is not None else {}
        with Path(path).open("wb") as f:
            np.savez_compressed(f, delta=delta, embedder=np.array(self.embedder),
                                info=np.array(json.dumps(self.info, ensure_ascii=False)), **lexical)

    @classmethod
    def load(cls, path: Path) -> QueryAdapter:
        try:
            with np.load(Path(path)) as data:
                delta = data["delta"].astype(np.float32)
                embedder, info = str(data["embedder"]), json.loads(str(data["info"]))
                translations = TermTranslations.from_arrays(data) if "expansion_words" in data else None
        except (OSError, EOFError, KeyError, ValueError, zipfile.BadZipFile) as exc:
            raise EmbedderUnavailable(
                f"无法读取查询适配器 {path}：{exc}。请用 zhiku train-adapter 重新训练一个，"
                "或设置 ZHIKU_QUERY_ADAPTER=none"
            ) from exc
        if delta.ndim != 2 or delta.shape[0] != delta.shape[1]:
            raise EmbedderUnavailable(f"查询适配器 {path} 已损坏（矩阵形状 {delta.shape} 不是方阵）：请用 zhiku train-adapter 重新训练，"
                                  "或设置 ZHIKU_QUERY_ADAPTER=none")
        return cls(embedder=embedder, matrix=delta + np.eye(len(delta), dtype=np.float32), info=info,
                   translations=translations)


def builtin_path(kind: str) -> Path:
    return BUILTIN_DIR / f"{kind}.npz"


def resolve_adapter(choice: str, kind: str, embedder: Embedder) -> QueryAdapter | None:
    """The adapter ``ZHIKU_QUERY_ADAPTER`` selects for this embedder, refusing one made for another model."""
    if choice == "none":
        return None
    path = builtin_path(kind) if choice == "builtin" else Path(choice).expanduser()
    if choice == "builtin" and not path.exists():
        return None  # this backend has no shipped adapter (e.g. a user's own sentence-transformers model)
    if not path.is_file():
        raise EmbedderUnavailable(f"ZHIKU_QUERY_ADAPTER={choice}：文件不存在。请设为 builtin、none，"
                                  "或 zhiku train-adapter 写出的文件路径")
    adapter = QueryAdapter.load(path)
    if adapter.embedder != embedder.name or adapter.matrix.shape[0] != embedder.dim:
        raise EmbedderUnavailable(
            f"查询适配器 {path} 是为 {adapter.embedder}（{adapter.matrix.shape[0]} 维）训练的，"
            f"而当前向量模型是 {embedder.name}（{embedder.dim} 维）。"
            "请用 zhiku train-adapter 为当前模型训练一个，或设置 ZHIKU_QUERY_ADAPTER=none"
        )
    return adapter


class AdaptedEmbedder:
    """An :class:`Embedder` whose *questions* pass through an adapter; passages are the inner model's.

    The adapter learned to carry questions (STARD: 1,227 of its 1,234 queries read as questions) to the
    passages that answer them. Bare keywords (产改 技能培训) are already in the documents' words and mean a
    topic browse; the adapter pulled them toward statute text (the demo's case reports lost the top three),
    so they keep the embedder's own vector.
    """

    def __init__(self, embedder: Embedder, adapter: QueryAdapter) -> None:
        self.embedder = embedder
        self.adapter = adapter

    @property
    def name(self) -> str:
        return self.embedder.name  # the passage vectors are the same, so the KB stays compatible

    @property
    def dim(self) -> int:
        return self.embedder.dim

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self.embedder.embed_passages(texts)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        texts = text_list(texts)
        vectors = np.array(self.embedder.embed_queries(texts), dtype=np.float32)
        asks = [i for i, text in enumerate(texts) if is_question(text)]
        vectors[asks] = self.adapter.apply(vectors[asks])
        return vectors


@dataclass(frozen=True)
class TrainingParams:
    """Chosen by 2-fold cross-validation inside the STARD tune split (docs/retrieval.md)."""

    strength: float = 0.03  # L2 pull of W toward the identity: lower fits the questions closer
    temperature: float = 0.02  # softmax temperature over cosine scores (they span only ~0.1 for e5)
    epochs: int = 300
    learning_rate: float = 1e-3


def train_matrix(queries: np.ndarray, passages: np.ndarray, relevant: Sequence[Sequence[int]],
                 params: TrainingParams = TrainingParams()) -> np.ndarray:
    """Fit ``W`` so each query's adapted vector ranks its relevant passages (row indices) first.

    The loss is the cross-entropy of a softmax over *every* passage (the corpus is the set of negatives, so
    nothing is sampled), plus ``strength * ||W - I||²``. A full-batch Adam run over a few thousand
    questions and ~10k passages takes a minute or two on two cores. torch is imported here only.
    """
    import torch

    if len(queries) != len(relevant) or not len(queries):
        raise ValueError("need one list of relevant passages per query, and at least one query")
    dim = queries.shape[1]
    target = torch.zeros(len(queries), len(passages))
    for row, rows in enumerate(relevant):
        if not rows:
            raise ValueError(f"query {row} has no relevant passage")
        target[row, list(rows)] = 1.0 / len(rows)
    x, p, eye = torch.from_numpy(queries), torch.from_numpy(passages), torch.eye(dim)
    delta = torch.zeros(dim, dim, requires_grad=True)
    optimizer = torch.optim.Adam([delta], lr=params.learning_rate)
    for _ in range(params.epochs):
        optimizer.zero_grad()
        logits = torch.nn.functional.normalize(x @ (eye + delta), dim=1) @ p.T / params.temperature
        loss = -(target * torch.log_softmax(logits, dim=1)).sum(dim=1).mean() + params.strength * (delta ** 2).sum()
        loss.backward()
        optimizer.step()
    return (eye + delta).detach().numpy().astype(np.float32)
