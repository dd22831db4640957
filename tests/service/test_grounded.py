"""Grounded answers written by an LLM: a real zhiku server talks to the scripted OpenAI-compatible server of
``fake_llm.py`` (its own process, the real wire format), exactly as it would talk to vLLM or Ollama."""
from __future__ import annotations

import json

import httpx
import pytest
from zhiku_live import HALLUCINATING_REPLY, LLM_KEY, LLM_MODEL, LLM_TIMEOUT_S, FakeLlm, Server

FUND = "企业应当按什么比例向工会拨缴经费"
NOTHING = "量子色动力学的渐近自由与夸克禁闭"
UNSUPPORTED = "（未经资料证实）"
SCRIPT = HALLUCINATING_REPLY


def ask(server: Server, **params: str) -> dict:
    response = httpx.get(server.url + "/api/ask", params=params, timeout=60)
    assert response.status_code == 200, response.text
    assert LLM_KEY not in response.text
    return response.json()


def ask_stream(server: Server, **params: str) -> list[tuple[str, dict]]:
    with httpx.stream("GET", server.url + "/api/ask/stream", params=params, timeout=60) as response:
        assert response.status_code == 200 and response.headers["content-type"].startswith("text/event-stream")
        text = response.read().decode()
    assert LLM_KEY not in text
    events = [block.split("\n", 1) for block in text.strip().split("\n\n")]
    return [(head.removeprefix("event: "), json.loads(data.removeprefix("data: "))) for head, data in events]


def test_the_llm_writes_the_answer_and_every_sentence_is_checked(llm_server: Server, fake_llm: FakeLlm) -> None:
    fake_llm.script({"text": SCRIPT})
    sent_before = len(fake_llm.requests())
    body = ask(llm_server, q=FUND)
    assert body["generated"] is True and body["notice"] is None and body["found"] is True
    assert [(c["citations"], c["supported"]) for c in body["claims"]] == [([1], True), ([1], False), ([], False)]
    assert body["answer"].count(UNSUPPORTED) == 2 and "[9]" not in body["answer"]
    assert body["sentences"] and body["passages"] and body["query"] == body["question"] == FUND  # today's fields

    request = fake_llm.requests()[sent_before]
    assert request["authorization"] == f"Bearer {LLM_KEY}" and request["body"]["model"] == LLM_MODEL
    assert not request["body"].get("stream")
    prompt = request["body"]["messages"][-1]["content"]
    assert FUND in prompt and "[1] " in prompt and body["passages"][0]["text"] in prompt


def test_the_page_gets_the_answer_while_it_is_written(llm_server: Server, fake_llm: FakeLlm) -> None:
    fake_llm.script({"text": SCRIPT})
    events = ask_stream(llm_server, q=FUND)
    deltas = [data["text"] for name, data in events if name == "delta"]
    assert len(deltas) > 3 and "5000元" in "".join(deltas)
    name, final = events[-1]
    assert name == "answer" and final["generated"] is True and final["claims"][1]["supported"] is False
    assert fake_llm.requests()[-1]["body"]["stream"] is True


def test_nothing_relevant_means_the_llm_is_not_asked(llm_server: Server, fake_llm: FakeLlm) -> None:
    sent_before = len(fake_llm.requests())
    body = ask(llm_server, q=NOTHING)
    assert body["found"] is False and body["answer"] == "未找到相关内容" and body["generated"] is False
    assert ask_stream(llm_server, q=NOTHING)[-1][1]["found"] is False
    assert len(fake_llm.requests()) == sent_before


@pytest.mark.parametrize("reply, notice", [
    ({"text": SCRIPT, "delay": LLM_TIMEOUT_S + 1.5}, "超时"),
    ({"text": "抱歉，资料中没有答案。"}, "未能根据资料作答"),
    ({"text": "嗯嗯 好的 asdf qwer 1234"}, "无法与资料核对"),
    ({"text": SCRIPT, "wire": "broken"}, "暂不可用"),
    (None, "暂不可用"),  # HTTP 500
], ids=["slow", "refusal", "junk", "broken-wire", "http-500"])
def test_a_failing_llm_gives_the_extractive_answer_with_a_notice(llm_server: Server, fake_llm: FakeLlm,
                                                                 reply: dict | None, notice: str) -> None:
    fake_llm.script(*([reply] if reply else []))
    body = ask(llm_server, q=FUND)
    assert body["generated"] is False and notice in body["notice"]
    assert body["answer"].replace("\n", "") == "".join(s["text"] for s in body["sentences"]) and body["answer"]
    assert all(c["supported"] and len(c["citations"]) == 1 for c in body["claims"])
    assert body["took_ms"] < (LLM_TIMEOUT_S + 1.0) * 1000


def test_a_stopped_llm_server_gives_the_extractive_answer(llm_server: Server, fake_llm: FakeLlm) -> None:
    fake_llm.stop()
    try:
        body = ask(llm_server, q=FUND)
        assert body["generated"] is False and "暂不可用" in body["notice"] and body["claims"]
        name, final = ask_stream(llm_server, q=FUND)[-1]
        assert name == "answer" and "暂不可用" in final["notice"]
    finally:
        fake_llm.start()


def test_a_follow_up_is_rewritten_with_the_previous_question(llm_server: Server, fake_llm: FakeLlm) -> None:
    fake_llm.script({"text": "{p1}[1]。"})
    body = ask(llm_server, q="那女职工呢？", prev="男职工的产假有几天？")
    assert body["question"] == "那女职工呢？" and body["query"] == "女职工的产假有几天"
    assert body["found"] is True and body["generated"] is True
    assert "问题：女职工的产假有几天" in fake_llm.requests()[-1]["body"]["messages"][-1]["content"]


def test_the_llm_key_is_never_logged(llm_server: Server, fake_llm: FakeLlm) -> None:
    fake_llm.script({"text": SCRIPT, "delay": LLM_TIMEOUT_S + 0.5})  # a timeout, then an HTTP 500
    for _ in range(2):
        ask(llm_server, q=FUND)
    log = llm_server.log.read_text()
    assert "LLM timeout" in log and "LLM unavailable" in log  # the failures are logged ...
    assert LLM_KEY not in log  # ... without the key


def test_without_an_llm_the_answer_is_extractive(client: httpx.Client) -> None:
    body = client.get("/api/ask", params={"q": FUND}).json()
    assert body["generated"] is False and body["notice"] is None
    assert body["answer"].replace("\n", "") == "".join(s["text"] for s in body["sentences"])
    assert [(c["text"], c["supported"]) for c in body["claims"]] == [(s["text"], True) for s in body["sentences"]]
    for claim, sentence in zip(body["claims"], body["sentences"]):  # each cites the passage that holds it
        (n,) = claim["citations"]
        cited = body["passages"][n - 1]
        assert cited["doc_id"] == sentence["doc_id"] and cited["start"] <= sentence["start"] < cited["end"]
