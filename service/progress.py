"""Uploads: where each one's ingest is, for the person who started it, and how an upload left running ended.

A scanned PDF of thirty pages takes a minute or more to recognise on a small CPU, and a page that only says
请稍候 for that long looks stuck (the complaint users of other RAG tools make most about ingestion). Worse, a
reverse proxy in front of zhiku (nginx waits 60 s by default) cuts a request that long, and the uploader sees
an error while the ingest goes on. So an upload is followed by an id: the caller's own (``X-Upload-Id``) or,
for one sent with ``Prefer: respond-async``, one the server makes up and answers at once (202). ``GET
/api/uploads/{id}`` then says where it is and, once a respond-async upload has ended, what came of it — the
same report or error the request would have answered with — for ``KEEP_ENDED_MINUTES``. Only the caller who
started an upload can read it: another caller, like an unknown id, gets 404, so the names of files being
uploaded never leak.
"""
from __future__ import annotations

import logging
import re
import secrets
import threading
import time
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from index.records import UploadStep
from service.errors import ApiError, ErrorDetail, failure_of
from service.schemas import IngestReportOut, UploadStatusOut, UploadStepOut

log = logging.getLogger("zhiku.api")

UPLOAD_ID = re.compile(r"[A-Za-z0-9_-]{8,64}")
MAX_TRACKED = 256  # uploads followed at once; beyond that a waited-for upload still runs, only without progress
KEEP_ENDED_MINUTES = 10  # how long a respond-async upload's outcome stays readable after it ends

Tell = Callable[[UploadStep], None]  # hears each step of an ingest
Ingest = Callable[[Tell | None], IngestReportOut]  # one upload's whole ingest; raises what its request would


def checked_id(raw: str | None) -> str | None:
    """The ``X-Upload-Id`` header, if any, when it is a usable id (8–64 letters, digits, - or _)."""
    if raw is None:
        return None
    if not UPLOAD_ID.fullmatch(raw):
        raise ApiError(422, "bad_upload_id", "X-Upload-Id 应为 8 到 64 个字母、数字、- 或 _")
    return raw


def new_id() -> str:
    return secrets.token_hex(16)


@dataclass
class _Upload:
    owner: Hashable
    step: UploadStep | None = None  # None until its first file is opened
    report: IngestReportOut | None = None  # how a respond-async upload ended: its report ...
    error: ErrorDetail | None = None  # ... or its error
    ended: float | None = None  # time.monotonic() when a respond-async upload ended; None while it runs

    def status(self, upload_id: str) -> UploadStatusOut:
        state = "running" if self.ended is None else "failed" if self.error else "done"
        return UploadStatusOut(upload_id=upload_id, state=state, step=UploadStepOut.of(self.step) if self.step else None,
                               report=self.report, error=self.error)


class Uploads:
    """The uploads in flight and the recently ended respond-async ones, by id, with whose upload each is."""

    def __init__(self) -> None:
        self._uploads: dict[str, _Upload] = {}
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()

    @contextmanager
    def tracking(self, upload_id: str | None, owner: Hashable) -> Iterator[Tell | None]:
        """While the block (an upload the caller waits for) runs, the steps it is told are kept under
        ``upload_id`` for ``owner``; once it ends the id is forgotten (no id: nothing is kept)."""
        tracked = upload_id is not None and self._claim(upload_id, owner, required=False)
        if not tracked:
            yield None
            return
        try:
            yield self._teller(upload_id)
        finally:
            with self._lock:
                del self._uploads[upload_id]

    def start(self, upload_id: str, owner: Hashable, ingest: Ingest) -> UploadStatusOut:
        """Run ``ingest`` on a thread of its own and answer at once; its outcome is kept ``KEEP_ENDED_MINUTES``.

        The thread is not a daemon, and :meth:`wait` joins it: a server told to stop finishes the upload
        before it closes the KB, so nothing read is half-written."""
        self._claim(upload_id, owner, required=True)

        def run() -> None:
            report, error = None, None
            try:
                report = ingest(self._teller(upload_id))
            except Exception as exc:  # noqa: BLE001 — every failure becomes the outcome the uploader reads
                if not isinstance(exc, ApiError):
                    log.exception("upload %s failed", upload_id)
                error = failure_of(exc)[1]
            with self._lock:
                entry = self._uploads[upload_id]
                entry.report, entry.error, entry.ended = report, error, time.monotonic()

        thread = threading.Thread(target=run, name=f"upload-{upload_id}")
        with self._lock:
            self._threads = [t for t in self._threads if t.is_alive()] + [thread]
        thread.start()
        return self.status(upload_id, owner)

    def status(self, upload_id: str, owner: Hashable) -> UploadStatusOut:
        """Where the upload is or how it ended; 404 when no upload of this caller is known by this id."""
        with self._lock:
            self._forget_ended()
            entry = self._uploads.get(upload_id)
            if entry is None or entry.owner != owner:
                raise ApiError(404, "upload_not_found",
                               f"没有这个上传（编号不对、已结束超过 {KEEP_ENDED_MINUTES} 分钟，或不是你发起的）")
            return entry.status(upload_id)

    def wait(self) -> None:
        """Let every respond-async upload still running finish (the server is stopping)."""
        with self._lock:
            running = list(self._threads)
        for thread in running:
            thread.join()

    def _claim(self, upload_id: str, owner: Hashable, *, required: bool) -> bool:
        """Keep ``upload_id`` for ``owner``: 409 when it is taken; when all places are taken, False for an
        upload that runs without progress, 503 for one that must be followed."""
        with self._lock:
            self._forget_ended()
            if upload_id in self._uploads:
                raise ApiError(409, "upload_id_in_use", "这个 X-Upload-Id 已有上传在用，请换一个")
            if len(self._uploads) >= MAX_TRACKED:
                if required:
                    raise ApiError(503, "busy", "正在进行的上传太多，请稍后再试")
                return False
            self._uploads[upload_id] = _Upload(owner)
            return True

    def _teller(self, upload_id: str) -> Tell:
        def tell(step: UploadStep) -> None:
            with self._lock:
                self._uploads[upload_id].step = step
        return tell

    def _forget_ended(self) -> None:
        """Drop the outcomes kept longer than ``KEEP_ENDED_MINUTES`` (the caller holds the lock)."""
        cutoff = time.monotonic() - KEEP_ENDED_MINUTES * 60
        for upload_id in [i for i, u in self._uploads.items() if u.ended is not None and u.ended < cutoff]:
            del self._uploads[upload_id]
