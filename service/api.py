"""The FastAPI application: ``create_app`` wires the routes, the search page, errors, limits and metrics.

The KB opens once per process in the lifespan (models load once), unless the caller passes one in — the
CLI's ``serve`` does, so that a KB that cannot open is reported as a one-line error before the server starts.
FastAPI's own /docs page loads Swagger UI from a CDN, which this offline product must never do, so /docs is
a small page of our own that renders /openapi.json.
"""
from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
from fastapi import FastAPI
from fastapi.concurrency import run_in_threadpool
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.utils import get_openapi
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

from index.library import Library
from index.settings import Settings
from service.access.audit import AuditLog
from service.access.people import ACCESS_FILE, People
from service.access.routes import accounts
from service.access.throttle import LoginThrottle
from service.answers import make_generator
from service.errors import install_error_handlers
from service.metrics import Metrics, MetricsMiddleware
from service.progress import Uploads
from service.openai_api import openai_api
from service.limits import BodyLimitMiddleware, RateLimiter
from service.routes import JSON_BODY_LIMIT, UPLOAD_ROUTE, VERSION, ops, reads, writes
from service.security import SecurityHeadersMiddleware

WEB_DIR = Path(__file__).parent / "web"

DESCRIPTION = """知库：产业工人队伍建设改革政策、法律与案例的离线知识库。

- 出错时总是返回 `{"error": {"code": ..., "message": ...}}`，message 是给人看的中文说明。
- 每个接口都可用 `kb=名称` 指定知识库（`GET /api/kbs` 列出你可读的知识库），不填为默认知识库。
- 匿名调用者只能读公开知识库。页面用 `POST /api/login` 登录（会话 Cookie，写操作须带 `X-CSRF-Token`）；
  脚本和其他系统用 API 令牌：`Authorization: Bearer <令牌>`（`POST /api/tokens` 或 `zhiku token create` 创建）。
- 不存在的知识库或文档，与无权读取的，回答完全相同：匿名 401，已登录 404。
- 上传、删除、停用文档需要编辑或管理员角色并获授权；知识库管理和审计记录只对管理员开放。"""


def create_app(settings: Settings | None = None, library: Library | None = None) -> FastAPI:
    """Build the app; ``library`` is used as is (and left open) when given, else opened from ``settings``."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.library = library or Library(settings)
        # the default KB, its model and one search, before the first request (which took a second more)
        await run_in_threadpool(lambda: app.state.library.get().warm_up())
        try:
            yield
        finally:
            await run_in_threadpool(app.state.uploads.wait)  # an upload answered with 202 ends before its KB closes
            if library is None:
                app.state.library.close()

    app = FastAPI(title="知库 zhiku", version=VERSION, description=DESCRIPTION, lifespan=lifespan,
                  docs_url=None, redoc_url=None)
    app.state.settings = settings
    app.state.people = People(Path(settings.kb) / ACCESS_FILE)
    app.state.audit = AuditLog(app.state.people)
    app.state.throttle = LoginThrottle(settings.login_attempts)
    app.state.metrics = Metrics()
    app.state.rate_limiter = RateLimiter(settings.rate_limit_per_minute) if settings.rate_limit_per_minute else None
    cap = settings.max_concurrent_searches  # searches at once; service.routes._in_search_slot waits for a slot
    app.state.search_slots = anyio.Semaphore(cap) if cap else None
    app.state.generator = make_generator(settings)  # None = extractive answers only
    app.state.uploads = Uploads()  # where each upload is, or how it ended, for GET /api/uploads/{id}

    install_error_handlers(app)
    app.include_router(accounts)
    app.include_router(reads)
    app.include_router(writes)
    app.include_router(ops)
    app.include_router(openai_api)
    _add_pages(app)
    app.openapi = lambda: _chinese_openapi(app)  # type: ignore[method-assign]

    if settings.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=settings.cors_origins, allow_methods=["GET", "POST", "DELETE"],
                           allow_headers=["Authorization", "Content-Type"])
    app.add_middleware(BodyLimitMiddleware, limit=JSON_BODY_LIMIT, exempt=frozenset({UPLOAD_ROUTE}))
    app.add_middleware(SecurityHeadersMiddleware)
    app.add_middleware(MetricsMiddleware, metrics=app.state.metrics)
    return app


# FastAPI describes responses in English ("Successful Response", "Not Found" …); /docs shows them to people.
# A route's own (Chinese) description of a response is kept: 409 on an upload is its id, not a name.
RESPONSE_WORDS = {"200": "成功", "201": "已创建", "400": "请求无效", "401": "需要登录或 API 令牌", "403": "无权这样做",
                  "404": "不存在（或无权读取）", "409": "名称已被使用", "413": "请求体或文件过大",
                  "415": "不支持的文件类型", "422": "参数无效", "429": "请求过于频繁", "503": "暂时不可用"}


_HAN = re.compile(r"[\u4e00-\u9fff]")


def _chinese_openapi(app: FastAPI) -> dict:
    """The OpenAPI document once, with every response described in Chinese."""
    if app.openapi_schema is None:
        schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
        for operations in schema["paths"].values():
            for operation in operations.values():
                for status, response in operation.get("responses", {}).items():
                    if not _HAN.search(response.get("description", "")):
                        response["description"] = RESPONSE_WORDS.get(status, response.get("description", ""))
        app.openapi_schema = schema
    return app.openapi_schema


def _add_pages(app: FastAPI) -> None:
    """The search page at /, the API reference at /docs, the embeddable /widget.js, assets under /static."""

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(WEB_DIR / "index.html")

    @app.get("/docs", include_in_schema=False)
    def docs() -> FileResponse:
        return FileResponse(WEB_DIR / "docs.html")

    @app.get("/widget.js", include_in_schema=False)
    def widget() -> FileResponse:
        """The search box for other websites (service/web/widget.js); short-cached so updates reach them."""
        return FileResponse(WEB_DIR / "widget.js", media_type="text/javascript",
                            headers={"Cache-Control": "public, max-age=300"})

    app.mount("/static", StaticFiles(directory=WEB_DIR), name="static")
