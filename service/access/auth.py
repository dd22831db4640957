"""Turning a request into a :class:`Caller`, and the checks every route makes with it.

A request is one of: ``Authorization: Bearer`` with ``ZHIKU_API_KEY`` (an admin) or an API token (``zk_…``);
the page's session cookie (HttpOnly, SameSite=Strict; writes through it must echo the session's CSRF token in
``X-CSRF-Token``); or anonymous. A zhiku token that is wrong, expired or revoked is refused outright (401)
rather than read as anonymous, so a script learns at once that its token is dead. Any other bearer is
ignored: chat clients (Open WebUI, Cherry Studio …) insist on sending some key, and a stale or forged cookie
is ignored too, as a browser carries cookies it cannot help.

What a caller may not read is answered exactly as what does not exist: 404 for a signed-in caller, 401 for
an anonymous one, with one message for both — no status, count or text tells an internal KB or document
from a missing one.
"""
from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Query, Request

from index.kb import KnowledgeBase
from index.library import DEFAULT, DEFAULT_ALIAS, KbInfo, Library
from index.settings import Settings
from service.access.caller import API_KEY_ACTOR, Caller
from service.access.people import TOKEN_PREFIX, People
from service.errors import ApiError

SESSION_COOKIE = "zhiku_session"
CSRF_HEADER = "X-CSRF-Token"
_BEARER = "bearer "
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def current_caller(request: Request) -> Caller:
    """The caller of this request, worked out once per request."""
    cached: Caller | None = getattr(request.state, "caller", None)
    if cached is not None:
        return cached
    settings: Settings = request.app.state.settings
    people: People = request.app.state.people
    public = not settings.read_requires_key
    header = request.headers.get("authorization", "")
    secret = request.cookies.get(SESSION_COOKIE)
    token = header[len(_BEARER):].strip() if header[:len(_BEARER)].lower() == _BEARER else ""
    if token and settings.api_key and hmac.compare_digest(token.encode(), settings.api_key.encode()):
        caller = Caller(API_KEY_ACTOR, "admin", via="api_key", public_reads=public)
    elif token.startswith(TOKEN_PREFIX):
        found = people.token_user(token)
        if found is None:
            raise ApiError(401, "invalid_token", "API 令牌无效、已过期或已被撤销", {"WWW-Authenticate": "Bearer"})
        user, token_id = found
        caller = Caller(user.name, user.role, user.grants, "token", token_id=token_id, public_reads=public)
    elif secret and (session := people.session_user(secret)) is not None:
        user, csrf = session
        caller = Caller(user.name, user.role, user.grants, "session", csrf=csrf, public_reads=public)
    else:
        caller = Caller(public_reads=public)
    request.state.caller = caller
    return caller


CallerDep = Annotated[Caller, Depends(current_caller)]


def check_csrf(request: Request, caller: Caller) -> None:
    """A write through the session cookie must carry the session's CSRF token (another site cannot read it)."""
    if caller.via != "session" or request.method in _SAFE_METHODS:
        return
    sent = request.headers.get(CSRF_HEADER, "")
    if not sent or not hmac.compare_digest(sent.encode(), (caller.csrf or "").encode()):
        raise ApiError(403, "csrf_failed", "请求缺少有效的 CSRF 令牌：请刷新页面后重试")


def unknown_kb(caller: Caller, name: str) -> ApiError:
    """The one answer for a KB that does not exist and one the caller may not read."""
    shown = name[:60]
    if caller.anonymous:
        # the default KB always exists, so saying that it needs a login tells nothing
        words = "请先登录：这个知识库只对获授权的人开放" if name in (DEFAULT, DEFAULT_ALIAS) else \
            f"知识库 {shown} 不存在，或需要登录后访问"
        return ApiError(401, "login_required", words, {"WWW-Authenticate": "Bearer"})
    return ApiError(404, "kb_not_found", f"知识库 {shown} 不存在，或你没有访问权限")


def readable_info(request: Request, name: str | None) -> KbInfo:
    caller = current_caller(request)
    library: Library = request.app.state.library
    name = (name or "").strip() or DEFAULT
    info = library.info(name)
    if info is None or not caller.can_read(info):
        raise unknown_kb(caller, name)
    return info


def readable(request: Request, name: str | None) -> KnowledgeBase:
    """The KB ``name`` (default: the default KB) when the caller may read it, else :func:`unknown_kb`."""
    return request.app.state.library.get(readable_info(request, name).name)


def writable(request: Request, name: str | None) -> tuple[KbInfo, KnowledgeBase]:
    """The KB ``name`` when the caller may write it: signed in, granted as editor (or admin), CSRF-checked."""
    caller = current_caller(request)
    if caller.anonymous:
        raise _login_required(request)
    info = readable_info(request, name)
    if not caller.can_write(info):
        raise ApiError(403, "forbidden", f"你没有知识库 {info.name} 的写权限（需要编辑或管理员角色和授权）")
    check_csrf(request, caller)
    return info, request.app.state.library.get(info.name)


def require_admin(request: Request) -> Caller:
    caller = current_caller(request)
    if caller.anonymous:
        raise _login_required(request)
    if not caller.admin:
        raise ApiError(403, "admin_only", "只有管理员可以这样做")
    check_csrf(request, caller)
    return caller


def require_signed_in(request: Request) -> Caller:
    caller = current_caller(request)
    if caller.anonymous:
        raise _login_required(request)
    check_csrf(request, caller)
    return caller


def _login_required(request: Request) -> ApiError:
    settings: Settings = request.app.state.settings
    people: People = request.app.state.people
    if not settings.api_key and not people.has_users():
        return ApiError(403, "writes_disabled", "写操作已关闭：还没有任何账号。请在服务器上运行 "
                                                "zhiku user add 名字 --role admin，或设置 ZHIKU_API_KEY")
    return ApiError(401, "login_required", "请先登录，或提供 API 令牌（Authorization: Bearer …）",
                    {"WWW-Authenticate": "Bearer"})


KbName = Annotated[str | None, Query(description="知识库名称（GET /api/kbs 列出可读的知识库）；不填为默认知识库",
                                     max_length=100)]


def read_kb(request: Request, kb: KbName = None) -> KnowledgeBase:
    """Dependency: the KB named by the ``kb`` query parameter, readable by the caller."""
    return readable(request, kb)


def read_target(request: Request, kb: KbName = None) -> tuple[KbInfo, KnowledgeBase]:
    """Dependency: like :func:`read_kb`, with the KB's entry (whether the caller may also write it)."""
    info = readable_info(request, kb)
    return info, request.app.state.library.get(info.name)
