"""Every bad input gets a 4xx with the JSON error shape, a code and a message saying what to fix."""
from __future__ import annotations

import re

import httpx
import pytest

from zhiku_live import MAX_K, assert_error

CHINESE = re.compile(r"[\u4e00-\u9fff]")
ENGLISH_HALF = re.compile(r" / [A-Za-z]")  # the old "中文 / English" messages


def reads_chinese(text: str | None) -> bool:
    """Written for a Chinese reader: some Chinese, and no English half beside it."""
    return bool(text and CHINESE.search(text) and not ENGLISH_HALF.search(text))

SEARCH_CASES = [
    ({"q": ""}, "empty_query"),
    ({"q": "   \t "}, "empty_query"),
    ({"q": "工" * 501}, "query_too_long"),
    ({"q": "工会", "k": 0}, "k_out_of_range"),
    ({"q": "工会", "k": MAX_K + 1}, "k_out_of_range"),
    ({"q": "工会", "k": -3}, "k_out_of_range"),
    ({"q": "工会", "type": "novel"}, "unknown_type"),
    ({"q": "工会", "date_from": "2020-13-01"}, "bad_date"),
    ({"q": "工会", "date_to": "yesterday"}, "bad_date"),
    ({"q": "工会", "date_from": "2021-01-01", "date_to": "2020-01-01"}, "bad_date_range"),
    ({"q": "工会", "k": "ten"}, "invalid_request"),
    ({"q": "工会", "method": "magic"}, "invalid_request"),
    ({}, "invalid_request"),
]


@pytest.mark.parametrize(("params", "code"), SEARCH_CASES, ids=[c for _, c in SEARCH_CASES])
def test_bad_search_input_is_422(client: httpx.Client, params: dict, code: str) -> None:
    error = assert_error(client.get("/api/search", params=params), 422, code)
    assert reads_chinese(error["message"]), error


def test_the_allowed_choices_are_listed_without_english(client: httpx.Client) -> None:
    error = assert_error(client.get("/api/search", params={"q": "工会", "method": "magic"}), 422, "invalid_request")
    assert error["message"].startswith("参数无效：method：应为以下之一：") and " or " not in error["message"], error
    assert "hybrid" in error["message"] and "、" in error["message"]


@pytest.mark.parametrize(("params", "code"), SEARCH_CASES[:10], ids=[c for _, c in SEARCH_CASES[:10]])
def test_bad_ask_input_is_422(client: httpx.Client, params: dict, code: str) -> None:
    error = assert_error(client.get("/api/ask", params=params), 422, code)
    assert reads_chinese(error["message"]), error


@pytest.mark.parametrize("body", [{"q": "工会", "k": 0}, {"q": ""}, {"k": 3}, ["工会"], {"q": 5}])
def test_bad_post_search_body_is_422(client: httpx.Client, body: object) -> None:
    assert_error(client.post("/api/search", json=body), 422)


def test_malformed_json_is_4xx(client: httpx.Client) -> None:
    response = client.post("/api/search", content=b"{not json", headers={"Content-Type": "application/json"})
    assert_error(response, 422)


def test_oversized_search_body_is_413(client: httpx.Client) -> None:
    response = client.post("/api/search", content=b'{"q": "' + b"a" * 70_000 + b'"}',
                           headers={"Content-Type": "application/json"})
    assert_error(response, 413)


def test_unknown_document_is_404(client: httpx.Client) -> None:
    error = assert_error(client.get("/api/documents/社会法/不存在的法(1999-01-01).md"), 404, "document_not_found")
    assert "不存在的法" in error["message"]


def test_unknown_route_and_method(client: httpx.Client) -> None:
    assert_error(client.get("/api/nothing-here"), 404, "not_found")
    assert_error(client.put("/api/search"), 405, "method_not_allowed")


@pytest.mark.parametrize("params", [{"type": "novel"}, {"offset": -1}, {"offset": 10**30}, {"limit": 0},
                                    {"limit": 100000}])
def test_bad_document_list_params(client: httpx.Client, params: dict) -> None:
    assert_error(client.get("/api/documents", params=params), 422)


def test_bad_case_year(client: httpx.Client) -> None:
    assert_error(client.get("/api/cases", params={"year": "twenty"}), 422, "invalid_request")


def test_suggest_limit_out_of_range(client: httpx.Client) -> None:
    assert_error(client.get("/api/suggest", params={"q": "工会", "limit": 500}), 422)


def test_validation_errors_are_chinese(client: httpx.Client) -> None:
    """pydantic's own errors are put in Chinese words, naming the parameter."""
    error = assert_error(client.get("/api/search", params={"q": "工会", "k": "abc"}), 422, "invalid_request")
    assert error["message"] == "参数无效：k：应为整数"
    error = assert_error(client.get("/api/suggest", params={"q": "工会", "limit": 500}), 422, "invalid_request")
    assert error["message"] == "参数无效：limit：不能大于 20"
    for response in (client.get("/api/nothing-here"), client.put("/api/search"),
                     client.post("/api/search", content=b"{not json", headers={"Content-Type": "application/json"})):
        assert reads_chinese(response.json()["error"]["message"]), response.text


def test_docs_prose_is_chinese(client: httpx.Client) -> None:
    """What /docs shows of every operation — summary, description, parameters, responses — and every field
    description of the schemas is Chinese, not the English developer notes of the docstrings."""
    spec = client.get("/openapi.json").json()
    assert reads_chinese(spec["info"]["description"])
    problems = []
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            shown = {"summary": operation.get("summary"), "description": operation.get("description")}
            shown |= {f"parameter {p['name']}": p.get("description") for p in operation.get("parameters", [])}
            shown |= {f"response {status}": r.get("description") for status, r in operation["responses"].items()}
            problems += [f"{method.upper()} {path} {what}: {text!r}" for what, text in shown.items()
                         if not reads_chinese(text)]
    for name, schema in spec["components"]["schemas"].items():
        described = {"": schema.get("description")} | {
            f".{field}": prop.get("description") for field, prop in schema.get("properties", {}).items()}
        problems += [f"schema {name}{what}: {text!r}" for what, text in described.items()
                     if text is not None and not reads_chinese(text)]
    assert not problems, "\n".join(problems)
