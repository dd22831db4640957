"""A scripted OpenAI-compatible LLM server, run as its own process: ``python fake_llm.py PORT``.

It speaks the wire format zhiku meets with vLLM or Ollama — ``POST /v1/chat/completions`` answered as one
JSON ``chat.completion`` or, with ``stream: true``, as ``data:`` chunks ending in ``data: [DONE]`` — so zhiku's
real client code is what the tests run. A test scripts the next replies (``POST /script``) and reads what
zhiku sent (``GET /requests``). A reply is ``{"text": ..., "delay": s, "wire": "ok" | "broken"}``: ``{pN}`` in
the text becomes the first sentence of passage N of the prompt, so a script can quote what retrieval found;
``broken`` answers 200 with a body that is not the format. With no reply scripted it answers HTTP 500.
"""
from __future__ import annotations

import json
import re
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PASSAGE = re.compile(r"^\[(\d+)\] .*\n([^。；\n]+[。；]?)", re.M)
CHUNK_CHARS = 6  # pieces of the streamed reply, a few characters each like a real tokenizer's


class State:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.replies: list[dict] = []
        self.requests: list[dict] = []


STATE = State()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: object) -> None:  # keep the test output quiet
        return

    def _json(self, status: int, body: object) -> None:
        data = json.dumps(body, ensure_ascii=False).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> dict:
        return json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        with STATE.lock:
            self._json(200, {"requests": STATE.requests} if self.path == "/requests" else {"ok": True})

    def do_POST(self) -> None:  # noqa: N802
        body = self._body()
        if self.path == "/script":
            with STATE.lock:
                STATE.replies = list(body["replies"])
            return self._json(200, {"ok": True})
        if self.path != "/v1/chat/completions":
            return self._json(404, {"error": {"message": "not found"}})
        with STATE.lock:
            STATE.requests.append({"body": body, "authorization": self.headers.get("Authorization")})
            reply = STATE.replies.pop(0) if STATE.replies else None
        if reply is None:
            return self._json(500, {"error": {"message": "no reply scripted"}})
        time.sleep(reply.get("delay", 0))
        prompt = body["messages"][-1]["content"]
        quoted = {f"{{p{n}}}": first for n, first in PASSAGE.findall(prompt)}
        text = re.sub(r"\{p\d+\}", lambda m: quoted.get(m.group(0), ""), reply.get("text", ""))
        if reply.get("wire") == "broken":
            return self._json(200, {"unexpected": "<html>gateway error</html>"})
        if body.get("stream"):
            return self._stream(body["model"], text)
        return self._json(200, {"id": "chatcmpl-fake", "object": "chat.completion", "created": int(time.time()),
                                "model": body["model"],
                                "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                                             "finish_reason": "stop"}],
                                "usage": {"prompt_tokens": len(prompt), "completion_tokens": len(text),
                                          "total_tokens": len(prompt) + len(text)}})

    def _stream(self, model: str, text: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Connection", "close")
        self.end_headers()
        pieces = [{"role": "assistant", "content": ""}] + [{"content": text[i:i + CHUNK_CHARS]}
                                                           for i in range(0, len(text), CHUNK_CHARS)]
        for n, delta in enumerate(pieces + [{}]):
            chunk = {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": int(time.time()),
                     "model": model, "choices": [{"index": 0, "delta": delta,
                                                  "finish_reason": "stop" if n == len(pieces) else None}]}
            self.wfile.write(f"data: {json.dumps(chunk, ensure_ascii=False)}\n\n".encode())
            self.wfile.flush()
        self.wfile.write(b"data: [DONE]\n\n")
        self.wfile.flush()
        self.close_connection = True


if __name__ == "__main__":
    ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
