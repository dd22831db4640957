"""A real ``chroma run`` server for tests of the server mode, shared by tests/index and tests/reliability.

``chroma_server`` yields the URL; ``chroma_process`` is the handle to stop, start, pause and resume it,
for tests of outages and recovery. Each test gets its own server on a free port and its own data dir.
A plain module (``tests/`` is on ``sys.path`` through tests/conftest.py) that each package's conftest
imports the fixtures from.
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

START_TIMEOUT = 30.0  # seconds for the server to answer its heartbeat


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _chroma_cli() -> str:
    beside_python = Path(sys.executable).parent / "chroma"
    found = str(beside_python) if beside_python.exists() else shutil.which("chroma")
    if not found:
        pytest.fail("the `chroma` command (installed with chromadb) was not found next to the test's python")
    return found


class ChromaProcess:
    """One ``chroma run`` subprocess that can be stopped and restarted on the same path and port."""

    def __init__(self, path: Path, log_path: Path) -> None:
        self.path = path
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._log_path = log_path
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start the server and wait until it answers its heartbeat."""
        with self._log_path.open("ab") as log:
            self._proc = subprocess.Popen(
                [_chroma_cli(), "run", "--path", str(self.path), "--host", "127.0.0.1", "--port", str(self.port)],
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                pytest.fail(f"chroma run exited with {self._proc.returncode}:\n{self._log_path.read_text()[-2000:]}")
            try:
                httpx.get(f"{self.url}/api/v2/heartbeat", timeout=1.0).raise_for_status()
                return
            except httpx.HTTPError:
                time.sleep(0.2)
        self.stop()
        pytest.fail(f"chroma run did not answer within {START_TIMEOUT:.0f} s:\n{self._log_path.read_text()[-2000:]}")

    def stop(self) -> None:
        """Terminate the server (its whole process group) and wait for it to exit."""
        if self._proc is None:
            return
        self.resume()  # a stopped process cannot handle SIGTERM
        os.killpg(self._proc.pid, signal.SIGTERM)
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(self._proc.pid, signal.SIGKILL)
            self._proc.wait()
        self._proc = None

    def pause(self) -> None:
        """Freeze the server: connections are accepted by the kernel but never answered (a hung server)."""
        if self._proc is not None:
            os.killpg(self._proc.pid, signal.SIGSTOP)

    def resume(self) -> None:
        if self._proc is not None:
            os.killpg(self._proc.pid, signal.SIGCONT)


@pytest.fixture
def chroma_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChromaProcess]:
    base = tmp_path_factory.mktemp("chroma-server")
    server = ChromaProcess(base / "data", base / "chroma.log")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def chroma_server(chroma_process: ChromaProcess) -> str:
    """The URL of a running ``chroma run`` server."""
    return chroma_process.url
