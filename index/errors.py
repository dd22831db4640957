"""Errors the index raises on purpose, so the service can show the message instead of a traceback.

Every one carries a message written for the person running zhiku: what went wrong and what to do.
"""
from __future__ import annotations


class ZhikuIndexError(Exception):
    """Base class: the service turns these into a clear message (CLI) or a 4xx/503 answer (API)."""


class EmbedderUnavailable(ZhikuIndexError):
    """The configured embedding model cannot be loaded (e.g. its local model directory is missing)."""


class EmbedderMismatch(ZhikuIndexError):
    """The KB's vectors were made by another model than the configured one; mixing them gives noise."""


class VectorStoreUnavailable(ZhikuIndexError):
    """The chroma server does not answer (down, unreachable or hung)."""
