"""Caches of what a search reads again and again (chunk rows, stored vectors), each valid for one stamp of the KB.

A stamp names a state of the KB (its generation and the like): every write that a search could see changes it.
A cache belongs to one stamp and is replaced whole when the stamp changes, never patched, so nothing in it
can be older than what the KB holds at that stamp.
"""
from __future__ import annotations

import threading
from collections.abc import Hashable, Iterable, Mapping
from typing import Generic, TypeVar

V = TypeVar("V")
_ABSENT = object()  # a key that the cache does not hold


class StampedCache(Generic[V]):
    """Values read at one stamp, at most ``size`` of them, the oldest dropped first.

    Reads take no lock (dict operations are atomic); adding does, so two threads never evict the same key.
    """

    def __init__(self, stamp: Hashable, size: int) -> None:
        self.stamp = stamp
        self.size = size
        self.values: dict[str, V] = {}
        self._lock = threading.Lock()

    def split(self, keys: Iterable[str]) -> tuple[dict[str, V], list[str]]:
        """The cached values of these keys, and the keys the cache does not hold (in the order given)."""
        found: dict[str, V] = {}
        missing: list[str] = []
        values = self.values
        for key in keys:
            value = values.get(key, _ABSENT)
            if value is _ABSENT:
                missing.append(key)
            else:
                found[key] = value  # type: ignore[assignment]
        return found, missing

    def add(self, values: Mapping[str, V]) -> None:
        with self._lock:
            self.values.update(values)
            for _ in range(len(self.values) - self.size):
                del self.values[next(iter(self.values))]


class Snapshots(Generic[V]):
    """The :class:`StampedCache` of the latest stamp asked for; another stamp replaces it."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._cache: StampedCache[V] = StampedCache(None, size)

    def at(self, stamp: Hashable) -> StampedCache[V]:
        cache = self._cache
        if cache.stamp != stamp:
            cache = self._cache = StampedCache(stamp, self.size)  # one assignment: a reader keeps the one it has
        return cache

    def clear(self) -> None:
        """Forget everything: for a write that leaves the stamp as it was (a repair)."""
        self._cache = StampedCache(None, self.size)
