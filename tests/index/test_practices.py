"""Which questions ask what a named enterprise did, and how a question names it."""
from __future__ import annotations

import pytest

from index.answering.practices import asks_for_practices, enterprise_names


@pytest.mark.parametrize("question, asks", [
    ("江钨的产改经验有哪些？", True),
    ("华东某装备制造公司师带徒有哪些做法", True),
    ("港口集团在职代会上是怎么做的？", True),
    ("江钨工会做了哪些工作", True),
    ("江钨一共征集到多少个优秀的产改案例？", False),  # one fact of what was done
    ("江钨平时给职工组织了哪些文体活动？", False),
])
def test_what_was_done_not_one_fact_of_it(question: str, asks: bool) -> None:
    assert asks_for_practices(question) is asks


def test_a_question_names_an_enterprise_by_its_core_and_without_its_anonymised_region() -> None:
    assert enterprise_names(["江钨控股集团"]) == ["江钨"]
    assert enterprise_names(["华东某装备制造公司"]) == ["华东某装备制造", "装备制造"]
    assert enterprise_names(["某省电力公司工会"]) == ["某省电力", "电力"]
    assert enterprise_names([]) == []
