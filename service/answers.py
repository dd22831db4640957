"""Answering one question, for every surface that answers (/api/ask, its stream, /v1/chat/completions, MCP).

The steps are always the same: rewrite a follow-up with the previous question, wait for a search slot, take
the extractive answer (``KnowledgeBase.ask``), then — when an LLM is configured and something relevant was
found — let it write the answer from the same passages and check it. The LLM is awaited on the event loop,
outside the search slot: a slow LLM holds no core and no thread.
"""
from __future__ import annotations

import json
import time
from urllib.parse import urlencode
from collections.abc import AsyncIterator
from dataclasses import dataclass

from fastapi import Request

from index.answering.followup import rewrite
from index.answering.grounded import GroundedAnswer, Generator, extractive, with_citations
from index.answering.llm import LlmClient
from index.kb import KnowledgeBase
from index.models import Answer
from index.settings import Settings
from service.limits import in_search_slot
from service.schemas import HEADING_SEPARATOR, AnswerResponse, AskParams, HitOut


def make_generator(settings: Settings) -> Generator | None:
    """The LLM answer writer when ``ZHIKU_LLM_BASE_URL`` and ``ZHIKU_LLM_MODEL`` are set, else None (extractive)."""
    return Generator(LlmClient(settings)) if settings.llm_enabled else None


@dataclass(frozen=True)
class Retrieved:
    question: str  # as asked
    answer: Answer  # extractive, for the rewritten question
    started: float

    def response(self, grounded: GroundedAnswer) -> AnswerResponse:
        return AnswerResponse.of(grounded, self.question, (time.perf_counter() - self.started) * 1000)


async def _retrieve(request: Request, params: AskParams) -> Retrieved:
    started = time.perf_counter()
    settings: Settings = request.app.state.settings
    kb: KnowledgeBase = request.app.state.kb
    question, k, filters = params.resolve(settings)
    query = rewrite(question, params.previous(settings))
    answer = await in_search_slot(request, lambda: kb.ask(query, k=k, filters=filters))
    return Retrieved(question, answer, started)


async def answer_question(request: Request, params: AskParams) -> AnswerResponse:
    retrieved = await _retrieve(request, params)
    generator: Generator | None = request.app.state.generator
    answer = retrieved.answer
    grounded = await generator.answer(answer, answer.query) if generator else extractive(answer)
    return retrieved.response(grounded)


async def answer_events(request: Request, params: AskParams) -> AsyncIterator[str]:
    """Server-sent events: ``delta`` with each piece of the LLM's text as it arrives, then ``answer`` with the
    whole checked response (the same JSON as /api/ask). Bad input raises before the first event."""
    retrieved = await _retrieve(request, params)

    async def events() -> AsyncIterator[str]:
        generator: Generator | None = request.app.state.generator
        answer = retrieved.answer
        if generator is None:
            yield _event("answer", retrieved.response(extractive(answer)).model_dump(mode="json"))
            return
        async for item in generator.stream(answer, answer.query):
            if isinstance(item, str):
                yield _event("delta", {"text": item})
            else:
                yield _event("answer", retrieved.response(item).model_dump(mode="json"))

    return events()


def _event(name: str, data: dict) -> str:
    return f"event: {name}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


def answer_text(response: AnswerResponse, base_url: str) -> str:
    """The answer as one text for chat clients and assistants: sentences with [n] marks, then the sources
    they cite — 《title》, heading and a link into the document at the passage."""
    if not response.found:
        return response.message or ""
    notice = f"（{response.notice}）\n\n" if response.notice else ""
    cited = sorted({n for claim in response.claims for n in claim.citations})
    sources = "\n".join(f"[{n}] {_source(response.passages[n - 1], base_url)}" for n in cited)
    return f"{notice}{with_citations(response.claims)}\n\n来源：\n{sources}"


def _source(passage: HitOut, base_url: str) -> str:
    link = f"{base_url.rstrip('/')}/#/doc?{urlencode({'id': passage.doc_id, 'start': passage.start, 'end': passage.end})}"
    title = passage.title if "《" in passage.title else f"《{passage.title}》"
    heading = passage.heading.removeprefix(passage.title).removeprefix(HEADING_SEPARATOR)
    return f"{title}{' ' + heading if heading else ''} {link}"
