"""Signing in and out, the caller's KBs and tokens, KB management and the audit trail (admins)."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, Response

from index.library import KbExists, KbMissing, Library, LibraryError
from index.settings import Settings
from service.access.audit import AuditLog
from service.access.auth import SESSION_COOKIE, CallerDep, current_caller, require_admin, require_signed_in
from service.access.caller import Caller
from service.access.people import People
from service.access.schemas import (AuditList, AuditOut, KbCreate, KbDeleted, KbList, KbOut, LoginIn, Me,
                                    TokenCreated, TokenIn, TokenList, TokenOut)
from service.access.throttle import LoginThrottle
from service.errors import ERROR_RESPONSES, ApiError

accounts = APIRouter(prefix="/api", responses=ERROR_RESPONSES, tags=["账号与知识库"])
Admin = Annotated[Caller, Depends(require_admin)]
SignedIn = Annotated[Caller, Depends(require_signed_in)]


def address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def audit_log(request: Request) -> AuditLog:
    return request.app.state.audit


def record(request: Request, action: str, **fields: object) -> None:
    """One audit entry for this request, by its caller, from its address."""
    audit_log(request).record(current_caller(request).actor, action, address=address(request), **fields)


# --- signing in ------------------------------------------------------------------------------------
@accounts.post("/login", summary="登录", responses={429: {"model": ERROR_RESPONSES[401]["model"]}},
               description="用用户名和密码登录：设置会话 Cookie（HttpOnly、SameSite=Strict），并返回 CSRF 令牌——"
                           "经这个 Cookie 发出的每个写操作都须在 X-CSRF-Token 请求头中带上它。用户名或密码错误时返回 401；"
                           "同一用户名从同一地址连续失败过多时返回 429，须等 Retry-After 秒后再试。")
def login(body: LoginIn, request: Request, response: Response) -> Me:
    """Checks the password and sets the session cookie (HttpOnly, SameSite=Strict); returns the CSRF token that
    every write made through the cookie must send in ``X-CSRF-Token``."""
    people: People = request.app.state.people
    settings: Settings = request.app.state.settings
    throttle: LoginThrottle = request.app.state.throttle
    where, name = address(request), body.username.strip()
    wait = throttle.wait(name, where)
    if wait > 0:
        seconds = int(wait) + 1
        raise ApiError(429, "login_throttled", f"登录失败次数过多，请 {seconds} 秒后再试", {"Retry-After": str(seconds)})
    user = people.verify(name, body.password)
    if user is None:
        throttle.failed(name, where)
        audit_log(request).record(name[:64], "login", address=where, ok=False)
        raise ApiError(401, "login_failed", "用户名或密码错误")
    throttle.succeeded(name, where)
    secret, csrf, expires = people.create_session(user.name, hours=settings.session_hours)
    response.set_cookie(SESSION_COOKIE, secret, max_age=int(settings.session_hours * 3600), httponly=True,
                        samesite="strict", secure=request.url.scheme == "https", path="/")
    audit_log(request).record(user.name, "login", address=where)
    return Me(user=user.name, role=user.role, via="session", csrf_token=csrf, expires=expires)


@accounts.post("/logout", summary="退出登录",
               description="结束当前的页面会话并清除 Cookie。须已登录（页面登录时带 X-CSRF-Token），匿名调用时返回 401。")
def logout(request: Request, response: Response, caller: SignedIn) -> Me:
    secret = request.cookies.get(SESSION_COOKIE)
    if caller.via == "session" and secret:
        request.app.state.people.end_session(secret)
        record(request, "logout")
    response.delete_cookie(SESSION_COOKIE, path="/")
    return Me(user=None, role=None, via="anonymous")


@accounts.get("/me", summary="当前调用者",
              description="当前调用者是谁：用户名、角色，以及认证方式（匿名、页面登录、API 令牌或管理密钥 ZHIKU_API_KEY）；"
                          "页面登录时还返回写操作要带的 CSRF 令牌。")
def me(caller: CallerDep) -> Me:
    return Me(user=caller.name, role=caller.role, via=caller.via, csrf_token=caller.csrf)


# --- knowledge bases -------------------------------------------------------------------------------
@accounts.get("/kbs", summary="可读的知识库",
              description="当前调用者可读的知识库（默认知识库在前），附文档数，以及调用者能否写入（上传、删除、停用文档）。"
                          "其他接口的 kb= 参数取这里的 name。")
def kbs(request: Request, caller: CallerDep) -> KbList:
    """The KBs this caller may read, with their document counts and whether the caller may write them."""
    library: Library = request.app.state.library
    readable = [info for info in library.infos() if caller.can_read(info)]
    return KbList(kbs=[KbOut.of(info, library.get(info.name).documents(limit=1,
                                                                      include_disabled=caller.can_write(info))[1],
                                caller.can_write(info)) for info in readable])


@accounts.post("/kbs", summary="新建知识库（管理员）", status_code=201,
               description="新建一个空知识库（仅管理员）：名称由小写字母、数字、- 和 _ 组成；visibility 为 public"
                           "（匿名可读）或 internal（只有获授权的人可读，默认）。名称已被使用时返回 409，名称无效时返回 422。")
def create_kb(body: KbCreate, request: Request, caller: Admin) -> KbOut:
    try:
        info = request.app.state.library.create(body.name, title=body.title, visibility=body.visibility)
    except LibraryError as exc:
        raise ApiError(409 if isinstance(exc, KbExists) else 422, "bad_kb", str(exc)) from None
    request.app.state.people.forget_kb(info.name)
    record(request, "kb.create", kb=info.name, detail=f"{info.title} · {info.visibility}")
    return KbOut.of(info, 0, True)


@accounts.delete("/kbs/{name}", summary="删除知识库及其全部文档（管理员）",
                 description="删除知识库及其全部文档，不可恢复（仅管理员）；对它的授权一并收回。知识库不存在时返回 404，"
                             "默认知识库不能删除（422）。")
def delete_kb(name: Annotated[str, Path(description="知识库名称")], request: Request, caller: Admin) -> KbDeleted:
    try:
        request.app.state.library.delete(name)
    except LibraryError as exc:
        raise ApiError(404 if isinstance(exc, KbMissing) else 422, "bad_kb", str(exc)) from None
    request.app.state.people.forget_kb(name)
    record(request, "kb.delete", kb=name)
    return KbDeleted(name=name, deleted=True)


# --- API tokens ------------------------------------------------------------------------------------
@accounts.get("/tokens", summary="我的 API 令牌",
              description="列出我的 API 令牌（不含令牌本身）：编号、用途、创建和到期时间、是否已撤销、是否有效。"
                          "用 ZHIKU_API_KEY 调用时列出所有人的令牌。须已登录，匿名调用时返回 401。")
def tokens(request: Request, caller: SignedIn) -> TokenList:
    owner = None if caller.admin and caller.via == "api_key" else caller.name
    return TokenList(tokens=[TokenOut.of(t) for t in request.app.state.people.tokens(owner)])


@accounts.post("/tokens", summary="新建 API 令牌（令牌只显示这一次）", status_code=201,
               description="为当前登录的账号新建 API 令牌，供脚本和其他系统用 Authorization: Bearer <令牌> 调用。"
                           "响应中的 token 只显示这一次，服务器只保存它的摘要。days 为有效天数，不填为服务器默认值。"
                           "用 ZHIKU_API_KEY 调用时返回 422（它不属于任何账号，请用 zhiku token create 用户名）。")
def create_token(body: TokenIn, request: Request, caller: SignedIn) -> TokenCreated:
    if caller.via == "api_key":
        raise ApiError(422, "no_account", "ZHIKU_API_KEY 不属于任何账号：请用 zhiku token create 用户名 为账号创建令牌")
    settings: Settings = request.app.state.settings
    info, secret = request.app.state.people.create_token(caller.name, days=body.days or settings.token_days,
                                                         label=body.label)
    record(request, "token.create", target=info.id, detail=info.label or None)
    return TokenCreated(**TokenOut.of(info).model_dump(), token=secret)


@accounts.delete("/tokens/{token_id}", summary="撤销 API 令牌",
                 description="撤销一个 API 令牌，立即失效。只能撤销自己的令牌（管理员可撤销任何人的）；"
                             "没有这个令牌时返回 404。")
def revoke_token(token_id: Annotated[str, Path(description="令牌编号（GET /api/tokens 中的 id）")], request: Request,
                 caller: SignedIn) -> TokenOut:
    info = request.app.state.people.revoke_token(token_id[:40], owner=None if caller.admin else caller.name)
    if info is None:
        raise ApiError(404, "token_not_found", "没有这个令牌")
    record(request, "token.revoke", target=info.id)
    return TokenOut.of(info)


# --- audit -----------------------------------------------------------------------------------------
@accounts.get("/audit", summary="审计记录（管理员）",
              description="每次写操作和登录的记录，最新的在前：谁、何时、做了什么、在哪个知识库、从哪个地址、是否成功"
                          "（仅管理员）。total 为符合条件的记录总数。")
def audit(request: Request, caller: Admin,
          actor: Annotated[str | None, Query(description="只看这个人的记录：用户名，或 cli:系统用户名（在服务器上用 zhiku 命令"
                                                         "所做的）")] = None,
          action: Annotated[str | None, Query(description="只看这种操作，如 login、upload、delete")] = None,
          offset: Annotated[int, Query(ge=0, le=2**31 - 1, description="跳过前多少条（分页）")] = 0,
          limit: Annotated[int, Query(ge=1, le=500, description="每页条数（1–500）")] = 100) -> AuditList:
    """Every write and login, newest first: who, when, what, in which KB, from which address, and whether it
    succeeded."""
    entries, total = audit_log(request).entries(limit=limit, offset=offset, actor=actor, action=action)
    return AuditList(total=total, entries=[AuditOut.of(e) for e in entries])
