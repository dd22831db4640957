"""The 案例 endpoint as a trainer uses it (keyword search, topics, one organisation per case) and suggestions
for question-style input, over real HTTP against the server on the demo corpus and ../shared."""
from __future__ import annotations

import httpx

from zhiku_live import assert_error

MENTORING_CASE = "华东某装备制造公司以“师带徒”加快青年技能人才成长"


def cases(client: httpx.Client, **params: str) -> list[dict]:
    response = client.get("/api/cases", params=params)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["total"] == len(body["cases"])
    return body["cases"]


def test_keyword_search_lists_only_matching_cases_best_first(client: httpx.Client) -> None:
    everything = cases(client)
    found = cases(client, q="师带徒")
    assert found and found[0]["title"] == MENTORING_CASE
    assert len(found) < len(everything)
    assert {c["doc_id"] for c in found} <= {c["doc_id"] for c in everything}  # case reports only
    assert cases(client, q="  ") == everything  # a blank keyword is no keyword


def test_keyword_search_combines_with_the_filters(client: httpx.Client) -> None:
    (mentoring,) = [c for c in cases(client, q="师带徒") if c["title"] == MENTORING_CASE]
    both = cases(client, q="师带徒", topic="技能竞赛", year=str(mentoring["year"]))
    assert [c["title"] for c in both] == [MENTORING_CASE]
    assert cases(client, q="师带徒", org="某省电力公司") == []


def test_topics_name_the_practices_trainers_look_for(client: httpx.Client) -> None:
    everything = cases(client)
    for topic, title in [("师带徒", MENTORING_CASE), ("企业年金", "某有色金属集团扩大企业年金覆盖面稳住一线技能人才"),
                         ("农民工", "中部某建筑工程集团推动农民工向产业工人转变")]:
        found = cases(client, topic=topic)
        assert title in {c["title"] for c in found}, topic
        assert all(topic in c["topics"] for c in found)
        assert len(found) <= len(everything) // 2, (topic, [c["title"] for c in found])


def test_one_organisation_per_case(client: httpx.Client) -> None:
    everything = cases(client)
    assert all(len(c["organisations"]) <= 1 for c in everything), [c["organisations"] for c in everything]
    reports = [c for c in everything if c["source"]]  # court cases (张某入职某公司…) name no reporter
    assert len(reports) >= 13 and all(len(c["organisations"]) == 1 for c in reports)
    organisations = [c["organisations"][0] for c in reports]
    assert len(set(organisations)) == len(organisations)  # no "X工会" beside "X", no 选煤厂
    assert "某省电力公司" in organisations and "江钨控股集团" in organisations
    (power,) = cases(client, org="某省电力公司")
    assert power["organisations"] == ["某省电力公司"]


def test_a_labour_dispute_is_a_case_of_its_own_kind_shown_with_its_result(client: httpx.Client) -> None:
    """../shared's typical labour disputes (基本案情, 处理结果 or 裁判结果) beside the enterprises' practices: a
    trainer filters them apart, and a dispute shows how it was decided, not its parties' pay as key figures."""
    everything, disputes, practices = cases(client), cases(client, kind="dispute"), cases(client, kind="practice")
    assert len(disputes) >= 10 and len(practices) >= 13 and len(disputes) + len(practices) == len(everything)
    assert all(c["kind"] == "dispute" and c["facts"] == [] and c["outcome"] for c in disputes)
    assert all(c["kind"] == "practice" and c["outcome"] is None for c in practices)
    assert MENTORING_CASE in {c["title"] for c in practices}
    for case in disputes:
        text = client.get(f"/api/documents/{case['doc_id']}").json()["text"]
        outcome = case["outcome"]
        assert text[outcome["start"]:outcome["end"]] == outcome["text"]
        assert ("裁决" in outcome["text"] or "判决" in outcome["text"]), outcome
    assert {c["doc_id"] for c in cases(client, q="加班费", kind="dispute")} <= {c["doc_id"] for c in disputes}
    error = assert_error(client.get("/api/cases", params={"kind": "经验"}), 422, "invalid_request")
    assert error["message"] == "参数无效：kind：应为以下之一：practice、dispute"  # no English "or"


def test_a_search_hit_says_which_kind_of_case_it_is(client: httpx.Client) -> None:
    """In a result list too, a dispute is told from a practice (the page labels it 劳动争议案例); a law is no case."""
    kinds = {c["doc_id"]: c["kind"] for c in cases(client)}
    hits = [hit for q in ("加班费 仲裁时效", "师带徒 培养青年技工", "加班费 约定放弃")
            for hit in client.get("/api/search", params={"q": q, "k": 20}).json()["results"]]
    assert {hit["case_kind"] for hit in hits} == {"dispute", "practice", None}
    assert all(hit["case_kind"] == kinds.get(hit["doc_id"]) for hit in hits)
    assert all((hit["case_kind"] is None) == (hit["doc_type"] != "case") for hit in hits)
    for hit in hits:  # the document says so too
        assert client.get(f"/api/documents/{hit['doc_id']}").json()["case_kind"] == hit["case_kind"]


def test_suggestions_for_a_question(client: httpx.Client) -> None:
    body = client.get("/api/suggest", params={"q": "技术工人待遇怎么提高"}).json()
    assert "《关于提高技术工人待遇的意见》要点摘编" in body["suggestions"] and "技术工人待遇" in body["suggestions"]
    assert "技术工人待遇怎么提高" not in body["suggestions"]
    limited = client.get("/api/suggest", params={"q": "技术工人待遇怎么提高", "limit": 2}).json()["suggestions"]
    assert len(limited) == 2 and set(limited) <= set(body["suggestions"])
