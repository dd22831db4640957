"""Retrieval metrics on hand-computed examples, the loaders' error messages, and the query split."""
from __future__ import annotations

import math
from pathlib import Path

import pytest

from index.eval.metrics import (
    aggregate, hit_at, load_corpus, load_qrels, load_queries, mrr_at, ndcg_at, recall_at, split_queries,
)

QRELS = {"q1": {"a": 1, "b": 1}, "q2": {"c": 2, "d": 1}, "q3": {"x": 0}}  # q3 has nothing relevant
RUN = {"q1": ["z", "a", "y"], "q2": ["c", "d"]}


def test_per_query_metrics() -> None:
    assert hit_at(RUN["q1"], QRELS["q1"]) == 0.0 and hit_at(RUN["q1"], QRELS["q1"], k=2) == 1.0
    assert recall_at(RUN["q1"], QRELS["q1"], 10) == 0.5
    assert recall_at(RUN["q1"], QRELS["q1"], 1) == 0.0
    assert mrr_at(RUN["q1"], QRELS["q1"], 10) == 0.5 and mrr_at(RUN["q1"], QRELS["q1"], 1) == 0.0
    # q1: DCG = 1/log2(3); ideal = 1 + 1/log2(3)
    assert ndcg_at(RUN["q1"], QRELS["q1"]) == pytest.approx((1 / math.log2(3)) / (1 + 1 / math.log2(3)))
    assert ndcg_at(RUN["q2"], QRELS["q2"]) == pytest.approx(1.0)  # graded: 2 then 1 is the ideal order
    assert ndcg_at(["d", "c"], QRELS["q2"]) == pytest.approx((1 + 2 / math.log2(3)) / (2 + 1 / math.log2(3)))


def test_aggregate_averages_judged_queries_only() -> None:
    scores = aggregate(RUN, QRELS)
    assert scores["n"] == 2
    assert scores["hit@1"] == 0.5
    assert scores["recall@10"] == pytest.approx((0.5 + 1.0) / 2)
    assert scores["mrr@10"] == pytest.approx((0.5 + 1.0) / 2)
    assert set(scores) == {"hit@1", "recall@10", "mrr@10", "ndcg@10", "n"}


def test_missing_and_repeated_results() -> None:
    assert aggregate({}, QRELS)["recall@10"] == 0.0  # an unanswered query scores 0, not skipped
    assert aggregate({"q1": ["a", "a", "b"]}, {"q1": QRELS["q1"]})["recall@10"] == 1.0
    assert aggregate({"q1": ["a", "a", "b"]}, {"q1": QRELS["q1"]}, k=2)["recall@2"] == 1.0  # repeat counts once
    assert aggregate({}, {})["n"] == 0


def test_split_is_stable_disjoint_and_roughly_sized() -> None:
    ids = [str(i) for i in range(2000)]
    tune, holdout = split_queries(ids)
    assert set(tune).isdisjoint(holdout) and len(tune) + len(holdout) == 2000
    assert 0.25 < len(holdout) / 2000 < 0.35
    assert split_queries(list(reversed(ids)))[1] == list(reversed(holdout))  # order-independent membership
    assert split_queries(ids, seed="other")[1] != holdout
    assert split_queries(ids, holdout_fraction=0.0) == (ids, [])
    with pytest.raises(ValueError):
        split_queries(ids, holdout_fraction=1.5)


def test_loaders_read_beir_files(tmp_path: Path) -> None:
    (tmp_path / "q.jsonl").write_text('{"id": "1", "text": "工会经费？", "labor": true}\n\n{"id": 2, "text": "x"}\n',
                                      encoding="utf-8")
    (tmp_path / "c.jsonl").write_text('{"id": "A1", "title": "工会法第四十三条", "text": "经费"}\n', encoding="utf-8")
    (tmp_path / "r.tsv").write_text("query_id\tcorpus_id\tscore\n1\tA1\t1\n1\tA2\t2\n", encoding="utf-8")
    assert load_queries(tmp_path / "q.jsonl") == {"1": "工会经费？", "2": "x"}
    assert load_corpus(tmp_path / "c.jsonl") == {"A1": {"title": "工会法第四十三条", "text": "经费"}}
    assert load_qrels(tmp_path / "r.tsv") == {"1": {"A1": 1, "A2": 2}}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"id": "1", "text": "a"}\n{"id": "2", "text": \n', r"q\.jsonl:2: not valid JSON"),
        ('{"id": "1", "text": "a"}\n["list"]\n', r":2: expected a JSON object"),
        ('{"id": "1"}\n', r":1: missing or non-text field\(s\): text"),
        ('{"id": "1", "text": "a"}\n{"id": "1", "text": "b"}\n', r"duplicate id '1'"),
    ],
)
def test_query_loader_errors_name_the_line(tmp_path: Path, content: str, message: str) -> None:
    (tmp_path / "q.jsonl").write_text(content, encoding="utf-8")
    with pytest.raises(ValueError, match=message):
        load_queries(tmp_path / "q.jsonl")


def test_corpus_loader_needs_a_title(tmp_path: Path) -> None:
    (tmp_path / "c.jsonl").write_text('{"id": "A1", "text": "经费"}\n', encoding="utf-8")
    with pytest.raises(ValueError, match=r"c\.jsonl:1: .*title"):
        load_corpus(tmp_path / "c.jsonl")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("qid\tdoc\tscore\n", r"r\.tsv:1: header"),
        ("query_id\tcorpus_id\tscore\n1\tA1\n", r"r\.tsv:2: expected 3 tab-separated fields"),
        ("query_id\tcorpus_id\tscore\n1\tA1\t1\n1\tA2\thigh\n", r"r\.tsv:3: score must be an integer"),
        ("", r"r\.tsv:1: header"),
    ],
)
def test_qrels_loader_errors_name_the_line(tmp_path: Path, content: str, message: str) -> None:
    (tmp_path / "r.tsv").write_text(content, encoding="utf-8")
    with pytest.raises(ValueError, match=message):
        load_qrels(tmp_path / "r.tsv")


def test_real_stard_files_load(shared: Path) -> None:
    stard = shared / "eval" / "stard"
    queries, qrels = load_queries(stard / "queries.jsonl"), load_qrels(stard / "qrels.tsv")
    assert len(queries) == 1234 and set(qrels) <= set(queries)
    assert len(load_corpus(stard / "corpus.jsonl")) == 8064
