"""Metadata detection and overrides, as pure functions and through front matter and sidecars."""

from __future__ import annotations

import json
from pathlib import Path, PurePosixPath

import pytest

from ingest.metadata import (
    MetadataError,
    describe,
    detect_date,
    detect_doc_type,
    detect_source,
    detect_title,
    folders_of,
    make_doc_id,
    merge_overrides,
    normalise_date,
    split_front_matter,
    title_from_file_name,
)
from ingest.models import Document, Skipped
from ingest.pipeline import read_document

ROOT = PurePosixPath("/data/laws")


def test_doc_ids_are_paths_relative_to_the_ingested_root() -> None:
    path = ROOT / "社会法" / "工会法(2021-12-24).md"
    assert make_doc_id(path, ROOT) == "laws/社会法/工会法(2021-12-24).md"
    assert make_doc_id(path, path) == "工会法(2021-12-24).md"
    assert folders_of(path, ROOT) == ("laws", "社会法")
    assert folders_of(path, path) == ()


def test_title_rules() -> None:
    assert detect_title("序\n\n# 正式标题\n", header_title=None, title_hint="网页", fallback="f") == "正式标题"
    assert detect_title("正文", header_title="头部标题", title_hint=None, fallback="f") == "头部标题"
    assert detect_title("\n短标题\n正文。", header_title=None, title_hint=None, fallback="f") == "短标题"
    assert detect_title("这是一句完整的话。\n", header_title=None, title_hint=None, fallback="f") == "f"
    assert detect_title("长" * 61, header_title=None, title_hint=None, fallback="f") == "f"
    assert title_from_file_name("工会法(2021-12-24).md") == "工会法"
    assert (
        title_from_file_name("沿着有中国特色的社会主义道路前进 (十三大).txt")
        == "沿着有中国特色的社会主义道路前进 (十三大)"
    )


def test_date_rules_in_order_of_reliability() -> None:
    head = "标题\n来源:集团工会 日期:2023-11-01\n2020年1月2日召开会议。"
    assert detect_date(head, header="", file_name="x(2019-05-06).txt", title="") == ("2023-11-01", "day")
    assert detect_date("2020年1月2日", header="", file_name="x(2019-05-06).txt", title="") == ("2019-05-06", "day")
    header = "2001年10月27日 第一次修正\n\n2009年8月27日 第二次修正"
    assert detect_date("正文", header=header, file_name="x.md", title="") == ("2009-08-27", "day")
    assert detect_date("1957年6月26日在会议上", header="", file_name="1957年报告.txt", title="") == ("1957-06-26", "day")
    # a year alone is filed under its 1 January and shown as the year: the report was not issued on New Year's Day
    assert detect_date("正文", header="", file_name="1954年政府工作报告.txt", title="1954年政府工作报告") == (
        "1954-01-01", "year")
    assert detect_date("2023年2月30日", header="", file_name="x.txt", title="") is None  # not a real date
    assert [normalise_date(v) for v in ("2023/11/1", "2023年11月1日", "2023-11", 2023, "2023年", "明年")] == [
        ("2023-11-01", "day"),
        ("2023-11-01", "day"),
        ("2023-11-01", "month"),
        ("2023-01-01", "year"),
        ("2023-01-01", "year"),
        None,
    ]


def test_source_rules() -> None:
    assert detect_source("标题\n来源:集团工会 日期:2023-11-01") == "集团工会"
    assert detect_source("来源：中华全国总工会日期：2024-01-01") == "中华全国总工会"
    assert detect_source("发文机关：国务院办公厅\n") == "国务院办公厅"
    assert detect_source("正文没有来源") is None
    assert detect_source("来源：\n下一行不是来源") is None


def test_doc_type_from_folders_then_content() -> None:
    assert detect_doc_type("", title="x", folders=("laws", "案例", "劳动人事")) == "case"
    assert detect_doc_type("", title="x", folders=("laws", "DLC", "地方性法规", "广东")) == "law"
    assert detect_doc_type("", title="x", folders=("reports",)) == "report"
    assert detect_doc_type("", title="x", folders=("政策文件",)) == "policy"
    articles = "\n".join(f"第{n}条 内容。" for n in "一二三")
    assert detect_doc_type(articles, title="某条例", folders=("uploads",)) == "law"
    assert detect_doc_type("", title="2024年政府工作报告", folders=()) == "report"
    assert detect_doc_type("", title="专利法实施细则第十二条", folders=()) == "law"
    assert detect_doc_type("", title="中华人民共和国工会法", folders=()) == "law"
    assert detect_doc_type("", title="某集团的经验做法", folders=()) == "case"
    assert detect_doc_type("收集整理产改经验做法32个", title="某集团推进产改", folders=()) == "case"
    assert detect_doc_type("", title="关于提高技术工人待遇的意见", folders=()) == "policy"
    assert detect_doc_type("随便写写", title="笔记", folders=()) == "other"


def test_front_matter_is_split_only_when_well_formed() -> None:
    fields, body = split_front_matter('---\ndoc_type: case\ntitle: "某案例"\n# comment\n---\n正文')
    assert (fields, body) == ({"doc_type": "case", "title": "某案例"}, "正文")
    text = "---\n这不是元数据\n---\n正文"
    assert split_front_matter(text) == ({}, text)


def test_overrides_are_validated_with_their_origin() -> None:
    known, extra = merge_overrides(
        [("文件开头的元数据", {"doc_type": "案例", "region": "江西"}), ("附加元数据文件", {"date": "2023年11月1日"})]
    )
    assert known == {"doc_type": "case", "date": ("2023-11-01", "day")} and extra == {"region": "江西"}
    with pytest.raises(MetadataError, match=r"^附加元数据文件 a\.meta\.json：date '下周' 不是日期"):
        merge_overrides([("附加元数据文件 a.meta.json", {"date": "下周"})])
    meta = describe(
        "正文。", file_name="a.txt", folders=(), fallback_title="a", overrides=[("x", {"source": "", "title": "T"})]
    )
    assert (meta.title, meta.source) == ("T", None)


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_front_matter_and_sidecar_override_detection(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    reports.mkdir()
    note = _write(reports / "note.md", "---\ndoc_type: case\ndate: 2022-05-01\n---\n# 经验交流\n\n正文。")
    (doc,) = read_document(note, reports)  # type: ignore[misc]
    assert (doc.doc_type, doc.date, doc.title, doc.text) == ("case", "2022-05-01", "经验交流", "# 经验交流\n\n正文。")
    _write(reports / "note.md.meta.json", json.dumps({"source": "市总工会", "doc_type": "policy", "topic": "产改"}))
    (doc,) = read_document(note, reports)  # type: ignore[misc]
    assert isinstance(doc, Document)
    assert (doc.doc_type, doc.source, doc.extra) == ("policy", "市总工会", {"topic": "产改"})
    _write(reports / "note.md.meta.json", "{broken")
    result = read_document(note, reports)
    assert isinstance(result, Skipped) and "附加元数据文件 note.md.meta.json 不是有效的 UTF-8 JSON" in result.reason
