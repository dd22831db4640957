"""Answers with their claims: the extractive answer as claims, or an LLM's answer checked claim by claim.

Both kinds share one shape (:class:`GroundedAnswer`) so every surface — /api/ask, the page, the OpenAI
endpoint, MCP — renders one thing. The passages of the extractive :class:`~index.records.Answer` are the
numbered sources: citation n is ``answer.passages[n - 1]``, for the LLM's claims and the extractive ones alike.
"""
from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Protocol

from index.answering import prompt
from index.answering.claims import Claim, split_claims
from index.answering.extract import starts_item
from index.answering.llm import LlmClient, LlmFailure
from index.records import Answer, AnswerSentence, Hit

UNSUPPORTED_MARK = "（未经资料证实）"


@dataclass(frozen=True)
class GroundedAnswer:
    answer: Answer  # the extractive answer: its passages are the numbered sources
    text: str  # what a person reads
    claims: list[Claim]
    generated: bool  # True when an LLM wrote ``text``
    notice: str | None = None  # why an LLM answer was wanted but the extractive one is given


def extractive(answer: Answer, notice: str | None = None) -> GroundedAnswer:
    """The extractive sentences as claims, each citing the passage it was quoted from (supported by definition)."""
    claims = [Claim(s.text, (_source_of(s, answer.passages),), True) for s in answer.sentences]
    return GroundedAnswer(answer, _lines([s.text for s in answer.sentences]), claims, False, notice)


def _lines(pieces: Sequence[str]) -> str:
    """Sentences as running text, each list item on a line of its own (职代会的职权：\n1. …\n2. …), and what
    follows an item on a new line too (another law's 第四十一条 after 工会法's （二）)."""
    return "".join(("\n" if i and (starts_item(piece) or starts_item(pieces[i - 1])) else "") + piece
                   for i, piece in enumerate(pieces))


def _source_of(sentence: AnswerSentence, passages: Sequence[Hit]) -> int:
    """The number of the passage a sentence was quoted from: the one of its document that holds its span.

    A document often gives several passages (职代会's 职权 and 职工董事 sections); numbering by document cited
    the last of them, with its heading and link, for a sentence of the first.
    """
    mine = [(n, hit) for n, hit in enumerate(passages, 1) if hit.doc_id == sentence.doc_id]
    return next((n for n, hit in mine if hit.start <= sentence.start and sentence.end <= hit.end), mine[0][0])


class ClaimLike(Protocol):
    """A :class:`Claim`, or its API form: what :func:`with_citations` reads."""

    @property
    def text(self) -> str: ...
    @property
    def citations(self) -> Sequence[int]: ...
    @property
    def supported(self) -> bool: ...


def with_citations(claims: Sequence[ClaimLike]) -> str:
    """Claims as running text with their [n] marks (a list item on its own line); an unsupported one is marked."""
    return _lines([c.text + "".join(f"[{n}]" for n in c.citations) + ("" if c.supported else UNSUPPORTED_MARK)
                  for c in claims])


def checked(answer: Answer, reply: str) -> GroundedAnswer:
    """The LLM's reply as checked claims, or :class:`LlmFailure` when it declined or nothing in it holds."""
    claims = split_claims(reply, [hit.text for hit in answer.passages])
    cites_nothing = not any(c.citations for c in claims)
    if cites_nothing and prompt.is_refusal(reply):
        raise LlmFailure("refused")
    if not any(c.supported for c in claims):
        raise LlmFailure("invalid")
    return GroundedAnswer(answer, with_citations(claims), claims, True)


class Generator:
    """Writes answers from the top passages with the configured LLM; never raises for the LLM's failures."""

    def __init__(self, client: LlmClient) -> None:
        self.client = client

    async def answer(self, answer: Answer, question: str) -> GroundedAnswer:
        if not answer.found:  # nothing relevant: the LLM is not asked to make something up
            return extractive(answer)
        try:
            return checked(answer, await self.client.complete(prompt.messages(question, answer.passages)))
        except LlmFailure as failure:
            return extractive(answer, failure.notice)

    async def stream(self, answer: Answer, question: str) -> AsyncIterator[str | GroundedAnswer]:
        """The reply's text pieces as they arrive, then the checked (or fallback) answer as the last item."""
        if not answer.found:
            yield extractive(answer)
            return
        pieces: list[str] = []
        try:
            async for piece in self.client.stream(prompt.messages(question, answer.passages)):
                pieces.append(piece)
                yield piece
            yield checked(answer, "".join(pieces))
        except LlmFailure as failure:
            yield extractive(answer, failure.notice)
