"""The FastAPI application: ``create_app`` wires the routes, the search page, errors, limits and metrics.

The KB opens once per process in the lifespan (models load once), unless the caller passes one in — the
CLI's ``serve`` does, so that a KB that cannot open is reported as a one-line error before the server starts.
FastAPI's own /docs page loads Swagger UI from a CDN, which this offline product must never do, so /docs is
a small page of our own that renders /openapi.json.
"""
from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
from fastapi import FastAPI
from fastapi.concurrency import run_in_threadpool
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

from index.kb import KnowledgeBase
from index.settings import Settings
from service.answers import make_generator
from service.errors import install_error_handlers
from service.metrics import Metrics, MetricsMiddleware
from service.openai_api import openai_api
from service.limits import BodyLimitMiddleware, RateLimiter
from service.routes import JSON_BODY_LIMIT, UPLOAD_ROUTE, VERSION, ops, reads, writes
from service.security import SecurityHeadersMiddleware

WEB_DIR = Path(__file__).parent / "web"

DESCRIPTION = """知库 — 产业工人队伍建设改革政策、法律与案例的离线知识库。
Offline knowledge base over Chinese policy documents, laws and case reports.

Errors are always `{"error": {"code": ..., "message": ...}}`. Write endpoints need
`Authorization: Bearer <ZHIKU_API_KEY>` and are refused (403) while no key is configured."""


def create_app(settings: Settings | None = None, kb: KnowledgeBase | None = None) -> FastAPI:
    """Build the app; ``kb`` is used as is (and left open) when given, else opened from ``settings``."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.kb = kb or await run_in_threadpool(KnowledgeBase.open, settings)
        try:
            yield
        finally:
            if kb is None:
                app.state.kb.close()

    app = FastAPI(title="知库 zhiku", version=VERSION, description=DESCRIPTION, lifespan=lifespan,
                  docs_url=None, redoc_url=None)
    app.state.settings = settings
    app.state.metrics = Metrics()
    app.state.rate_limiter = RateLimiter(settings.rate_limit_per_minute) if settings.rate_limit_per_minute else None
    cap = settings.max_concurrent_searches  # searches at once; service.routes._in_search_slot waits for a slot
    app.state.search_slots = anyio.Semaphore(cap) if cap else None
    app.state.generator = make_generator(settings)  # None = extractive answers only

    install_error_handlers(app)
    app.include_router(reads)
    app.include_router(writes)
    app.include_router(ops)
    app.include_router(openai_api)
    _add_pages(app)

    if settings.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=settings.cors_origins, allow_methods=["GET", "POST", "DELETE"],
                           allow_headers=["Authorization", "Content-Type"])
    app.add_middleware(BodyLimitMiddleware, limit=JSON_BODY_LIMIT, exempt=frozenset({UPLOAD_ROUTE}))
    app.add_middleware(SecurityHeadersMiddleware)
    app.add_middleware(MetricsMiddleware, metrics=app.state.metrics)
    return app


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
