"""Several named knowledge bases under one data root (``--kb DIR``), sharing one loaded model.

The KB of a root made before there were several, with ``zhiku.sqlite`` directly in it, is the *default* KB
and stays where it is, so every existing call, flag and directory keeps working; the others live in
``DIR/kbs/<name>/``. Names, titles and visibilities are kept in ``DIR/kbs.json``, re-read when another
process (``zhiku kb create`` beside a running server) has changed it. Who may read a visibility is the
service's business; here it is only recorded.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Literal, get_args

from index.kb import DEFAULT_COLLECTION, KnowledgeBase, Models
from index.settings import Settings
from index.store.locks import exclusive

Visibility = Literal["public", "internal"]
VISIBILITIES: tuple[str, ...] = get_args(Visibility)
DEFAULT = "default"
DEFAULT_ALIAS = "zhiku"  # the default KB's other name: the chat API's model id and the widget's data-kb
DEFAULT_TITLE = "默认知识库"
# Lower-case letters, digits, - and _; starts and ends with a letter or digit: safe as a directory name, a
# URL parameter and part of a chroma collection name.
NAME = re.compile(r"[a-z0-9](?:[a-z0-9_-]{0,38}[a-z0-9])?")


class LibraryError(ValueError):
    """A KB operation the caller asked for cannot be done (bad name, bad visibility …); the text says why."""


class KbExists(LibraryError):
    """The name is taken."""


class KbMissing(LibraryError):
    """No KB of that name."""


@dataclass(frozen=True)
class KbInfo:
    name: str
    title: str
    visibility: Visibility
    created: str  # ISO time, "" for a default KB that predates the registry


class Library:
    """Open with a settings object whose ``kb`` is the data root; KBs open on first use and stay open."""

    def __init__(self, settings: Settings, *, default: KnowledgeBase | None = None) -> None:
        """``default``: an already open default KB to use (and share the model of) instead of opening one."""
        self.settings = settings
        self.root = Path(settings.kb)
        self._registry = self.root / "kbs.json"
        self._models = Models(default.embedder, default.query_adapter) if default else None
        self._lock = threading.RLock()
        self._open: dict[str, KnowledgeBase] = {DEFAULT: default} if default else {}
        self._infos: dict[str, KbInfo] = {}
        self._read_at: tuple[int, int, int] | None = None  # the registry file's _stamp when last read

    # --- what there is -----------------------------------------------------------------------------
    def infos(self) -> list[KbInfo]:
        """Every KB, the default first, then by name."""
        with self._lock:
            self._refresh()
            default = self._infos.get(DEFAULT) or KbInfo(DEFAULT, DEFAULT_TITLE, "public", "")
            return [default, *sorted((i for n, i in self._infos.items() if n != DEFAULT), key=lambda i: i.name)]

    def info(self, name: str) -> KbInfo | None:
        name = DEFAULT if name == DEFAULT_ALIAS else name
        return next((i for i in self.infos() if i.name == name), None)

    def directory(self, name: str) -> Path:
        return self.root if name == DEFAULT else self.root / "kbs" / name

    # --- changes -----------------------------------------------------------------------------------
    def create(self, name: str, *, title: str | None = None, visibility: Visibility = "internal") -> KbInfo:
        """Register a new, empty KB. Internal by default: making material public should be a decision."""
        check_name(name)
        _check_visibility(visibility)
        with self._changing():
            if self.info(name) is not None:
                raise KbExists(f"知识库 {name} 已存在")
            info = KbInfo(name, (title or "").strip() or name, visibility,
                          datetime.now(timezone.utc).isoformat(timespec="seconds"))
            self._infos[name] = info
            self._save()
            return info

    def update(self, name: str, *, title: str | None = None, visibility: Visibility | None = None) -> KbInfo:
        with self._changing():
            current = self._require(name)
            if visibility is not None:
                _check_visibility(visibility)
            info = KbInfo(name, (title or "").strip() or current.title, visibility or current.visibility,
                          current.created)
            self._infos[name] = info
            self._save()
            return info

    def delete(self, name: str) -> None:
        """Remove a KB with its documents, vectors and uploads. The default KB (the data root) stays."""
        if name == DEFAULT:
            raise LibraryError("默认知识库不能删除")
        with self._changing():
            self._require(name)
            kb = self._open.pop(name, None) or KnowledgeBase.open(self._settings_of(name), models=self._shared(),
                                                                  collection=_collection(name))
            if self.settings.chroma_url:
                kb.store.close()
                kb.vectors.drop()
            else:
                kb.close()
            shutil.rmtree(self.directory(name), ignore_errors=True)
            del self._infos[name]
            self._save()

    # --- use ---------------------------------------------------------------------------------------
    def get(self, name: str = DEFAULT) -> KnowledgeBase:
        """The open KB of that name, opened (and created on disk) on first use."""
        with self._lock:
            kb = self._open.get(name)
            if kb is None:
                self._require(name)
                kb = KnowledgeBase.open(self._settings_of(name), models=self._shared(), collection=_collection(name))
                self._open[name] = kb
            return kb

    def close(self) -> None:
        with self._lock:
            for kb in self._open.values():
                kb.close()
            self._open.clear()

    # --- internals ---------------------------------------------------------------------------------
    @contextmanager
    def _changing(self) -> Iterator[None]:
        """Hold the registry against other threads and processes while a change reads, edits and writes it.

        Without the file lock, ``zhiku kb create`` beside a server that creates another KB could read the
        same registry and write it back without the other's KB. The registry is re-read under the lock, not
        trusted to its modification time (two writes can fall in one clock tick).
        """
        with self._lock:
            self.root.mkdir(parents=True, exist_ok=True)
            with exclusive(self.root / "kbs.lock"):
                self._read_at = None
                yield

    def _require(self, name: str) -> KbInfo:
        info = self.info(name)
        if info is None:
            raise KbMissing(f"知识库 {name[:60]} 不存在（zhiku kb list 列出全部知识库）")
        return info

    def _shared(self) -> Models:
        if self._models is None:
            self._models = Models.load(self.settings)
        return self._models

    def _settings_of(self, name: str) -> Settings:
        return self.settings if name == DEFAULT else self.settings.model_copy(update={"kb": self.directory(name)})

    def _refresh(self) -> None:
        """Re-read the registry when it changed on disk (another process created or deleted a KB)."""
        try:
            stamp = _stamp(self._registry)
        except FileNotFoundError:
            self._infos, self._read_at = {}, None
            return
        if stamp == self._read_at:
            return
        data = json.loads(self._registry.read_text(encoding="utf-8"))
        self._infos = {name: KbInfo(name=name, **fields) for name, fields in data.get("kbs", {}).items()}
        self._read_at = stamp
        for gone in set(self._open) - set(self._infos) - {DEFAULT}:
            self._open.pop(gone).close()

    def _save(self) -> None:
        data = {"kbs": {n: {k: v for k, v in asdict(i).items() if k != "name"} for n, i in self._infos.items()}}
        tmp = self._registry.with_name(self._registry.name + ".part")
        tmp.write_text(json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8")
        os.replace(tmp, self._registry)
        self._read_at = _stamp(self._registry)


def _stamp(path: Path) -> tuple[int, int, int]:
    """Which version of the file this is. Every save renames a new file in, so the inode changes even when
    two saves fall in one tick of the file system's clock and leave the modification time equal."""
    stat = path.stat()
    return stat.st_ino, stat.st_mtime_ns, stat.st_size


def check_name(name: str) -> str:
    if not NAME.fullmatch(name) or name in (DEFAULT, DEFAULT_ALIAS):
        raise LibraryError(f"知识库名称无效：{name[:60]}（小写字母、数字、- 和 _，最长 40 个字符，"
                           f"不能是 {DEFAULT} 或 {DEFAULT_ALIAS}）")
    return name


def _check_visibility(visibility: str) -> None:
    if visibility not in VISIBILITIES:
        raise LibraryError(f"可见范围应为 {' 或 '.join(VISIBILITIES)}（public 公开，internal 内部）")


def _collection(name: str) -> str:
    return DEFAULT_COLLECTION if name == DEFAULT else f"{DEFAULT_COLLECTION}_{name}"
