"""The ``zhiku`` command line: ingest, search, ask, serve, stats, check, eval, train-adapter.

Each subcommand is one function registered with :func:`command`; the registry adds the shared ``--kb``
option and the error handling, so adding a subcommand (e.g. ``eval``) means writing one decorated function.
Exit codes: 0 success, 1 the run failed (index errors, a failed check), 2 a usage error (bad arguments,
missing paths). User errors print one line to stderr, never a traceback.
"""
from __future__ import annotations

import argparse
import html
import re
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from pydantic import ValidationError

from index.answering.followup import answer_in_turn
from index.answering.grounded import extractive
from index.errors import ZhikuIndexError
from index.eval.run import run_eval, train_adapter
from index.eval.metrics import load_queries, split_queries
from index.kb import KnowledgeBase
from index.library import DEFAULT, Library, LibraryError
from index.settings import Settings
from service.access import cli as _access_commands  # noqa: F401  registers kb, user, token, audit
from service.answers import how_followed, source_line
from service.commands import (COMMAND_METAVAR, COMMANDS, JSON_FLAG, NAME_FLAG, ChineseParser, UsageError, arg, command,
                              print_json)
from service.errors import ApiError, describe_problem
from service.schemas import (NOT_FOUND_MESSAGE, RELATED_INTRO, AnswerResponse, AskParams, CheckOut, SearchParams,
                             SearchResponse, shown_date)

_MARK = re.compile(r"</?mark>")


@contextmanager
def _open(settings: Settings, name: str | None = None, *, create: bool = False) -> Iterator[KnowledgeBase]:
    """``with _open(settings, args.name) as kb:`` — the KB (default: the default one), closed however the
    command ends.

    Only ``ingest`` and ``serve`` create a missing data root; a read command on a mistyped ``--kb`` says so
    instead of quietly answering from a new, empty KB.
    """
    if not create and not Path(settings.kb).is_dir():
        raise UsageError(f"知识库不存在：{settings.kb}（先运行 zhiku ingest）")
    library = Library(settings)
    try:
        yield open_named(library, name)
    finally:
        library.close()


def open_named(library: Library, name: str | None) -> KnowledgeBase:
    try:
        return library.get(name or DEFAULT)
    except LibraryError as exc:
        raise UsageError(str(exc)) from None


# --- commands --------------------------------------------------------------------------------------
@command("ingest", "导入文件或目录：新增、更新，并删除已不存在的文件的文档；未变的文件跳过", NAME_FLAG,
         arg("paths", nargs="+", type=Path, metavar="PATH", help="文件或目录，可给多个"))
def ingest(args: argparse.Namespace, settings: Settings) -> int:
    missing = [str(p) for p in args.paths if not p.exists()]
    if missing:
        raise UsageError(f"路径不存在：{'、'.join(missing)}")
    with _open(settings, args.name, create=True) as kb:
        report = kb.ingest(args.paths, progress=True)
    print(f"新增 {report.added} · 更新 {report.updated} · 未变 {report.unchanged} · "
          f"删除 {report.removed} · 跳过 {len(report.skipped)} · 写入段落 {report.chunks_written}")
    for path, reason in report.skipped:
        print(f"  跳过 {path}：{reason}")
    return 0


@command("search", "检索知识库：列出最相关的段落及出处", NAME_FLAG,
         arg("query", help="问题或关键词"),
         arg("-k", type=int, default=10, help="最多列出几段（默认 10）"),
         arg("--type", action="append", default=[], metavar="TYPE",
             help="只检索这类文档，可重复：law 法律 · policy 政策 · case 案例 · report 报告 · other 其他"),
         arg("--method", choices=["hybrid", "bm25", "dense"], default="hybrid",
             help="检索方式：hybrid 关键词与向量结合（默认）· bm25 只用关键词 · dense 只用向量"),
         JSON_FLAG)
def search(args: argparse.Namespace, settings: Settings) -> int:
    params = SearchParams(q=args.query, k=args.k, type=args.type, method=args.method)
    query, k, filters = params.resolve(settings)
    with _open(settings, args.name) as kb:
        result = kb.search(query, k=k, filters=filters, method=params.method)
    response = SearchResponse.of(result, result.took_ms)
    if args.json:
        print_json(response.model_dump(mode="json"))
        return 0
    if not response.results:
        print(NOT_FOUND_MESSAGE)
        if response.related:
            print(RELATED_INTRO)
    elif response.order == "date":
        print(f"共 {response.total} 篇文档提到，按日期先后排列：")
    for i, hit in enumerate(response.results or response.related, 1):
        meta = " · ".join(x for x in (hit.doc_type, shown_date(hit.date, hit.date_precision), hit.source) if x)
        print(f"{i}. {hit.title}  [{meta}]  {hit.score:.3f}")
        if hit.heading:
            print(f"   {hit.heading}")
        print(f"   {_one_line(_plain(hit.snippet))}\n")
    return 0


@command("ask", "问答：从文档中摘录答案，每句附出处", NAME_FLAG,
         arg("query", help="问题"),
         arg("-k", type=int, default=5, help="从最相关的几段中摘录答案（默认 5）"),
         arg("--prev", metavar="QUESTION", help="上一个问题，用来理解追问（如：那女职工呢？）"),
         JSON_FLAG)
def ask(args: argparse.Namespace, settings: Settings) -> int:
    params = AskParams(q=args.query, k=args.k, prev=args.prev)
    query, k, filters = params.resolve(settings)
    with _open(settings, args.name) as kb:
        answer = answer_in_turn(query, params.previous(settings), lambda asked: kb.ask(asked, k=k, filters=filters))
    response = AnswerResponse.of(extractive(answer), query, answer.took_ms)
    if args.json:
        print_json(response.model_dump(mode="json"))
        return 0
    if followed := how_followed(response):
        print(f"（{followed}）")
    if response.message:
        print(response.message)
    for sentence in response.sentences:
        print(f"· {sentence.text}  —— {sentence.citation}")
    shown = response.passages if response.found and not response.sentences else response.related
    if response.related:
        print(RELATED_INTRO)
    for passage in shown:
        print(f"· {source_line(passage)}")
    return 0


@command("serve", "启动检索网页与 API 服务",
         arg("--host", default=None, help="监听地址（默认 ZHIKU_HOST，127.0.0.1）"),
         arg("--port", type=int, default=None, help="端口（默认 ZHIKU_PORT，8000）"))
def serve(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from service.api import create_app

    settings = settings.model_copy(update={k: v for k, v in (("host", args.host), ("port", args.port)) if v})
    library = Library(settings)
    try:
        library.get()  # before the server starts: a KB that cannot open is a one-line error
        print(f"知库 zhiku: http://{settings.host}:{settings.port}/", flush=True)
        uvicorn.run(create_app(settings, library), host=settings.host, port=settings.port, log_level="info")
    finally:
        library.close()
    return 0


@command("mcp", "MCP 服务：让 AI 助手检索知识库、问答和阅读原文", NAME_FLAG,
         arg("--http", action="store_true", help="以可流式 HTTP 提供服务（地址 /mcp），不加则用 stdio"),
         arg("--host", default=None, help="--http 的监听地址（默认 ZHIKU_HOST，127.0.0.1）"),
         arg("--port", type=int, default=None, help="--http 的端口（默认 ZHIKU_PORT，8000）"))
def mcp(args: argparse.Namespace, settings: Settings) -> int:
    from service.mcp_server import build_server

    settings = settings.model_copy(update={k: v for k, v in (("host", args.host), ("port", args.port)) if v})
    with _open(settings, args.name) as kb:
        kb.warm_up()  # as `serve` does: an assistant's first call would wait a second more than the next
        server = build_server(kb, settings)
        if args.http:
            print(f"知库 MCP: http://{settings.host}:{settings.port}/mcp", file=sys.stderr, flush=True)
            server.run("streamable-http", host=settings.host, port=settings.port)
        else:
            server.run("stdio")  # stdout is the protocol channel: nothing else may print there
    return 0


@command("stats", "知识库统计：文档、段落、向量数与所用模型", NAME_FLAG, JSON_FLAG)
def stats(args: argparse.Namespace, settings: Settings) -> int:
    with _open(settings, args.name) as kb:
        data = kb.stats()
    if args.json:
        print_json(data)
    else:
        for key, value in data.items():
            print(f"{STATS_LABELS.get(key, key)}：{value}")
    return 0


@command("check", "检查数据库、向量与关键词索引是否一致，可修复", NAME_FLAG,
         arg("--repair", action="store_true", help="修复发现的问题"),
         JSON_FLAG)
def check(args: argparse.Namespace, settings: Settings) -> int:
    with _open(settings, args.name) as kb:
        report = CheckOut.of(kb.check(repair=args.repair))
    if args.json:
        print_json(report.model_dump(mode="json"))
    else:
        print(f"文档 {report.documents} · 段落 {report.chunks} · 向量 {report.vectors} · "
              f"关键词索引 {report.keyword_rows} 行")
        for problem in report.problems:
            print(f"  问题：{problem}")
        for fix in report.repaired:
            print(f"  已修复：{fix}")
        if report.outdated:
            uploads = settings.kb / "uploads"
            where = f"（上传的文件在 {uploads}）" if uploads.is_dir() else ""
            print(f"  提示：{report.outdated} 篇文档是按旧版规则读入和分段的，"
                  f"再运行一次 zhiku ingest 即按现在的规则更新{where}")
        print("正常" if report.ok else "发现问题：可用 zhiku check --repair 修复")
    return 0 if report.ok else 1


BEIR_FILES = (
    arg("--corpus", type=Path, required=True, help="语料，JSONL，每行 {id,title,text}"),
    arg("--queries", type=Path, required=True, help="问题，JSONL，每行 {id,text}"),
    arg("--qrels", type=Path, required=True, help="相关性标注，TSV，首行为表头：query_id corpus_id score"),
)


def _query_subset(args: argparse.Namespace) -> list[str] | None:
    """Check the BEIR-style files exist; the query ids of ``--split`` (None = all)."""
    missing = [str(p) for p in (args.corpus, args.queries, args.qrels) if not p.is_file()]
    if missing:
        raise UsageError(f"文件不存在：{'、'.join(missing)}")
    if args.split == "all":
        return None
    tune, holdout = split_queries(load_queries(args.queries))
    return tune if args.split == "tune" else holdout


@command("eval", "评测检索质量（BEIR 格式的评测集）",
         *BEIR_FILES,
         arg("--split", choices=["all", "tune", "holdout"], default="all",
             help="用哪些问题：all 全部（默认）· tune 调参集 · holdout 留出集（按问题 id 固定划分）"),
         JSON_FLAG)
def evaluate(args: argparse.Namespace, settings: Settings) -> int:
    """Hybrid figures are the default search path exactly as users get it; bm25 and dense alone beside it."""
    results = run_eval(settings, args.corpus, args.queries, args.qrels, query_ids=_query_subset(args),
                       progress=True)
    if args.json:
        print_json(results)
        return 0
    print(f"{'方法':<6}{'hit@1':>8}{'recall@10':>11}{'mrr@10':>9}{'ndcg@10':>9}{'n':>7}")
    for method, m in results.items():
        print(f"{method:<8}{m['hit@1']:>8.3f}{m['recall@10']:>11.3f}{m['mrr@10']:>9.3f}{m['ndcg@10']:>9.3f}"
              f"{int(m['n']):>7}")
    return 0


@command("train-adapter", "用标注问题训练查询适配器（BEIR 格式的评测集）",
         *BEIR_FILES,
         arg("--split", choices=["all", "tune"], default="tune",
             help="用哪些问题训练：tune 调参集（默认，留出集留给 zhiku eval --split holdout）· all 全部"),
         arg("--out", type=Path, required=True, help="写出的适配器文件（.npz）"))
def train_adapter_command(args: argparse.Namespace, settings: Settings) -> int:
    """Then ``ZHIKU_QUERY_ADAPTER=<file> zhiku eval … --split holdout`` measures it on unseen questions."""
    adapter = train_adapter(settings, args.corpus, args.queries, args.qrels, query_ids=_query_subset(args),
                            progress=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    adapter.save(args.out)
    print(f"已写入 {args.out}：{adapter.embedder}，{adapter.info['queries']} 个问题，"
          f"{adapter.info['passages']} 个段落")
    return 0


STATS_LABELS = {"documents": "文档", "chunks": "段落", "doc_types": "各类文档", "disabled": "已停用的文档",
                "vectors": "向量", "embedder": "向量模型", "dim": "向量维数", "query_adapter": "查询适配器",
                "vector_store": "向量库", "generation": "索引版本"}


# --- entry point -----------------------------------------------------------------------------------
def _plain(snippet: str) -> str:
    """A card's snippet for the terminal: the window around the query's words (a passage's opening often
    holds none of them), without the page's <mark> tags and HTML escapes."""
    return html.unescape(_MARK.sub("", snippet))


def _one_line(text: str, width: int = 160) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[:width] + "…"


def build_parser() -> argparse.ArgumentParser:
    parser = ChineseParser(prog="zhiku", description="知库：离线的政策、法律法规与案例知识库",
                           epilog="每个命令的用法：zhiku 命令 --help")
    sub = parser.add_subparsers(title="命令", dest="command", required=True, metavar=COMMAND_METAVAR)
    for cmd in COMMANDS:
        p = sub.add_parser(cmd.name, help=cmd.help, description=cmd.help)
        p.add_argument("--kb", type=Path, default=None, metavar="DIR",
                       help="数据目录，默认知识库与其他知识库都在其中（默认 ZHIKU_KB 或 data/kb）")
        for flags, options in cmd.arguments:
            p.add_argument(*flags, **options)
        p.set_defaults(handler=cmd.handler)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = Settings(kb=args.kb) if args.kb else Settings()
        return args.handler(args, settings)
    except (UsageError, ApiError) as exc:
        print(f"zhiku: {exc}", file=sys.stderr)
        return 2
    except ValidationError as exc:  # a ZHIKU_* environment variable with an invalid value
        error = exc.errors()[0]
        name = "ZHIKU_" + "_".join(str(part) for part in error["loc"]).upper()
        print(f"zhiku: 配置无效：{name} {describe_problem(error)}", file=sys.stderr)
        return 2
    except (ZhikuIndexError, OSError) as exc:
        print(f"zhiku: 出错：{exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
