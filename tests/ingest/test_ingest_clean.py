"""Normalisation keeps content (Chinese punctuation) and removes layout noise."""

from __future__ import annotations

from ingest.clean import clean, normalise


def test_full_width_letters_digits_and_spaces_fold_but_punctuation_stays() -> None:
    assert normalise("第１条　ＡＢＣ ａｂｃ（一）：“引文”；！？，。") == "第1条 ABC abc（一）：“引文”；！？，。"


def test_invisible_and_control_characters_are_removed() -> None:
    assert normalise("工\u200b会\ufeff法\u200d\x07\x00第一条\u00a0内容") == "工会法第一条 内容"


def test_a_line_of_zero_width_characters_between_text_joins_it() -> None:
    """The 2017 work report, as scraped, breaks 竞争 and 550多万公里 across such a line; between blank lines it
    is only blank (公司法's)."""
    assert normalise("健全优胜劣汰质量竞\n\u200b\n争机制。") == "健全优胜劣汰质量竞争机制。"
    assert normalise("光缆线路550\n \u200b\n\u3000多万公里。") == "光缆线路550多万公里。"
    assert normalise("第一章 总则\n\n\u200b\n\n第一条") == "第一章 总则\n\n第一条"


def test_newlines_trailing_spaces_and_blank_lines() -> None:
    raw = "\ufeff  标题  \r\n\r\n\r\n\r\n\u3000\u3000第一段。 \t\r第二段。\f第三段。\n\n\n"
    assert normalise(raw) == "标题\n\n第一段。\n第二段。\n第三段。"


def test_lawrefbook_header_is_stripped_and_its_title_kept() -> None:
    raw = (
        "# 中华人民共和国工会法\n\n2021年12月24日 第三次修正\n\n<!-- INFO END -->\n\n## 第一章 总则\n\n第一条 内容。\n"
    )
    cleaned = clean(raw)
    assert cleaned.text == "## 第一章 总则\n\n第一条 内容。"
    assert cleaned.header_title == "中华人民共和国工会法"
    assert "2021年12月24日" in cleaned.header


def test_text_without_header_is_only_normalised() -> None:
    cleaned = clean("# 标题\n\n正文。")
    assert (cleaned.text, cleaned.header_title, cleaned.header) == ("# 标题\n\n正文。", None, "")
