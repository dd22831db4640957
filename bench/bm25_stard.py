"""BM25 alone on STARD: what each part of zhiku's keyword side adds, on the tune and held-out query splits.

    .venv/bin/python -m bench.bm25_stard            # ablation table + k1/b grid on the tune split
    .venv/bin/python -m bench.bm25_stard --no-grid  # ablation only (~1 min)

Each article is indexed as ``title + " " + text`` (the knowledge base prepends the title / heading path to a
chunk for BM25 the same way). Queries go through ``Tokenizer.analyze_query`` (stopwords, lexicon expansion),
exactly as the service does. Parameters are chosen on the tune split only; the held-out figures are the
honest ones. Reads ``../shared/eval/stard`` in place; writes ``bench/results/bm25_stard.json``.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from index.eval.metrics import aggregate, load_corpus, load_qrels, load_queries, split_queries
from index.store.keywords import BM25Params, KeywordIndex
from index.search.text import Tokenizer
from ingest.lexicon import load_lexicon

SHARED = Path(os.environ.get("ZHIKU_SHARED", Path(__file__).resolve().parents[1] / ".." / "shared"))
STARD = SHARED / "eval" / "stard"
RESULTS = Path(__file__).resolve().parent / "results" / "bm25_stard.json"
PLAIN = BM25Params(k1=1.5, b=0.75, chars=False)  # rank_bm25 defaults, as the STACK.md reference used
REFERENCE = {"hit@1": 0.393, "recall@10": 0.563, "mrr@10": 0.480, "ndcg@10": 0.460}  # ../shared/STACK.md


@dataclasses.dataclass(frozen=True)
class Variant:
    name: str
    tokenizer: Tokenizer
    params: BM25Params
    doc_text: Callable[[dict[str, str]], str] = lambda doc: f"{doc['title']} {doc['text']}"


def run_variant(variant: Variant, corpus: dict[str, dict[str, str]], queries: dict[str, str]) -> dict[str, list[str]]:
    ids = list(corpus)
    tokens = [variant.tokenizer.tokenize(variant.doc_text(corpus[i])) for i in ids]
    index = KeywordIndex.build(ids, tokens, variant.params)
    return {
        qid: [doc for doc, _ in index.search(variant.tokenizer.analyze_query(text).terms, 10)]
        for qid, text in queries.items()
    }


def split_scores(run: dict[str, list[str]], qrels: dict, splits: dict[str, Sequence[str]]) -> dict[str, dict]:
    return {name: aggregate(run, {q: qrels[q] for q in ids if q in qrels}) for name, ids in splits.items()}


def variants() -> list[Variant]:
    lexicon = load_lexicon()
    plain = dataclasses.replace(lexicon, words={}, synonyms={}, stopwords=frozenset())
    ours = Tokenizer(lexicon)
    return [
        Variant("plain jieba (search, HMM; k1 1.5 b .75)", Tokenizer(plain, hmm=True), PLAIN),
        Variant("+ lexicon, stopwords, no HMM", ours, BM25Params(chars=False)),
        Variant("+ distinct-character features = zhiku", ours, BM25Params()),
        Variant("  (jieba HMM on)", Tokenizer(lexicon, hmm=True), BM25Params()),
        Variant("  (precise cut, not search mode)", Tokenizer(lexicon, search=False), BM25Params()),
        Variant("  (title repeated twice)", ours, BM25Params(), lambda d: f"{d['title']} {d['title']} {d['text']}"),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-grid", action="store_true", help="skip the k1/b grid")
    args = parser.parse_args()
    if not STARD.is_dir():
        raise SystemExit(f"STARD not found at {STARD} (set ZHIKU_SHARED)")
    corpus, queries = load_corpus(STARD / "corpus.jsonl"), load_queries(STARD / "queries.jsonl")
    qrels = load_qrels(STARD / "qrels.tsv")
    tune, holdout = split_queries(list(queries))
    splits = {"tune": tune, "held-out": holdout, "all": list(queries)}
    rows: dict[str, dict] = {"reference jieba BM25 (STACK.md, all)": {"all": REFERENCE}}
    chosen = variants()
    if not args.no_grid:
        tuning, tune_qrels = {q: queries[q] for q in tune}, {q: qrels[q] for q in tune if q in qrels}
        base = chosen[2]
        grid = {}
        for k1 in (0.9, 1.2, 1.5):
            for b in (0.6, 0.75, 0.9):
                params = dataclasses.replace(base.params, k1=k1, b=b)
                run = run_variant(dataclasses.replace(base, params=params), corpus, tuning)
                grid[(k1, b)] = aggregate(run, tune_qrels)
                print(f"grid k1={k1} b={b}: tune mrr@10 {grid[(k1, b)]['mrr@10']:.3f}", flush=True)
        k1, b = max(grid, key=lambda key: grid[key]["mrr@10"])
        chosen.append(dataclasses.replace(base, name=f"  (k1={k1}, b={b}: best tune MRR)", params=BM25Params(k1, b)))
    for variant in chosen:
        started = time.perf_counter()
        rows[variant.name] = split_scores(run_variant(variant, corpus, queries), qrels, splits)
        print(f"{variant.name}: {time.perf_counter() - started:.1f} s", flush=True)
    print_table(rows)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(rows, ensure_ascii=False, indent=2), encoding="utf-8")


def print_table(rows: dict[str, dict]) -> None:
    metrics = ("hit@1", "recall@10", "mrr@10", "ndcg@10")
    print(f"\n{'variant':40s} {'split':9s} " + " ".join(f"{m:>9s}" for m in metrics) + "     n")
    for name, by_split in rows.items():
        for split, scores in by_split.items():
            cells = " ".join(f"{scores[m]:9.3f}" for m in metrics)
            print(f"{name:40s} {split:9s} {cells} {scores.get('n', ''):>5}")


if __name__ == "__main__":
    main()
