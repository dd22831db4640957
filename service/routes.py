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

import re
import time
from importlib.metadata import PackageNotFoundError, version
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import PlainTextResponse, StreamingResponse

from index.errors import ZhikuIndexError
from index.kb import KnowledgeBase
from index.library import KbInfo, Library
from index.records import FileOutcome, IngestReport
from index.settings import Settings
from ingest.models import CaseKind
from service.access.auth import CallerDep, KbName, current_caller, read_kb, read_target, readable, writable
from service.access.routes import record
from service.access.schemas import EnabledIn, EnabledOut
from service.answers import answerer
from service.errors import ERROR_RESPONSES, ApiError, ErrorBody
from service.examples import examples as answered_examples
from service.limits import in_search_slot, rate_limit
from service.schemas import (AnswerResponse, AskParams, CaseList, CaseOut, Deleted, DocumentDetail, DocumentList,
                             DocumentMeta, Examples, Health, IngestReportOut, SearchParams, SearchResponse, Suggestions,
                             UploadStatusOut, check_doc_type, iso_date)
from service.progress import KEEP_ENDED_MINUTES, Tell, checked_id, new_id
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
DocId = Annotated[str, Path(description="文档编号，取自检索结果或文档列表的 doc_id，如 社会法/工会法(2021-12-24).md")]

# What /docs shows of each route (the docstrings are notes for developers). The status codes every route
# shares (401/404 for a KB one may not read, 422 for invalid parameters …) are listed under its responses.
LIMITED = "请求过于频繁时返回 429，服务器繁忙时返回 503，都带 Retry-After（秒）。"
SEARCH_DESCRIPTION = (
    "混合检索（关键词 BM25 与向量相结合）：返回相关度达到阈值的段落（同一文档的段落排在一起），每段附高亮摘要、"
    "标题路径和相关度 score（0–1）；total 为相关文档总数；还返回按文档类型、年份和发布机关的分面统计，"
    "以及同义扩展和查询适配器补充检索的词。\n\n"
    "查询为空、k 超出范围、日期不是 YYYY-MM-DD 或文档类型未知时返回 422，message 说明要改什么。" + LIMITED)
ASK_DESCRIPTION = (
    "问答：返回答案及其出处。答案或直接摘自文档（每句附出处），或由配置的大模型撰写并逐句与所引段落核对"
    "（claims 列出每句的核对结果）；没有相关内容时 found 为 false。prev 为同一对话的上一个问题，"
    "用来理解追问（如：那女职工呢？）。\n\n参数无效时返回 422。" + LIMITED)
UPLOAD_DESCRIPTION = (
    "上传文档：以 multipart/form-data 上传，文件放在字段 files 中（可多个），导入方式与 zhiku ingest 相同；"
    "表单字段 doc_type、title、date、source 覆盖自动识别的结果。响应的 files 逐个说明每个文件的结果："
    "added 新增、updated 更新、unchanged 未变、failed 失败（附原因）。需要编辑或管理员角色并获授权。"
    "扫描件要逐页识别，较慢：请求头 X-Upload-Id 给出自选编号后，可在上传进行中用 GET /api/uploads/{编号} 查询进度。"
    "带请求头 Prefer: respond-async 时不等导入完成，立即返回 202 和上传编号（Location 指向 GET /api/uploads/{编号}），"
    f"导入在服务器上继续，结果（与 200 的响应相同）或错误在其中保留 {KEEP_ENDED_MINUTES} 分钟："
    "适合经过有超时的反向代理上传大扫描件。\n\n"
    "状态码：200 至少读取了一个文件（部分失败时逐个说明）；202 已接收，正在导入；"
    "422 upload_failed 所有文件都读取失败，原因在 message 中，"
    "bad_upload_id X-Upload-Id 格式不对；409 upload_id_in_use 同一编号已有上传在用；503 busy 正在进行的上传太多；"
    "400 文件名无效或无法解析上传内容；413 文件过大、文件过多或请求体过大；415 不支持的文件类型，或不是 "
    "multipart/form-data 上传。")

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


@reads.get("/search", dependencies=[Depends(rate_limit)], summary="检索", description=SEARCH_DESCRIPTION)
async def search(params: Annotated[SearchParams, Query()], request: Request) -> SearchResponse:
    """Hybrid (BM25 + dense) search: the passages that pass the relevance cut-off, a document's grouped, with
    facets for filtering."""
    return await _search(params, request)


@reads.post("/search", dependencies=[Depends(rate_limit)], summary="检索（JSON 请求体）",
            description="与 GET /api/search 相同，参数放在 JSON 请求体中（字段见 SearchParams），适合参数较长时使用。"
                        "\n\n参数无效时返回 422，请求体超过 64 KB 时返回 413。" + LIMITED)
async def search_post(params: SearchParams, request: Request) -> SearchResponse:
    return await _search(params, request)


@reads.get("/ask", dependencies=[Depends(rate_limit)], summary="问答（带出处）", description=ASK_DESCRIPTION)
async def ask(params: Annotated[AskParams, Query()], request: Request) -> AnswerResponse:
    """Answer sentences with their citations (quoted, or written by the configured LLM and checked claim by
    claim); found=false when nothing fits."""
    return await answerer(request).answer(params)


@reads.get("/ask/stream", dependencies=[Depends(rate_limit)], summary="问答（流式，server-sent events）",
           description="与 GET /api/ask 相同的问答，以 server-sent events 返回：大模型撰写答案时逐段发送 delta 事件"
                       "（{\"text\": …}），最后发送一个 answer 事件，内容与 GET /api/ask 的 JSON 相同（已逐句核对）。"
                       "未配置大模型时只发送 answer 事件。\n\n参数无效时返回 422。" + LIMITED,
           response_class=StreamingResponse,
           responses={200: {"content": {"text/event-stream": {}},
                            "description": "event: delta {text} …, then event: answer (the /api/ask JSON)"}})
async def ask_stream(params: Annotated[AskParams, Query()], request: Request) -> StreamingResponse:
    """The LLM's answer while it is written (``delta`` events), then the checked answer (``answer``)."""
    return StreamingResponse(await answerer(request).events(params), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


@reads.get("/suggest", summary="搜索建议",
           description="输入时的搜索建议：先是以已输入文字开头的词表术语和文档标题，再是包含它的，"
                       "最后是与整句问题相关的术语和标题。q 为空时返回空列表。")
def suggest(kb: KB, settings: Config, q: Annotated[str, Query(description="已输入的文字")] = "",
            limit: Annotated[int, Query(ge=1, le=20, description="最多返回几条建议（1–20）")] = 8) -> Suggestions:
    prefix = q.strip()[:settings.max_query_chars]
    return Suggestions(query=prefix, suggestions=kb.suggest(prefix, limit) if prefix else [])


@reads.get("/examples", summary="示例问题",
           description="页面上供初次使用者点选的示例问题：取自职工和培训者常问的问题中，这个知识库能列出结果"
                       "（检索）或答出原文（问答）的；知识库有改动后重新判断。")
async def examples(kb: KB) -> Examples:
    return Examples(**await run_in_threadpool(answered_examples, kb))


# --- documents -------------------------------------------------------------------------------------
ReadTarget = Annotated[tuple[KbInfo, KnowledgeBase], Depends(read_target)]


@reads.get("/documents", summary="文档列表",
           description="知识库中的文档，可按文档类型筛选，用 offset 和 limit 分页；total 为符合条件的文档总数。"
                       "能编辑该知识库的人还会看到已停用的文档（enabled 为 false）。")
def documents(target: ReadTarget, caller: CallerDep,
              doc_type: Annotated[str | None, Query(alias="type", description="只列出这类文档："
                                                    "law 法律、policy 政策、case 案例、report 报告、other 其他")] = None,
              offset: Annotated[int, Query(ge=0, le=MAX_OFFSET, description="跳过前多少篇（分页）")] = 0,
              limit: Annotated[int, Query(ge=1, le=200, description="每页篇数（1–200）")] = 50,
              title: Annotated[str | None, Query(max_length=200, description="只列出标题或 doc_id 含这些文字的文档")] = None,
              ) -> DocumentList:
    info, kb = target  # editors see disabled documents, readers do not
    rows, total = kb.documents(doc_type=check_doc_type(doc_type) if doc_type else None, offset=offset,
                               limit=limit, include_disabled=caller.can_write(info),
                               title=(title or "").strip() or None)
    return DocumentList(total=total, offset=offset, limit=limit, documents=[DocumentMeta(**r) for r in rows])


def _not_found(doc_id: str) -> ApiError:
    return ApiError(404, "document_not_found", f"没有这篇文档：{doc_id[:200]}")


@reads.get("/documents/{doc_id:path}", summary="文档全文及其段落",
           description="一篇文档的全文（含 OCR 识别出的文字）及其段落、标题路径和页码；段落的 start、end 是它在全文中的位置。"
                       "已停用的文档只对能编辑该知识库的人可见。文档不存在时返回 404；知识库不存在或无权读取时，"
                       "匿名调用者得到 401，已登录的得到 404。")
def document(doc_id: DocId, target: ReadTarget, caller: CallerDep) -> DocumentDetail:
    """The text as read (OCR'd text included) and its chunks with headings; a disabled document only for
    those who may edit the KB."""
    info, kb = target
    found = kb.document(doc_id, include_disabled=caller.can_write(info))
    if found is None:
        raise _not_found(doc_id)
    kind = kb.case_kinds([doc_id]).get(doc_id) if found[0].doc_type == "case" else None
    return DocumentDetail.of(*found, enabled=kb.store.is_enabled(doc_id), case_kind=kind)


@writes.delete("/documents/{doc_id:path}", summary="删除文档（编辑、管理员）",
               description="从知识库中删除一篇文档及其段落、向量和关键词索引，不可恢复（只想暂时不检索时请停用）。"
                           "需要编辑或管理员角色并获授权；页面登录时须在 X-CSRF-Token 请求头中带上 CSRF 令牌。"
                           "文档不存在时返回 404。")
def delete_document(doc_id: DocId, request: Request, kb: KbName = None) -> Deleted:
    info, target = writable(request, kb)
    if not target.delete(doc_id):
        raise _not_found(doc_id)
    record(request, "delete", kb=info.name, target=doc_id)
    return Deleted(doc_id=doc_id, deleted=True)


@writes.patch("/documents/{doc_id:path}", summary="停用或启用文档（编辑、管理员）",
              description="请求体 {\"enabled\": false} 停用文档：它保留在知识库中（编辑仍能在文档列表中看到），"
                          "但不再被检索、建议、用于问答或列为案例；{\"enabled\": true} 重新启用。"
                          "需要编辑或管理员角色并获授权；页面登录时须带 X-CSRF-Token。文档不存在时返回 404。")
def set_enabled(doc_id: DocId, body: EnabledIn, request: Request, kb: KbName = None) -> EnabledOut:
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
RESPOND_ASYNC = re.compile(r"(?:^|,)\s*respond-async\s*(?:[,;]|$)", re.IGNORECASE)  # Prefer: respond-async


@writes.post("/documents", summary="上传文档（编辑、管理员）", description=UPLOAD_DESCRIPTION,
              openapi_extra=UPLOAD_OPENAPI,
             responses={202: {"model": UploadStatusOut, "description": "Prefer: respond-async：已接收，正在导入"},
                        409: {"model": ErrorBody, "description": "这个 X-Upload-Id 已有上传在用"},
                        413: {"model": ErrorBody}, 415: {"model": ErrorBody},
                        UPLOAD_FAILED: {"model": ErrorBody}})
def upload(target: Annotated[tuple[KbInfo, KnowledgeBase], Depends(_upload_target)],
           upload: Annotated[Upload, Depends(read_upload)], request: Request,
           response: Response) -> IngestReportOut | UploadStatusOut:
    """Ingest uploaded files the same way as ``zhiku ingest``, with ``doc_type``, ``title``, ``date`` and
    ``source`` form fields overriding what is detected. ``files`` says per file what happened (added, updated,
    unchanged, failed with the reason). Status: 200 when at least one file was read (a mixed batch says per
    file what failed); 422 ``upload_failed`` when every file failed, with the reasons in the message.

    With ``Prefer: respond-async`` (RFC 7240) the answer is 202 at once and the same outcome is read from
    ``GET /api/uploads/{id}``: no request lasts as long as a scan takes to recognise."""
    overrides = _overrides(upload.fields)
    upload_id = checked_id(request.headers.get("x-upload-id"))
    uploads, owner = request.app.state.uploads, _owner(request)

    def ingest(on_step: Tell | None) -> IngestReportOut:
        return _ingest(request, target, upload, overrides, on_step)

    if RESPOND_ASYNC.search(request.headers.get("prefer", "")):
        status = uploads.start(upload_id or new_id(), owner, ingest)
        response.status_code = 202
        response.headers["Location"] = request.url_for("upload_progress", upload_id=status.upload_id).path
        response.headers["Preference-Applied"] = "respond-async"
        return status
    with uploads.tracking(upload_id, owner) as on_step:
        return ingest(on_step)


def _ingest(request: Request, target: tuple[KbInfo, KnowledgeBase], upload: Upload, overrides: dict[str, str],
            on_step: Tell | None) -> IngestReportOut:
    """One upload's ingest, its audit entries and its outcome (raised as 422 when every file failed)."""
    info, kb = target
    content = [(name, data) for name, data in upload.files if data]
    report = kb.ingest_upload(content, overrides, on_step) if content else IngestReport()
    report.skipped += [(name, EMPTY_FILE_REASON) for name, data in upload.files if not data]
    report.files += [FileOutcome(name, "failed", EMPTY_FILE_REASON) for name, data in upload.files if not data]
    for outcome in report.files:
        record(request, "upload", kb=info.name, target=outcome.name, ok=outcome.status != "failed",
               detail=outcome.reason or outcome.status)
    if all(outcome.status == "failed" for outcome in report.files):
        reasons = "；".join(f"{o.name}：{o.reason}" for o in report.files)
        raise ApiError(UPLOAD_FAILED, "upload_failed", f"没有一个文件能读取：{reasons}"[:2000])
    return IngestReportOut.of(report)


@writes.get("/uploads/{upload_id}", summary="上传进度和结果（编辑、管理员）",
            description="上传时在请求头 X-Upload-Id 给出一个自选的编号（8 到 64 个字母、数字、- 或 _），上传进行中即可用它查询"
                        "进度（step）：第几个文件、读取（扫描件逐页识别，已识别几页）还是索引。带 Prefer: respond-async "
                        "的上传（202），结束后 state 为 done（结果在 report）或 failed（原因在 error），"
                        f"保留 {KEEP_ENDED_MINUTES} 分钟。"
                        "只有发起上传的调用者能查到；等待完成的上传结束后、保留期过后、或编号不存在时返回 404。")
def upload_progress(upload_id: Annotated[str, Path(description="上传的编号（X-Upload-Id，或 202 响应中的 upload_id）")],
                    request: Request) -> UploadStatusOut:
    """Where an upload is, or how a respond-async one ended."""
    return request.app.state.uploads.status(upload_id, _owner(request))


def _owner(request: Request) -> tuple[str, str | None, str | None]:
    """Whose upload it is: the same person through the same way in (session, token or key)."""
    caller = current_caller(request)
    return caller.via, caller.name, caller.token_id


def _overrides(fields: dict[str, str]) -> dict[str, str]:
    """The upload's form fields, checked like the same fields of a search."""
    checked = dict(fields)
    if "doc_type" in checked:
        check_doc_type(checked["doc_type"])
    if "date" in checked:
        checked["date"] = iso_date(checked["date"], "date")
    return {key: value[:300] for key, value in checked.items() if value}


# --- cases -----------------------------------------------------------------------------------------
@reads.get("/cases", summary="案例库",
           description="案例报告，附报告单位、年份、主题和关键数字（数字原文、单位、计量对象及其在全文中的位置）；"
                       "劳动争议案例附处理结果。"
                       "给出的每个参数都会缩小范围；不给 q 时最新的在前，给出 q 时按相关度排列。")
async def cases(kb: KB, settings: Config, request: Request,
                q: Annotated[str | None, Query(description="关键词：只列出检索到的案例，最相关的在前")] = None,
                topic: Annotated[str | None, Query(description="案例主题，须与主题完全一致（主题见 ingest/lexicon/topics.tsv）")] = None,
                org: Annotated[str | None, Query(description="报告单位或标题中包含的文字")] = None,
                year: Annotated[int | None, Query(ge=1900, le=2100, description="年份，如 2023")] = None,
                kind: Annotated[CaseKind | None,
                                Query(description="practice：经验做法；dispute：劳动争议案例")] = None) -> CaseList:
    """Case reports with organisation, year, topics and key figures; every parameter given narrows the list.

    With ``q`` the list is searched (a search slot, like /api/search), best match first.
    """
    def work() -> CaseList:
        found = kb.cases(q=(q or "").strip()[:settings.max_query_chars] or None,
                         topic=(topic or "").strip() or None, org=(org or "").strip() or None, year=year, kind=kind)
        return CaseList(total=len(found), cases=[CaseOut(**c) for c in found])

    return await (in_search_slot(request, work) if (q or "").strip() else run_in_threadpool(work))


# --- operations ------------------------------------------------------------------------------------
@ops.get("/api/health", summary="健康检查：模型、文档数与索引状态", responses=ERROR_RESPONSES,
         description="服务状态与版本、向量模型与查询适配器、向量库类型，以及调用者可读的知识库的文档、段落和向量数"
                     "（只计这些知识库，不透露其他知识库的任何信息）。索引不可用时返回 503。")
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


@ops.get("/metrics", response_class=PlainTextResponse, summary="Prometheus 指标",
         description="Prometheus 文本格式的指标：按方法、路由和状态码的请求数与耗时，以及公开知识库的文档数和段落数"
                     "（用管理员令牌访问时包括所有知识库）。")
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
