"""The questions offered to a first-time visitor are those this KB answers, whatever its documents."""
from __future__ import annotations

import shutil
from pathlib import Path

import httpx
import pytest

from index.kb import KnowledgeBase
from service.examples import examples
from statutes import statutes_kb
from zhiku_live import Server

REPO = Path(__file__).resolve().parents[2]
LAWS = ("社会法/劳动合同法(2012-12-28).md", "社会法/劳动法(2018-12-29).md", "社会法/工会法(2021-12-24).md")
CASE = REPO / "corpus" / "cases" / "华东某装备制造公司以师带徒加快青年技能人才成长.txt"


@pytest.fixture(scope="module")
def laws_kb(tmp_path_factory: pytest.TempPathFactory, shared: Path) -> KnowledgeBase:
    kb = statutes_kb(tmp_path_factory.mktemp("examples"), shared, LAWS)
    yield kb
    kb.close()


def test_a_kb_of_laws_offers_what_its_laws_answer_and_no_case_question(laws_kb: KnowledgeBase,
                                                                      tmp_path: Path) -> None:
    """Over three labour and union laws, 师带徒 案例 listed a statute and 哪家企业用师带徒培养青年技工 quoted one:
    a visitor's first click looked broken. Once a case report on 师带徒 is added, they are offered."""
    offered = examples(laws_kb)
    assert "工会经费按什么比例拨缴" in offered["search"] and "工会经费按什么比例拨缴" in offered["ask"]
    assert "师带徒 案例" not in offered["search"] and "哪家企业用师带徒培养青年技工" not in offered["ask"]
    shutil.copy(CASE, tmp_path / CASE.name)
    laws_kb.ingest([tmp_path])
    offered = examples(laws_kb)
    assert "师带徒 案例" in offered["search"] and "哪家企业用师带徒培养青年技工" in offered["ask"]


def test_the_page_is_offered_the_shipped_examples_and_an_empty_kb_none(demo_server: Server,
                                                                       bare_server: Server) -> None:
    shipped = httpx.get(f"{demo_server.url}/api/examples", timeout=60).json()
    assert shipped == {"search": ["技术工人待遇怎么提高", "工会经费按什么比例拨缴", "师带徒 案例", "产改是什么"],
                       "ask": ["企业年金缴费比例是多少", "职工代表大会有哪些职权", "哪家企业用师带徒培养青年技工"]}
    assert httpx.get(f"{bare_server.url}/api/examples", timeout=60).json() == {"search": [], "ask": []}
