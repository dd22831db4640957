"""OCR'd lines → paragraphs in reading order: the layout rules on line boxes laid out as on real pages."""

from __future__ import annotations

from ingest.readers.layout import Line, PageScan, drop_running_lines, page_text

H = 30  # line height in pixels, as at 200 dpi with 小四 type


def column(texts: list[str], left: float, right: float, top: float, *, widths: list[float] | None = None) -> list[Line]:
    """Lines of a column, one below the other; each full width unless ``widths`` says otherwise."""
    widths = widths or [right - left] * len(texts)
    return [Line(text, left, top + i * 1.6 * H, left + width, top + i * 1.6 * H + H) for i, (text, width) in
            enumerate(zip(texts, widths))]


def test_wrapped_lines_join_without_spaces_and_paragraphs_end_where_a_person_ended_them() -> None:
    lines = column(
        ["第二十一条工会代表职工与企业进行平等协商，依法签", "订集体合同。", "工会签订集体合同，上级工会应当给予支持",
         "和帮助", "（一）工会会员缴纳的会费；"],
        100, 1100, 200, widths=[1000, 180, 1000, 100, 600],
    )
    assert page_text(PageScan(1200, 1700, tuple(lines))).splitlines() == [
        "第二十一条 工会代表职工与企业进行平等协商，依法签订集体合同。",  # the label the chunker needs is split off
        "工会签订集体合同，上级工会应当给予支持和帮助",
        "（一）工会会员缴纳的会费；",
    ]


def test_two_columns_are_read_left_then_right_below_a_full_width_title() -> None:
    title = Line("关于推进产业工人队伍建设改革的通知", 300, 100, 900, 100 + H)
    left = column(["左栏第一行文字很长很长很长", "左栏第二行。", "左栏第三段。"], 100, 560, 200)
    right = column(["右栏第一段。", "右栏第二段。", "右栏第三段。"], 640, 1100, 200)
    shuffled = (right[1], left[2], title, right[0], left[0], right[2], left[1])
    assert page_text(PageScan(1200, 1700, shuffled)).splitlines() == [
        "关于推进产业工人队伍建设改革的通知", "左栏第一行文字很长很长很长左栏第二行。", "左栏第三段。",
        "右栏第一段。", "右栏第二段。", "右栏第三段。",
    ]


def test_page_numbers_and_running_headers_are_dropped() -> None:
    pages = []
    for number in range(1, 4):
        header = Line("××市总工会文件", 400, 40, 800, 40 + H)
        footer = Line(f"- {number} -", 560, 1640, 640, 1640 + H)
        body = Line(f"第{number}页的正文。", 100, 300, 1100, 300 + H)
        pages.append(PageScan(1200, 1700, (header, body, footer)))
    assert [page_text(page) for page in drop_running_lines(pages)] == ["第1页的正文。", "第2页的正文。", "第3页的正文。"]
