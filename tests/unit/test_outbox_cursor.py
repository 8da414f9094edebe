"""Where claims start: past the ids already claimed, with sweeps from the start."""

from __future__ import annotations

from spectral_deploy.outbox.cursor import ClaimCursor


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_first_claim_sweeps_then_continues_past_the_highest_id() -> None:
    """Start from 0, then just past what was claimed."""
    clock = Clock()
    cursor = ClaimCursor(2.0, clock)
    assert cursor.start() == 0
    cursor.claimed(500)
    assert cursor.start() == 500
    cursor.claimed(600)
    assert cursor.start() == 600


def test_an_empty_claim_sweeps_before_going_idle() -> None:
    """Nothing past the cursor: sweep from 0 once; if that is empty too, go idle."""
    clock = Clock()
    cursor = ClaimCursor(2.0, clock)
    cursor.start()
    cursor.claimed(500)
    assert cursor.start() == 500
    cursor.claimed(None)
    assert cursor.idle_now() is False
    assert cursor.start() == 0
    cursor.claimed(None)
    assert cursor.idle_now() is True
    assert cursor.start() == 500, "after idling, claims start past the high-water mark again"


def test_busy_loops_sweep_on_a_timer() -> None:
    """While rows keep coming, a sweep still runs every sweep_seconds."""
    clock = Clock()
    cursor = ClaimCursor(2.0, clock)
    cursor.start()
    cursor.claimed(100)
    starts = []
    for step in range(10):
        clock.now += 0.5
        starts.append(cursor.start())
        cursor.claimed(200 + step * 100)
    assert starts.count(0) == 2
    assert cursor.high == 1100


def test_the_high_water_mark_never_goes_back() -> None:
    """A sweep that returns low ids does not move the cursor backwards."""
    cursor = ClaimCursor(2.0, Clock())
    cursor.claimed(900)
    cursor.claimed(50)
    assert cursor.high == 900
