"""Uploads in flight: where each one's ingest is, for the person who started it.

A scanned PDF of thirty pages takes a minute or more to recognise on a small CPU, and a page that only says
请稍候 for that long looks stuck (the complaint users of other RAG tools make most about ingestion). The page
names each upload by an id it makes up (``X-Upload-Id``) and asks ``GET /api/uploads/{id}`` while it waits.
An entry lives only while its upload runs, and only the caller who started it can read it: another caller,
like an unknown id, gets 404, so the names of files being uploaded never leak.
"""
from __future__ import annotations

import re
import threading
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager

from index.records import UploadStep
from service.errors import ApiError

UPLOAD_ID = re.compile(r"[A-Za-z0-9_-]{8,64}")
MAX_TRACKED = 256  # uploads followed at once; beyond that an upload still runs, only without progress


def checked_id(raw: str | None) -> str | None:
    """The ``X-Upload-Id`` header, if any, when it is a usable id (8–64 letters, digits, - or _)."""
    if raw is None:
        return None
    if not UPLOAD_ID.fullmatch(raw):
        raise ApiError(422, "bad_upload_id", "X-Upload-Id 应为 8 到 64 个字母、数字、- 或 _")
    return raw


class UploadProgress:
    """The latest step of each upload in flight, by its id, with whose upload it is."""

    def __init__(self) -> None:
        self._steps: dict[str, tuple[Hashable, UploadStep | None]] = {}
        self._lock = threading.Lock()

    @contextmanager
    def tracking(self, upload_id: str | None, owner: Hashable) -> Iterator[Callable[[UploadStep], None] | None]:
        """While the block runs, the steps it is told are kept under ``upload_id`` for ``owner`` (no id: none)."""
        with self._lock:
            if upload_id in self._steps:
                raise ApiError(409, "upload_id_in_use", "这个 X-Upload-Id 的上传还在进行中，请换一个")
            tracked = upload_id is not None and len(self._steps) < MAX_TRACKED
            if tracked:
                self._steps[upload_id] = (owner, None)
        if not tracked:
            yield None
            return

        def tell(step: UploadStep) -> None:
            with self._lock:
                self._steps[upload_id] = (owner, step)
        try:
            yield tell
        finally:
            with self._lock:
                del self._steps[upload_id]

    def step(self, upload_id: str, owner: Hashable) -> UploadStep | None:
        """The upload's latest step; 404 when no upload of this caller runs under this id."""
        with self._lock:
            owner_and_step = self._steps.get(upload_id)
        if owner_and_step is None or owner_and_step[0] != owner:
            raise ApiError(404, "upload_not_found", "没有进行中的这个上传（已经完成，或不是你发起的）")
        return owner_and_step[1]
