"""The drain's rate limit: a token bucket."""

from __future__ import annotations

import pytest

from spectral_deploy.outbox.ratelimit import RateLimiter


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_rows_over_time_never_exceed_the_rate() -> None:
    """Taking 10,000 rows at 500 rows/s takes about 19 s after the first second's burst."""
    fake = FakeTime()
    limiter = RateLimiter(500, clock=fake.clock, sleep=fake.sleep)
    taken = 0
    while taken < 10_000:
        taken += limiter.take(100)
    assert taken == 10_000
    assert 18.9 <= fake.now <= 19.1


def test_unused_allowance_comes_back() -> None:
    """A claim that found fewer rows refunds the rest."""
    fake = FakeTime()
    limiter = RateLimiter(100, clock=fake.clock, sleep=fake.sleep)
    assert limiter.take(100) == 100
    limiter.refund(60)
    assert limiter.take(100) == 60
    assert fake.slept == []


def test_slow_rates_still_allow_one_row() -> None:
    """Half a row a second: one row every two seconds."""
    fake = FakeTime()
    limiter = RateLimiter(0.5, clock=fake.clock, sleep=fake.sleep)
    assert limiter.take(100) == 1
    assert limiter.take(100) == 1
    assert fake.now == pytest.approx(2.0)


def test_rate_must_be_positive() -> None:
    """Zero or negative rates are a caller error."""
    with pytest.raises(ValueError, match="positive"):
        RateLimiter(0)
