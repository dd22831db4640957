"""The domain lexicon is data: it must load, be self-consistent, and keep domain terms whole in jieba."""
from __future__ import annotations

import logging
from pathlib import Path

import jieba
import pytest

from ingest.lexicon import load_lexicon, read_lexicon

jieba.setLogLevel(logging.WARNING)


@pytest.fixture(scope="module")
def segmenter() -> jieba.Tokenizer:
    """A plain jieba instance with only the user dictionary file, as any consumer of the lexicon would load it."""
    segmenter = jieba.Tokenizer()
    segmenter.load_userdict(str(load_lexicon().userdict))
    return segmenter


def test_packaged_lexicon_loads_with_sensible_sizes() -> None:
    lexicon = load_lexicon()
    assert lexicon.userdict.is_file()
    assert 150 <= len(lexicon.words) <= 300
    groups = {frozenset((form, *others)) for form, others in lexicon.synonyms.items()}
    assert 40 <= len(groups) <= 100
    assert {"师带徒", "农民工", "劳模创新工作室", "技能竞赛", "职代会", "集体协商", "企业年金", "工匠学院", "困难帮扶",
            "安全生产", "6S管理", "职工之家", "思想政治引领"} <= set(lexicon.topics)
    assert {"怎么", "请问", "吗", "可以"} <= lexicon.stopwords
    assert not {"不得", "应当"} & lexicon.stopwords  # legal modals carry meaning in statutes
    assert load_lexicon() is lexicon  # cached: read once per process


def test_synonyms_go_both_ways() -> None:
    synonyms = load_lexicon().synonyms
    assert synonyms["产改"] == ("产业工人队伍建设改革",)
    assert synonyms["产业工人队伍建设改革"] == ("产改",)
    assert "职代会" in synonyms["职工代表大会"] and "五小" in synonyms["小发明小创造小革新小设计小建议"]
    assert set(synonyms["全总"]) == {"中华全国总工会", "全国总工会"}
    assert "集体协商" not in synonyms  # broader than 工资集体协商: deliberately not a synonym


def test_everyday_words_lead_to_the_statutes_terms_one_way() -> None:
    lexicon = load_lexicon()
    assert lexicon.colloquial["周末"] == ("休息日",)
    assert lexicon.colloquial["劳保用品"] == ("劳动防护用品",)
    assert "休息日" not in lexicon.colloquial and "解除劳动合同" not in lexicon.colloquial


def test_every_synonym_form_is_a_user_dictionary_word() -> None:
    lexicon = load_lexicon()
    assert sorted(set(lexicon.synonyms) - set(lexicon.words)) == []


@pytest.mark.parametrize("form", sorted(load_lexicon().synonyms))
def test_jieba_keeps_every_synonym_form_whole(segmenter: jieba.Tokenizer, form: str) -> None:
    assert form in segmenter.lcut(f"关于{form}的通知", HMM=False)


def test_domain_terms_survive_in_running_text(segmenter: jieba.Tokenizer) -> None:
    words = segmenter.lcut("深化产业工人队伍建设改革，建好劳模创新工作室，开好职工代表大会，落实工资集体协商", HMM=False)
    assert {"产业工人队伍建设改革", "劳模创新工作室", "职工代表大会", "工资集体协商"} <= set(words)


def test_malformed_files_are_reported_with_the_row(tmp_path: Path) -> None:
    (tmp_path / "userdict.txt").write_text("产改 200 j\n", encoding="utf-8")
    (tmp_path / "topics.tsv").write_text("topic\tcues\n创新\t五小\n", encoding="utf-8")
    (tmp_path / "stopwords.txt").write_text("# filler\n吗\n", encoding="utf-8")
    (tmp_path / "colloquial.tsv").write_text("colloquial\tstatute forms\n周末\t休息日\n", encoding="utf-8")
    (tmp_path / "synonyms.tsv").write_text("canonical\tforms\n产业工人队伍建设改革\t产改\n产改\n", encoding="utf-8")
    with pytest.raises(ValueError, match="row 3"):
        read_lexicon(tmp_path)
    (tmp_path / "synonyms.tsv").write_text("canonical\tforms\n甲\t产改\n乙\t产改\n", encoding="utf-8")
    with pytest.raises(ValueError, match="more than one group"):
        read_lexicon(tmp_path)
    (tmp_path / "synonyms.tsv").write_text("canonical\tforms\n产业工人队伍建设改革\t产改\n", encoding="utf-8")
    assert read_lexicon(tmp_path).stopwords == frozenset({"吗"})
    (tmp_path / "colloquial.tsv").write_text("colloquial\tstatute forms\n周末\t休息日\n周末\t假日\n", encoding="utf-8")
    with pytest.raises(ValueError, match="more than one row"):
        read_lexicon(tmp_path)
    (tmp_path / "colloquial.tsv").write_text("colloquial\tstatute forms\n周末\t休息日\n", encoding="utf-8")
    (tmp_path / "userdict.txt").write_text("产改 many j\n", encoding="utf-8")
    with pytest.raises(ValueError, match="malformed entry 1"):
        read_lexicon(tmp_path)
