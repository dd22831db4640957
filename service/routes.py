"""The JSON API over the KBs of the data root, each request checked against what its caller may read or write.

Routes are plain ``def``: search and ingest are synchronous CPU work, so FastAPI runs them in its thread
pool instead of blocking the event loop. Only the upload *body* is read asynchronously (a dependency that
streams it), and the ingest itself then runs in the thread pool like everything else. The routes that search
(search, ask) are ``async`` only to wait for a search slot (``max_concurrent_searches``) on the event loop,
holding no thread while they wait; the search itself runs in the thread pool too.

Every route names its KB with ``kb=`` (none = the default KB) and goes through :mod:`service.access.auth`,
which answers a KB the caller may not read exactly as one that does not exist.
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
from index.library import KbInfo, Library
from index.records import FileOutcome, IngestReport
from index.settings import Settings
from service.access.auth import CallerDep, KbName, current_caller, read_kb, readable, writable
from service.access.caller import Caller
from service.access.routes import record
from service.access.schemas import EnabledIn, EnabledOut
from service.answers import answerer
from service.errors import ERROR_RESPONSES, ApiError, ErrorBody
from service.limits import in_search_slot, rate_limit
from service.schemas import (AnswerResponse, AskParams, CaseList, CaseOut, Deleted, DocumentDetail, DocumentList,
                             DocumentMeta, Health, IngestReportOut, SearchParams, SearchResponse, Suggestions,
                             check_doc_type, iso_date)
from service.uploads import UPLOAD_OPENAPI, Upload, read_upload

JSON_BODY_LIMIT = 64 * 1024  # every body but an upload: a search request is a question and a few filters
UPLOAD_ROUTE = ("POST", "/api/documents")  # limited while streaming by service.uploads instead
MAX_OFFSET = 2**31 - 1  # SQLite integers overflow far above this; no KB has that many documents
EMPTY_FILE_REASON = "空文件（0 字节）"  # as ingest says of an empty file


def _version() -> str:
    try:
        return version("zhiku")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "0+unknown"


VERSION = _version()


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


KB = Annotated[KnowledgeBase, Depends(read_kb)]
Config = Annotated[Settings, Depends(get_settings)]

reads = APIRouter(prefix="/api", responses=ERROR_RESPONSES)
writes = APIRouter(prefix="/api", responses=ERROR_RESPONSES)
ops = APIRouter()


# --- search and ask --------------------------------------------------------------------------------
async def _search(params: SearchParams, request: Request) -> SearchResponse:
    started = time.perf_counter()
    kb = readable(request, params.kb)
    query, k, filters = params.resolve(request.app.state.settings)

    def work() -> SearchResponse:
        result = kb.search(query, k=k, filters=filters, method=params.method)
        return SearchResponse.of(result, (time.perf_counter() - started) * 1000)

    return await in_search_slot(request, work)


@reads.get("/search", dependencies=[Depends(rate_limit)], summary="检索")
async def search(params: Annotated[SearchParams, Query()], request: Request) -> SearchResponse:
    """Hybrid (BM25 + dense) search: the passages that pass the relevance cut-off, a document's grouped, with
    facets for filtering."""
    return await _search(params, request)


@reads.post("/search", dependencies=[Depends(rate_limit)], summary="检索（JSON 请求体）")
async def search_post(params: SearchParams, request: Request) -> SearchResponse:
    return await _search(params, request)


@reads.get("/ask", dependencies=[Depends(rate_limit)], summary="问答（带出处）")
async def ask(params: Annotated[AskParams, Query()], request: Request) -> AnswerResponse:
    """Answer sentences with their citations (quoted, or written by the configured LLM and checked claim by
    claim); found=false when nothing fits."""
    return await answerer(request).answer(params)


@reads.get("/ask/stream", dependencies=[Depends(rate_limit)], summary="问答（流式，server-sent events）",
           response_class=StreamingResponse,
           responses={200: {"content": {"text/event-stream": {}},
                            "description": "event: delta {text} …, then event: answer (the /api/ask JSON)"}})
async def ask_stream(params: Annotated[AskParams, Query()], request: Request) -> StreamingResponse:
    """The LLM's answer while it is written (``delta`` events), then the checked answer (``answer``)."""
    return StreamingResponse(await answerer(request).events(params), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


@reads.get("/suggest", summary="搜索建议")
def suggest(kb: KB, settings: Config, q: str = "", limit: Annotated[int, Query(ge=1, le=20)] = 8) -> Suggestions:
    prefix = q.strip()[:settings.max_query_chars]
    return Suggestions(query=prefix, suggestions=kb.suggest(prefix, limit) if prefix else [])


# --- documents -------------------------------------------------------------------------------------
def _may_edit(request: Request, kb: str | None) -> bool:
    """Whether the caller may write this (readable) KB: editors see disabled documents, readers do not."""
    caller: Caller = current_caller(request)
    info = request.app.state.library.info((kb or "").strip() or "default")
    return info is not None and caller.can_write(info)


@reads.get("/documents", summary="文档列表")
def documents(request: Request, kb_obj: KB, kb: KbName = None,
              doc_type: Annotated[str | None, Query(alias="type")] = None,
              offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
              limit: Annotated[int, Query(ge=1, le=200)] = 50) -> DocumentList:
    rows, total = kb_obj.documents(doc_type=check_doc_type(doc_type) if doc_type else None, offset=offset,
                                   limit=limit, include_disabled=_may_edit(request, kb))
    return DocumentList(total=total, offset=offset, limit=limit, documents=[DocumentMeta(**r) for r in rows])


def _not_found(doc_id: str) -> ApiError:
    return ApiError(404, "document_not_found", f"没有这篇文档：{doc_id[:200]}")


@reads.get("/documents/{doc_id:path}", summary="文档全文及其段落")
def document(doc_id: str, request: Request, kb_obj: KB, kb: KbName = None) -> DocumentDetail:
    """The text as read (OCR'd text included) and its chunks with headings; a disabled document only for
    those who may edit the KB."""
    found = kb_obj.document(doc_id, include_disabled=_may_edit(request, kb))
    if found is None:
        raise _not_found(doc_id)
    return DocumentDetail.of(*found, enabled=kb_obj.store.is_enabled(doc_id))


@writes.delete("/documents/{doc_id:path}", summary="删除文档（编辑、管理员）")
def delete_document(doc_id: str, request: Request, kb: KbName = None) -> Deleted:
    info, target = writable(request, kb)
    if not target.delete(doc_id):
        raise _not_found(doc_id)
    record(request, "delete", kb=info.name, target=doc_id)
    return Deleted(doc_id=doc_id, deleted=True)


@writes.patch("/documents/{doc_id:path}", summary="停用或启用文档（编辑、管理员）")
def set_enabled(doc_id: str, body: EnabledIn, request: Request, kb: KbName = None) -> EnabledOut:
    """A disabled document stays in the KB (and in the list editors see) but is never searched, suggested,
    answered from or shown as a case, until it is enabled again."""
    info, target = writable(request, kb)
    if not target.set_enabled(doc_id, body.enabled):
        raise _not_found(doc_id)
    record(request, "enable" if body.enabled else "disable", kb=info.name, target=doc_id)
    return EnabledOut(doc_id=doc_id, enabled=body.enabled)


def _upload_target(request: Request, kb: KbName = None) -> tuple[KbInfo, KnowledgeBase]:
    """Checked before the body is read: an upload nobody may make is refused without streaming it in."""
    return writable(request, kb)


UPLOAD_FAILED = 422  # every file of the batch failed: nothing was added, say so with a 4xx


@writes.post("/documents", summary="上传文档（编辑、管理员）", openapi_extra=UPLOAD_OPENAPI,
             responses={413: {"model": ErrorBody}, 415: {"model": ErrorBody}, UPLOAD_FAILED: {"model": ErrorBody}})
def upload(target: Annotated[tuple[KbInfo, KnowledgeBase], Depends(_upload_target)],
           upload: Annotated[Upload, Depends(read_upload)], request: Request) -> IngestReportOut:
    """Ingest uploaded files the same way as ``zhiku ingest``, with ``doc_type``, ``title``, ``date`` and
    ``source`` form fields overriding what is detected. ``files`` says per file what happened (added, updated,
    unchanged, failed with the reason). Status: 200 when at least one file was read (a mixed batch says per
    file what failed); 422 ``upload_failed`` when every file failed, with the reasons in the message."""
    info, kb = target
    overrides = _overrides(upload.fields)
    content = [(name, data) for name, data in upload.files if data]
    report = kb.ingest_upload(content, overrides) if content else IngestReport()
    report.skipped += [(name, EMPTY_FILE_REASON) for name, data in upload.files if not data]
    report.files += [FileOutcome(name, "failed", EMPTY_FILE_REASON) for name, data in upload.files if not data]
    for outcome in report.files:
        record(request, "upload", kb=info.name, target=outcome.name, ok=outcome.status != "failed",
               detail=outcome.reason or outcome.status)
    if all(outcome.status == "failed" for outcome in report.files):
        reasons = "；".join(f"{o.name}：{o.reason}" for o in report.files)
        raise ApiError(UPLOAD_FAILED, "upload_failed", f"没有一个文件能读取：{reasons}"[:2000])
    return IngestReportOut.of(report)


def _overrides(fields: dict[str, str]) -> dict[str, str]:
    """The upload's form fields, checked like the same fields of a search."""
    checked = dict(fields)
    if "doc_type" in checked:
        check_doc_type(checked["doc_type"])
    if "date" in checked:
        checked["date"] = iso_date(checked["date"], "date")
    return {key: value[:300] for key, value in checked.items() if value}


# --- cases -----------------------------------------------------------------------------------------
@reads.get("/cases", summary="案例库")
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
@ops.get("/api/health", summary="健康检查：模型、文档数与索引状态", responses=ERROR_RESPONSES)
def health(request: Request, caller: CallerDep) -> Health:
    """Counts are over the KBs the caller may read, so they tell nothing of the others."""
    library: Library = request.app.state.library
    readable_kbs = [info for info in library.infos() if caller.can_read(info)]
    stats = [library.get(info.name).stats() for info in readable_kbs]
    default = library.get()
    doc_types: dict[str, int] = {}
    for one in stats:
        for doc_type, n in dict(one["doc_types"]).items():
            doc_types[doc_type] = doc_types.get(doc_type, 0) + int(n)
    return Health(status="ok", version=VERSION, embedder=default.embedder.name, dim=default.embedder.dim,
                  query_adapter=default.query_adapter.describe() if default.query_adapter else "none",
                  kbs=len(readable_kbs), documents=sum(int(one["documents"]) for one in stats),
                  chunks=sum(int(one["chunks"]) for one in stats), vectors=sum(int(one["vectors"]) for one in stats),
                  vector_store="chroma" if default.settings.chroma_url else "embedded", doc_types=doc_types)


@ops.get("/metrics", response_class=PlainTextResponse, summary="Prometheus 指标")
def metrics(request: Request, caller: CallerDep) -> PlainTextResponse:
    """Request counts and latencies, and the documents and chunks of the public KBs (of every KB for an admin's
    token: a scraper that should see internal counts is given one)."""
    library: Library = request.app.state.library
    try:
        shown = [library.get(info.name).stats() for info in library.infos()
                 if caller.admin or info.visibility == "public"]
        gauges = {"zhiku_index_up": ("1 when the index answers", 1.0),
                  "zhiku_documents": ("Documents in the knowledge bases shown", float(sum(int(s["documents"]) for s in shown))),
                  "zhiku_chunks": ("Chunks in the knowledge bases shown", float(sum(int(s["chunks"]) for s in shown)))}
    except ZhikuIndexError:  # metrics must still render when the vector store is down
        gauges = {"zhiku_index_up": ("1 when the index answers", 0.0)}
    return PlainTextResponse(request.app.state.metrics.render(gauges),
                             media_type="text/plain; version=0.0.4; charset=utf-8")
