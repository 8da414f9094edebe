"""The hold window's error check: a rate against the previous release's, and a check that
cannot be made is a breach, never a pass."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from spectral_deploy.config import ErrorRateConfig
from spectral_deploy.cutover.error_rate import ErrorCheck, check_errors, judge
from spectral_deploy.errors import ProviderError, ReleaseNotFound

FLIP = datetime(2026, 5, 4, 12, 0, tzinfo=UTC)
NOW = FLIP + timedelta(minutes=10)
SETTINGS = ErrorRateConfig(provider="sentry", max_errors=0, max_rate_ratio=2.0)


class Counts:
    """An error-rate source with fixed counts per release; a release mapped to an exception
    raises it."""

    def __init__(self, counts: dict[str, int | Exception]) -> None:
        self.counts = counts
        self.asked: list[tuple[str, datetime, datetime]] = []

    def error_count(self, release: str, start: datetime, end: datetime) -> int:
        self.asked.append((release, start, end))
        value = self.counts[release]
        if isinstance(value, Exception):
            raise value
        return value


def check(counts: dict[str, int | Exception], settings: ErrorRateConfig = SETTINGS) -> ErrorCheck:
    return check_errors(
        Counts(counts), release="v2", previous="v1", flipped_at=FLIP, now=NOW, settings=settings
    )


def test_the_previous_release_is_read_over_as_long_a_window_before_the_flip() -> None:
    """New release: [flip, now]; previous: [flip - (now - flip), flip]."""
    source = Counts({"v2": 3, "v1": 3})
    check_errors(source, release="v2", previous="v1", flipped_at=FLIP, now=NOW, settings=SETTINGS)
    assert source.asked == [("v2", FLIP, NOW), ("v1", FLIP - timedelta(minutes=10), FLIP)]


@pytest.mark.parametrize(
    ("new", "old", "breach"),
    [
        (0, 0, False),  # nothing anywhere
        (3, 0, True),  # errors where there were none
        (12, 10, False),  # as noisy as before: the release is not worse
        (20, 10, False),  # exactly twice: the limit is "above"
        (21, 10, True),  # more than twice the previous rate
    ],
)
def test_a_breach_is_a_rate_above_the_previous_release_times_the_ratio(
    new: int, old: int, breach: bool
) -> None:
    """Counts over equal windows compare as rates; the ratio decides."""
    result = check({"v2": new, "v1": old})
    assert (result.breach is not None) is breach
    assert result.errors == new and result.previous_errors == old


def test_max_errors_is_a_floor_below_which_nothing_breaches() -> None:
    """With max_errors = 5, three errors never breach, whatever the previous rate."""
    result = check({"v2": 3, "v1": 0}, ErrorRateConfig(provider="sentry", max_errors=5))
    assert result.breach is None


def test_a_release_the_tracker_does_not_know_is_a_breach() -> None:
    """ReleaseNotFound for the new release: a failed check with the tracker's reason."""
    missing = ReleaseNotFound("Sentry has no release 'v2' in acme/shop")
    result = check({"v2": missing, "v1": 4})
    assert result.breach == "Sentry has no release 'v2' in acme/shop"


def test_a_tracker_that_does_not_answer_is_a_breach() -> None:
    """A provider error on the new release's count: the window is not declared clean."""
    down = ProviderError("internal", provider="sentry", operation="error count", status=502)
    result = check({"v2": down, "v1": 0})
    assert result.breach is not None and "cannot read the error rate" in result.breach


def test_an_unknown_previous_release_compares_with_max_errors_only() -> None:
    """The previous release unknown to the tracker: noted; any error above max_errors breaches."""
    missing = ReleaseNotFound("no release v1")
    result = check({"v2": 1, "v1": missing})
    assert result.previous_errors is None and result.note is not None
    assert result.breach is not None and "no known rate" in result.breach


def test_judge_keeps_a_breach_already_found() -> None:
    """judge() never clears a breach set by a failed reading."""
    failed = ErrorCheck("v2", 0, 600.0, "v1", breach="cannot read")
    assert judge(failed, SETTINGS).breach == "cannot read"
