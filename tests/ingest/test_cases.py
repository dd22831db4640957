"""Case profiles: who, when, what about, and the figures trainers quote — on the real case report in
../shared and on a demo case from corpus/."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ingest.cases import CaseProfile, Fact, case_profile
from ingest.lexicon import load_lexicon

REAL_CASE = "corpus/cases/江钨控股集团工会全力推进产改走深走实(2023-11-01).txt"
DEMO_CASE = Path(__file__).resolve().parents[2] / "corpus" / "cases" / "某省能源集团工会以产改提升一线职工获得感.md"


def profile_of(text: str, date: str | None = None) -> CaseProfile:
    return case_profile(text, text.splitlines()[0], date, load_lexicon())


def fact_written(profile: CaseProfile, text: str, written: str) -> Fact:
    """The one fact whose span reads ``written`` (e.g. "26家")."""
    (fact,) = [f for f in profile.facts if text[f.start : f.end] == written]
    return fact


@pytest.fixture(scope="module")
def real_text(shared: Path) -> str:
    return (shared / REAL_CASE).read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def real(real_text: str) -> CaseProfile:
    return profile_of(real_text, "2023-11-01")


@pytest.fixture(scope="module")
def demo_text() -> str:
    return DEMO_CASE.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def demo(demo_text: str) -> CaseProfile:
    return profile_of(demo_text, "2023-04-18")


def test_real_case_figures_and_what_they_count(real: CaseProfile, real_text: str) -> None:
    units = fact_written(real, real_text, "26家")
    assert (units.value, units.unit) == ("26", "家") and "产改单位" in units.counts
    trained = fact_written(real, real_text, "92557人")
    assert (trained.value, trained.unit) == ("92557", "人") and "培训" in trained.counts
    annuity = fact_written(real, real_text, "32家")
    assert "企业年金" in annuity.counts
    assert "企业年金" in annuity.sentence and "32家" in annuity.sentence


def test_real_case_facts_point_into_the_text(real: CaseProfile, real_text: str) -> None:
    assert len(real.facts) >= 15
    for fact in real.facts:
        written = real_text[fact.start : fact.end]
        assert written.startswith(fact.value.removesuffix("万").removesuffix("亿")), fact
        assert written in fact.sentence and fact.sentence in real_text, fact
        assert fact.counts and fact.unit, fact


def test_ordinals_years_and_slogans_are_not_figures(real: CaseProfile, real_text: str) -> None:
    written = {real_text[f.start : f.end] for f in real.facts}
    assert not any(real_text[f.start - 1] == "第" for f in real.facts)  # 第一批, 第一国企
    assert not any(w.startswith(("2022", "2023")) for w in written)  # years
    assert "12万人次" in written  # but a 万 figure is one


def test_real_case_organisations_year_topics(real: CaseProfile, real_text: str) -> None:
    assert {"江钨控股集团", "江钨控股集团工会", "中华钨矿公司"} <= set(real.organisations)
    assert not {"集团公司", "集团公司工会", "集团工会", "公司"} & set(real.organisations)
    assert real.organisations == sorted(real.organisations, key=len, reverse=True)
    assert real.year == 2023
    assert profile_of(real_text, None).year == 2023  # from the text when the date is unknown
    assert "技能提升" in real.topics and "待遇" in real.topics


def test_demo_case_profile(demo: CaseProfile, demo_text: str) -> None:
    assert {"某省能源集团", "某省能源集团工会"} <= set(demo.organisations)
    assert demo.year == 2023
    assert demo.topics[0] == "技能提升" and "创新" in demo.topics
    assert "产改单位" in fact_written(demo, demo_text, "35家").counts
    assert "培训职工" in fact_written(demo, demo_text, "12800人").counts
    money = fact_written(demo, demo_text, "3200万元")
    assert (money.value, money.unit) == ("3200", "万元") and "经济效益" in money.counts
    trained = fact_written(demo, demo_text, "4.6万人次")
    assert (trained.value, trained.unit) == ("4.6万", "人次") and "技能培训" in trained.counts


@pytest.mark.parametrize(
    ("text", "value", "unit", "counts"),
    [
        ("今年共培训职工92557人。", "92557", "人", "培训职工"),
        ("今年企业年金覆盖32家。", "32", "家", "企业年金覆盖"),
        ("集团所属26家产改单位成立了专班。", "26", "家", "产改单位"),
        ("全年参训职工达1.2万人。", "1.2万", "人", "参训职工"),
        ("工会新建三个职工书屋。", "三", "个", "职工书屋"),
        ("一线职工收入增长百分之二十。", "百分之二十", "%", "一线职工收入增长"),
        ("技能人才占比由31%提高到38%。", "38", "%", "技能人才占比提高"),
    ],
)
def test_number_forms_and_counts(text: str, value: str, unit: str, counts: str) -> None:
    facts = profile_of(text).facts
    assert (facts[-1].value, facts[-1].unit, facts[-1].counts) == (value, unit, counts)


@pytest.mark.parametrize(
    "text",
    ["完成第一批企业年金缴纳。", "依据第三十二条规定。", "2023年召开职代会。", "选手进入前三名。", "推行“一室带多组”模式。", "一户一策精准帮扶。"],
)
def test_no_figure_where_there_is_none(text: str) -> None:
    assert profile_of(text).facts == []


def test_profile_round_trips_through_json(real: CaseProfile) -> None:
    assert CaseProfile.from_dict(json.loads(json.dumps(real.to_dict(), ensure_ascii=False))) == real
