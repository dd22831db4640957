"""Chinese text analysis (index.search.text) and the BM25 keyword index (index.store.keywords), on real behaviour."""
from __future__ import annotations

import dataclasses
import multiprocessing
import os
import threading
import time
from pathlib import Path

import bm25s
import numpy as np
import pytest

from index.eval.metrics import aggregate, load_corpus, load_qrels, load_queries, split_queries
from index.kb import chunk_terms, embedding_input
from index.store.keywords import CURRENT, BM25Params, KeywordIndex, features
from index.search.text import (Tokenizer, analyze_query, default_tokenizer, highlight, marked_terms, readable, snippet,
                               tokenize)
from ingest.chunking import chunk_document
from ingest.lexicon import load_lexicon
from ingest.pipeline import iter_files, read_document


# --- tokeniser --------------------------------------------------------------------------------------

def test_chunk_terms_are_the_terms_of_the_embedded_text() -> None:
    """Titles and headings are cut once each, and must give exactly the terms of the whole input."""
    root = Path(__file__).resolve().parents[2] / "corpus"
    chunks = [(doc.title, chunk.heading, chunk.text)
              for path in iter_files(root) for doc in read_document(path, root) for chunk in chunk_document(doc)]
    assert len(chunks) > 100 and any(len(heading) > 1 for _, heading, _ in chunks)
    for title, heading, text in chunks:
        assert chunk_terms(title, heading, text) == tokenize(embedding_input(title, heading, text))


def test_the_embedded_text_says_each_heading_once() -> None:
    """An article's chunk opens with its own 第四十三条: the heading path leaves it to the text."""
    path = ("中华人民共和国工会法", "第五章 工会的经费和财产", "第四十三条")
    article = "第四十三条 工会经费的来源：……"
    assert embedding_input(path[0], path, article) == "中华人民共和国工会法 第五章 工会的经费和财产\n" + article
    assert embedding_input(path[0], path, "（二）建立工会组织的用人单位按每月……") == (
        "中华人民共和国工会法 第五章 工会的经费和财产 第四十三条\n（二）建立工会组织的用人单位按每月……")
    assert embedding_input("通知", (), "通知全文") == "通知\n通知全文"  # the title always stays


def test_domain_terms_stay_whole() -> None:
    tokens = tokenize("深入推进产业工人队伍建设改革，建好劳模创新工作室，开好职工代表大会。")
    assert {"产业工人队伍建设改革", "劳模创新工作室", "职工代表大会"} <= set(tokens)
    assert {"产业", "工人", "改革"} <= set(tokens)  # search mode also yields the words inside


def test_traditional_full_width_and_case_normalise_to_one_form() -> None:
    assert tokenize("「產業工人」") == tokenize("“产业工人”") == tokenize("产业工人")
    assert tokenize("推行６Ｓ管理") == tokenize("推行6s管理")
    assert "6s" in tokenize("推行6S管理")


def test_filler_and_punctuation_are_dropped_but_legal_modals_kept() -> None:
    tokens = tokenize("请问，我不签劳动合同怎么办？用人单位不得拒绝吗！")
    assert not {"请问", "我", "怎么办", "吗", "，", "？", "！"} & set(tokens)
    assert {"劳动合同", "用人单位", "不得"} <= set(tokens)


def test_query_expansion_goes_both_ways() -> None:
    short = analyze_query("产改 技能培训")
    assert short.expansions == {"产改": ["产业工人队伍建设改革"]}
    assert {"产改", "技能培训", "产业工人队伍建设改革", "产业", "工人"} <= set(short.terms)
    full = analyze_query("產業工人隊伍建設改革")  # Traditional input expands too
    assert full.expansions == {"产业工人队伍建设改革": ["产改"]}
    assert "产改" in full.terms
    assert len(full.terms) == len(set(full.terms))


def test_everyday_words_bring_the_statutes_terms_one_way() -> None:
    question = analyze_query("劳保用品该公司出还是自己买？")
    assert question.expansions == {"劳保用品": ["劳动防护用品"]}
    assert "劳保用品" in question.base_terms and "劳保" not in question.base_terms  # one word, not its pieces
    assert {"劳动", "防护", "用品"} <= set(question.terms)
    assert question.dense_text("劳保用品该公司出还是自己买？") == "劳保用品该公司出还是自己买？ 劳动防护用品"
    holiday = analyze_query("国庆节上班给几倍工资")
    assert list(holiday.expansions) == ["国庆节"]  # the longest form, not also 国庆 inside it
    assert analyze_query("休息日 补休").expansions == {}  # statute words are not widened to everyday ones
    assert analyze_query("违法开除的赔偿金").expansions == {"开除": ["解除劳动合同"]}  # 赔偿 already in legal form
    assert analyze_query("技能培训补贴").dense_text("技能培训补贴") == "技能培训补贴"  # nothing to add


def test_a_word_in_both_tables_keeps_its_synonyms_and_gains_the_statutes_terms() -> None:
    """People and cases say 加班费; 劳动法 says 延长工作时间…的工资报酬. The word's synonyms (加班工资) still count."""
    assert analyze_query("加班费怎么算").expansions == {"加班费": ["加班工资", "加班加点工资", "延长工作时间", "工资报酬"]}


def test_the_dense_model_reads_an_abbreviation_with_its_full_name() -> None:
    """The embedding model never saw 产改 or 职代会: the full name goes with the question, never the other way."""
    assert analyze_query("产改有哪些主要任务").dense_text("产改有哪些主要任务") == "产改有哪些主要任务 产业工人队伍建设改革"
    assert analyze_query("职代会一年开几次").full_names == ["职工代表大会"]
    assert analyze_query("产业工人队伍建设改革（产改）").full_names == []  # the full name is already there
    assert analyze_query("加班费怎么算").full_names == []  # 加班费 heads its group: 加班工资 is not appended
    assert analyze_query("产改 案例").dense_text("产改 案例", full_names=False) == "产改 案例"  # (for cases)


def test_a_separable_word_split_by_the_question_is_read_whole() -> None:
    """加多少个小时的班 asks about 加班, 请的假 about 请假; 增加了班组 and 参加了两次班会 about neither."""
    overtime = analyze_query("一个月最多能加多少个小时的班？")
    assert "加班" in overtime.base_terms and overtime.expansions == {"加班": ["延长工作时间"]}
    assert "延长工作时间" in overtime.dense_text("一个月最多能加多少个小时的班？")
    assert "请假" in analyze_query("去做产检请的假要扣工资吗？").base_terms
    assert "放假" in analyze_query("过年放三天假").base_terms
    for unrelated in ("增加了班组长的津贴", "参加了两次班会", "公司还排我上夜班"):
        assert not {"加班", "上班"} & set(analyze_query(unrelated).terms), unrelated


def test_expansion_ignores_words_found_inside_longer_terms() -> None:
    analysis = analyze_query("劳模创新工作室")
    assert analysis.expansions == {"劳模创新工作室": ["劳模和工匠人才创新工作室"]}  # not 劳模 -> 劳动模范
    assert analyze_query("今天天气").expansions == {}


def test_first_use_from_many_threads_builds_one_segmenter() -> None:
    tokenizer = Tokenizer()
    results: list[list[str]] = []
    threads = [threading.Thread(target=lambda: results.append(tokenizer.tokenize("职代会审议企业年金方案")))
               for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 4 and all(r == results[0] for r in results)
    assert {"职代会", "企业年金"} <= set(results[0])


def test_highlight_escapes_first_and_marks_longest_terms() -> None:
    out = highlight("<script>alert(1)</script>产业工人队伍建设改革 & 产业", ["产业", "产业工人队伍建设改革", "script"])
    assert "<script>" not in out and "&lt;<mark>script</mark>&gt;" in out
    assert "<mark>产业工人队伍建设改革</mark>" in out and "&amp; <mark>产业</mark>" in out
    assert "<mark><mark>" not in out and out.count("<mark>") == out.count("</mark>") == 4


def test_a_one_character_word_is_marked_only_where_it_stands_alone() -> None:
    """能 of 没学历的老技工能不能破格晋升 must not light up every 技能 of a skills policy."""
    text = "对有特殊技能的高技能人才，可以破格晋升。劳动者能不能拒绝？"
    marked = "对有特殊技能的高技能人才，可以<mark>破格晋升</mark>。劳动者<mark>能不能</mark>拒绝？"
    assert highlight(text, ["能", "不能", "破格晋升"]) == marked


def test_a_card_marks_one_character_words_only_for_a_query_of_them() -> None:
    assert marked_terms(["工会经费", "按", "比例"]) == ["工会经费", "比例"]
    assert marked_terms(["税"]) == ["税"]  # all there is


def test_a_word_is_not_marked_across_two_words() -> None:
    """工人 of 技术工人待遇 must not light up 职工人数; 工资 inside 工资总额 is still the word asked for."""
    assert highlight("报考技师的职工人数两年翻了一番", ["工人", "技师"]) == "报考<mark>技师</mark>的职工人数两年翻了一番"
    assert highlight("全部职工工资总额的百分之二", ["工资"]) == "全部职工<mark>工资</mark>总额的百分之二"


def test_highlight_finds_simplified_terms_in_traditional_text() -> None:
    assert highlight("推進產業工人隊伍建設", ["产业工人"]) == "推進<mark>產業工人</mark>隊伍建設"
    assert highlight("a<b", []) == "a&lt;b"


def test_snippet_centres_on_the_densest_matches() -> None:
    text = "无关内容。" * 60 + "工会经费按每月全部职工工资总额的百分之二向工会拨缴。" + "其他条款。" * 60
    out = snippet(text, ["工会经费", "工资总额", "拨缴"], width=60)
    assert out.startswith("…") and out.endswith("…")
    assert "<mark>工会经费</mark>" in out and "<mark>拨缴</mark>" in out
    plain = out.replace("<mark>", "").replace("</mark>", "").strip("…")
    assert len(plain) == 60 and plain in text
    assert snippet("<短文>", ["短文"]) == "&lt;<mark>短文</mark>&gt;"


def test_a_card_does_not_repeat_the_heading_it_shows() -> None:
    case = ("中部某建筑工程集团推动农民工向产业工人转变", "项目建会，把农民工组织起来。")
    assert readable("项目建会，把农民工组织起来。集团推行“项目建到哪里，工会就建到哪里”。", case) == \
        "集团推行“项目建到哪里，工会就建到哪里”。"
    assert readable("## 三、缴费规定\n\n- 企业缴费每年不超过8%", ("企业年金办法", "三、缴费规定")) == "企业缴费每年不超过8%"
    article = ("中华人民共和国工会法", "第一章 总 则", "第二条")  # an article keeps its number: a title, not a lead sentence
    assert readable("第二条 工会是职工自愿结合的工人阶级群众组织。", article).startswith("第二条")
    assert readable("项目建会，把农民工组织起来。", case) == "项目建会，把农民工组织起来。"  # never an empty card


def test_a_card_keeps_one_line_per_paragraph_and_list_item() -> None:
    article = "第四十三条 工会经费的来源：\n\n（一）工会会员缴纳的会费；\n\n（二）其他收入。  \n\n前款规定的经费在税前列支。"
    assert readable(article, ("中华人民共和国工会法", "第四十三条")) == \
        "第四十三条 工会经费的来源：\n（一）工会会员缴纳的会费；\n（二）其他收入。\n前款规定的经费在税前列支。"


# --- keyword index ----------------------------------------------------------------------------------

DOCS = {
    "gh": "中华人民共和国工会法 工会经费的来源：会员缴纳的会费；建立工会组织的用人单位按每月全部职工工资总额的百分之二向工会拨缴的经费。",
    "ld": "劳动合同法 用人单位自用工之日起即与劳动者建立劳动关系。建立劳动关系，应当订立书面劳动合同。",
    "cg": "产业工人队伍建设改革方案 加强劳模创新工作室建设，完善技能人才评价，提高技术工人待遇。",
    "zd": "职工代表大会条例 职工代表大会是职工行使民主管理权力的机构，厂务公开。",
}


@pytest.fixture(scope="module")
def index() -> KeywordIndex:
    return KeywordIndex.build(list(DOCS), [tokenize(text) for text in DOCS.values()])


def search_ids(index: KeywordIndex, query: str, n: int = 10, allowed: np.ndarray | None = None) -> list[str]:
    return [doc for doc, _ in index.search(analyze_query(query).terms, n, allowed)]


def test_search_finds_the_answering_chunk(index: KeywordIndex) -> None:
    assert search_ids(index, "工会经费从哪里来？")[0] == "gh"
    assert search_ids(index, "没签书面劳动合同怎么办")[0] == "ld"
    assert search_ids(index, "产改 劳模创新工作室")[0] == "cg"
    assert search_ids(index, "职代会的职权", n=1) == ["zd"]  # via the 职代会 <-> 职工代表大会 expansion


def test_scores_equal_bm25s_lucene(index: KeywordIndex) -> None:
    reference = bm25s.BM25(k1=index.params.k1, b=index.params.b, method="lucene")
    reference.index([features(tokenize(text)) for text in DOCS.values()], show_progress=False)
    terms = analyze_query("工会经费 劳动合同 工资总额").terms
    expected = reference.get_scores([f for f in features(terms) if f in reference.vocab_dict])
    for doc, score in index.search(terms, 10):
        assert score == pytest.approx(expected[list(DOCS).index(doc)], rel=1e-5)


def test_mask_restricts_rows(index: KeywordIndex) -> None:
    allowed = index.mask(["ld", "zd", "not-there"])
    assert allowed.tolist() == [False, True, False, True]
    assert set(search_ids(index, "工会 劳动合同 职工", allowed=allowed)) == {"ld", "zd"}
    with pytest.raises(ValueError, match="shape"):
        index.search(["工会"], 5, np.ones(2, dtype=bool))


def test_ties_break_by_row_order() -> None:
    same = KeywordIndex.build(["b", "a", "c"], [["工会"], ["工会"], ["工会"]])
    assert [doc for doc, _ in same.search(["工会"], 2)] == ["b", "a"]


def test_nothing_to_find_gives_empty_results(index: KeywordIndex) -> None:
    assert index.search(["量子纠缠"], 5) == []  # unknown characters and words
    assert index.search([], 5) == [] and index.search(["工会"], 0) == []
    empty = KeywordIndex.build([], [])
    assert len(empty) == 0 and empty.search(["工会"], 5) == []
    assert KeywordIndex.build(["blank"], [[]]).search(["工会"], 5) == []
    grown = empty.with_changes([], ["a"], [["工会"]])
    assert [doc for doc, _ in grown.search(["工会"], 5)] == ["a"]
    assert len(grown.with_changes(["a"], [], [])) == 0


def test_duplicate_ids_are_rejected(index: KeywordIndex) -> None:
    with pytest.raises(ValueError, match="duplicate"):
        KeywordIndex.build(["a", "a"], [["工会"], ["劳动"]])
    with pytest.raises(ValueError, match="duplicate"):
        index.with_changes([], ["gh"], [["工会"]])
    with pytest.raises(ValueError, match="token lists"):
        KeywordIndex.build(["a"], [])


def test_with_changes_forgets_old_text_and_finds_new(index: KeywordIndex) -> None:
    changed = index.with_changes(
        ["gh", "unknown"], ["gh", "new"], [tokenize("工会法修订：工会主席的职责"), tokenize("企业年金方案经职代会讨论")]
    )
    assert changed.generation == index.generation + 1
    assert "拨缴" not in changed.vocab and "@拨" not in changed.vocab  # terms of removed text leave the vocabulary
    assert changed.search(["拨缴"], 5) == []
    assert search_ids(changed, "工会主席")[0] == "gh"
    assert search_ids(changed, "补充养老保险 企业年金")[0] == "new"
    assert search_ids(index, "拨缴")[0] == "gh"  # the original index is unchanged
    rebuilt = KeywordIndex.build(list(changed.ids), [tokenize(t) for t in (
        DOCS["ld"], DOCS["cg"], DOCS["zd"], "工会法修订：工会主席的职责", "企业年金方案经职代会讨论")])
    query = analyze_query("工会 职代会 劳动合同 技能").terms
    got, expected = changed.search(query, 10), rebuilt.search(query, 10)
    assert [doc for doc, _ in got] == [doc for doc, _ in expected]
    assert [score for _, score in got] == pytest.approx([score for _, score in expected])
    assert changed.with_changes([], [], [], generation=42).generation == 42


def test_idf_of_terms(index: KeywordIndex) -> None:
    idf = index.idf(["拨缴", "职工", "量子"])
    assert set(idf) == {"拨缴", "职工"} and idf["拨缴"] > idf["职工"] > 0


def test_save_and_load_round_trip(tmp_path: Path, index: KeywordIndex) -> None:
    with pytest.raises(FileNotFoundError):
        KeywordIndex.load(tmp_path)
    index.save(tmp_path)
    loaded = KeywordIndex.load(tmp_path)
    assert loaded.ids == index.ids and loaded.generation == index.generation and loaded.params == index.params
    terms = analyze_query("工会经费 职代会").terms
    assert loaded.search(terms, 10) == index.search(terms, 10)
    changed = index.with_changes(["gh"], [], [])
    changed.save(tmp_path)
    changed.with_changes(["ld"], [], []).save(tmp_path)
    assert KeywordIndex.load(tmp_path).ids == ("cg", "zd")
    snapshots = [p for p in tmp_path.iterdir() if p.is_dir()]
    assert len(snapshots) == 2  # the live one and the one before it (a reader may still be opening it)
    (tmp_path / ".staging-crashed").mkdir()  # a save that died half-way is never read
    assert KeywordIndex.load(tmp_path).generation == index.generation + 2
    assert (tmp_path / CURRENT).read_text().startswith("gen-")


def test_params_persist(tmp_path: Path) -> None:
    params = BM25Params(k1=0.9, b=0.6, chars=False)
    KeywordIndex.build(["a"], [["工会"]], params, generation=7).save(tmp_path)
    loaded = KeywordIndex.load(tmp_path)
    assert loaded.params == params and loaded.generation == 7 and "@工" not in loaded.vocab


def test_beats_plain_jieba_on_stard_held_out_queries(shared: Path) -> None:
    """Real layperson questions: the tuned analysis must beat plain jieba BM25 on queries never tuned on.

    Held-out queries over their relevant articles plus every 4th other article keep this to a few seconds;
    ``bench/bm25_stard.py`` has the full-corpus figures.
    """
    stard = shared / "eval" / "stard"
    corpus, queries = load_corpus(stard / "corpus.jsonl"), load_queries(stard / "queries.jsonl")
    qrels = load_qrels(stard / "qrels.tsv")
    _, holdout = split_queries(list(queries))
    relevant = {doc for q in holdout for doc in qrels[q]}
    ids = [doc for i, doc in enumerate(corpus) if doc in relevant or i % 4 == 0]
    plain_lexicon = dataclasses.replace(load_lexicon(), words={}, synonyms={}, stopwords=frozenset())
    scores = {}
    for name, tokenizer, params in (
        ("plain", Tokenizer(plain_lexicon, hmm=True), BM25Params(k1=1.5, b=0.75, chars=False)),
        ("zhiku", default_tokenizer(), BM25Params()),
    ):
        docs = [tokenizer.tokenize(f"{corpus[d]['title']} {corpus[d]['text']}") for d in ids]
        keyword = KeywordIndex.build(ids, docs, params)
        run = {q: [d for d, _ in keyword.search(tokenizer.analyze_query(queries[q]).terms, 10)] for q in holdout}
        scores[name] = aggregate(run, {q: qrels[q] for q in holdout})
    assert scores["zhiku"]["recall@10"] > scores["plain"]["recall@10"], scores
    assert scores["zhiku"]["mrr@10"] > scores["plain"]["mrr@10"], scores


def test_a_save_clears_staging_folders_that_killed_saves_left(tmp_path: Path, index: KeywordIndex) -> None:
    abandoned, in_progress = tmp_path / ".staging-killed", tmp_path / ".staging-running"
    for folder in (abandoned, in_progress):
        folder.mkdir()
        (folder / "tf.npz").write_bytes(b"half written")
    two_hours_ago = time.time() - 7200
    os.utime(abandoned, (two_hours_ago, two_hours_ago))
    index.save(tmp_path)
    assert not abandoned.exists()
    assert in_progress.exists()  # young: it may belong to another process's save in progress
    assert KeywordIndex.load(tmp_path).ids == index.ids


def _save_repeatedly(directory: str, rounds: int) -> None:
    """One process of the race below: save, then check that the snapshot ``CURRENT`` names can be read."""
    index = KeywordIndex.build(list(DOCS), [tokenize(text) for text in DOCS.values()], generation=3)
    for _ in range(rounds):
        index.save(Path(directory))
        assert KeywordIndex.load(Path(directory)).ids == index.ids


def test_processes_saving_at_once_leave_a_readable_index(tmp_path: Path) -> None:
    """A server that meets a new generation rebuilds and saves while ``zhiku ingest`` saves the same one.

    Unserialised, one saver renamed the other's ``.CURRENT.tmp`` away (ingest died with FileNotFoundError)
    or deleted the snapshot the other was about to name.
    """
    context = multiprocessing.get_context("fork")
    savers = [context.Process(target=_save_repeatedly, args=(str(tmp_path), 40)) for _ in range(4)]
    for saver in savers:
        saver.start()
    for saver in savers:
        saver.join()
    assert [saver.exitcode for saver in savers] == [0, 0, 0, 0]
    assert KeywordIndex.load(tmp_path).generation == 3
