"""Waits report what they wait for, elapsed / limit and where to look, only past 2 seconds."""

from __future__ import annotations

from spectral_deploy.waiting import (
    REPORT_AFTER_SECONDS,
    REPORT_EVERY_SECONDS,
    Wait,
    WaitProgress,
    logs_command,
)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_a_short_wait_says_nothing_and_a_long_one_reports_periodically() -> None:
    """Nothing before REPORT_AFTER_SECONDS; then one report per REPORT_EVERY_SECONDS."""
    clock = Clock()
    seen: list[WaitProgress] = []
    wait = Wait("green to pass", 120, clock=clock, report=seen.append, look="spectral-deploy logs")
    while clock.now < 100 + REPORT_AFTER_SECONDS - 0.5:
        wait.tick("HTTP 502")
        clock.sleep(0.5)
    assert seen == []
    while clock.now < 100 + 20:
        wait.tick("HTTP 502")
        clock.sleep(0.5)
    assert len(seen) == 1 + int((20 - REPORT_AFTER_SECONDS) // REPORT_EVERY_SECONDS)
    first = seen[0]
    assert REPORT_AFTER_SECONDS <= first.elapsed_seconds < REPORT_AFTER_SECONDS + 0.5
    assert first.limit_seconds == 120 and first.status == "HTTP 502"


def test_the_report_names_what_elapsed_limit_and_where_to_look() -> None:
    """The line an operator reads: what, 12 s / 120 s, the last answer, the logs command."""
    line = WaitProgress(
        "green (green) to pass its health check", 12.4, 120, "HTTP 502", logs_command("green")
    ).describe()
    assert line == (
        "waiting for green (green) to pass its health check: 12 s / 120 s "
        "(last: HTTP 502; see: spectral-deploy logs green)"
    )
    assert logs_command("blue", worker=True) == "spectral-deploy logs blue --worker"
