"""The ``zhiku`` command line: ingest, search, ask, serve, stats, check, eval, train-adapter.

Each subcommand is one function registered with :func:`command`; the registry adds the shared ``--kb``
option and the error handling, so adding a subcommand (e.g. ``eval``) means writing one decorated function.
Exit codes: 0 success, 1 the run failed (index errors, a failed check), 2 a usage error (bad arguments,
missing paths). User errors print one line to stderr, never a traceback.
"""
from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from pydantic import ValidationError

from index.answering.grounded import extractive
from index.errors import ZhikuIndexError
from index.eval.run import run_eval, train_adapter
from index.eval.metrics import load_queries, split_queries
from index.kb import KnowledgeBase
from index.library import DEFAULT, Library, LibraryError
from index.settings import Settings
from service.access import cli as _access_commands  # noqa: F401  registers kb, user, token, audit
from service.commands import COMMANDS, JSON_FLAG, NAME_FLAG, UsageError, arg, command, print_json
from service.errors import ApiError
from service.schemas import AnswerResponse, AskParams, CheckOut, SearchParams, SearchResponse

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
@command("ingest", "导入文件或目录 / ingest files or folders", NAME_FLAG,
         arg("paths", nargs="+", type=Path, metavar="PATH", help="文件或目录 / files or folders"))
def ingest(args: argparse.Namespace, settings: Settings) -> int:
    missing = [str(p) for p in args.paths if not p.exists()]
    if missing:
        raise UsageError(f"路径不存在 / path not found: {', '.join(missing)}")
    with _open(settings, args.name, create=True) as kb:
        report = kb.ingest(args.paths, progress=True)
    print(f"新增 added {report.added} · 更新 updated {report.updated} · 未变 unchanged {report.unchanged} · "
          f"删除 removed {report.removed} · 跳过 skipped {len(report.skipped)} · 段落 chunks {report.chunks_written}")
    for path, reason in report.skipped:
        print(f"  跳过 skipped {path}: {reason}")
    return 0


@command("search", "检索 / search the knowledge base", NAME_FLAG,
         arg("query", help="问题或关键词 / question or keywords"),
         arg("-k", type=int, default=10, help="结果数 / number of results (default 10)"),
         arg("--type", action="append", default=[], metavar="TYPE",
             help="文档类型，可重复 / document type, repeatable: law policy case report other"),
         arg("--method", choices=["hybrid", "bm25", "dense"], default="hybrid", help="检索方式 / retrieval method"),
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
        print("未找到相关内容 / nothing found")
    for i, hit in enumerate(response.results, 1):
        meta = " · ".join(x for x in (hit.doc_type, hit.date, hit.source) if x)
        print(f"{i}. {hit.title}  [{meta}]  {hit.score:.3f}")
        if hit.heading:
            print(f"   {hit.heading}")
        print(f"   {_one_line(hit.text)}\n")
    return 0


@command("ask", "问答：从文档中摘录答案 / extractive answer with citations", NAME_FLAG,
         arg("query", help="问题 / question"),
         arg("-k", type=int, default=5, help="用于抽取答案的段落数 / passages to draw from"),
         JSON_FLAG)
def ask(args: argparse.Namespace, settings: Settings) -> int:
    query, k, filters = AskParams(q=args.query, k=args.k).resolve(settings)
    with _open(settings, args.name) as kb:
        answer = kb.ask(query, k=k, filters=filters)
    response = AnswerResponse.of(extractive(answer), query, answer.took_ms)
    if args.json:
        print_json(response.model_dump(mode="json"))
        return 0
    if response.message:
        print(response.message)
    for sentence in response.sentences:
        print(f"· {sentence.text}  —— {sentence.citation}")
    if response.found and not response.sentences:
        for passage in response.passages:
            print(f"· {passage.title} › {passage.heading}")
    return 0


@command("serve", "启动网页与 API 服务 / serve the search page and the API",
         arg("--host", default=None, help="监听地址 / host (default from settings: 127.0.0.1)"),
         arg("--port", type=int, default=None, help="端口 / port (default from settings: 8000)"))
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


@command("mcp", "MCP 服务（供 AI 助手使用）/ serve the KB to AI assistants over MCP", NAME_FLAG,
         arg("--http", action="store_true", help="可流式 HTTP（/mcp），默认 stdio / streamable HTTP at /mcp instead of stdio"),
         arg("--host", default=None, help="--http 的监听地址 / host for --http (default 127.0.0.1)"),
         arg("--port", type=int, default=None, help="--http 的端口 / port for --http (default 8000)"))
def mcp(args: argparse.Namespace, settings: Settings) -> int:
    from service.mcp_server import build_server

    settings = settings.model_copy(update={k: v for k, v in (("host", args.host), ("port", args.port)) if v})
    with _open(settings, args.name) as kb:
        server = build_server(kb, settings)
        if args.http:
            print(f"知库 MCP: http://{settings.host}:{settings.port}/mcp", file=sys.stderr, flush=True)
            server.run("streamable-http", host=settings.host, port=settings.port)
        else:
            server.run("stdio")  # stdout is the protocol channel: nothing else may print there
    return 0


@command("stats", "知识库统计 / knowledge-base statistics", NAME_FLAG, JSON_FLAG)
def stats(args: argparse.Namespace, settings: Settings) -> int:
    with _open(settings, args.name) as kb:
        data = kb.stats()
    if args.json:
        print_json(data)
    else:
        for key, value in data.items():
            print(f"{key}: {value}")
    return 0


@command("check", "检查索引一致性 / verify (and repair) the indexes", NAME_FLAG,
         arg("--repair", action="store_true", help="修复发现的问题 / repair what is found"),
         JSON_FLAG)
def check(args: argparse.Namespace, settings: Settings) -> int:
    with _open(settings, args.name) as kb:
        report = CheckOut.of(kb.check(repair=args.repair))
    if args.json:
        print_json(report.model_dump(mode="json"))
    else:
        print(f"文档 documents {report.documents} · 段落 chunks {report.chunks} · 向量 vectors {report.vectors} · "
              f"关键词 keyword rows {report.keyword_rows}")
        for problem in report.problems:
            print(f"  问题 problem: {problem}")
        for fix in report.repaired:
            print(f"  已修复 repaired: {fix}")
        print("正常 / ok" if report.ok else "发现问题，可用 --repair 修复 / problems found: run with --repair")
    return 0 if report.ok else 1


BEIR_FILES = (
    arg("--corpus", type=Path, required=True, help="JSONL {id,title,text}"),
    arg("--queries", type=Path, required=True, help="JSONL {id,text}"),
    arg("--qrels", type=Path, required=True, help="TSV with header: query_id corpus_id score"),
)


def _query_subset(args: argparse.Namespace) -> list[str] | None:
    """Check the BEIR-style files exist; the query ids of ``--split`` (None = all)."""
    missing = [str(p) for p in (args.corpus, args.queries, args.qrels) if not p.is_file()]
    if missing:
        raise UsageError(f"文件不存在 / file not found: {', '.join(missing)}")
    if args.split == "all":
        return None
    tune, holdout = split_queries(load_queries(args.queries))
    return tune if args.split == "tune" else holdout


@command("eval", "评测检索质量 / measure retrieval quality on a BEIR-style set",
         *BEIR_FILES,
         arg("--split", choices=["all", "tune", "holdout"], default="all",
             help="查询子集 / query subset: the deterministic tune / held-out split (default all)"),
         JSON_FLAG)
def evaluate(args: argparse.Namespace, settings: Settings) -> int:
    """Hybrid figures are the default search path exactly as users get it; bm25 and dense alone beside it."""
    results = run_eval(settings, args.corpus, args.queries, args.qrels, query_ids=_query_subset(args),
                       progress=True)
    if args.json:
        print_json(results)
        return 0
    print(f"{'method':<8}{'hit@1':>8}{'recall@10':>11}{'mrr@10':>9}{'ndcg@10':>9}{'n':>7}")
    for method, m in results.items():
        print(f"{method:<8}{m['hit@1']:>8.3f}{m['recall@10']:>11.3f}{m['mrr@10']:>9.3f}{m['ndcg@10']:>9.3f}"
              f"{int(m['n']):>7}")
    return 0


@command("train-adapter", "用标注问题训练查询适配器 / fit a query adapter to judged questions (BEIR-style set)",
         *BEIR_FILES,
         arg("--split", choices=["all", "tune"], default="tune",
             help="训练用的查询 / questions to train on: the tune split (default; keeps the held-out split "
                  "for zhiku eval --split holdout) or all"),
         arg("--out", type=Path, required=True, help="适配器文件 / adapter file to write (.npz)"))
def train_adapter_command(args: argparse.Namespace, settings: Settings) -> int:
    """Then ``ZHIKU_QUERY_ADAPTER=<file> zhiku eval … --split holdout`` measures it on unseen questions."""
    adapter = train_adapter(settings, args.corpus, args.queries, args.qrels, query_ids=_query_subset(args),
                            progress=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    adapter.save(args.out)
    print(f"已写入 / wrote {args.out}: {adapter.embedder}, {adapter.info['queries']} questions, "
          f"{adapter.info['passages']} passages")
    return 0


# --- entry point -----------------------------------------------------------------------------------
def _one_line(text: str, width: int = 160) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[:width] + "…"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="zhiku", description="知库：离线政策法规知识库 / offline knowledge base")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for cmd in COMMANDS:
        p = sub.add_parser(cmd.name, help=cmd.help, description=cmd.help)
        p.add_argument("--kb", type=Path, default=None, metavar="DIR",
                       help="知识库目录（默认 ZHIKU_KB 或 data/kb）/ KB directory (default: ZHIKU_KB or data/kb)")
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
        print(f"zhiku: 配置无效 / invalid settings: {exc.errors()[0]['loc']}: {exc.errors()[0]['msg']}", file=sys.stderr)
        return 2
    except (ZhikuIndexError, OSError) as exc:
        print(f"zhiku: 错误 / error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
