"""The JSON API: thin routes over the one :class:`KnowledgeBase` of the process.

Routes are plain ``def``: search and ingest are synchronous CPU work, so FastAPI runs them in its thread
pool instead of blocking the event loop. Only the upload *body* is read asynchronously (a dependency that
streams it), and the ingest itself then runs in the thread pool like everything else. The routes that search
(search, ask) are ``async`` only to wait for a search slot (``max_concurrent_searches``) on the event loop,
holding no thread while they wait; the search itself runs in the thread pool too.
"""
from __future__ import annotations

import time
from importlib.metadata import PackageNotFoundError, version
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import PlainTextResponse, StreamingResponse

from index.errors import ZhikuIndexError
from index.kb import KnowledgeBase
from index.records import IngestReport
from index.settings import Settings
from service.errors import ApiError
from service.answers import answerer
from service.limits import in_search_slot, rate_limit
from service.schemas import (AnswerResponse, AskParams, CaseList, CaseOut, Deleted, DocumentDetail, DocumentList,
                             DocumentMeta, ErrorBody, Health, IngestReportOut, SearchParams, SearchResponse,
                             Suggestions, check_doc_type)
from service.security import require_read_key, require_write_key
from service.uploads import UPLOAD_OPENAPI, read_upload

JSON_BODY_LIMIT = 64 * 1024  # every body but an upload: a search request is a question and a few filters
UPLOAD_ROUTE = ("POST", "/api/documents")  # limited while streaming by service.uploads instead
MAX_OFFSET = 2**31 - 1  # SQLite integers overflow far above this; no KB has that many documents
EMPTY_FILE_REASON = "空文件 / empty file"


def _version() -> str:
    try:
        return version("zhiku")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "0+unknown"


VERSION = _version()


def get_kb(request: Request) -> KnowledgeBase:
    return request.app.state.kb


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


KB = Annotated[KnowledgeBase, Depends(get_kb)]
Config = Annotated[Settings, Depends(get_settings)]

ERROR_RESPONSES = {status: {"model": ErrorBody} for status in (401, 403, 404, 422, 429, 503)}

reads = APIRouter(prefix="/api", dependencies=[Depends(require_read_key)], responses=ERROR_RESPONSES)
writes = APIRouter(prefix="/api", dependencies=[Depends(require_write_key)], responses=ERROR_RESPONSES)
ops = APIRouter()


# --- search and ask --------------------------------------------------------------------------------
def _search(params: SearchParams, kb: KnowledgeBase, settings: Settings) -> SearchResponse:
    started = time.perf_counter()
    query, k, filters = params.resolve(settings)
    result = kb.search(query, k=k, filters=filters, method=params.method)
    return SearchResponse.of(result, (time.perf_counter() - started) * 1000)


@reads.get("/search", dependencies=[Depends(rate_limit)], summary="检索 / search")
async def search(params: Annotated[SearchParams, Query()], kb: KB, settings: Config,
                 request: Request) -> SearchResponse:
    """Hybrid (BM25 + dense) search: one best passage per document, with facets for filtering."""
    return await in_search_slot(request, lambda: _search(params, kb, settings))


@reads.post("/search", dependencies=[Depends(rate_limit)], summary="检索（JSON 请求体）/ search with a JSON body")
async def search_post(params: SearchParams, kb: KB, settings: Config, request: Request) -> SearchResponse:
    return await in_search_slot(request, lambda: _search(params, kb, settings))


@reads.get("/ask", dependencies=[Depends(rate_limit)], summary="问答 / answer with citations")
async def ask(params: Annotated[AskParams, Query()], request: Request) -> AnswerResponse:
    """Answer sentences with their citations (quoted, or written by the configured LLM and checked claim by
    claim); found=false when nothing fits."""
    return await answerer(request).answer(params)


@reads.get("/ask/stream", dependencies=[Depends(rate_limit)], summary="问答（流式）/ answer as server-sent events",
           response_class=StreamingResponse,
           responses={200: {"content": {"text/event-stream": {}},
                            "description": "event: delta {text} …, then event: answer (the /api/ask JSON)"}})
async def ask_stream(params: Annotated[AskParams, Query()], request: Request) -> StreamingResponse:
    """The LLM's answer while it is written (``delta`` events), then the checked answer (``answer``)."""
    return StreamingResponse(await answerer(request).events(params), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


@reads.get("/suggest", summary="搜索建议 / suggestions for the search box")
def suggest(kb: KB, settings: Config, q: str = "", limit: Annotated[int, Query(ge=1, le=20)] = 8) -> Suggestions:
    prefix = q.strip()[:settings.max_query_chars]
    return Suggestions(query=prefix, suggestions=kb.suggest(prefix, limit) if prefix else [])


# --- documents -------------------------------------------------------------------------------------
@reads.get("/documents", summary="文档列表 / list documents")
def documents(kb: KB, doc_type: Annotated[str | None, Query(alias="type")] = None,
              offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0, limit: Annotated[int, Query(ge=1, le=200)] = 50) -> DocumentList:
    rows, total = kb.documents(doc_type=check_doc_type(doc_type) if doc_type else None, offset=offset, limit=limit)
    return DocumentList(total=total, offset=offset, limit=limit, documents=[DocumentMeta(**r) for r in rows])


def _not_found(doc_id: str) -> ApiError:
    return ApiError(404, "document_not_found", f"没有这篇文档：{doc_id[:200]} / no such document: {doc_id[:200]}")


@reads.get("/documents/{doc_id:path}", summary="文档全文 / one document with its text and chunks")
def document(doc_id: str, kb: KB) -> DocumentDetail:
    found = kb.document(doc_id)
    if found is None:
        raise _not_found(doc_id)
    return DocumentDetail.of(*found)


@writes.delete("/documents/{doc_id:path}", summary="删除文档 / delete a document (API key)")
def delete_document(doc_id: str, kb: KB) -> Deleted:
    if not kb.delete(doc_id):
        raise _not_found(doc_id)
    return Deleted(doc_id=doc_id, deleted=True)


@writes.post("/documents", summary="上传文档 / upload files (API key)", openapi_extra=UPLOAD_OPENAPI,
             responses={413: {"model": ErrorBody}, 415: {"model": ErrorBody}})
def upload(files: Annotated[list[tuple[str, bytes]], Depends(read_upload)], kb: KB) -> IngestReportOut:
    """Ingest uploaded files the same way as ``zhiku ingest``; empty files are reported as skipped."""
    content = [(name, data) for name, data in files if data]
    report = kb.ingest_upload(content) if content else IngestReport()
    report.skipped += [(name, EMPTY_FILE_REASON) for name, data in files if not data]
    return IngestReportOut.of(report)


# --- cases -----------------------------------------------------------------------------------------
@reads.get("/cases", summary="案例库 / browse case reports")
async def cases(kb: KB, settings: Config, request: Request,
                q: Annotated[str | None, Query(description="关键词：只列出检索到的案例，最相关的在前")] = None,
                topic: str | None = None, org: str | None = None,
                year: Annotated[int | None, Query(ge=1900, le=2100)] = None) -> CaseList:
    """Case reports with organisation, year, topics and key figures; every parameter given narrows the list.

    With ``q`` the list is searched (a search slot, like /api/search), best match first.
    """
    def work() -> CaseList:
        found = kb.cases(q=(q or "").strip()[:settings.max_query_chars] or None,
                         topic=(topic or "").strip() or None, org=(org or "").strip() or None, year=year)
        return CaseList(total=len(found), cases=[CaseOut(**c) for c in found])

    return await (in_search_slot(request, work) if (q or "").strip() else run_in_threadpool(work))


# --- operations ------------------------------------------------------------------------------------
@ops.get("/api/health", summary="健康检查 / model, counts and index status", responses=ERROR_RESPONSES)
def health(kb: KB) -> Health:
    stats = kb.stats()
    return Health(status="ok", version=VERSION, embedder=str(stats["embedder"]), dim=int(stats["dim"]),
                  query_adapter=str(stats["query_adapter"]),
                  documents=int(stats["documents"]), chunks=int(stats["chunks"]), vectors=int(stats["vectors"]),
                  vector_store=str(stats["vector_store"]), doc_types=dict(stats["doc_types"]))


@ops.get("/metrics", response_class=PlainTextResponse, summary="Prometheus metrics")
def metrics(request: Request, kb: KB) -> PlainTextResponse:
    try:
        stats = kb.stats()
        gauges = {"zhiku_index_up": ("1 when the index answers", 1.0),
                  "zhiku_documents": ("Documents in the knowledge base", float(stats["documents"])),
                  "zhiku_chunks": ("Chunks in the knowledge base", float(stats["chunks"]))}
    except ZhikuIndexError:  # metrics must still render when the vector store is down
        gauges = {"zhiku_index_up": ("1 when the index answers", 0.0)}
    return PlainTextResponse(request.app.state.metrics.render(gauges),
                             media_type="text/plain; version=0.0.4; charset=utf-8")
