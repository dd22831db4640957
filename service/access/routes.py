"""Signing in and out, the caller's KBs and tokens, KB management and the audit trail (admins)."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response

from index.library import Library, LibraryError
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
@accounts.post("/login", summary="登录", responses={429: {"model": ERROR_RESPONSES[401]["model"]}})
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


@accounts.post("/logout", summary="退出登录")
def logout(request: Request, response: Response, caller: SignedIn) -> Me:
    secret = request.cookies.get(SESSION_COOKIE)
    if caller.via == "session" and secret:
        request.app.state.people.end_session(secret)
        record(request, "logout")
    response.delete_cookie(SESSION_COOKIE, path="/")
    return Me(user=None, role=None, via="anonymous")


@accounts.get("/me", summary="当前调用者")
def me(caller: CallerDep) -> Me:
    return Me(user=caller.name, role=caller.role, via=caller.via, csrf_token=caller.csrf)


# --- knowledge bases -------------------------------------------------------------------------------
@accounts.get("/kbs", summary="可读的知识库")
def kbs(request: Request, caller: CallerDep) -> KbList:
    """The KBs this caller may read, with their document counts and whether the caller may write them."""
    library: Library = request.app.state.library
    readable = [info for info in library.infos() if caller.can_read(info)]
    return KbList(kbs=[KbOut.of(info, library.get(info.name).documents(limit=1,
                                                                      include_disabled=caller.can_write(info))[1],
                                caller.can_write(info)) for info in readable])


@accounts.post("/kbs", summary="新建知识库（管理员）", status_code=201)
def create_kb(body: KbCreate, request: Request, caller: Admin) -> KbOut:
    try:
        info = request.app.state.library.create(body.name, title=body.title, visibility=body.visibility)
    except LibraryError as exc:
        raise ApiError(409 if "已存在" in str(exc) else 422, "bad_kb", str(exc)) from None
    request.app.state.people.forget_kb(info.name)
    record(request, "kb.create", kb=info.name, detail=f"{info.title} · {info.visibility}")
    return KbOut.of(info, 0, True)


@accounts.delete("/kbs/{name}", summary="删除知识库及其全部文档（管理员）")
def delete_kb(name: str, request: Request, caller: Admin) -> KbDeleted:
    try:
        request.app.state.library.delete(name)
    except LibraryError as exc:
        raise ApiError(404 if "不存在" in str(exc) else 422, "bad_kb", str(exc)) from None
    request.app.state.people.forget_kb(name)
    record(request, "kb.delete", kb=name)
    return KbDeleted(name=name, deleted=True)


# --- API tokens ------------------------------------------------------------------------------------
@accounts.get("/tokens", summary="我的 API 令牌")
def tokens(request: Request, caller: SignedIn) -> TokenList:
    owner = None if caller.admin and caller.via == "api_key" else caller.name
    return TokenList(tokens=[TokenOut.of(t) for t in request.app.state.people.tokens(owner)])


@accounts.post("/tokens", summary="新建 API 令牌（令牌只显示这一次）", status_code=201)
def create_token(body: TokenIn, request: Request, caller: SignedIn) -> TokenCreated:
    if caller.via == "api_key":
        raise ApiError(422, "no_account", "ZHIKU_API_KEY 不属于任何账号：请用 zhiku token create 用户名 为账号创建令牌")
    settings: Settings = request.app.state.settings
    info, secret = request.app.state.people.create_token(caller.name, days=body.days or settings.token_days,
                                                         label=body.label)
    record(request, "token.create", target=info.id, detail=info.label or None)
    return TokenCreated(**TokenOut.of(info).model_dump(), token=secret)


@accounts.delete("/tokens/{token_id}", summary="撤销 API 令牌")
def revoke_token(token_id: str, request: Request, caller: SignedIn) -> TokenOut:
    info = request.app.state.people.revoke_token(token_id[:40], owner=None if caller.admin else caller.name)
    if info is None:
        raise ApiError(404, "token_not_found", "没有这个令牌")
    record(request, "token.revoke", target=info.id)
    return TokenOut.of(info)


# --- audit -----------------------------------------------------------------------------------------
@accounts.get("/audit", summary="审计记录（管理员）")
def audit(request: Request, caller: Admin, actor: str | None = None, action: str | None = None,
          offset: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
          limit: Annotated[int, Query(ge=1, le=500)] = 100) -> AuditList:
    """Every write and login, newest first: who, when, what, in which KB, from which address, and whether it
    succeeded."""
    entries, total = audit_log(request).entries(limit=limit, offset=offset, actor=actor, action=action)
    return AuditList(total=total, entries=[AuditOut.of(e) for e in entries])
