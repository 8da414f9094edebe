"""Waits that say what they wait for: elapsed / limit and where to look, past 2 seconds.

A step that polls (green's health, its workers reaching ``running``, a slot's workers
finishing their rows, the TTL after a flip) makes a ``Wait`` and calls ``tick`` before each
sleep. Once ``REPORT_AFTER_SECONDS`` have passed, and every ``REPORT_EVERY_SECONDS`` after
that, the reporter gets a ``WaitProgress``; the CLI passes one that prints it
(``cli/console.py``), the library never prints.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from spectral_deploy.clock import Clock

__all__ = [
    "REPORT_AFTER_SECONDS",
    "REPORT_EVERY_SECONDS",
    "FunctionClock",
    "Reporter",
    "ReportsProgress",
    "Wait",
    "WaitProgress",
    "logs_command",
    "no_report",
]

REPORT_AFTER_SECONDS = 2.0
REPORT_EVERY_SECONDS = 5.0


@dataclass(frozen=True)
class WaitProgress:
    """One report of a wait in progress."""

    what: str
    elapsed_seconds: float
    limit_seconds: float
    # the last thing observed (a health check's answer, rows left...)
    status: str = ""
    # the command that shows what the awaited thing is doing
    look: str = ""

    def describe(self) -> str:
        """``waiting for X: 12 s / 120 s (last: ...; see: spectral-deploy logs green)``."""
        extra = [f"last: {self.status}"] if self.status else []
        extra += [f"see: {self.look}"] if self.look else []
        tail = f" ({'; '.join(extra)})" if extra else ""
        return (
            f"waiting for {self.what}: {self.elapsed_seconds:.0f} s / "
            f"{self.limit_seconds:.0f} s{tail}"
        )


Reporter = Callable[[WaitProgress], None]


def no_report(progress: WaitProgress) -> None:
    """The reporter of library callers that show nothing."""
    del progress


@runtime_checkable
class ReportsProgress(Protocol):
    """A provider whose own waits (a platform build) report through ``progress``."""

    progress: Reporter


class FunctionClock:
    """A ``Clock`` over injected ``monotonic`` and ``sleep`` functions."""

    def __init__(self, monotonic: Callable[[], float], sleep: Callable[[float], None]) -> None:
        self._monotonic = monotonic
        self._sleep = sleep

    def monotonic(self) -> float:
        """The injected clock."""
        return self._monotonic()

    def sleep(self, seconds: float) -> None:
        """The injected sleep."""
        self._sleep(seconds)


def logs_command(color: object, *, worker: bool = False) -> str:
    """The command that shows a slot's log."""
    return f"spectral-deploy logs {color}" + (" --worker" if worker else "")


class Wait:
    """A wait of at most ``limit_seconds`` on ``clock``, reported past the first seconds."""

    def __init__(
        self,
        what: str,
        limit_seconds: float,
        *,
        clock: Clock,
        report: Reporter,
        look: str = "",
        started: float | None = None,
    ) -> None:
        self.what = what
        self.limit_seconds = limit_seconds
        self.look = look
        self._clock = clock
        self._report = report
        self._started = clock.monotonic() if started is None else started
        self._next = REPORT_AFTER_SECONDS

    @property
    def elapsed_seconds(self) -> float:
        """Seconds since the wait started."""
        return self._clock.monotonic() - self._started

    def tick(self, status: str = "", *, now: float | None = None) -> None:
        """Report the wait when it is due (call before each sleep); ``now``: the clock's
        reading the caller already took."""
        elapsed = self.elapsed_seconds if now is None else now - self._started
        if elapsed < self._next:
            return
        while self._next <= elapsed:
            self._next += REPORT_EVERY_SECONDS
        self._report(WaitProgress(self.what, elapsed, self.limit_seconds, status, self.look))
