"""Time as the deploy waits on it: a monotonic reading and a sleep, injectable.

The deployer, the rollback runner and retiring a color wait (for health, for workers, for
one TTL after a flip). The real clock sleeps; the in-process fake world's clock
(``providers.fake``) advances instantly and lets the world move while the caller waits.
"""

from __future__ import annotations

import time
from typing import Protocol

from spectral_deploy.config import Config

__all__ = ["SYSTEM_CLOCK", "Clock", "SystemClock", "from_config"]


class Clock(Protocol):
    """What a wait needs."""

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back."""
        ...

    def sleep(self, seconds: float) -> None:
        """Wait ``seconds``."""
        ...


class SystemClock:
    """The real one."""

    def monotonic(self) -> float:
        """``time.monotonic()``."""
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        """``time.sleep(seconds)``."""
        time.sleep(seconds)


SYSTEM_CLOCK = SystemClock()


def from_config(config: Config) -> SystemClock:
    """The system clock, for every real hosting provider."""
    return SYSTEM_CLOCK
