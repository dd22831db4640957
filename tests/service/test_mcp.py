"""``zhiku mcp``, driven by the official ``mcp`` client over stdio and over streamable HTTP."""
from __future__ import annotations

import subprocess
from collections.abc import Iterator

import anyio
import pytest
from mcp import Client, StdioServerParameters
from zhiku_live import REPO, KBs, free_port, wait_until_answering, zhiku_command

FUND = "企业应当按什么比例向工会拨缴经费"


@pytest.fixture(scope="module")
def http_url(kbs: KBs, env: dict[str, str]) -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen([*zhiku_command(), "mcp", "--kb", str(kbs.copy), "--http", "--port", str(port)],
                               env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/mcp"
    wait_until_answering(url, process)
    yield url
    process.terminate()
    process.wait(timeout=20)


async def exercise(client: Client) -> None:
    """What an assistant does: list the tools, search, ask, read a source further; and a bad call."""
    tools = {tool.name: tool for tool in (await client.list_tools()).tools}
    assert set(tools) == {"search", "ask", "get_document"}
    assert tools["ask"].input_schema["properties"]["question"]["type"] == "string"
    assert "sources" in tools["ask"].output_schema["properties"]

    found = (await client.call_tool("search", {"query": "工会经费 拨缴", "k": 3})).structured_content
    assert len(found["sources"]) == 3 and found["sources"][0]["n"] == 1 and found["sources"][0]["doc_id"]
    assert found["related"] == []  # weak matches only when nothing passed the cut-off
    assert "year" in tools["ask"].output_schema["properties"] and found["year"] is None  # no year named: all read

    answer = await client.call_tool("ask", {"question": FUND})
    assert not answer.is_error
    result = answer.structured_content
    assert result["found"] and "百分之二" in result["answer"] and "来源：\n[1] 《" in result["answer"]
    assert result["claims"] and all(c["citations"] for c in result["claims"])

    doc_id = result["sources"][0]["doc_id"]
    document = (await client.call_tool("get_document", {"doc_id": doc_id})).structured_content
    assert document["doc_id"] == doc_id and result["sources"][0]["text"][:20] in document["text"]

    missing = await client.call_tool("get_document", {"doc_id": "no/such.md"})
    assert missing.is_error and "没有这篇文档" in missing.content[0].text
    empty = await client.call_tool("ask", {"question": "  "})
    assert empty.is_error and "查询不能为空" in empty.content[0].text


def test_mcp_over_stdio(kbs: KBs, env: dict[str, str]) -> None:
    command, *args = zhiku_command()
    params = StdioServerParameters(command=command, args=[*args, "mcp", "--kb", str(kbs.copy)], env=env, cwd=str(REPO))

    async def run() -> None:
        async with Client(params) as client:
            await exercise(client)

    anyio.run(run)


def test_mcp_over_streamable_http(http_url: str) -> None:
    async def run() -> None:
        async with Client(http_url) as client:
            await exercise(client)

    anyio.run(run)
