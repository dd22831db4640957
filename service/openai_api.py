"""An OpenAI-compatible face: chat clients (Open WebUI, Cherry Studio, Dify, LobeChat) ask zhiku as a "model".

``GET /v1/models`` lists one model per KB the caller may read (the default KB is :data:`MODEL_ID`, the
others go by their names);
``POST /v1/chat/completions`` answers the last user message — the one before it is the previous question a
follow-up is rewritten with — as an assistant message: zhiku's answer with its numbered sources (title,
heading, link), non-streamed or, with ``stream: true``, as ``chat.completion.chunk`` events ending in
``data: [DONE]``. Errors keep the API's ``{"error": {"code", "message"}}``, which OpenAI clients read as theirs.
"""
from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from service.answers import answer_text, answerer
from service.errors import ERROR_RESPONSES, ApiError
from service.limits import rate_limit
from service.schemas import AskParams
from index.library import DEFAULT, DEFAULT_ALIAS
from service.access.auth import current_caller

MODEL_ID = DEFAULT_ALIAS  # the default KB; every other KB is a model named after it
CHUNK_CHARS = 24  # the answer is streamed in pieces of about a clause

openai_api = APIRouter(prefix="/v1", responses=ERROR_RESPONSES,
                       tags=["OpenAI 兼容接口"])


class ModelOut(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int = 0
    owned_by: str = "zhiku"


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelOut]


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: str
    content: str | list[dict[str, Any]] | None = None

    def text(self) -> str:
        """Plain text of the message; the list form keeps its ``text`` parts (images etc. are ignored)."""
        if isinstance(self.content, list):
            return "".join(str(part.get("text", "")) for part in self.content if part.get("type") == "text")
        return self.content or ""


class ChatRequest(BaseModel):
    """What zhiku reads of an OpenAI chat request; sampling options (temperature …) are accepted and ignored."""

    model_config = ConfigDict(extra="allow", json_schema_extra={
        "description": "OpenAI 格式的聊天请求；temperature 等采样参数会被接受并忽略。"})
    model: str = Field(description=f"知识库名称，来自 /v1/models（默认知识库为 '{MODEL_ID}'）")
    messages: list[ChatMessage] = Field(min_length=1, description="对话消息；回答最后一条用户消息，其前一条用户消息用来理解追问")
    stream: bool = Field(False, description="true 时以 chat.completion.chunk 事件流式返回，以 data: [DONE] 结束")


def readable_models(request: Request) -> dict[str, str]:
    """The KBs this caller may read, by model id."""
    caller = current_caller(request)
    return {MODEL_ID if info.name == DEFAULT else info.name: info.name
            for info in request.app.state.library.infos() if caller.can_read(info)}


@openai_api.get("/models", summary="模型列表（每个可读的知识库一个）",
                 description=f"OpenAI 格式的模型列表：调用者可读的每个知识库是一个模型，默认知识库的模型名为 '{MODEL_ID}'，"
                             "其他知识库以其名称为模型名。供 Open WebUI、Cherry Studio、Dify 等聊天客户端选择知识库。")
def models(request: Request) -> ModelList:
    return ModelList(data=[ModelOut(id=name) for name in readable_models(request)])


@openai_api.post("/chat/completions", dependencies=[Depends(rate_limit)], summary="问答（OpenAI 格式）",
                  description="OpenAI 格式的问答：回答最后一条用户消息（其前一条用户消息作为上一个问题，用来理解追问），"
                              "答案附编号出处（标题、章节与原文链接），与 GET /api/ask 的答案相同。stream 为 true 时以 "
                              "chat.completion.chunk 事件流式返回，以 data: [DONE] 结束；temperature 等采样参数会被接受并忽略。"
                              "\n\nmodel 不存在或不可读时返回 404，消息中没有用户问题时返回 422，请求过于频繁时返回 429。",
                 response_model=None, responses={200: {"content": {"text/event-stream": {}}}})
async def chat_completions(body: ChatRequest, request: Request) -> dict[str, Any] | StreamingResponse:
    """zhiku's answer to the last user message, with numbered sources; ``stream: true`` for chunks."""
    models = readable_models(request)
    if body.model not in models:
        raise ApiError(404, "model_not_found", f"没有这个模型（知识库）：{body.model[:100]}，可用：{', '.join(models)}")
    asked = [m.text().strip() for m in body.messages if m.role == "user" and m.text().strip()]
    if not asked:
        raise ApiError(422, "no_question", "消息中没有用户问题")
    params = AskParams(q=asked[-1], prev=asked[-2] if len(asked) > 1 else None, kb=models[body.model])
    content = answer_text(await answerer(request).answer(params), str(request.base_url))
    completion_id, created = f"chatcmpl-{uuid.uuid4().hex}", int(time.time())
    if body.stream:
        return StreamingResponse(_chunks(completion_id, created, body.model, content), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache"})
    return {"id": completion_id, "object": "chat.completion", "created": created, "model": body.model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}}


async def _chunks(completion_id: str, created: int, model: str, content: str) -> AsyncIterator[str]:
    pieces = [{"role": "assistant", "content": ""}] + [{"content": content[i:i + CHUNK_CHARS]}
                                                       for i in range(0, len(content), CHUNK_CHARS)]
    for delta, finish in [(d, None) for d in pieces] + [({}, "stop")]:
        chunk = {"id": completion_id, "object": "chat.completion.chunk", "created": created, "model": model,
                 "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
        yield f"data: {json.dumps(chunk, ensure_ascii=False)}\n\n"
    yield "data: [DONE]\n\n"
