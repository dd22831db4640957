"""Answering beyond extraction: grounded generation by the organisation's own LLM, checked against its sources.

The extractive answer (``index/answering/extract.py``) is always computed first; an LLM, when configured, rewrites it
from the same numbered passages, and every sentence it writes is checked against the passages it cites
(``claims``). Anything that goes wrong with the LLM falls back to the extractive answer with a notice.
"""
