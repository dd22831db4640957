"""The organisation's own LLM behind an OpenAI-compatible API (vLLM, Ollama, Xinference), via LangChain.

Every failure becomes an :class:`LlmFailure` of a known kind, so the caller can always fall back to the
extractive answer: a question must never fail because the LLM is down, slow or odd. Failures are logged by
kind and exception type only — an exception's text may carry the request (and so, in some clients, headers),
and the API key must never reach a log, a response or an error.
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Sequence
from typing import Literal

import openai
from langchain_core.messages import BaseMessage
from langchain_openai import ChatOpenAI
from pydantic import SecretStr

from index.settings import Settings

log = logging.getLogger("zhiku.llm")

FailureKind = Literal["unavailable", "timeout", "refused", "invalid"]
NOTICES: dict[FailureKind, str] = {
    "unavailable": "大模型服务暂不可用，以下为从原文摘录的答案。",
    "timeout": "大模型响应超时，以下为从原文摘录的答案。",
    "refused": "大模型未能根据资料作答，以下为从原文摘录的答案。",
    "invalid": "大模型的回答无法与资料核对，以下为从原文摘录的答案。",
}
NO_KEY = SecretStr("none")  # local servers (Ollama, vLLM without --api-key) accept any key, the client wants one


class LlmFailure(Exception):
    """The LLM gave no usable answer; ``notice`` says so to the reader of the extractive fallback."""

    def __init__(self, kind: FailureKind) -> None:
        super().__init__(kind)
        self.kind = kind
        self.notice = NOTICES[kind]


class LlmClient:
    """``complete`` (one JSON response) and ``stream`` (server-sent chunks), both under one overall deadline."""

    def __init__(self, settings: Settings) -> None:
        self.timeout = settings.llm_timeout_seconds
        self._chat = ChatOpenAI(model=settings.llm_model, base_url=settings.llm_base_url,
                                api_key=settings.llm_api_key or NO_KEY, timeout=self.timeout, max_retries=0,
                                temperature=0.1)

    async def complete(self, messages: Sequence[BaseMessage]) -> str:
        try:
            reply = await asyncio.wait_for(self._chat.ainvoke(list(messages)), self.timeout)
        except Exception as exc:  # noqa: BLE001 - every failure is one of the kinds, see _failure
            raise _failure(exc) from None
        return reply.content if isinstance(reply.content, str) else ""

    async def stream(self, messages: Sequence[BaseMessage]) -> AsyncIterator[str]:
        """The reply's text pieces as the server sends them; the deadline covers the whole reply."""
        deadline = asyncio.get_running_loop().time() + self.timeout
        chunks = aiter(self._chat.astream(list(messages)))
        try:
            while True:
                remaining = deadline - asyncio.get_running_loop().time()
                try:
                    chunk = await asyncio.wait_for(anext(chunks), max(remaining, 0.001))
                except StopAsyncIteration:
                    return
                except Exception as exc:  # noqa: BLE001
                    raise _failure(exc) from None
                if isinstance(chunk.content, str) and chunk.content:
                    yield chunk.content
        finally:
            await chunks.aclose()


def _failure(exc: Exception) -> LlmFailure:
    timeout = isinstance(exc, (asyncio.TimeoutError, openai.APITimeoutError))
    failure = LlmFailure("timeout" if timeout else "unavailable")
    status = getattr(exc, "status_code", None)
    log.warning("LLM %s (%s%s): answering extractively", failure.kind, type(exc).__name__,
                f", HTTP {status}" if status else "")
    return failure
