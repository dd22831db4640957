"""The citation checker: split an LLM's answer into sentences, read their [n] citations, test each one.

A sentence counts as supported by the passages it cites when
  1. most of its wording is found in them: the share of the sentence's character bigrams (Han, letters and
     digits; citation marks and punctuation removed) that occur in the cited passages reaches
     :data:`MIN_OVERLAP` — Chinese has no spaces and a paraphrase of a legal text keeps its terms (工会经费,
     拨缴, 工资总额), so bigrams measure "said there" without a segmenter's dictionary deciding it;
  2. every number it states occurs in them (2%, 百分之二, 第四十三条, 8年, 五倍 compared as values): the
     hallucination that hurts most is a right-sounding sentence with a wrong figure, which overlap alone lets
     through because one changed digit moves one or two bigrams;
  3. it does not negate what they say: a prohibition word (不得, 禁止, 无须 …) the cited passages never use
     flips the meaning at almost no cost in overlap.
Why these three and this threshold: docs/answering.md, measured on tests/data/claims.jsonl.
A sentence without a citation is unsupported; a citation of a passage that was not given is dropped.
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from index.answering.extract import sentence_spans
from index.search.text import normalize

MIN_OVERLAP = 0.6  # share of a sentence's bigrams found in its cited passages; docs/answering.md

_MARK = re.compile(r"\s*[\[【［]\s*(\d{1,3}(?:\s*[,，、]\s*\d{1,3})*)\s*[\]】］]")
_MARK_AFTER_STOP = re.compile(r"([。！？；!?;])((?:\s*[\[【［][\d\s,，、]+[\]】］])+)")
_CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_CN_UNITS = {"十": 10, "百": 100, "千": 1000}
_CN_NUMERAL = "零〇一二两三四五六七八九十百千"
# A Chinese numeral counts as a number only beside a counting word (一线, 统一 are no figures).
_NUMBER = re.compile(rf"\d+(?:\.\d+)?|(?<=第|之)[{_CN_NUMERAL}]+|[{_CN_NUMERAL}]+(?=[条款项倍年日天个月周岁小时元人次名级万亿%])")
_NEGATIONS = ("不得", "不能", "不应", "不可", "不予", "不需", "无须", "无需", "无权", "禁止", "不属于", "不是", "没有", "不必")


@dataclass(frozen=True)
class Claim:
    """One sentence of an answer, the 1-based passage numbers it cites and whether they support it."""

    text: str
    citations: tuple[int, ...]
    supported: bool


def split_claims(reply: str, passages: Sequence[str]) -> list[Claim]:
    """The reply's sentences with their valid citations, each checked against the passages it cites."""
    reply = _MARK_AFTER_STOP.sub(r"\2\1", reply)  # "…百分之二。[1]" -> "…百分之二[1]。"
    claims = []
    for start, end in sentence_spans(reply):
        raw = reply[start:end]
        cited = tuple(dict.fromkeys(int(n) for group in _MARK.findall(raw) for n in re.findall(r"\d+", group)))
        text = _MARK.sub("", raw).strip().lstrip("-*•·# ").strip()
        if not any(ch.isalnum() for ch in text):
            continue
        valid = tuple(n for n in cited if 1 <= n <= len(passages))
        claims.append(Claim(text, valid, bool(valid) and supports(text, [passages[n - 1] for n in valid])))
    return claims


def supports(sentence: str, cited: Sequence[str]) -> bool:
    """The three tests of the module docstring; ``cited`` are the texts of the passages the sentence cites."""
    if not cited:
        return False
    source = normalize("".join(cited))
    sentence = normalize(sentence)
    return (overlap(sentence, source) >= MIN_OVERLAP and numbers(sentence) <= numbers(source)
            and not any(word in sentence and word not in source for word in _NEGATIONS))


def overlap(sentence: str, source: str) -> float:
    """Share of the sentence's character bigrams (over Han, letters and digits) that occur in ``source``."""
    wanted = _bigrams(sentence)
    return len(wanted & _bigrams(source)) / len(wanted) if wanted else 0.0


def numbers(text: str) -> set[float]:
    """The values of the figures in ``text``: 12% and 百分之十二 are both 12, 第四十三条 is 43."""
    return {_value(match) for match in _NUMBER.findall(text)}


def _bigrams(text: str) -> set[str]:
    kept = "".join(ch for ch in text if ch.isalnum())
    return {kept[i:i + 2] for i in range(len(kept) - 1)}


def _value(numeral: str) -> float:
    """12, 2.5, 一百零五 (105), 十二 (12), 二〇二一 (2021: digits without units are read one by one)."""
    if numeral[0].isdigit():
        return float(numeral)
    if not any(ch in _CN_UNITS for ch in numeral):
        return float("".join(str(_CN_DIGITS[ch]) for ch in numeral))
    total, current = 0, 0
    for ch in numeral:
        if ch in _CN_UNITS:
            total, current = total + (current or 1) * _CN_UNITS[ch], 0
        else:
            current = _CN_DIGITS[ch]
    return float(total + current)
