"""Accounts, tokens, sessions and login throttling on a real access.sqlite (service/access/)."""
from __future__ import annotations

import time
from pathlib import Path

import pytest

from service.access.people import AccessError, People
from service.access.throttle import MAX_WAIT_S, LoginThrottle

PASSWORD = "correct-horse-9"


@pytest.fixture()
def people(tmp_path: Path) -> People:
    return People(tmp_path / "access.sqlite")


def test_passwords_and_secrets_are_never_stored_as_given(people: People, tmp_path: Path) -> None:
    people.add_user("wang", PASSWORD, "editor")
    _, token = people.create_token("wang", days=30)
    session, _, _ = people.create_session("wang", hours=1)
    stored = (tmp_path / "access.sqlite").read_bytes() + (tmp_path / "access.sqlite-wal").read_bytes()
    for secret in (PASSWORD, token, session):
        assert secret.encode() not in stored
    assert b"$argon2id$" in stored


def test_login_checks(people: People) -> None:
    people.add_user("wang", PASSWORD, "reader")
    assert people.verify("wang", PASSWORD).role == "reader"
    assert people.verify("wang", "wrong-password") is None
    assert people.verify("nobody", PASSWORD) is None
    with pytest.raises(AccessError, match="至少 8 个字符"):
        people.add_user("li", "short", "reader")
    with pytest.raises(AccessError, match="已存在"):
        people.add_user("wang", PASSWORD, "reader")
    with pytest.raises(AccessError, match="角色"):
        people.add_user("zhao", PASSWORD, "boss")  # type: ignore[arg-type]


def test_tokens_expire_and_are_revoked(people: People) -> None:
    people.add_user("wang", PASSWORD, "editor")
    people.grant("wang", "minutes")
    info, token = people.create_token("wang", days=1, label="门户")
    user, token_id = people.token_user(token)
    assert (user.name, user.grants, token_id) == ("wang", frozenset({"minutes"}), info.id)
    assert people.token_user(token[:-1] + ("A" if token[-1] != "A" else "B")) is None
    assert people.revoke_token(info.id, owner="someone-else") is None  # only one's own, unless admin
    assert people.revoke_token(info.id, owner="wang").revoked
    assert people.token_user(token) is None and not people.tokens("wang")[0].active
    _, expiring = people.create_token("wang", days=1)
    people.conn.execute("UPDATE tokens SET expires = '2000-01-01T00:00:00+00:00'")
    assert people.token_user(expiring) is None


def test_sessions_expire_and_end_with_a_new_password_or_the_account(people: People) -> None:
    people.add_user("wang", PASSWORD, "reader")
    short, csrf, _ = people.create_session("wang", hours=1 / 3600)  # one second
    assert people.session_user(short) == (people.user("wang"), csrf)
    time.sleep(1.2)
    assert people.session_user(short) is None
    session, _, _ = people.create_session("wang", hours=1)
    people.set_password("wang", "another-password-1")
    assert people.session_user(session) is None
    session, _, _ = people.create_session("wang", hours=1)
    _, token = people.create_token("wang", days=5)
    people.delete_user("wang")
    assert people.session_user(session) is None and people.token_user(token) is None


def test_login_throttle_doubles_the_wait_and_a_success_clears_it() -> None:
    now = [1000.0]
    throttle = LoginThrottle(attempts=3, clock=lambda: now[0])
    for _ in range(3):
        assert throttle.wait("wang", "10.0.0.1") == 0
        throttle.failed("wang", "10.0.0.1")
    waits = []
    for _ in range(4):
        throttle.failed("wang", "10.0.0.1")
        waits.append(throttle.wait("wang", "10.0.0.1"))
    assert waits == [1, 2, 4, 8]
    assert throttle.wait("wang", "10.0.0.2") == 0 and throttle.wait("li", "10.0.0.1") == 0  # nobody else waits
    throttle.succeeded("wang", "10.0.0.1")
    assert throttle.wait("wang", "10.0.0.1") == 0
    for _ in range(40):
        throttle.failed("wang", "10.0.0.9")
    assert throttle.wait("wang", "10.0.0.9") == MAX_WAIT_S
