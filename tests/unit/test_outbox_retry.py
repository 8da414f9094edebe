"""Backoff: exponential, capped, jittered, never sooner than half the nominal delay."""

from __future__ import annotations

import pytest

from spectral_deploy.outbox.retry import backoff_seconds


@pytest.mark.parametrize(
    ("attempt", "low", "high"),
    [(1, 0.5, 1.0), (2, 1.0, 2.0), (3, 2.0, 4.0), (10, 256.0, 512.0), (30, 300.0, 600.0)],
)
def test_bounds(attempt: int, low: float, high: float) -> None:
    """Delay lies in [nominal/2, nominal] with nominal = base * 2^(attempt-1), capped."""
    assert (
        backoff_seconds(attempt, base_seconds=1, max_seconds=600, random_fraction=lambda: 0) == low
    )
    assert (
        backoff_seconds(attempt, base_seconds=1, max_seconds=600, random_fraction=lambda: 1) == high
    )


def test_huge_attempts_do_not_overflow() -> None:
    """Attempt 10,000 is just the cap."""
    assert backoff_seconds(10_000, base_seconds=1, max_seconds=60) <= 60


def test_attempts_are_one_based() -> None:
    """Attempt 0 is a caller bug."""
    with pytest.raises(ValueError, match="1-based"):
        backoff_seconds(0, base_seconds=1, max_seconds=60)
