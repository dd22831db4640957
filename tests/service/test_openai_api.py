"""The OpenAI-compatible endpoint, called with the official ``openai`` Python client as a chat client would."""
from __future__ import annotations

import openai
import pytest
from zhiku_live import HALLUCINATING_REPLY, FakeLlm, Server

FUND = "企业应当按什么比例向工会拨缴经费"


def chat(server: Server) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.url + "/v1", api_key="unused", max_retries=0, timeout=60)


def test_one_model_per_readable_kb(server: Server) -> None:
    assert [m.id for m in chat(server).models.list()] == ["zhiku"]


def test_the_answer_comes_with_numbered_sources(server: Server) -> None:
    completion = chat(server).chat.completions.create(model="zhiku", messages=[{"role": "user", "content": FUND}])
    content = completion.choices[0].message.content
    assert completion.object == "chat.completion" and completion.choices[0].finish_reason == "stop"
    answer, sources = content.split("\n\n来源：\n")
    assert "百分之二" in answer and "[1]" in answer
    first = sources.splitlines()[0]
    assert first.startswith("[1] 《") and f"{server.url}/#/doc?id=" in first and "&start=" in first


def test_nothing_to_quote_names_the_weak_matches_for_the_user_to_read(demo_server: Server) -> None:
    """An assistant relaying zhiku says plainly that nothing answers, then where the user might look."""
    question = "遇到危险能不能停下活先撤？"
    completion = chat(demo_server).chat.completions.create(model="zhiku", messages=[{"role": "user", "content": question}])
    message, weak = completion.choices[0].message.content.split("\n\n")
    assert message == "未找到相关内容"
    intro, first, *_ = weak.splitlines()
    assert intro == "以下段落相关度较低，仅供参考：" and "安全生产法" in first and "第五十五条" in first


def test_streamed_chunks_add_up_to_the_same_answer(server: Server) -> None:
    client = chat(server)
    whole = client.chat.completions.create(model="zhiku", messages=[{"role": "user", "content": FUND}])
    chunks = list(client.chat.completions.create(model="zhiku", stream=True,
                                                 messages=[{"role": "user", "content": FUND}]))
    assert len(chunks) > 3 and chunks[-1].choices[0].finish_reason == "stop"
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == whole.choices[0].message.content


def test_bad_requests_get_clear_errors(server: Server) -> None:
    client = chat(server)
    with pytest.raises(openai.NotFoundError, match="没有这个模型"):
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": FUND}])
    with pytest.raises(openai.UnprocessableEntityError, match="没有用户问题"):
        client.chat.completions.create(model="zhiku", messages=[{"role": "system", "content": "你好"}])


def test_with_an_llm_the_checked_answer_and_follow_ups(llm_server: Server, fake_llm: FakeLlm) -> None:
    fake_llm.script({"text": HALLUCINATING_REPLY}, {"text": "{p1}[1]。"})
    client = chat(llm_server)
    first = client.chat.completions.create(model="zhiku", messages=[{"role": "user", "content": FUND}])
    assert "（未经资料证实）" in first.choices[0].message.content
    conversation = [{"role": "user", "content": "男职工的产假有几天？"}, {"role": "assistant", "content": "……"},
                    {"role": "user", "content": "那女职工呢？"}]
    follow_up = client.chat.completions.create(model="zhiku", messages=conversation)
    assert follow_up.choices[0].message.content.startswith("（接着上一个问题，按“女职工的产假有几天”查找）")
    assert "问题：女职工的产假有几天" in fake_llm.requests()[-1]["body"]["messages"][-1]["content"]
