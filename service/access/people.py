"""Accounts, their grants, API tokens and login sessions, in ``<data root>/access.sqlite``.

Passwords are hashed with Argon2id (argon2-cffi, its default parameters: ~50 ms and 64 MiB a hash, which
is what makes a stolen file expensive to guess from). Tokens and session ids are 256-bit random secrets, so
one SHA-256 of them is enough at rest: nobody can guess their way to a hash's preimage, and the lookup
on every request stays a fraction of a millisecond (bench/access.py).
"""
from __future__ import annotations

import hashlib
import secrets
import sqlite3
import threading
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Literal, get_args

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from index.store.sqlite import immediate_transaction

Role = Literal["reader", "editor", "admin"]
ROLES: tuple[str, ...] = get_args(Role)
ACCESS_FILE = "access.sqlite"  # in the data root, beside the default KB's zhiku.sqlite
TOKEN_PREFIX = "zk_"
MIN_PASSWORD_CHARS = 8

SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    name TEXT PRIMARY KEY, password TEXT NOT NULL, role TEXT NOT NULL, created TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS grants (
    user TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE, kb TEXT NOT NULL, PRIMARY KEY (user, kb)
);
CREATE TABLE IF NOT EXISTS tokens (
    id TEXT PRIMARY KEY, user TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE, hash TEXT NOT NULL UNIQUE,
    label TEXT NOT NULL, created TEXT NOT NULL, expires TEXT NOT NULL, revoked TEXT
);
CREATE TABLE IF NOT EXISTS sessions (
    hash TEXT PRIMARY KEY, user TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE, csrf TEXT NOT NULL,
    created TEXT NOT NULL, expires TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL,
    kb TEXT, target TEXT, detail TEXT, address TEXT, ok INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_at ON audit(at);
"""


class AccessError(ValueError):
    """A change to accounts or tokens that cannot be made; the Chinese text says why."""


@dataclass(frozen=True)
class User:
    name: str
    role: Role
    grants: frozenset[str]  # names of the KBs granted to this user


@dataclass(frozen=True)
class TokenInfo:
    id: str
    user: str
    label: str
    created: str
    expires: str
    revoked: str | None

    @property
    def active(self) -> bool:
        return self.revoked is None and self.expires > now_iso()


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _later(**delta: float) -> str:
    return (datetime.now(timezone.utc) + timedelta(**delta)).isoformat(timespec="seconds")


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class People:
    """Thread-safe; one SQLite connection per thread (WAL), shared by the server and the CLI."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._local = threading.local()
        self._hasher = PasswordHasher()
        self._dummy = self._hasher.hash(secrets.token_hex(16))  # verified against when the name is unknown
        self.conn.executescript(SCHEMA)

    @property
    def conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA foreign_keys=ON")
            self._local.conn = conn
        return conn

    def _transaction(self) -> AbstractContextManager[sqlite3.Connection]:
        return immediate_transaction(self.conn)

    # --- accounts ----------------------------------------------------------------------------------
    def add_user(self, name: str, password: str, role: Role) -> User:
        name = _check_user_name(name)
        _check_role(role)
        hashed = self._hasher.hash(_check_password(password))
        with self._transaction() as conn:
            if conn.execute("SELECT 1 FROM users WHERE name = ?", (name,)).fetchone():
                raise AccessError(f"用户 {name} 已存在")
            conn.execute("INSERT INTO users VALUES (?, ?, ?, ?)", (name, hashed, role, now_iso()))
        return User(name, role, frozenset())

    def set_password(self, name: str, password: str) -> None:
        hashed = self._hasher.hash(_check_password(password))
        with self._transaction() as conn:
            self._require(conn, name)
            conn.execute("UPDATE users SET password = ? WHERE name = ?", (hashed, name))
            conn.execute("DELETE FROM sessions WHERE user = ?", (name,))  # a new password ends every session

    def set_role(self, name: str, role: Role) -> None:
        _check_role(role)
        with self._transaction() as conn:
            self._require(conn, name)
            conn.execute("UPDATE users SET role = ? WHERE name = ?", (role, name))

    def delete_user(self, name: str) -> None:
        with self._transaction() as conn:
            self._require(conn, name)
            conn.execute("DELETE FROM users WHERE name = ?", (name,))  # grants, tokens, sessions cascade

    def users(self) -> list[User]:
        return [self._user(row) for row in self.conn.execute("SELECT name, role FROM users ORDER BY name")]

    def user(self, name: str) -> User | None:
        row = self.conn.execute("SELECT name, role FROM users WHERE name = ?", (name,)).fetchone()
        return self._user(row) if row else None

    def has_users(self) -> bool:
        return self.conn.execute("SELECT 1 FROM users LIMIT 1").fetchone() is not None

    def verify(self, name: str, password: str) -> User | None:
        """The user when the password is right; the same Argon2 work either way, so timing tells no names."""
        row = self.conn.execute("SELECT password FROM users WHERE name = ?", (name,)).fetchone()
        try:
            self._hasher.verify(row[0] if row else self._dummy, password)
        except (VerificationError, InvalidHashError):
            return None
        if row is None:
            return None
        if self._hasher.check_needs_rehash(row[0]):
            with self._transaction() as conn:
                conn.execute("UPDATE users SET password = ? WHERE name = ?", (self._hasher.hash(password), name))
        return self.user(name)

    def grant(self, name: str, kb: str) -> None:
        with self._transaction() as conn:
            self._require(conn, name)
            conn.execute("INSERT OR IGNORE INTO grants VALUES (?, ?)", (name, kb))

    def revoke(self, name: str, kb: str) -> None:
        with self._transaction() as conn:
            self._require(conn, name)
            conn.execute("DELETE FROM grants WHERE user = ? AND kb = ?", (name, kb))

    def forget_kb(self, kb: str) -> None:
        """Drop every grant of a deleted KB, so a new KB of the same name starts with no readers."""
        with self._transaction() as conn:
            conn.execute("DELETE FROM grants WHERE kb = ?", (kb,))

    # --- API tokens --------------------------------------------------------------------------------
    def create_token(self, name: str, *, days: int, label: str = "") -> tuple[TokenInfo, str]:
        """A new token for ``name`` and its secret, which is shown this once and never stored."""
        if not 1 <= days <= 3650:
            raise AccessError("令牌有效期应在 1 到 3650 天之间")
        token_id = secrets.token_hex(4)
        secret = f"{TOKEN_PREFIX}{token_id}_{secrets.token_urlsafe(32)}"
        info = TokenInfo(token_id, name, label.strip()[:100], now_iso(), _later(days=days), None)
        with self._transaction() as conn:
            self._require(conn, name)
            conn.execute("INSERT INTO tokens VALUES (?, ?, ?, ?, ?, ?, NULL)",
                         (info.id, name, _digest(secret), info.label, info.created, info.expires))
        return info, secret

    def tokens(self, name: str | None = None) -> list[TokenInfo]:
        where, params = ("WHERE user = ?", (name,)) if name else ("", ())
        rows = self.conn.execute(f"SELECT id, user, label, created, expires, revoked FROM tokens {where} "
                                 "ORDER BY created DESC", params)
        return [TokenInfo(*row) for row in rows]

    def revoke_token(self, token_id: str, *, owner: str | None = None) -> TokenInfo | None:
        """Revoke a token (only one of ``owner``'s when given); None when there is no such token."""
        with self._transaction() as conn:
            row = conn.execute("SELECT id, user, label, created, expires, revoked FROM tokens WHERE id = ?",
                               (token_id,)).fetchone()
            if row is None or (owner is not None and row[1] != owner):
                return None
            conn.execute("UPDATE tokens SET revoked = coalesce(revoked, ?) WHERE id = ?", (now_iso(), token_id))
        return TokenInfo(*row[:5], row[5] or now_iso())

    def token_user(self, secret: str) -> tuple[User, str] | None:
        """The user and token id of an active token, else None (unknown, revoked or expired alike)."""
        if not secret.startswith(TOKEN_PREFIX):
            return None
        row = self.conn.execute(
            "SELECT t.id, u.name, u.role FROM tokens t JOIN users u ON u.name = t.user "
            "WHERE t.hash = ? AND t.revoked IS NULL AND t.expires > ?", (_digest(secret), now_iso())).fetchone()
        return (self._user(row[1:]), row[0]) if row else None

    # --- sessions ----------------------------------------------------------------------------------
    def create_session(self, name: str, *, hours: float) -> tuple[str, str, str]:
        """A new session of ``name``: (secret for the cookie, CSRF token, expiry)."""
        secret, csrf, expires = secrets.token_urlsafe(32), secrets.token_urlsafe(24), _later(hours=hours)
        with self._transaction() as conn:
            conn.execute("DELETE FROM sessions WHERE expires <= ?", (now_iso(),))
            conn.execute("INSERT INTO sessions VALUES (?, ?, ?, ?, ?)", (_digest(secret), name, csrf, now_iso(), expires))
        return secret, csrf, expires

    def session_user(self, secret: str) -> tuple[User, str] | None:
        """The user and CSRF token of a live session, else None (unknown, forged or expired alike)."""
        row = self.conn.execute(
            "SELECT s.csrf, u.name, u.role FROM sessions s JOIN users u ON u.name = s.user "
            "WHERE s.hash = ? AND s.expires > ?", (_digest(secret), now_iso())).fetchone()
        return (self._user(row[1:]), row[0]) if row else None

    def end_session(self, secret: str) -> None:
        with self._transaction() as conn:
            conn.execute("DELETE FROM sessions WHERE hash = ?", (_digest(secret),))

    # --- internals ---------------------------------------------------------------------------------
    def _user(self, row: tuple[str, str]) -> User:
        grants = frozenset(r[0] for r in self.conn.execute("SELECT kb FROM grants WHERE user = ?", (row[0],)))
        return User(row[0], row[1], grants)  # type: ignore[arg-type]

    @staticmethod
    def _require(conn: sqlite3.Connection, name: str) -> None:
        if not conn.execute("SELECT 1 FROM users WHERE name = ?", (name,)).fetchone():
            raise AccessError(f"用户 {name[:60]} 不存在")


def _check_user_name(name: str) -> str:
    name = name.strip()
    if not 1 <= len(name) <= 64 or not all(ch.isalnum() or ch in "._-@" for ch in name):
        raise AccessError("用户名应为 1 到 64 个字母、数字或 . _ - @")
    return name


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise AccessError("角色应为 reader（读者）、editor（编辑）或 admin（管理员）")


def _check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_CHARS:
        raise AccessError(f"密码至少 {MIN_PASSWORD_CHARS} 个字符")
    if len(password) > 1024:
        raise AccessError("密码过长（最多 1024 个字符）")
    return password
