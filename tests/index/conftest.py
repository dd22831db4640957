"""A real ``chroma run`` server for tests of the server mode: the fixtures live in tests/chroma_live.py.

``chroma_server`` yields the URL; ``chroma_process`` is the handle to stop, start, pause and resume it.
"""
from chroma_live import ChromaProcess, chroma_process, chroma_server  # noqa: F401  (fixtures by import)
