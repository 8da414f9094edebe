"""Where a claim loop's next claim starts (pure).

Finished rows are deleted, but their index entries stay until vacuum; a claim that starts at
the beginning of its generation walks over all of them. So a loop starts each claim just past
the highest id it has claimed. Rows it skipped on the way (a retry waiting for its backoff, a
lease that ran out, a key blocked behind an earlier row) are picked up by a *sweep*, a claim
from the start, which runs before the loop goes idle and otherwise at most every
``sweep_seconds``.
"""

from __future__ import annotations

import time
from collections.abc import Callable

__all__ = ["ClaimCursor"]


class ClaimCursor:
    """The ``after_id`` of each claim of one loop."""

    def __init__(self, sweep_seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.sweep_seconds = sweep_seconds
        self.high = 0
        self._clock = clock
        self._next_sweep = 0.0
        self._sweeping = False

    def start(self) -> int:
        """The id the next claim starts after (0 for a sweep)."""
        now = self._clock()
        self._sweeping = self.high == 0 or now >= self._next_sweep
        if self._sweeping:
            self._next_sweep = now + self.sweep_seconds
            return 0
        return self.high

    def claimed(self, last_id: int | None) -> None:
        """Record the highest id of a claim (None when it returned nothing)."""
        if last_id is not None and last_id > self.high:
            self.high = last_id

    def idle_now(self) -> bool:
        """After an empty claim: go idle (True), or sweep first (False)."""
        if self._sweeping:
            return True
        self._next_sweep = 0.0
        return False
