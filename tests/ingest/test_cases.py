"""Case profiles: who, when, what about, and the figures trainers quote — on the real case report in
../shared and on a demo case from corpus/."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from ingest.cases import (CaseProfile, Fact, case_profile, dispute_outcome, lead_paragraph, normalise_organisation,
                          topics)
from ingest.lexicon import load_lexicon
from ingest.pipeline import read_document

REAL_CASE = "corpus/cases/江钨控股集团工会全力推进产改走深走实(2023-11-01).txt"
DEMO_CASES = Path(__file__).resolve().parents[2] / "corpus" / "cases"
DEMO_CASE = DEMO_CASES / "某省能源集团工会以产改提升一线职工获得感.md"


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


def test_real_case_organisation_year_topics(real: CaseProfile, real_text: str) -> None:
    # the union in the title reports, for its group; 中华钨矿公司, 宜春钽铌矿 … are only mentioned
    assert real.organisations == ["江钨控股集团"]
    assert real.year == 2023
    assert profile_of(real_text, None).year == 2023  # from the text when the date is unknown
    # named in the lead paragraph (牵头抓产改, 技能提升) or in sentence after sentence (培训, 宣讲, 文体)
    assert {"产改工作机制", "技能培训", "思想政治引领", "企业文化"} <= set(real.topics)
    # 企业年金, 困难帮扶 and 6S管理 come up in one sentence each: mentioned, not what the report is about
    assert not {"企业年金", "困难帮扶", "6S管理"} & set(real.topics)


def test_demo_case_profile(demo: CaseProfile, demo_text: str) -> None:
    assert demo.organisations == ["某省能源集团"]
    assert demo.year == 2023
    assert set(demo.topics) == {"产改工作机制", "技能培训", "技术工人待遇"}  # all three in the lead paragraph
    assert "产改单位" in fact_written(demo, demo_text, "35家").counts
    assert "培训职工" in fact_written(demo, demo_text, "12800人").counts
    money = fact_written(demo, demo_text, "3200万元")
    assert (money.value, money.unit) == ("3200", "万元") and "经济效益" in money.counts
    trained = fact_written(demo, demo_text, "4.6万人次")
    assert (trained.value, trained.unit) == ("4.6万", "人次") and "技能培训" in trained.counts


# Each demo case: the one organisation that reports, and the topics it is about (the title's first).
DEMO_PROFILES = {
    "东部某港口集团以职代会和集体协商推进民主管理.md": ("东部某港口集团", ["职代会", "集体协商"]),
    "中部某建筑工程集团推动农民工向产业工人转变.txt": ("中部某建筑工程集团", ["农民工", "建会入会"]),
    "华东某装备制造公司以师带徒加快青年技能人才成长.txt": ("华东某装备制造公司", ["师带徒", "技能竞赛"]),
    "华北某钢铁公司以6S管理改善一线作业环境.txt": ("华北某钢铁公司", ["6S管理", "安全生产"]),
    "华南某纺织公司工会建设职工之家做实困难帮扶.txt": ("华南某纺织公司", ["职工之家", "困难帮扶"]),
    "某市轨道交通集团提高技术工人待遇的实践.docx": ("某市轨道交通集团", ["技术工人待遇"]),
    "某有色金属集团扩大企业年金覆盖面.md": ("某有色金属集团", ["企业年金", "职代会"]),
    "某省电力公司以工匠学院和技能竞赛培养技能人才.md": ("某省电力公司", ["技能竞赛", "工匠学院"]),
    "西北某矿业公司工会筑牢安全生产群众防线.md": ("西北某矿业公司", ["安全生产"]),
    "西南某化工集团劳模创新工作室集群带动五小创新.md": ("西南某化工集团", ["劳模创新工作室", "职工技术创新", "师带徒"]),
    "长三角某汽车零部件公司工会以工匠精神凝聚职工.html": ("长三角某汽车零部件公司", ["工匠精神", "思想政治引领", "企业文化"]),
}


@pytest.fixture(scope="module")
def demo_profiles() -> dict[str, CaseProfile]:
    profiles = {}
    for path in sorted(DEMO_CASES.iterdir()):
        (doc,) = read_document(path)
        profiles[path.name] = case_profile(doc.text, doc.title, doc.date, load_lexicon())
    return profiles


@pytest.mark.parametrize("name", DEMO_PROFILES)
def test_demo_case_organisation_and_topics(demo_profiles: dict[str, CaseProfile], name: str) -> None:
    organisation, expected_topics = DEMO_PROFILES[name]
    profile = demo_profiles[name]
    assert profile.organisations == [organisation]  # one, not "X工会" and "X", nor units such as 选煤厂
    assert profile.topics[0] == expected_topics[0] and set(profile.topics) == set(expected_topics)


def test_no_topic_is_on_most_demo_cases(demo_profiles: dict[str, CaseProfile]) -> None:
    assert set(DEMO_PROFILES) < set(demo_profiles)  # every demo case but the energy group's is listed above
    on = Counter(topic for profile in demo_profiles.values() for topic in profile.topics)
    assert on and max(on.values()) <= 3, on
    assert all(topic in load_lexicon().topics for topic in on)
    organisations = [org for profile in demo_profiles.values() for org in profile.organisations]
    assert len(organisations) == len(set(organisations)) == len(demo_profiles)


def test_a_topic_needs_the_title_the_lead_or_repetition() -> None:
    cues = {"师带徒": ("师带徒", "导师带徒"), "企业年金": ("企业年金",), "安全生产": ("安全生产", "隐患")}
    title = "某公司推进技能人才培养"
    head = f"# {title}\n\n来源：某公司工会\n日期：2024-01-01\n\n"
    mentioned = head + "公司把技能人才培养作为重点。\n\n公司推行导师带徒。公司建立企业年金。开展安全生产检查。"
    assert topics(mentioned, title, cues) == []  # each mentioned once, in the body
    assert topics(mentioned, "某公司以师带徒推进技能人才培养", cues) == ["师带徒"]  # in the title
    lead = head + "公司以企业年金稳定一线队伍。\n\n公司推行导师带徒。"
    assert lead_paragraph(lead, title) == "公司以企业年金稳定一线队伍。"
    assert topics(lead, title, cues) == ["企业年金"]  # in the lead paragraph, not the metadata lines
    repeated = head + "公司重视技能。\n\n排查隐患。落实安全生产责任。隐患整改率100%。公司推行导师带徒。"
    assert topics(repeated, title, cues) == ["安全生产"]  # in three sentences
    listed = head + "公司重视技能。\n\n开展安全生产检查、隐患排查、安全生产月活动。"
    assert topics(listed, title, cues) == []  # one sentence naming it three times is one mention


@pytest.mark.parametrize(
    ("name", "normalised"),
    [("某省电力公司工会", "某省电力公司"), ("某省电力公司", "某省电力公司"), ("江钨控股集团工会", "江钨控股集团"),
     ("西南某化工集团有限公司工会", "西南某化工集团"), ("某市轨道交通集团有限公司", "某市轨道交通集团"),
     ("某市总工会", "某市总工会"), ("某科技有限公司工会", "某科技有限公司")],
)
def test_a_company_and_its_union_are_one_organisation(name: str, normalised: str) -> None:
    assert normalise_organisation(name) == normalised


def test_organisation_from_the_source_line_when_the_title_names_none() -> None:
    text = "师带徒工作经验交流\n\n来源：某重型机械有限公司工会\n\n公司下属铸造厂推行师带徒。"
    assert profile_of(text).organisations == ["某重型机械有限公司"]


@pytest.mark.parametrize(
    ("text", "value", "unit", "counts"),
    [
        ("今年共培训职工92557人。", "92557", "人", "培训职工"),
        ("今年企业年金覆盖32家。", "32", "家", "企业年金覆盖"),
        ("集团所属26家产改单位成立了专班。", "26", "家", "产改单位"),
        ("全年参训职工达1.2万人。", "1.2万", "人", "参训职工"),
        ("工会新建三个职工书屋。", "三", "个", "职工书屋"),
        ("一线职工收入增长百分之二十。", "百分之二十", "%", "一线职工收入增长"),
        # 38% is the share reached, not how much it rose (the card read 38% 技能人才占比提高)
        ("技能人才占比由31%提高到38%。", "38", "%", "技能人才占比"),
        ("集团职工主动离职率降至2%以下。", "2", "%", "职工主动离职率"),
        ("技能人才工资增长11.6%，高于集团职工平均增幅3.2个百分点。", "3.2", "个百分点", "高于集团职工平均增幅"),
        ("公司现有职工3600余人。", "3600余", "人", "现有职工"),  # not an exact 3600
        ("项目分布在十多个省份。", "十多", "个", "省份"),
        ("在大赛中获团体一等奖2项，9名职工获评省级技术能手。", "9", "名", "职工获评省级技术能手"),
        ("参加企业年金的职工达2.3万人。", "2.3万", "人", "参加企业年金的职工"),
        ("2023年新增技师、高级技师185人。", "185", "人", "新增技师、高级技师"),
        ("建成职工书屋60个、心理咨询室15个。", "15", "个", "心理咨询室"),  # 、 after another figure ends it
        # the manner a figure was reached in is not what it counts (the 案例 tab showed 420名 方式培养学徒)
        ("按照“招工即招生、入企即入校”的方式培养学徒420名。", "420", "名", "培养学徒"),
        ("按照“有场地、有团队”的标准建设创新工作室18家。", "18", "家", "建设创新工作室"),
        ("所属35家产改单位全部建立工作专班。", "35", "家", "产改单位"),
        ("职工对工会工作的满意度测评达到96.5%。", "96.5", "%", "满意度测评"),  # a noun that is no manner stays
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


DISPUTE = """劳动者拒绝违法超时加班，用人单位能否解除劳动合同

## 基本案情

王某于2021年3月入职某物流公司，月工资6000元，每周工作6天。王某拒绝加班后，某物流公司与其解除劳动合同。

## 申请人请求

请求裁决某物流公司支付违法解除劳动合同赔偿金12000元。

## 处理结果

仲裁委员会裁决某物流公司支付王某违法解除劳动合同赔偿金12000元。仲裁委员会同时向劳动保障监察机构通报。

## 案例分析

本案的争议焦点是王某拒绝违法超时加班，某物流公司能否与其解除劳动合同。
"""


def test_a_labour_dispute_is_profiled_by_its_result_not_its_figures() -> None:
    """Its figures are one worker's pay and claims (6000元, 12000元): what a reader wants is how it ended."""
    profile = profile_of(DISPUTE)
    assert profile.kind == "dispute" and profile.facts == []
    assert profile.outcome is not None
    assert profile.outcome.text == "仲裁委员会裁决某物流公司支付王某违法解除劳动合同赔偿金12000元。"
    assert DISPUTE[profile.outcome.start:profile.outcome.end] == profile.outcome.text
    assert CaseProfile.from_dict(json.loads(json.dumps(profile.to_dict(), ensure_ascii=False))) == profile


@pytest.mark.parametrize(("text", "outcome"), [
    ("一、基本案情\n张某诉某公司。\n\n二、裁判结果\n\n  一审法院判决：某公司支付张某加班费。二审维持。", "一审法院判决：某公司支付张某加班费。"),
    ("【案情简介】\n张某诉某公司。\n【处理结果】\n仲裁委员会裁决驳回张某的请求", "仲裁委员会裁决驳回张某的请求"),
    ("公司建立了基本案情通报和处理结果反馈制度。", None),  # the words in a sentence are not headings
    ("## 基本案情\n\n张某诉某公司。\n\n## 案例分析\n\n本案中……", None),  # no result stated
])
def test_a_dispute_is_told_by_its_headings(text: str, outcome: str | None) -> None:
    found = dispute_outcome(text)
    assert (found.text if found else None) == outcome
    if found:
        assert text[found.start:found.end] == found.text


def test_a_practice_report_is_no_dispute(demo: CaseProfile) -> None:
    assert demo.kind == "practice" and demo.outcome is None and demo.facts
