"""When a failed row is tried again: exponential backoff with jitter (pure)."""

from __future__ import annotations

import random
from collections.abc import Callable

__all__ = ["backoff_seconds"]


def backoff_seconds(
    attempt: int,
    *,
    base_seconds: float,
    max_seconds: float,
    random_fraction: Callable[[], float] = random.random,
) -> float:
    """Delay before the attempt after ``attempt`` (1-based): base * 2^(attempt-1), capped.

    "Equal jitter": half the delay is fixed and half random, so retries of rows that failed
    together spread out without ever coming back sooner than half the nominal delay.
    """
    if attempt < 1:
        raise ValueError(f"attempt is 1-based, got {attempt}")
    nominal = min(max_seconds, base_seconds * 2.0 ** min(attempt - 1, 62))
    return nominal / 2 + random_fraction() * nominal / 2
