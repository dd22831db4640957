"""``zhiku kb | user | token | audit``: knowledge bases, accounts, API tokens and the audit trail, from the server.

Whoever can run commands on the server owns its data, so these need no login; each change is still written
to the audit trail as ``cli:<system user>`` from 本机, beside what people did through the API.
"""
from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import TypeVar

from index.library import DEFAULT, VISIBILITIES, Library, LibraryError
from index.settings import Settings
from service.access.audit import LOCAL, AuditLog
from service.access.people import ACCESS_FILE, ROLES, AccessError, People, TokenInfo
from service.commands import JSON_FLAG, UsageError, arg, command, print_json


T = TypeVar("T")
ROLE_WORDS = {"reader": "读者", "editor": "编辑", "admin": "管理员"}


def _people(settings: Settings) -> People:
    return People(Path(settings.kb) / ACCESS_FILE)


def _audit(people: People, action: str, **fields: str | None) -> None:
    AuditLog(people).record(f"cli:{getpass.getuser()}", action, address=LOCAL, **fields)


def _listing(as_json: bool, items: Sequence[T], record: Callable[[T], object], line: Callable[[T], str]) -> int:
    """A list command's output: the records as JSON for scripts, else one line per item for people."""
    if as_json:
        print_json([record(item) for item in items])
    else:
        for item in items:
            print(line(item))
    return 0


@contextmanager
def _refusals_as_usage(*kinds: type[Exception]) -> Iterator[None]:
    """A refused change (an unknown name, the last admin …) is the caller's mistake: exit 2 with its words."""
    try:
        yield
    except kinds as exc:
        raise UsageError(str(exc)) from None


def _needs(value: str | None, what: str) -> str:
    if not value:
        raise UsageError(f"缺少{what}")
    return value


@command("kb", "管理知识库：create 新建 · list 列出 · set 修改 · delete 删除",
         arg("action", choices=["create", "list", "set", "delete"], help="要做的操作（见上）"),
         arg("kb_name", nargs="?", metavar="NAME", help="知识库名称：小写字母、数字、- 和 _"),
         arg("--title", default=None, help="显示名称"),
         arg("--visibility", choices=VISIBILITIES, default=None,
             help="public 公开（匿名可读）或 internal 内部（只有获授权的人可读；新建时的默认值）"),
         arg("--yes", action="store_true", help="delete 时不再确认"),
         JSON_FLAG)
def kb(args: argparse.Namespace, settings: Settings) -> int:
    with closing(Library(settings)) as library, _refusals_as_usage(LibraryError):
        if args.action == "list":
            return _listing(args.json, library.infos(), asdict,
                            lambda info: f"{info.name:<20} {info.visibility:<9} {info.title}")
        name = _needs(args.kb_name, "知识库名称")
        people = _people(settings)
        if args.action == "create":
            info = library.create(name, title=args.title, visibility=args.visibility or "internal")
            people.forget_kb(name)
            _audit(people, "kb.create", kb=name, detail=f"{info.title} · {info.visibility}")
            print(f"已新建知识库 {name}（{info.visibility}）：zhiku ingest 路径 --name {name}")
        elif args.action == "set":
            info = library.update(name, title=args.title, visibility=args.visibility)
            _audit(people, "kb.update", kb=name, detail=f"{info.title} · {info.visibility}")
            print(f"{name}：{info.title} · {info.visibility}")
        else:
            if not args.yes and not _confirmed(f"删除知识库 {name} 及其全部文档？输入名称确认：", name):
                raise UsageError("未删除")
            library.delete(name)
            people.forget_kb(name)
            _audit(people, "kb.delete", kb=name)
            print(f"已删除知识库 {name}")
        return 0


@command("user", "管理账号：add 新建 · list 列出 · passwd 改密码 · role 改角色 · grant/revoke 授权/收回知识库 · delete 删除",
         arg("action", choices=["add", "list", "passwd", "role", "grant", "revoke", "delete"], help="要做的操作（见上）"),
         arg("user_name", nargs="?", metavar="NAME", help="用户名"),
         arg("kb_name", nargs="?", metavar="KB", help="grant、revoke 时的知识库名称"),
         arg("--role", choices=ROLES, default=None, help="reader 读者 · editor 编辑 · admin 管理员"),
         arg("--password-stdin", action="store_true", help="从标准输入读密码（脚本用），否则交互输入两次"),
         JSON_FLAG)
def user(args: argparse.Namespace, settings: Settings) -> int:
    people = _people(settings)
    with _refusals_as_usage(AccessError):
        if args.action == "list":
            return _listing(args.json, people.users(),
                            lambda u: {"name": u.name, "role": u.role, "grants": sorted(u.grants)},
                            lambda u: f"{u.name:<20} {u.role:<7} {' '.join(sorted(u.grants)) or '-'}")
        name = _needs(args.user_name, "用户名")
        if args.action == "add":
            people.add_user(name, _password(args.password_stdin), _needs(args.role, " --role"))
            _audit(people, "user.add", target=name, detail=args.role)
            print(f"已新建{ROLE_WORDS[args.role]} {name}" + ("" if args.role == "admin" else
                                                 f"；授权知识库：zhiku user grant {name} 知识库名称"))
        elif args.action == "passwd":
            people.set_password(name, _password(args.password_stdin))
            _audit(people, "user.passwd", target=name)
            print(f"已修改 {name} 的密码，其登录已全部失效")
        elif args.action == "role":
            people.set_role(name, _needs(args.role, " --role"))
            _audit(people, "user.role", target=name, detail=args.role)
            print(f"{name} 现在是{ROLE_WORDS[args.role]}（{args.role}）")
        elif args.action in ("grant", "revoke"):
            kb_name = _needs(args.kb_name, "知识库名称")
            if args.action == "grant" and kb_name != DEFAULT and Library(settings).info(kb_name) is None:
                raise UsageError(f"知识库 {kb_name} 不存在（zhiku kb list）")
            (people.grant if args.action == "grant" else people.revoke)(name, kb_name)
            _audit(people, f"user.{args.action}", target=name, kb=kb_name)
            print(f"已{'授权' if args.action == 'grant' else '收回'} {name}：{kb_name}")
        else:
            people.delete_user(name)
            _audit(people, "user.delete", target=name)
            print(f"已删除账号 {name}（及其令牌和登录）")
        return 0


@command("token", "API 令牌：create 新建（只显示一次）· list 列出 · revoke 撤销",
         arg("action", choices=["create", "list", "revoke"], help="要做的操作（见上）"),
         arg("subject", nargs="?", metavar="USER|ID", help="create、list 时为用户名；revoke 时为令牌 ID"),
         arg("--days", type=int, default=None, help="有效天数（默认 ZHIKU_TOKEN_DAYS，90）"),
         arg("--label", default="", help="用途，如 门户网站搜索框"),
         JSON_FLAG)
def token(args: argparse.Namespace, settings: Settings) -> int:
    people = _people(settings)
    with _refusals_as_usage(AccessError):
        if args.action == "list":
            return _listing(args.json, people.tokens(args.subject), lambda t: {**asdict(t), "active": t.active},
                            lambda t: f"{t.id}  {t.user:<16} {_token_state(t):<4} 到期 {t.expires}  {t.label}")
        subject = _needs(args.subject, "用户名" if args.action == "create" else "令牌 ID")
        if args.action == "create":
            info, secret = people.create_token(subject, days=args.days or settings.token_days, label=args.label)
            _audit(people, "token.create", target=info.id, detail=f"{subject} {info.label}".strip())
            print(secret)
            print(f"令牌 {info.id} 属于 {subject}，{info.expires} 到期。它只显示这一次，请妥善保存。", file=sys.stderr)
        else:
            if people.revoke_token(subject) is None:
                raise UsageError(f"没有令牌 {subject}")
            _audit(people, "token.revoke", target=subject)
            print(f"已撤销令牌 {subject}")
        return 0


@command("audit", "审计记录：谁在何时从哪里做了什么（最新的在前）",
         arg("--limit", type=int, default=50, help="条数（默认 50）"),
         arg("--actor", default=None, help="只看这个人"),
         arg("--action", default=None, help="只看这种操作，如 login、upload、delete"),
         JSON_FLAG)
def audit(args: argparse.Namespace, settings: Settings) -> int:
    entries, total = AuditLog(_people(settings)).entries(limit=max(1, args.limit), actor=args.actor,
                                                         action=args.action)
    if args.json:
        print_json({"total": total, "entries": [asdict(e) for e in entries]})
        return 0
    for e in entries:
        where = " ".join(x for x in (e.kb and f"[{e.kb}]", e.target, e.detail) if x)
        print(f"{e.at}  {e.actor:<16} {e.action:<13} {'成功' if e.ok else '失败'}  {e.address or ''}  {where}")
    print(f"共 {total} 条", file=sys.stderr)
    return 0


def _token_state(token: TokenInfo) -> str:
    return "有效" if token.active else ("已撤销" if token.revoked else "已过期")


def _password(from_stdin: bool) -> str:
    if from_stdin or not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("密码：")
    if getpass.getpass("再输入一次：") != first:
        raise UsageError("两次输入的密码不一致")
    return first


def _confirmed(prompt: str, expected: str) -> bool:
    if not sys.stdin.isatty():
        return False
    return input(prompt).strip() == expected
