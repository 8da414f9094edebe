"""A token bucket shared by claim loops: at most ``rate`` rows a second (pure but for sleep)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

__all__ = ["RateLimiter"]

_EPSILON = 1e-9
_MIN_WAIT_SECONDS = 1e-4


class RateLimiter:
    """Hands out row allowances; a claim asks for a batch and gets what the rate allows."""

    def __init__(
        self,
        rows_per_second: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rows_per_second <= 0:
            raise ValueError(f"rows_per_second must be positive, got {rows_per_second}")
        self.rate = rows_per_second
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        # start with one second's worth, at least one row: the first claim goes at once
        self._capacity = max(1.0, rows_per_second)
        self._tokens = self._capacity
        self._updated = clock()

    def take(self, wanted: int) -> int:
        """Wait until at least one row is allowed; take up to ``wanted`` and return how many."""
        while True:
            with self._lock:
                self._refill()
                whole = int(self._tokens + _EPSILON)  # 0.9999999 after float sums is one row
                if whole >= 1:
                    granted = min(wanted, whole)
                    self._tokens = max(0.0, self._tokens - granted)
                    return granted
                wait = max((1 - self._tokens) / self.rate, _MIN_WAIT_SECONDS)
            self._sleep(wait)

    def refund(self, rows: int) -> None:
        """Give back allowance a claim did not use."""
        if rows > 0:
            with self._lock:
                self._tokens = min(self._capacity, self._tokens + rows)

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self._capacity, self._tokens + (now - self._updated) * self.rate)
        self._updated = now
