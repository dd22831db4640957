"""One JSON error shape for every failure the API can answer: ``{"error": {"code", "message"}}``.

Web clients and scripts branch on ``code`` and show ``message`` (Chinese, saying what to fix).
No handler ever echoes an exception's text for unexpected errors: those can carry file-system paths or
internals, so they are logged on the server and the client gets a generic message.
"""
from __future__ import annotations

import logging
import re

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from index.errors import EmbedderMismatch, EmbedderUnavailable, VectorStoreUnavailable, ZhikuIndexError

log = logging.getLogger("zhiku.api")

_HTTP_CODES = {
    400: ("bad_request", "请求无效，请检查请求的参数和格式"),
    401: ("unauthorized", "需要登录，或提供 API 令牌（Authorization: Bearer …）"),
    403: ("forbidden", "你没有权限这样做"),
    404: ("not_found", "没有这个地址，请对照 /docs 中的接口列表"),
    405: ("method_not_allowed", "这个地址不支持该请求方法，请对照 /docs 中的接口列表"),
    413: ("too_large", "请求体过大，请减少发送的内容"),
    415: ("unsupported_media_type", "不支持的内容类型，请按 /docs 中的说明设置 Content-Type"),
}

# Index failures the operator can fix; the text is fixed so no path or model location leaks to clients.
_INDEX_ERRORS: list[tuple[type[ZhikuIndexError], str, str]] = [
    (VectorStoreUnavailable, "vector_store_unavailable",
     "向量库暂不可用：请检查 chroma 服务是否在运行，稍后重试"),
    (EmbedderMismatch, "embedder_mismatch",
     "知识库的向量由另一个模型生成：请改用原来的向量模型，或重新导入以重建索引"),
    (EmbedderUnavailable, "embedder_unavailable",
     "无法加载向量模型：请检查 ZHIKU_EMBEDDER 等配置"),
    (ZhikuIndexError, "index_error", "索引暂不可用，请稍后重试；仍不行请联系管理员查看服务器日志"),
]


class ErrorDetail(BaseModel):
    code: str
    message: str


class ErrorBody(BaseModel):
    error: ErrorDetail


ERROR_RESPONSES = {status: {"model": ErrorBody} for status in (401, 403, 404, 422, 429, 503)}


class ApiError(Exception):
    """A failure with a known cause: raised anywhere in a request, answered with its status and code."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers


def error_response(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status, headers=headers)


# pydantic's error types in words a person reads; ``ctx`` fills the braces (le, max_length, expected …).
_PROBLEMS = {
    "missing": "缺少这个参数",
    "int_parsing": "应为整数", "int_type": "应为整数", "int_from_float": "应为整数",
    "float_parsing": "应为数字", "float_type": "应为数字",
    "bool_parsing": "应为 true 或 false", "bool_type": "应为 true 或 false",
    "string_type": "应为文字", "list_type": "应为列表", "dict_type": "应为 JSON 对象",
    "model_type": "应为 JSON 对象", "model_attributes_type": "应为 JSON 对象",
    "json_invalid": "不是有效的 JSON", "json_type": "不是有效的 JSON",
    "greater_than_equal": "不能小于 {ge}", "greater_than": "应大于 {gt}",
    "less_than_equal": "不能大于 {le}", "less_than": "应小于 {lt}",
    "string_too_short": "至少 {min_length} 个字符", "string_too_long": "最多 {max_length} 个字符",
    "too_short": "至少 {min_length} 项", "too_long": "最多 {max_length} 项",
    "literal_error": "应为以下之一：{expected}", "enum": "应为以下之一：{expected}",
    "extra_forbidden": "不接受这个参数", "string_unicode": "不是有效的 UTF-8 文字",
}


def describe_problem(err: dict) -> str:
    """One pydantic error in Chinese words, e.g. '不能大于 100' (also for invalid ZHIKU_* settings)."""
    template = _PROBLEMS.get(str(err.get("type")), "取值无效")
    ctx = dict(err.get("ctx") or {})
    if isinstance(ctx.get("expected"), str):
        ctx["expected"] = _choices(ctx["expected"])
    try:
        return template.format(**ctx)
    except (KeyError, IndexError, ValueError):
        return template.split("{")[0].rstrip("：") or "取值无效"


def _choices(expected: str) -> str:
    """pydantic's "'hybrid', 'bm25' or 'dense'" as 'hybrid、bm25、dense': no English in a Chinese message."""
    return "、".join(part.strip().strip("'\"") for part in re.split(r",| or ", expected) if part.strip())


def _validation_message(exc: RequestValidationError) -> str:
    """'field：problem' for each invalid input, in Chinese, without echoing the (possibly huge) input itself."""
    parts = []
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path")]
        parts.append(f"{'.'.join(loc) or '请求'}：{describe_problem(err)}")
    return "参数无效：" + "；".join(parts)


INTERNAL_MESSAGE = "服务器内部错误，请稍后重试；仍不行请联系管理员查看服务器日志"


def failure_of(exc: Exception) -> tuple[int, ErrorDetail]:
    """The status and error an exception is answered with — by a handler below, or in the outcome of work
    that outlived its request (an upload sent with ``Prefer: respond-async``)."""
    if isinstance(exc, ApiError):
        return exc.status, ErrorDetail(code=exc.code, message=exc.message)
    if isinstance(exc, ZhikuIndexError):
        code, message = next((c, m) for kind, c, m in _INDEX_ERRORS if isinstance(exc, kind))
        return 503, ErrorDetail(code=code, message=message)
    return 500, ErrorDetail(code="internal_error", message=INTERNAL_MESSAGE)


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers that turn every exception into the error shape above."""

    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status, exc.code, exc.message, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(422, "invalid_request", _validation_message(exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code, message = _HTTP_CODES.get(exc.status_code, ("http_error", "请求失败"))
        return error_response(exc.status_code, code, message, getattr(exc, "headers", None))

    @app.exception_handler(ZhikuIndexError)
    async def _index(_: Request, exc: ZhikuIndexError) -> JSONResponse:
        log.error("index error: %s", exc)
        status, error = failure_of(exc)
        return error_response(status, error.code, error.message, {"Retry-After": "30"})

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        # Starlette re-raises after this response is sent, so the server log gets the full traceback too.
        log.error("unhandled %s on %s %s", type(exc).__name__, request.method, request.url.path)
        return error_response(500, "internal_error", INTERNAL_MESSAGE)
