"""Measure the citation checker on a labelled set: ``python -m index.answering.measure tests/data/claims.json``.

Prints precision and recall of *flagging* an unsupported sentence (the job of the checker: a flagged
sentence that was supported is a false alarm, an unsupported one that passes is a hallucination let through),
the share of hallucinated sentences let through by kind, the share of whole answers a hallucinating LLM gets
past the checker (an answer per passage: all the sentences written about it, passing when any of its
unsupported sentences is not flagged), and the overlap threshold swept so the chosen
:data:`~index.answering.claims.MIN_OVERLAP` can be seen in its neighbourhood. docs/answering.md has the figures.
"""
from __future__ import annotations

import argparse
import json
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from index.answering import claims
from index.search.text import normalize

Labelled = tuple[str, str, bool, str]  # sentence, text of the cited passages, supported?, kind
Check = Callable[[str, str], bool]


def load(path: Path) -> list[Labelled]:
    data = json.loads(path.read_text(encoding="utf-8"))
    return [(c["sentence"], "".join(data["passages"][p] for p in c["cites"]), c["supported"], c["kind"])
            for c in data["claims"]]


def answers_let_through(rows: list[Labelled], check: Check) -> tuple[int, int]:
    """(answers with an unflagged unsupported sentence, answers with an unsupported sentence), one answer per
    cited-passage text."""
    answers: dict[str, list[bool]] = {}
    for sentence, source, supported, _ in rows:
        if not supported:
            answers.setdefault(source, []).append(check(sentence, source))
    return sum(any(passed) for passed in answers.values()), len(answers)


def scores(rows: list[Labelled], check: Check) -> tuple[float, float, dict[str, int]]:
    """Precision and recall of flagging unsupported sentences, and the unsupported ones let through by kind."""
    flagged = [(not check(sentence, source), supported, kind) for sentence, source, supported, kind in rows]
    true_flags = sum(flag and not supported for flag, supported, _ in flagged)
    precision = true_flags / max(1, sum(flag for flag, _, _ in flagged))
    recall = true_flags / max(1, sum(not supported for _, supported, _ in flagged))
    passed = Counter(kind for flag, supported, kind in flagged if not flag and not supported)
    return precision, recall, dict(passed)


def variants(threshold: float) -> dict[str, Check]:
    """The full checker and the tests it is made of, to show what each one adds."""

    def by_overlap(sentence: str, source: str) -> bool:
        return claims.overlap(normalize(sentence), normalize(source)) >= threshold

    def with_numbers(sentence: str, source: str) -> bool:
        return by_overlap(sentence, source) and claims.numbers(normalize(sentence)) <= claims.numbers(normalize(source))

    return {"overlap only": by_overlap, "overlap + numbers": with_numbers,
            "overlap + numbers + negation (shipped)": lambda s, p: claims.supports(s, [p])}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("labelled", type=Path)
    args = parser.parse_args(argv)
    rows = load(args.labelled)
    print(f"{len(rows)} sentences: {sum(r[2] for r in rows)} supported, {sum(not r[2] for r in rows)} unsupported")
    print(f"\nthreshold {claims.MIN_OVERLAP}        precision  recall  unsupported let through, by kind")
    for name, check in variants(claims.MIN_OVERLAP).items():
        precision, recall, passed = scores(rows, check)
        print(f"  {name:38s} {precision:.3f}  {recall:.3f}  {passed}")
    through, hallucinating = answers_let_through(rows, lambda s, p: claims.supports(s, [p]))
    print(f"\nhallucinating answers let through: {through} of {hallucinating} ({through / hallucinating:.0%})")
    print("\nthreshold sweep (shipped checks)   precision  recall")
    saved = claims.MIN_OVERLAP
    try:
        for threshold in (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9):
            claims.MIN_OVERLAP = threshold
            precision, recall, _ = scores(rows, lambda s, p: claims.supports(s, [p]))
            print(f"  {threshold:.1f}                             {precision:.3f}  {recall:.3f}")
    finally:
        claims.MIN_OVERLAP = saved


if __name__ == "__main__":
    main()
