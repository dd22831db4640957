"""The registry behind ``zhiku``'s subcommands: each is one function registered with :func:`command`.

It sits apart from :mod:`service.cli` so that the account and KB commands (:mod:`service.access.cli`) register
themselves the same way without importing the CLI that imports them.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NoReturn

from index.settings import Settings

Handler = Callable[[argparse.Namespace, Settings], int]
Argument = tuple[tuple[str, ...], dict[str, Any]]


class UsageError(Exception):
    """Wrong arguments the parser cannot see (e.g. a path that does not exist): exit code 2."""


@dataclass(frozen=True)
class Command:
    name: str
    help: str
    arguments: tuple[Argument, ...]
    handler: Handler


COMMANDS: list[Command] = []


def arg(*flags: str, **options: Any) -> Argument:
    return flags, options


def command(name: str, help: str, *arguments: Argument) -> Callable[[Handler], Handler]:
    """Register ``handler(args, settings) -> exit code`` as ``zhiku <name>``."""

    def register(handler: Handler) -> Handler:
        COMMANDS.append(Command(name, help, arguments, handler))
        return handler

    return register


JSON_FLAG = arg("--json", action="store_true", help="输出 JSON（键名固定，供脚本使用）")


def print_json(data: Any) -> None:
    print(json.dumps(data, ensure_ascii=False, indent=2))


NAME_FLAG = arg("--name", default=None, metavar="NAME",
                help="知识库名称（zhiku kb list 列出全部）；不填为默认知识库")


# --- a parser that speaks Chinese ---------------------------------------------------------------------
# argparse's own words (usage:, options, -h's help, its error messages) are English; zhiku's are not.
COMMAND_METAVAR = "命令"
_TYPE_WORDS = {"int": "整数", "float": "数字", "Path": "路径"}
_ARGPARSE_ERRORS: list[tuple[re.Pattern[str], Callable[[re.Match[str]], str]]] = [
    (re.compile(r"the following arguments are required: (.+)"), lambda m: f"缺少必需的参数：{m[1]}"),
    (re.compile(r"unrecognized arguments: (.+)"), lambda m: f"无法识别的参数：{m[1]}"),
    (re.compile(rf"argument {COMMAND_METAVAR}: invalid choice: (.+) \(choose from (.+)\)"),
     lambda m: f"没有命令 {m[1]}，可用的命令：{m[2]}"),
    (re.compile(r"argument (.+?): invalid choice: (.+) \(choose from (.+)\)"),
     lambda m: f"参数 {m[1]} 的取值 {m[2]} 无效，可选：{m[3]}"),
    (re.compile(r"argument (.+?): invalid (\w+) value: (.+)"),
     lambda m: f"参数 {m[1]} 的取值 {m[3]} 无效，应为{_TYPE_WORDS.get(m[2], m[2])}"),
    (re.compile(r"argument (.+?): expected one argument"), lambda m: f"参数 {m[1]} 后面需要一个值"),
    (re.compile(r"argument (.+?): expected at least one argument"), lambda m: f"参数 {m[1]} 后面至少需要一个值"),
    (re.compile(r"argument (.+?): ignored explicit argument (.+)"), lambda m: f"参数 {m[1]} 不接受值 {m[2]}"),
    (re.compile(r"argument (.+?): not allowed with argument (.+)"), lambda m: f"参数 {m[1]} 不能与 {m[2]} 同时使用"),
    (re.compile(r"ambiguous option: (.+?) could match (.+)"), lambda m: f"选项 {m[1]} 不明确，可能是：{m[2]}"),
    (re.compile(r"one of the arguments (.+) is required"), lambda m: f"以下参数须给出其中一个：{m[1]}"),
]


def chinese_argparse_error(message: str) -> str:
    """argparse's English error message in Chinese (unchanged if it is one not known here)."""
    for pattern, words in _ARGPARSE_ERRORS:
        if found := pattern.fullmatch(message.strip()):
            return words(found)
    return message


class ChineseHelpFormatter(argparse.HelpFormatter):
    def add_usage(self, usage: str | None, actions: Any, groups: Any, prefix: str | None = None) -> None:
        super().add_usage(usage, actions, groups, "用法：" if prefix is None else prefix)


class ChineseParser(argparse.ArgumentParser):
    """An :class:`argparse.ArgumentParser` whose help and errors are Chinese; its subparsers are too."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", ChineseHelpFormatter)
        add_help = kwargs.pop("add_help", True)
        super().__init__(*args, add_help=False, **kwargs)
        self._positionals.title = "参数"
        self._optionals.title = "选项"
        if add_help:
            self.add_argument("-h", "--help", action="help", default=argparse.SUPPRESS, help="显示本帮助并退出")

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: {chinese_argparse_error(message)}（{self.prog} --help 查看用法）\n")
