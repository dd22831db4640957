"""zhiku as an MCP server for AI assistants: ``zhiku mcp --kb DIR`` (stdio) or ``--http`` (streamable HTTP).

Three tools with typed inputs and typed results: ``search`` (passages with their sources), ``ask`` (the same
answer as /api/ask — written by the configured LLM and checked, or extractive — with numbered sources) and
``get_document`` (a document's text, in pieces, for a source an assistant wants to read further). The tools
call the same code as the HTTP API, so errors carry the same Chinese messages.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import anyio
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import BaseModel, Field

from index.kb import KnowledgeBase
from index.settings import Settings
from service.answers import Answerer, answer_text, make_generator
from service.errors import ApiError
from service.schemas import AskParams, ClaimOut, HitOut, SearchParams, SearchResponse, YEAR_DESCRIPTION, shown_date

INSTRUCTIONS = ("知库：产业工人队伍建设改革政策、法律法规与案例的离线知识库。用 search 检索段落，用 ask 得到带编号出处的"
                "答案，用 get_document 阅读原文。引用时请保留出处。")
MAX_DOCUMENT_CHARS = 20_000
SHOWN_DATE = "日期，来源只给出年份或年月时只写年份（2018）或年月（2023-11）"


class Source(BaseModel):
    n: int = Field(description="编号，即答案中引用的 [n]")
    title: str
    heading: str
    doc_id: str = Field(description="文档编号，传给 get_document 可阅读原文")
    doc_type: str
    date: str | None = Field(description=SHOWN_DATE)
    text: str = Field(description="段落原文")

    @classmethod
    def of(cls, n: int, hit: HitOut) -> Source:
        return cls(n=n, title=hit.title, heading=hit.heading, doc_id=hit.doc_id, doc_type=hit.doc_type,
                   date=shown_date(hit.date, hit.date_precision), text=hit.text)


class SearchResult(BaseModel):
    query: str
    sources: list[Source]
    related: list[Source] = Field(description="没有段落达到相关度阈值时，相关度略低的段落，仅供参考（不是答案的出处）")
    year: int | None = Field(None, description=YEAR_DESCRIPTION)


class AskResult(BaseModel):
    answer: str = Field(description="答案（带 [n] 标注），其后是出处列表")
    found: bool
    generated: bool = Field(description="答案是否由大模型撰写（并已与出处核对）")
    notice: str | None
    claims: list[ClaimOut]
    sources: list[Source]
    year: int | None = Field(None, description=YEAR_DESCRIPTION)


class DocumentText(BaseModel):
    doc_id: str
    title: str
    doc_type: str
    date: str | None = Field(description=SHOWN_DATE)
    source: str | None
    start: int
    text: str
    total_chars: int
    next_start: int | None = Field(description="未读完时下一段的起点；读完时为 null")


@contextmanager
def user_errors() -> Iterator[None]:
    """A bad input (:class:`ApiError`) reaches the assistant as its message, so it can correct the call; any
    other failure stays a crash whose text the MCP server keeps to its log."""
    try:
        yield
    except ApiError as exc:
        raise ToolError(exc.message) from None


def build_server(kb: KnowledgeBase, settings: Settings) -> MCPServer:
    """The MCP server over an open KB; searches run in worker threads, the LLM on the event loop."""
    server = MCPServer(name="zhiku", instructions=INSTRUCTIONS)
    answering = Answerer(lambda _: kb, settings, make_generator(settings), anyio.to_thread.run_sync)

    @server.tool(description="检索知识库：返回最相关的段落及出处（每篇文档取最相关的段落）")
    async def search(query: Annotated[str, Field(description="问题或关键词")],
                     k: Annotated[int, Field(ge=1, le=20, description="结果数（1–20）")] = 5) -> SearchResult:
        with user_errors():
            found_query, found_k, filters = SearchParams(q=query, k=k).resolve(settings)
        result = await anyio.to_thread.run_sync(lambda: kb.search(found_query, k=found_k, filters=filters))
        response = SearchResponse.of(result, result.took_ms)
        return SearchResult(query=result.query, sources=[Source.of(n, hit) for n, hit in enumerate(response.results, 1)],
                            related=[Source.of(n, hit) for n, hit in enumerate(response.related, 1)],
                            year=response.year)

    @server.tool(description="问答：带编号出处的答案，每句已与出处核对")
    async def ask(question: Annotated[str, Field(description="问题")],
                  previous_question: Annotated[str | None, Field(
                      description="同一对话的上一个问题，用于理解追问（如：那女职工呢？）")] = None,
                  ) -> AskResult:
        with user_errors():
            response = await answering.answer(AskParams(q=question, prev=previous_question))
        return AskResult(answer=answer_text(response), found=response.found, generated=response.generated,
                         notice=response.notice, claims=response.claims,
                         sources=[Source.of(n, hit) for n, hit in enumerate(response.passages, 1)],
                         year=response.year)

    @server.tool(description=f"阅读文档原文：从 start 起，每次最多 {MAX_DOCUMENT_CHARS} 字")
    def get_document(doc_id: Annotated[str, Field(description="search 或 ask 结果中的 doc_id")],
                     start: Annotated[int, Field(ge=0, description="从第几个字符读起（从 0 起）；上一次的 next_start")] = 0) -> DocumentText:
        found = kb.document(doc_id, include_disabled=False)
        if found is None:
            raise ToolError(f"没有这篇文档：{doc_id[:200]}（doc_id 请取自 search 或 ask 的结果）")
        doc, _ = found
        end = min(len(doc.text), start + MAX_DOCUMENT_CHARS)
        return DocumentText(doc_id=doc.doc_id, title=doc.title, doc_type=doc.doc_type,
                            date=shown_date(doc.date, doc.date_precision),
                            source=doc.source, start=start, text=doc.text[start:end], total_chars=len(doc.text),
                            next_start=end if end < len(doc.text) else None)

    return server
