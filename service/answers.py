"""Answering one question, for every surface that answers (/api/ask, its stream, /v1/chat/completions, MCP).

The steps are always the same: run the search where the surface says (the HTTP API waits for a search slot)
and take the extractive answer (``KnowledgeBase.ask``) for the question read with the previous one (a
follow-up: ``answer_in_turn``), then — when an LLM is configured and something relevant was found — let it
write the answer from the same passages and check it. The LLM is awaited on the event loop, outside the
search slot: a slow LLM holds no core and no thread.
"""
from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import urlencode

from fastapi import Request

from index.answering.followup import answer_in_turn
from index.answering.grounded import GroundedAnswer, Generator, extractive, with_citations
from index.answering.llm import LlmClient
from index.kb import KnowledgeBase
from index.records import Answer
from index.settings import Settings
from service.access.auth import readable
from service.limits import in_search_slot
from service.schemas import HEADING_SEPARATOR, RELATED_INTRO, AnswerResponse, AskParams, HitOut

Runner = Callable[[Callable[[], Answer]], Awaitable[Answer]]  # runs the (blocking) search off the event loop


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


@dataclass(frozen=True)
class Answerer:
    kb_for: Callable[[str | None], KnowledgeBase]  # the KB a request names (kb=), checked for the caller
    settings: Settings
    generator: Generator | None  # None = extractive answers only
    run: Runner

    async def answer(self, params: AskParams) -> AnswerResponse:
        retrieved = await self._retrieve(params)
        answer = retrieved.answer
        grounded = await self.generator.answer(answer, answer.query) if self.generator else extractive(answer)
        return retrieved.response(grounded)

    async def events(self, params: AskParams) -> AsyncIterator[str]:
        """Server-sent events: ``delta`` with each piece of the LLM's text as it arrives, then ``answer`` with the
        whole checked response (the same JSON as /api/ask). Bad input raises before the first event."""
        retrieved = await self._retrieve(params)

        async def events() -> AsyncIterator[str]:
            answer = retrieved.answer
            if self.generator is None:
                yield _event("answer", retrieved.response(extractive(answer)).model_dump(mode="json"))
                return
            async for item in self.generator.stream(answer, answer.query):
                if isinstance(item, str):
                    yield _event("delta", {"text": item})
                else:
                    yield _event("answer", retrieved.response(item).model_dump(mode="json"))

        return events()

    async def _retrieve(self, params: AskParams) -> Retrieved:
        started = time.perf_counter()
        kb = self.kb_for(params.kb)
        question, k, filters = params.resolve(self.settings)
        previous = params.previous(self.settings)
        answer = await self.run(lambda: answer_in_turn(question, previous,
                                                       lambda query: kb.ask(query, k=k, filters=filters)))
        return Retrieved(question, answer, started)


def answerer(request: Request) -> Answerer:
    """The app's answerer for one HTTP request: its KB is one the caller may read, and its searches wait for
    one of the app's search slots."""
    state = request.app.state
    return Answerer(lambda name: readable(request, name), state.settings, state.generator,
                    lambda work: in_search_slot(request, work))


def _event(name: str, data: dict) -> str:
    return f"event: {name}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


def answer_text(response: AnswerResponse, base_url: str | None = None) -> str:
    """The answer as one text for chat clients and assistants: sentences with [n] marks, then the sources
    they cite — 《title》, heading and, given the server's ``base_url``, a link into the document."""
    followed = how_followed(response)
    searched = f"只检索了 {response.year} 年的文档" if response.year else None  # 2018年政府工作报告…, 今年的…
    if not response.found:
        weak = "\n".join(f"· {source_line(passage, base_url)}" for passage in response.related)
        read = "；".join(note for note in (followed, searched) if note)
        message = f"{response.message}（{read}）" if read else response.message or ""
        return f"{message}\n\n{RELATED_INTRO}\n{weak}" if weak else message
    notice = "".join(f"（{note}）\n\n" for note in (followed, searched, response.notice) if note)
    cited = sorted({n for claim in response.claims for n in claim.citations})
    sources = "\n".join(f"[{n}] {source_line(response.passages[n - 1], base_url)}" for n in cited)
    return f"{notice}{with_citations(response.claims)}\n\n来源：\n{sources}"


def how_followed(response: AnswerResponse) -> str | None:
    """How a follow-up was read (接着上一个问题，按“女职工的产假有几天”查找), None for a question asked as it is."""
    return f"接着上一个问题，按“{response.query}”查找" if response.query != response.question else None


def source_line(passage: HitOut, base_url: str | None = None) -> str:
    title = passage.title if "《" in passage.title else f"《{passage.title}》"
    heading = passage.heading.removeprefix(passage.title).removeprefix(HEADING_SEPARATOR)
    link = f" {base_url.rstrip('/')}/#/doc?{urlencode({'id': passage.doc_id, 'start': passage.start, 'end': passage.end})}" \
        if base_url else ""
    return f"{title}{' ' + heading if heading else ''}{link}"
