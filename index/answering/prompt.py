"""The prompt: numbered passages and the question, and the rules the LLM must follow to be checkable.

The numbers are the contract with :mod:`index.answering.claims`: the LLM cites ``[n]`` after each sentence and
the checker tests the sentence against passage n. The model is told to say a fixed phrase when the passages
do not answer, so a refusal can be recognised and answered extractively instead.
"""
from __future__ import annotations

import re
from collections.abc import Sequence

from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage

from index.answering.extract import citation
from index.records import Hit

NO_ANSWER = "资料中没有答案"
SYSTEM = f"""你是工会与人力资源工作者的政策法规问答助手。
只根据用户给出的编号资料回答，不使用资料以外的知识，不编造数字、条款或文件名称。
用简体中文写二到四句话。每句话末尾用方括号注明依据的资料编号，例如 [1] 或 [1][3]。
如果资料不能回答这个问题，只回答：{NO_ANSWER}。"""
# A reply that says one of these without citing anything declined to answer from the passages.
_REFUSAL = re.compile(NO_ANSWER + r"|无法回答|不能回答|无法提供|抱歉|对不起|sorry|i can(?:no|')t|as an ai", re.I)


def messages(question: str, passages: Sequence[Hit]) -> list[BaseMessage]:
    """System rules, then the passages numbered from 1 in retrieval order, then the question."""
    numbered = "\n\n".join(f"[{n}] {citation(hit)}\n{hit.text}" for n, hit in enumerate(passages, 1))
    return [SystemMessage(SYSTEM), HumanMessage(f"资料：\n{numbered}\n\n问题：{question}")]


def is_refusal(reply: str) -> bool:
    return bool(_REFUSAL.search(reply))
