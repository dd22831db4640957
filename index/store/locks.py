"""One exclusive lock between processes, on a file beside what it guards.

A server and ``zhiku ingest`` (or ``zhiku kb create``, or two processes building the same model file) work on
one folder at once. ``flock`` serialises them, and the kernel drops the lock when its holder dies, so a killed
process never leaves it held.
"""
from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def exclusive(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (created if missing; its folder must exist) for the block."""
    with Path(path).open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield
