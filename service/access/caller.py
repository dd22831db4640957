"""Who is asking, and what that lets them read and write.

The rules, in one place:
- anonymous callers read public KBs (nothing at all with ``read_requires_key``) and write nothing;
- a reader reads public KBs and the KBs granted to them;
- an editor reads like a reader and writes (uploads, deletes, disables) the KBs granted to them;
- an admin reads and writes every KB and manages KBs, accounts and the audit trail;
- ``ZHIKU_API_KEY`` is an admin's token.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from index.library import KbInfo
from service.access.people import Role

Via = Literal["anonymous", "session", "token", "api_key"]
API_KEY_ACTOR = "api-key"
ANONYMOUS_ACTOR = "匿名"


@dataclass(frozen=True)
class Caller:
    name: str | None = None  # None = anonymous
    role: Role | None = None
    grants: frozenset[str] = field(default_factory=frozenset)
    via: Via = "anonymous"
    csrf: str | None = None  # the session's CSRF token, which writes through the cookie must echo
    token_id: str | None = None
    public_reads: bool = True  # False under read_requires_key

    @property
    def anonymous(self) -> bool:
        return self.via == "anonymous"

    @property
    def admin(self) -> bool:
        return self.role == "admin"

    @property
    def actor(self) -> str:
        """The name the audit trail records."""
        return self.name or ANONYMOUS_ACTOR

    @property
    def rate_key(self) -> str | None:
        """Whose bucket a request is counted in: the token or account; None = the client address."""
        if self.token_id:
            return f"token:{self.token_id}"
        return f"user:{self.name}" if self.name else None

    def can_read(self, kb: KbInfo) -> bool:
        if self.admin or kb.name in self.grants:
            return True
        return kb.visibility == "public" and (self.public_reads or not self.anonymous)

    def can_write(self, kb: KbInfo) -> bool:
        return self.admin or (self.role == "editor" and kb.name in self.grants)
