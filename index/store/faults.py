"""Deterministic crash points for the crash-safety tests (``kill -9`` at a chosen step of a write).

``ZHIKU_CRASH_AT=vectors:2`` makes the process SIGKILL itself the second time it reaches the point named
``vectors``. Unset (always, outside those tests) a crash point costs one dictionary lookup.
"""
from __future__ import annotations

import os
import signal
from collections import Counter

_reached: Counter[str] = Counter()


def crash_point(name: str) -> None:
    """Die here, as abruptly as ``kill -9``, if ``ZHIKU_CRASH_AT`` names this point and its count."""
    target = os.environ.get("ZHIKU_CRASH_AT")
    if not target:
        return
    point, _, count = target.partition(":")
    if point != name:
        return
    _reached[name] += 1
    if _reached[name] >= int(count or 1):
        os.kill(os.getpid(), signal.SIGKILL)
