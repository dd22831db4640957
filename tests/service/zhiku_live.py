"""Helpers for the live-server tests: running ``zhiku`` as a subprocess, starting servers, checking errors.

A plain module rather than conftest so that test modules can import its constants for parametrisation.
Tests talk HTTP to real ``zhiku serve`` processes: no TestClient, no mocks.
"""
from __future__ import annotations

import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

REPO = Path(__file__).resolve().parents[2]
API_KEY = "test-key-4b1d9e"
MAX_UPLOAD_BYTES = 64 * 1024
MAX_UPLOAD_FILES = 3
MAX_K = 50
SERVER_START_TIMEOUT = 180.0
LLM_KEY = "sk-llm-secret-7f3a9c"  # the LLM server's key: must never appear in zhiku's logs or answers
LLM_MODEL = "qwen-fake"
LLM_TIMEOUT_S = 2.0
# passage 1 quoted (supported), an invented figure (unsupported), a citation of a passage never given (dropped)
HALLUCINATING_REPLY = "{p1}[1]。企业每年还须向每名职工发放5000元工会福利[1]。该规定自2030年起施行[9]。"


def zhiku_command() -> list[str]:
    """The installed console script when present (what users run), else the module."""
    script = Path(sys.executable).with_name("zhiku")
    return [str(script)] if script.exists() else [sys.executable, "-m", "service.cli"]


def run_zhiku(*args: str, env: dict[str, str], timeout: float = 600,
              stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*zhiku_command(), *args], env=env, input=stdin, capture_output=True, text=True,
                          timeout=timeout, cwd=REPO)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass(frozen=True)
class KBs:
    primary: Path  # the one the main server serves (and writes to)
    copy: Path  # a snapshot for in-process readers
    ingest_output: str  # stdout of the building `zhiku ingest`


@dataclass(frozen=True)
class Server:
    url: str
    process: subprocess.Popen
    log: Path


def start_server(kb: Path, env: dict[str, str], log: Path) -> Server:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with log.open("w") as out:
        process = subprocess.Popen([*zhiku_command(), "serve", "--kb", str(kb), "--port", str(port)],
                                   env=env, stdout=out, stderr=subprocess.STDOUT, cwd=REPO)
    deadline = time.monotonic() + SERVER_START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"zhiku serve exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(f"{url}/api/health", timeout=2).status_code == 200:
                return Server(url, process, log)
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    process.terminate()
    pytest.fail(f"zhiku serve did not answer /api/health within {SERVER_START_TIMEOUT:.0f} s:\n{log.read_text()[-3000:]}")


def stop_server(server: Server) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()


def wait_until_answering(url: str, process: subprocess.Popen, timeout: float = 120) -> None:
    """Until ``url`` answers at all (any status), or fail the test when ``process`` exits or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    pytest.fail(f"{url} did not answer (process exit code {process.poll()})")


class FakeLlm:
    """The scripted OpenAI-compatible server of ``fake_llm.py`` as a separate process on a fixed port."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen([sys.executable, str(Path(__file__).with_name("fake_llm.py")), str(self.port)])
        wait_until_answering(self.url + "/requests", self.process, timeout=20)

    def stop(self) -> None:
        """Down: the port is closed, as when the organisation's LLM server is stopped."""
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None

    def script(self, *replies: dict) -> None:
        httpx.post(self.url + "/script", json={"replies": list(replies)}, timeout=5).raise_for_status()

    def requests(self) -> list[dict]:
        return httpx.get(self.url + "/requests", timeout=5).json()["requests"]


def assert_error(response: httpx.Response, status: int, code: str | None = None) -> dict:
    """The response is the API's error shape with this status (and code); returns the error object."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}, body
    assert body["error"]["message"].strip()
    assert "Traceback" not in response.text and "/work/" not in response.text and "/tmp/" not in response.text
    if code is not None:
        assert body["error"]["code"] == code, body
    return body["error"]
