"""Knowledge bases and people on a real ``zhiku serve``: who may read and write what, and that nothing leaks.

The data root holds the session's public KB (laws, cases, the demo corpus) as its default KB and an internal
KB of real government work reports (every 4th of ../shared/corpus/reports). Accounts and tokens are made with
the real ``zhiku user`` and ``zhiku token`` commands. Every endpoint is tried as every kind of caller, and a
caller who may not read the reports must never see one — not a title, a doc_id, a count, or a different error.
"""
from __future__ import annotations

import re
import shutil
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from zhiku_live import API_KEY, KBs, Server, assert_error, run_zhiku, start_server, stop_server

INTERNAL = "reports"
MISSING = "nosuchkb"
PASSWORD = "correct-horse-9"
REPORT_QUERIES = ["政府工作报告", "国内生产总值增长", "五年计划", "人民代表大会", "经济建设", "财政赤字"]


@dataclass(frozen=True)
class Site:
    server: Server
    root: Path
    tokens: dict[str, str]  # caller name -> bearer token
    report_ids: list[str]
    report_titles: list[str]
    public_documents: int


def _zhiku(*args: str, env: dict[str, str], stdin: str | None = None) -> str:
    done = run_zhiku(*args, env=env, stdin=stdin)
    assert done.returncode == 0, f"zhiku {' '.join(args)} failed:\n{done.stderr[-2000:]}"
    return done.stdout


@pytest.fixture(scope="module")
def site(kbs: KBs, shared: Path, env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    root = tmp_path_factory.mktemp("access") / "data"
    shutil.copytree(kbs.copy, root)
    reports = tmp_path_factory.mktemp("reports")
    for path in sorted((shared / "corpus" / "reports").glob("*.txt"))[::4]:
        shutil.copy(path, reports / path.name)
    kb = ("--kb", str(root))
    _zhiku("kb", "create", INTERNAL, "--title", "政府工作报告（内部）", *kb, env=env)
    _zhiku("ingest", str(reports), "--name", INTERNAL, *kb, env=env)
    for name, role, grant in [("reader_none", "reader", None), ("reader_in", "reader", INTERNAL),
                              ("editor_none", "editor", None), ("editor_in", "editor", INTERNAL),
                              ("admin", "admin", None), ("gone", "reader", INTERNAL)]:
        _zhiku("user", "add", name, "--role", role, "--password-stdin", *kb, env=env, stdin=PASSWORD + "\n")
        if grant:
            _zhiku("user", "grant", name, grant, *kb, env=env)
    tokens = {name: _zhiku("token", "create", name, "--label", "test", *kb, env=env).strip()
              for name in ("reader_none", "reader_in", "editor_none", "editor_in", "admin", "gone")}
    tokens["expired"] = _zhiku("token", "create", "reader_in", *kb, env=env).strip()
    with sqlite3.connect(root / "access.sqlite") as conn:  # as if 90 days had passed
        conn.execute("UPDATE tokens SET expires = '2000-01-01T00:00:00+00:00' WHERE id = ?",
                     (tokens["expired"].split("_")[1],))
    tokens["revoked"] = tokens.pop("gone")
    _zhiku("token", "revoke", tokens["revoked"].split("_")[1], *kb, env=env)
    server = start_server(root, {**env, "ZHIKU_API_KEY": API_KEY, "ZHIKU_RATE_LIMIT_PER_MINUTE": "0"},
                          tmp_path_factory.mktemp("logs") / "access.log")
    try:
        admin = {"Authorization": f"Bearer {tokens['admin']}"}
        listed = httpx.get(f"{server.url}/api/documents", params={"kb": INTERNAL, "limit": 200}, headers=admin,
                           timeout=60).json()["documents"]
        public = httpx.get(f"{server.url}/api/documents", params={"limit": 1}, timeout=60).json()["total"]
        yield Site(server, root, tokens, [d["doc_id"] for d in listed], [d["title"] for d in listed], public)
    finally:
        stop_server(server)


@contextmanager
def _client(site: Site, caller: str) -> Iterator[httpx.Client]:
    """A client acting as ``caller``: anonymous, a token holder, a signed-in page, or one with a forged cookie."""
    with httpx.Client(base_url=site.server.url, timeout=120) as client:
        if caller in site.tokens:
            client.headers["Authorization"] = f"Bearer {site.tokens[caller]}"
        elif caller == "forged_cookie":
            client.cookies.set("zhiku_session", "forged-" + "x" * 40)
        elif caller.startswith("page:"):
            login = client.post("/api/login", json={"username": caller[5:], "password": PASSWORD})
            assert login.status_code == 200, login.text
            client.headers["X-CSRF-Token"] = login.json()["csrf_token"]
        yield client


def _reads(kb: str, doc_id: str) -> list[tuple[str, str, dict]]:
    """(method, path, params or JSON body) of every read that names a KB."""
    return [("GET", "/api/search", {"q": "工作报告", "kb": kb}),
            ("POST", "/api/search", {"json": {"q": "工作报告", "kb": kb}}),
            ("GET", "/api/ask", {"q": "政府工作报告提出了什么目标", "kb": kb}),
            ("GET", "/api/ask/stream", {"q": "政府工作报告提出了什么目标", "kb": kb}),
            ("GET", "/api/suggest", {"q": "政府", "kb": kb}),
            ("GET", "/api/examples", {"kb": kb}),
            ("GET", "/api/documents", {"kb": kb}),
            ("GET", f"/api/documents/{doc_id}", {"kb": kb}),
            ("GET", "/api/cases", {"kb": kb}),
            ("GET", "/api/cases", {"q": "报告", "kb": kb})]


def _call(client: httpx.Client, method: str, path: str, spec: dict) -> httpx.Response:
    spec = dict(spec)
    body = spec.pop("json", None)
    return client.request(method, path, params=spec, json=body)


READ_OUTCOME = {  # caller -> status when reading the internal KB
    "anonymous": 401, "forged_cookie": 401, "reader_none": 404, "editor_none": 404, "page:reader_none": 404,
    "reader_in": 200, "editor_in": 200, "admin": 200, "page:reader_in": 200,
}


@pytest.mark.parametrize("caller", list(READ_OUTCOME))
def test_reading_the_internal_kb_is_for_those_granted_and_the_refusal_says_nothing(site: Site, caller: str) -> None:
    doc_id = site.report_ids[0]
    with _client(site, caller) as client:
        for (method, path, spec), (_, missing_path, missing_spec) in zip(_reads(INTERNAL, doc_id),
                                                                         _reads(MISSING, doc_id)):
            response = _call(client, method, path, spec)
            assert response.status_code == READ_OUTCOME[caller], (caller, path, response.text[:300])
            if response.status_code != 200:
                error = assert_error(response, READ_OUTCOME[caller])
                missing = assert_error(_call(client, method, missing_path, missing_spec), READ_OUTCOME[caller])
                # refused exactly as a KB that does not exist: same status, code and words
                assert error["code"] == missing["code"]
                assert error["message"].replace(INTERNAL, "X") == missing["message"].replace(MISSING, "X")


@pytest.mark.parametrize("caller", ["anonymous", "forged_cookie", "reader_none", "editor_none", "page:reader_none"])
def test_a_caller_without_the_reports_never_sees_one(site: Site, caller: str) -> None:
    """Public reads, the lists and counts, with questions only the reports could answer."""
    with _client(site, caller) as client:
        texts = []
        for q in REPORT_QUERIES:
            texts.append(client.get("/api/search", params={"q": q, "k": 50}).text)
            texts.append(client.get("/api/ask", params={"q": q}).text)
            texts.append(client.get("/api/suggest", params={"q": q[:2]}).text)
            texts.append(client.post("/v1/chat/completions",
                                     json={"model": "zhiku", "messages": [{"role": "user", "content": q}]}).text)
        kbs = client.get("/api/kbs").json()["kbs"]
        assert [kb["name"] for kb in kbs] == ["default"]
        assert [m["id"] for m in client.get("/v1/models").json()["data"]] == ["zhiku"]
        health = client.get("/api/health").json()
        assert health["kbs"] == 1 and health["documents"] == site.public_documents
        metrics = client.get("/metrics").text
        assert f"zhiku_documents {site.public_documents}\n" in metrics
        texts += [client.get("/api/cases").text, client.get("/api/documents", params={"limit": 200}).text,
                  str(kbs), metrics]
        # a report's doc_id asked of the public KB: not found, as any other unknown id
        assert_error(client.get(f"/api/documents/{site.report_ids[0]}"), 404, "document_not_found")
    everything = "\n".join(texts)
    leaked = [t for t in site.report_titles + site.report_ids if t in everything]
    assert not leaked, leaked[:5]
    assert "政府工作报告（内部）" not in everything and INTERNAL not in everything


def test_readers_granted_the_reports_find_them_there_and_only_there(site: Site) -> None:
    with _client(site, "reader_in") as client:
        kbs = {kb["name"]: kb for kb in client.get("/api/kbs").json()["kbs"]}
        assert set(kbs) == {"default", INTERNAL} and not kbs[INTERNAL]["writable"]
        assert kbs[INTERNAL]["documents"] == len(site.report_ids)
        hits = client.get("/api/search", params={"q": "政府工作报告 国内生产总值", "kb": INTERNAL}).json()["results"]
        assert hits and all(h["doc_id"] in site.report_ids for h in hits)
        public = client.get("/api/search", params={"q": "政府工作报告 国内生产总值", "k": 50}).json()["results"]
        assert not any(h["doc_id"] in site.report_ids for h in public)  # without kb= the default KB answers
        assert client.get("/api/health").json()["kbs"] == 2
        assert {m["id"] for m in client.get("/v1/models").json()["data"]} == {"zhiku", INTERNAL}
        chat = client.post("/v1/chat/completions", json={"model": INTERNAL, "messages": [
            {"role": "user", "content": "政府工作报告提出的经济增长目标是多少"}]})
        assert chat.status_code == 200 and chat.json()["choices"][0]["message"]["content"]


WRITE_OUTCOME = {  # caller -> (status writing the internal KB, status writing the public default KB)
    "anonymous": (401, 401), "forged_cookie": (401, 401), "reader_none": (404, 403), "reader_in": (403, 403),
    "editor_none": (404, 403), "editor_in": (200, 403), "admin": (200, 200), "page:editor_in": (200, 403),
}


@pytest.mark.parametrize("caller", list(WRITE_OUTCOME))
def test_writes_need_an_editor_granted_the_kb(site: Site, caller: str) -> None:
    internal, public = WRITE_OUTCOME[caller]
    name = f"note-{caller.replace(':', '-')}.txt"
    with _client(site, caller) as client:
        for kb, expected in ((INTERNAL, internal), ("default", public)):
            upload = client.post("/api/documents", params={"kb": kb},
                                 files={"files": (name, "关于职工书屋建设的通知\n\n各单位要建好职工书屋。".encode())})
            assert upload.status_code == expected, (caller, kb, upload.text[:300])
            patch = client.patch(f"/api/documents/{name}", params={"kb": kb}, json={"enabled": False})
            delete = client.delete(f"/api/documents/{name}", params={"kb": kb})
            assert (patch.status_code, delete.status_code) == (expected, expected), (caller, kb, patch.text)
            if expected == 200:
                assert upload.json()["files"] == [{"name": name, "status": "added", "reason": None,
                                                   "doc_ids": [name]}]


def test_page_writes_need_the_csrf_token(site: Site) -> None:
    with _client(site, "page:editor_in") as client:
        token = client.headers.pop("X-CSRF-Token")
        refused = client.post("/api/documents", params={"kb": INTERNAL}, files={"files": ("c.txt", "职工之家".encode())})
        assert_error(refused, 403, "csrf_failed")
        assert_error(client.post("/api/logout"), 403, "csrf_failed")
        assert client.post("/api/logout", headers={"X-CSRF-Token": token}).status_code == 200
        assert client.get("/api/me").json()["user"] is None  # the session is over on the server too
        assert_error(client.get("/api/search", params={"q": "报告", "kb": INTERNAL}), 401, "login_required")


@pytest.mark.parametrize("caller", ["expired", "revoked"])
def test_dead_tokens_are_refused_everywhere(site: Site, caller: str) -> None:
    with _client(site, caller) as client:
        for method, path, spec in [*_reads("default", "x"), ("GET", "/api/kbs", {}), ("GET", "/api/health", {}),
                                   ("GET", "/v1/models", {}), ("DELETE", "/api/documents/x", {})]:
            assert_error(_call(client, method, path, spec), 401, "invalid_token")


def test_upload_overrides_and_the_case_view(site: Site) -> None:
    """An uploaded case report says what it is: it shows under 案例 with its figures."""
    text = ("某机车车辆公司工会开展“金牌工人”培养计划。\n\n"
            "2024年公司组织技能培训班12期，培训一线职工860人次，新增高级技师35名。").encode()
    with _client(site, "editor_in") as client:
        done = client.post("/api/documents", params={"kb": INTERNAL}, files={"files": ("jp.txt", text)},
                           data={"doc_type": "case", "title": "某机车车辆公司培养金牌工人", "date": "2024-08-01",
                                 "source": "某机车车辆公司工会"})
        assert done.status_code == 200, done.text
        doc = client.get("/api/documents/jp.txt", params={"kb": INTERNAL}).json()
        assert (doc["title"], doc["doc_type"], doc["date"], doc["source"]) == (
            "某机车车辆公司培养金牌工人", "case", "2024-08-01", "某机车车辆公司工会")
        case = next(c for c in client.get("/api/cases", params={"kb": INTERNAL}).json()["cases"]
                    if c["doc_id"] == "jp.txt")
        assert case["year"] == 2024 and {"12", "860", "35"} <= {f["value"] for f in case["facts"]}
        assert_error(client.post("/api/documents", params={"kb": INTERNAL}, files={"files": ("x.txt", text)},
                                 data={"doc_type": "memo"}), 422, "unknown_type")
        client.delete("/api/documents/jp.txt", params={"kb": INTERNAL})


def test_a_batch_where_every_file_fails_is_a_4xx_and_a_mixed_one_says_per_file(site: Site) -> None:
    with _client(site, "editor_in") as client:
        failed = client.post("/api/documents", params={"kb": INTERNAL},
                             files=[("files", ("fake.pdf", b"MZ\x90\x00 not a pdf")), ("files", ("empty.txt", b""))])
        error = assert_error(failed, 422, "upload_failed")
        assert "fake.pdf" in error["message"] and "empty.txt" in error["message"]
        mixed = client.post("/api/documents", params={"kb": INTERNAL},
                            files=[("files", ("ok.txt", "职工书屋管理办法\n\n书屋每周开放五天。".encode())),
                                   ("files", ("fake.pdf", b"%PDF-1.7 broken"))])
        assert mixed.status_code == 200, mixed.text
        outcome = {f["name"]: f for f in mixed.json()["files"]}
        assert outcome["ok.txt"]["status"] == "added" and outcome["fake.pdf"]["status"] == "failed"
        assert re.search(r"[\u4e00-\u9fff]", outcome["fake.pdf"]["reason"])
        client.delete("/api/documents/ok.txt", params={"kb": INTERNAL})


def test_a_disabled_document_is_kept_but_not_searched(site: Site) -> None:
    doc_id, title = site.report_ids[1], site.report_titles[1]
    with _client(site, "editor_in") as editor, _client(site, "reader_in") as reader:
        def found() -> bool:
            hits = reader.get("/api/search", params={"q": title, "kb": INTERNAL, "k": 50}).json()["results"]
            return any(h["doc_id"] == doc_id for h in hits)

        assert found()
        assert editor.patch(f"/api/documents/{doc_id}", params={"kb": INTERNAL}, json={"enabled": False}).json() == \
            {"doc_id": doc_id, "enabled": False}
        try:
            assert not found()
            assert_error(reader.get(f"/api/documents/{doc_id}", params={"kb": INTERNAL}), 404, "document_not_found")
            assert editor.get(f"/api/documents/{doc_id}", params={"kb": INTERNAL}).json()["enabled"] is False
            listed = {d["doc_id"]: d["enabled"] for d in
                      editor.get("/api/documents", params={"kb": INTERNAL, "limit": 200}).json()["documents"]}
            assert listed[doc_id] is False
            assert doc_id not in reader.get("/api/documents", params={"kb": INTERNAL, "limit": 200}).text
        finally:
            editor.patch(f"/api/documents/{doc_id}", params={"kb": INTERNAL}, json={"enabled": True})
        assert found()


def test_login_is_throttled_and_every_login_and_write_is_audited(site: Site, env: dict[str, str]) -> None:
    with httpx.Client(base_url=site.server.url, timeout=60) as client:
        statuses = [client.post("/api/login", json={"username": "reader_in", "password": "wrong-password"}).status_code
                    for _ in range(7)]
        assert statuses[:5] == [401] * 5 and statuses[-1] == 429, statuses
        throttled = client.post("/api/login", json={"username": "reader_in", "password": PASSWORD})
        assert_error(throttled, 429, "login_throttled")  # even the right password waits its turn
        assert int(throttled.headers["retry-after"]) >= 1
    with _client(site, "admin") as admin, _client(site, "reader_in") as reader:
        entries = admin.get("/api/audit", params={"limit": 500}).json()["entries"]
        actions = {(e["actor"], e["action"], e["ok"]) for e in entries}
        assert ("reader_in", "login", False) in actions and ("reader_none", "login", True) in actions
        assert ("editor_in", "upload", True) in actions and ("editor_in", "disable", True) in actions
        assert all(e["address"] == "127.0.0.1" for e in entries if e["actor"] == "editor_in")
        assert_error(reader.get("/api/audit"), 403, "admin_only")
    assert_error(httpx.get(f"{site.server.url}/api/audit", timeout=30), 401, "login_required")
    cli = run_zhiku("audit", "--json", "--action", "kb.create", "--kb", str(site.root), env=env)
    assert cli.returncode == 0 and f'"kb": "{INTERNAL}"' in cli.stdout


def test_admins_manage_kbs_and_people_manage_their_tokens(site: Site) -> None:
    with _client(site, "admin") as admin, _client(site, "editor_none") as editor:
        assert_error(editor.post("/api/kbs", json={"name": "minutes"}), 403, "admin_only")
        made = admin.post("/api/kbs", json={"name": "minutes", "title": "职代会纪要", "visibility": "internal"})
        assert made.status_code == 201, made.text
        assert_error(admin.post("/api/kbs", json={"name": "minutes"}), 409, "bad_kb")
        assert_error(admin.post("/api/kbs", json={"name": "Bad Name!"}), 422)
        assert "minutes" not in editor.get("/api/kbs").text
        assert admin.delete("/api/kbs/minutes").json() == {"name": "minutes", "deleted": True}
        created = editor.post("/api/tokens", json={"label": "门户", "days": 1})
        assert created.status_code == 201 and created.json()["token"].startswith("zk_")
        secret, token_id = created.json()["token"], created.json()["id"]
        assert httpx.get(f"{site.server.url}/api/me", headers={"Authorization": f"Bearer {secret}"},
                         timeout=30).json()["user"] == "editor_none"
        assert editor.delete(f"/api/tokens/{token_id}").json()["active"] is False
        assert_error(httpx.get(f"{site.server.url}/api/me", headers={"Authorization": f"Bearer {secret}"},
                               timeout=30), 401, "invalid_token")
        listed = editor.get("/api/tokens").json()["tokens"]
        assert all(t["user"] == "editor_none" for t in listed) and "token" not in listed[0]


def test_a_server_where_every_read_needs_a_login(env: dict[str, str], tmp_path: Path) -> None:
    """ZHIKU_READ_REQUIRES_KEY: not even the public default KB is read anonymously; a reader's token reads it."""
    from zhiku_live import REPO

    root = tmp_path / "closed"
    _zhiku("ingest", str(REPO / "corpus" / "policies"), "--kb", str(root), env=env)
    _zhiku("user", "add", "staff", "--role", "reader", "--password-stdin", "--kb", str(root), env=env,
           stdin=PASSWORD + "\n")
    token = _zhiku("token", "create", "staff", "--kb", str(root), env=env).strip()
    server = start_server(root, {**env, "ZHIKU_READ_REQUIRES_KEY": "true"}, tmp_path / "closed.log")
    try:
        with httpx.Client(base_url=server.url, timeout=60) as anonymous:
            error = assert_error(anonymous.get("/api/search", params={"q": "技能人才"}), 401, "login_required")
            assert error["message"].startswith("请先登录")
            assert anonymous.get("/api/kbs").json() == {"kbs": []}
            assert anonymous.get("/api/health").json()["documents"] == 0
            assert anonymous.get("/v1/models").json()["data"] == []
        with httpx.Client(base_url=server.url, timeout=60, headers={"Authorization": f"Bearer {token}"}) as staff:
            assert staff.get("/api/search", params={"q": "技能人才"}).json()["results"]
    finally:
        stop_server(server)
