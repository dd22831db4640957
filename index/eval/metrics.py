"""Retrieval metrics and BEIR-style loaders: the yardstick for every ranking decision.

Metrics are pure functions over ``run`` (query id -> corpus ids, best first) and ``qrels`` (query id ->
{corpus id: grade}), so the CLI ``eval`` command, the benchmarks and the tests all compute them the same way.
Queries without any relevant document are left out of every average (they cannot be answered right or wrong).
"""
from __future__ import annotations

import csv
import hashlib
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

Run = Mapping[str, Sequence[str]]
Qrels = Mapping[str, Mapping[str, int]]


def _relevant(judged: Mapping[str, int]) -> set[str]:
    return {doc for doc, grade in judged.items() if grade > 0}


def hit_at(ranked: Sequence[str], judged: Mapping[str, int], k: int = 1) -> float:
    """1 if any of the top ``k`` is relevant."""
    relevant = _relevant(judged)
    return float(any(doc in relevant for doc in ranked[:k]))


def recall_at(ranked: Sequence[str], judged: Mapping[str, int], k: int = 10) -> float:
    """|relevant ∩ top k| / |relevant|."""
    relevant = _relevant(judged)
    return len(relevant.intersection(ranked[:k])) / len(relevant) if relevant else 0.0


def mrr_at(ranked: Sequence[str], judged: Mapping[str, int], k: int = 10) -> float:
    """1 / rank of the first relevant document within the top ``k`` (0 if none)."""
    relevant = _relevant(judged)
    return next((1.0 / rank for rank, doc in enumerate(ranked[:k], 1) if doc in relevant), 0.0)


def ndcg_at(ranked: Sequence[str], judged: Mapping[str, int], k: int = 10) -> float:
    """nDCG with linear gains (gain = grade), log2 discount, ideal ordering of all judged grades."""
    dcg = sum(max(judged.get(doc, 0), 0) / math.log2(rank + 1) for rank, doc in enumerate(ranked[:k], 1))
    ideal_grades = sorted((g for g in judged.values() if g > 0), reverse=True)[:k]
    idcg = sum(grade / math.log2(rank + 1) for rank, grade in enumerate(ideal_grades, 1))
    return dcg / idcg if idcg else 0.0


def _dedupe(ranked: Sequence[str]) -> list[str]:
    """A document retrieved twice counts once, at its best rank (keeps recall ≤ 1)."""
    return list(dict.fromkeys(ranked))


def aggregate(run: Run, qrels: Qrels, k: int = 10) -> dict[str, float]:
    """Mean hit@1, recall@k, MRR@k, nDCG@k over the judged queries; a query missing from ``run`` scores 0."""
    judged = [qid for qid, grades in qrels.items() if _relevant(grades)]
    totals = {"hit@1": 0.0, f"recall@{k}": 0.0, f"mrr@{k}": 0.0, f"ndcg@{k}": 0.0}
    for qid in judged:
        ranked, grades = _dedupe(run.get(qid, ())), qrels[qid]
        totals["hit@1"] += hit_at(ranked, grades, 1)
        totals[f"recall@{k}"] += recall_at(ranked, grades, k)
        totals[f"mrr@{k}"] += mrr_at(ranked, grades, k)
        totals[f"ndcg@{k}"] += ndcg_at(ranked, grades, k)
    n = len(judged)
    return {name: (value / n if n else 0.0) for name, value in totals.items()} | {"n": n}


def split_queries(
    ids: Iterable[str], holdout_fraction: float = 0.3, seed: str = "zhiku"
) -> tuple[list[str], list[str]]:
    """Deterministic tune / held-out split by hashing ``seed:id``: stable across runs, machines and id order.

    Tuning on one part and reporting the other keeps the figures honest without any RNG state.
    """
    if not 0.0 <= holdout_fraction <= 1.0:
        raise ValueError(f"holdout_fraction must be in [0, 1], got {holdout_fraction}")
    tune: list[str] = []
    holdout: list[str] = []
    for qid in ids:
        digest = hashlib.sha256(f"{seed}:{qid}".encode()).digest()
        (holdout if int.from_bytes(digest[:8], "big") / 2**64 < holdout_fraction else tune).append(qid)
    return tune, holdout


def _read_jsonl(path: Path, fields: Sequence[str]) -> list[dict[str, str]]:
    """Records with the given fields as text; ids may be JSON numbers and are turned into strings."""
    records = []
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}:{number}: not valid JSON ({exc.msg})") from None
        if not isinstance(record, dict):
            raise ValueError(f"{path}:{number}: expected a JSON object, got {type(record).__name__}")
        if isinstance(record.get("id"), int) and not isinstance(record.get("id"), bool):
            record["id"] = str(record["id"])
        missing = [field for field in fields if not isinstance(record.get(field), str)]
        if missing:
            raise ValueError(f"{path}:{number}: missing or non-text field(s): {', '.join(missing)}")
        records.append({field: record[field] for field in fields})
    return records


def _by_id(path: Path, records: list[dict[str, str]]) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    for record in records:
        if record["id"] in out:
            raise ValueError(f"{path}: duplicate id {record['id']!r}")
        out[record["id"]] = record
    return out


def load_queries(path: Path) -> dict[str, str]:
    """JSONL ``{"id", "text"}`` per line -> {id: text}."""
    return {qid: record["text"] for qid, record in _by_id(path, _read_jsonl(path, ("id", "text"))).items()}


def load_corpus(path: Path) -> dict[str, dict[str, str]]:
    """JSONL ``{"id", "title", "text"}`` per line -> {id: {"title", "text"}}."""
    records = _by_id(path, _read_jsonl(path, ("id", "title", "text")))
    return {doc_id: {"title": r["title"], "text": r["text"]} for doc_id, r in records.items()}


def load_qrels(path: Path) -> dict[str, dict[str, int]]:
    """TSV with header ``query_id corpus_id score`` -> {query id: {corpus id: grade}}."""
    qrels: dict[str, dict[str, int]] = {}
    with Path(path).open(encoding="utf-8", newline="") as handle:
        rows = csv.reader(handle, delimiter="\t")
        header = next(rows, None)
        if header is None or [h.strip() for h in header[:3]] != ["query_id", "corpus_id", "score"]:
            raise ValueError(f"{path}:1: header must be 'query_id<TAB>corpus_id<TAB>score', got {header!r}")
        for number, row in enumerate(rows, 2):
            if not row or not "".join(row).strip():
                continue
            if len(row) != 3 or not row[0].strip() or not row[1].strip():
                raise ValueError(f"{path}:{number}: expected 3 tab-separated fields, got {row!r}")
            try:
                grade = int(row[2])
            except ValueError:
                raise ValueError(f"{path}:{number}: score must be an integer, got {row[2]!r}") from None
            qrels.setdefault(row[0].strip(), {})[row[1].strip()] = grade
    return qrels
