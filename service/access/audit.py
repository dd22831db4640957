"""The audit trail: every write and every login — who, when, what, from which address — in access.sqlite.

Kept beside the accounts it names (one file to back up, one to protect). Entries are only ever added;
``zhiku audit`` and ``GET /api/audit`` (admins) read them, newest first.
"""
from __future__ import annotations

from dataclasses import dataclass

from service.access.people import People, now_iso

LOCAL = "本机"  # the address recorded for a command run on the server itself


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: str
    actor: str  # user name, "api-key", "cli:<os user>", or "匿名"
    action: str  # login, logout, upload, delete, disable, enable, kb.create, token.create, user.add …
    kb: str | None
    target: str | None  # doc_id, file name, user, token id
    detail: str | None
    address: str | None
    ok: bool


class AuditLog:
    def __init__(self, people: People) -> None:
        self._people = people

    def record(self, actor: str, action: str, *, kb: str | None = None, target: str | None = None,
               detail: str | None = None, address: str | None = None, ok: bool = True) -> None:
        self._people.conn.execute(
            "INSERT INTO audit (at, actor, action, kb, target, detail, address, ok) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (now_iso(), actor, action, kb, (target or "")[:500] or None, (detail or "")[:1000] or None, address,
             int(ok)))

    def entries(self, *, limit: int = 100, offset: int = 0, actor: str | None = None,
                action: str | None = None) -> tuple[list[AuditEntry], int]:
        """The newest entries first, narrowed by actor and action when given, and how many match in all."""
        conditions = [c for c, v in (("actor = ?", actor), ("action = ?", action)) if v]
        where = f"WHERE {' AND '.join(conditions)}" if conditions else ""
        params = [v for v in (actor, action) if v]
        conn = self._people.conn
        total = conn.execute(f"SELECT count(*) FROM audit {where}", params).fetchone()[0]
        rows = conn.execute(f"SELECT id, at, actor, action, kb, target, detail, address, ok FROM audit {where} "
                            "ORDER BY id DESC LIMIT ? OFFSET ?", [*params, limit, offset])
        return [AuditEntry(*row[:8], ok=bool(row[8])) for row in rows], total
