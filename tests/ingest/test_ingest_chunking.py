"""Chunking rules on small hand-written documents, where every boundary can be checked by eye."""

from __future__ import annotations

from itertools import pairwise

import pytest

from ingest.chunking import chunk_document
from ingest.models import Chunk, Document


def make_doc(text: str, title: str = "示例条例") -> Document:
    return Document(
        doc_id="t.md",
        title=title,
        text=text,
        doc_type="law",
        date=None,
        source=None,
        content_hash="",
        source_hash="",
        root="/tmp",
    )


def chunks_of(text: str, **kwargs: int) -> list[Chunk]:
    doc = make_doc(text)
    chunks = chunk_document(doc, **kwargs)
    for chunk in chunks:
        assert text[chunk.start : chunk.end] == chunk.text
    return chunks


LAW = """## 第一章 总则

第一条 为了规范示例，制定本条例。

第二条 本条例适用于示例。

## 第二章 经费

### 第一节 来源

第三条 经费的来源：

（一）会员缴纳的会费；

（二）单位拨缴的经费。

第四条 经费用于职工。"""


def test_articles_are_never_merged_and_keep_their_heading_path() -> None:
    chunks = chunks_of(LAW, chunk_size=400)
    assert [c.heading for c in chunks] == [
        ("示例条例", "第一章 总则", "第一条"),
        ("示例条例", "第一章 总则", "第二条"),
        ("示例条例", "第二章 经费", "第一节 来源", "第三条"),
        ("示例条例", "第二章 经费", "第一节 来源", "第四条"),
    ]
    # Heading-only blocks travel with the article they introduce; outline items stay in their article.
    assert chunks[0].text.startswith("## 第一章 总则\n\n第一条")
    assert chunks[2].text.startswith("## 第二章 经费\n\n### 第一节 来源\n\n第三条")
    assert chunks[2].text.endswith("（二）单位拨缴的经费。")


def test_article_stays_whole_up_to_one_and_a_half_chunk_sizes() -> None:
    body = "职工依法享有权利。" * 60  # 540 characters
    text = f"第一条 {body}\n\n第二条 短条文。"
    chunks = chunks_of(text, chunk_size=400)
    assert [c.heading[-1] for c in chunks] == ["第一条", "第二条"]
    assert chunks[0].text == f"第一条 {body}"


def test_long_article_is_split_at_sentences_with_overlap() -> None:
    sentences = [f"第{i}句说明职工权益保障的具体要求。" for i in range(1, 61)]
    text = "第一条 " + "".join(sentences)
    chunks = chunks_of(text, chunk_size=200, overlap_sentences=1)
    assert len(chunks) > 3
    assert all(c.heading == ("示例条例", "第一条") for c in chunks)
    assert all(len(c.text) <= 200 and c.text.endswith("。") for c in chunks)
    for previous, following in pairwise(chunks):
        last_sentence = previous.text[previous.text.rindex("第", 0, len(previous.text) - 1) :]
        assert following.text.startswith(last_sentence)  # exactly one sentence repeated
        assert following.start < previous.end


def test_no_overlap_when_disabled_and_never_across_sections() -> None:
    section = "".join(f"第{i}段内容说明。" for i in range(1, 50))
    text = f"# 甲\n\n{section}\n\n# 乙\n\n{section}"
    chunks = chunks_of(text, chunk_size=100, overlap_sentences=0)
    for previous, following in pairwise(chunks):
        assert following.start >= previous.end
    with_overlap = chunks_of(text, chunk_size=100, overlap_sentences=2)
    first_of_second_section = next(c for c in with_overlap if c.heading[-1] == "乙")
    assert first_of_second_section.text.startswith("# 乙")


def test_long_paragraph_sections_prefer_line_ends_and_never_cut_sentences() -> None:
    paragraphs = ["一句话说明一件事，并且写得比较长一些。" * 4 for _ in range(12)]
    text = "\n\n".join(paragraphs)
    chunks = chunks_of(text, chunk_size=200, overlap_sentences=0)
    assert len(chunks) > 1
    for chunk in chunks:
        assert chunk.text.endswith("。") and len(chunk.text) <= 200
        assert chunk.end == len(text) or text[chunk.end] == "\n"  # ends at a paragraph end


def test_only_a_sentence_longer_than_the_chunk_size_is_cut_and_then_at_commas() -> None:
    clause = "推进产业工人队伍建设改革"
    long_sentence = "，".join([clause] * 40) + "。"
    text = f"前言一句。\n\n{long_sentence}\n\n后记一句。"
    chunks = chunks_of(text, chunk_size=100, overlap_sentences=0)
    inner = [c for c in chunks if c.text not in ("前言一句。", "后记一句。")]
    assert len(inner) >= 5
    assert all(len(c.text) <= 100 for c in chunks)
    assert all(c.text.endswith(("，", "。")) for c in inner)  # cut at commas, not inside words


# 女职工劳动保护特别规定 ends with 附录： and its title, then 一、…： with （一） items, 二、…： and so on: read as
# 第十六条's text, the list of work women may not do was shown under 本规定自公布之日起施行.
APPENDIX = ("第十六条 本规定自公布之日起施行。\n\n附录：\n\n女职工禁忌从事的劳动范围\n\n"
            "一、女职工禁忌从事的劳动范围：\n\n(一)矿山井下作业；\n\n(二)第四级体力劳动强度的作业。\n\n"
            "二、女职工在经期禁忌从事的劳动范围：\n\n(一)第二级冷水作业；\n\n(二)第二级低温作业。")


@pytest.mark.parametrize(("text", "chunk_size", "headings"), [
    ("一、过去五年工作回顾\n\n总体情况良好。\n\n（一）坚持稳中求进，经济运行保持在合理区间。这些年成绩显著。\n\n"
     "二、今年工作建议\n\n要继续努力。", 400,
     [("一、过去五年工作回顾",), ("一、过去五年工作回顾", "（一）坚持稳中求进"), ("二、今年工作建议",)]),
    (APPENDIX, 100,  # an appendix after the last article is a part of its own, headed by its label and title
     [("第十六条",), ("附录 女职工禁忌从事的劳动范围", "一、女职工禁忌从事的劳动范围："),
      ("附录 女职工禁忌从事的劳动范围", "二、女职工在经期禁忌从事的劳动范围：")]),
])
def test_outlines_and_appendices_become_sections(text: str, chunk_size: int, headings: list[tuple[str, ...]]) -> None:
    assert [c.heading for c in chunks_of(text, chunk_size=chunk_size)] == [("示例条例", *h) for h in headings]


def test_an_appendix_is_no_part_of_the_last_article() -> None:
    chunks = chunks_of(APPENDIX, chunk_size=100)
    assert chunks[0].text == "第十六条 本规定自公布之日起施行。"
    assert chunks[1].text.startswith("附录：") and chunks[1].text.endswith("(二)第四级体力劳动强度的作业。")


def test_outline_items_after_a_colon_are_a_list_not_sections() -> None:
    text = (
        "职务发明创造，是指：\n\n(一)在本职工作中作出的发明创造；\n\n"
        "(二)履行本单位交付的任务所作出的发明创造。\n\n本单位包括临时工作单位。"
    )
    chunks = chunks_of(text, chunk_size=400)
    assert [(c.heading, c.text) for c in chunks] == [(("示例条例",), text)]


def test_title_heading_is_not_repeated_in_the_path() -> None:
    chunks = chunks_of("# 示例条例\n\n## 第一章 总则\n\n第一条 内容。")
    assert [c.heading for c in chunks] == [("示例条例", "第一章 总则", "第一条")]
    assert chunks[0].text.startswith("## 第一章 总则")  # the title line is the path's first part, not text


def test_empty_text_has_no_chunks_and_bad_sizes_are_refused() -> None:
    assert chunk_document(make_doc("")) == []
    with pytest.raises(ValueError, match="chunk_size"):
        chunk_document(make_doc("一句。"), chunk_size=5)
    with pytest.raises(ValueError, match="overlap_sentences"):
        chunk_document(make_doc("一句。"), overlap_sentences=-1)


def test_head_lines_are_metadata_and_list_items_travel_together_under_their_heading() -> None:
    text = (
        "《示例条例》要点摘编\n\n来源：某部门\n日期：2021-06-10\n说明：本文为要点摘编。\n\n"
        "一、概况\n\n本条例规范示例工作。\n\n"
        "二、工会的监督职责\n\n（一）工会依法进行监督。\n\n（二）制定规章制度应当听取工会的意见。\n\n"
        "（三）工会有权要求纠正违法行为。"
    )
    doc = Document(doc_id="t.md", title="《示例条例》要点摘编", text=text, doc_type="policy", date=None,
                   source=None, content_hash="", source_hash="", root="/tmp")
    chunks = chunk_document(doc, chunk_size=400)
    assert [c.heading for c in chunks] == [("《示例条例》要点摘编", "一、概况"),
                                           ("《示例条例》要点摘编", "二、工会的监督职责")]
    assert chunks[0].text.startswith("一、概况")  # no title, 来源, 日期 or 说明 line in any passage
    assert chunks[1].text.startswith("二、工会的监督职责") and chunks[1].text.endswith("要求纠正违法行为。")


def test_a_case_report_is_cut_at_its_thematic_paragraphs() -> None:
    paragraphs = ["某公司以工匠学院培养技能人才。公司把产改与人才培养结合起来。",
                  "办好工匠学院，系统开展技能培训。" + "公司工匠学院设8个专业分院，开发实训课程320门。" * 8,
                  "以赛促学，常态化开展劳动竞赛。公司每年组织技能竞赛38项。"]
    text = "# 某公司案例\n\n来源：某公司工会\n日期：2024-06-12\n\n" + "\n\n".join(paragraphs)
    doc = Document(doc_id="c.md", title="某公司案例", text=text, doc_type="case", date=None, source=None,
                   content_hash="", source_hash="", root="/tmp")
    chunks = chunk_document(doc, chunk_size=200)
    assert [c.text for c in chunks] == paragraphs  # the long one is kept whole (up to 1.5 × chunk_size)
    assert [c.heading for c in chunks] == [("某公司案例", "某公司以工匠学院培养技能人才。"),
                                           ("某公司案例", "办好工匠学院，系统开展技能培训。"),
                                           ("某公司案例", "以赛促学，常态化开展劳动竞赛。")]


def test_a_case_with_headings_of_its_own_keeps_a_headings_paragraphs_together_while_they_fit() -> None:
    """A labour-dispute case's 案例分析 is one argument: its conclusion must travel with its reasons."""
    analysis = ["本案的争议焦点是张某订立放弃加班费协议后，还能否主张加班费。",
                "《劳动合同法》第二十六条规定，用人单位免除自己的法定责任、排除劳动者权利的，劳动合同无效。",
                "约定放弃加班费的协议免除了用人单位的法定责任，显失公平，应认定无效。"]
    background = ["张某入职某科技公司，月工资20000元，入职时签了放弃加班费的协议。" * 2,
                  "半年后张某提出解除劳动合同，并要求支付加班费，公司拒绝。" * 3]
    text = ("# 放弃加班费的协议是否有效\n\n## 基本案情\n\n" + "\n\n".join(background)
            + "\n\n## 案例分析\n\n" + "\n\n".join(analysis))
    doc = Document(doc_id="c.md", title="放弃加班费的协议是否有效", text=text, doc_type="case", date=None,
                   source=None, content_hash="", source_hash="", root="/tmp")
    chunks = chunk_document(doc, chunk_size=100)
    assert [c.text for c in chunks] == ["## 基本案情\n\n" + background[0], background[1],
                                        "## 案例分析\n\n" + "\n\n".join(analysis)]  # 基本案情 is too long for one
    # a paragraph apart keeps its lead sentence as its heading; the joined argument is headed by its heading
    assert [c.heading[-1] for c in chunks] == ["基本案情", "半年后张某提出解除劳动合同，并要求支付加班费，公司拒绝。", "案例分析"]
