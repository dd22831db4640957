"""The registry behind ``zhiku``'s subcommands: each is one function registered with :func:`command`.

It sits apart from :mod:`service.cli` so that the account and KB commands (:mod:`service.access.cli`) register
themselves the same way without importing the CLI that imports them.
"""
from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

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


JSON_FLAG = arg("--json", action="store_true", help="输出 JSON / print JSON")


def print_json(data: Any) -> None:
    print(json.dumps(data, ensure_ascii=False, indent=2))


NAME_FLAG = arg("--name", default=None, metavar="NAME",
                help="知识库名称（zhiku kb list 列出全部）；不填为默认知识库")
