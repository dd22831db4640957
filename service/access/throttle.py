"""Login throttling: after a few failed logins of one name from one address, each further try waits.

The wait doubles from 1 s up to 15 minutes and a success clears it. Counting per (name, address) means
a guesser is slowed without letting anyone lock a colleague out from elsewhere; counting per address too
(ten times the allowance) slows one machine trying many names. Kept in memory: a restart forgives, which
costs a guesser a restart of somebody else's server.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable

MAX_WAIT_S = 15 * 60
PER_ADDRESS_FACTOR = 10


class LoginThrottle:
    def __init__(self, attempts: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.attempts = attempts
        self._clock = clock
        self._failures: dict[str, tuple[int, float]] = {}  # key -> (failures, may try again at)
        self._lock = threading.Lock()

    def wait(self, name: str, address: str) -> float:
        """Seconds before this name may try again from this address (0 = now)."""
        now = self._clock()
        with self._lock:
            return max(0.0, *(self._failures.get(key, (0, now))[1] - now for key in _keys(name, address)))

    def failed(self, name: str, address: str) -> None:
        now = self._clock()
        with self._lock:
            if len(self._failures) > 100_000:  # bound memory under a spray of names: forget the settled ones
                self._failures = {k: v for k, v in self._failures.items() if v[1] > now}
            for key, allowance in zip(_keys(name, address), (self.attempts, self.attempts * PER_ADDRESS_FACTOR)):
                failures = self._failures.get(key, (0, now))[0] + 1
                over = failures - allowance
                self._failures[key] = (failures, now + min(MAX_WAIT_S, 2.0 ** (over - 1)) if over > 0 else now)

    def succeeded(self, name: str, address: str) -> None:
        with self._lock:
            self._failures.pop(_keys(name, address)[0], None)


def _keys(name: str, address: str) -> tuple[str, str]:
    return f"{name.lower()}\n{address}", f"\n{address}"
