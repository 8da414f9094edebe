"""The hold window's error check: the new release's error rate against the previous one's.

The new release's errors are counted from the flip until now; the previous release's over a
window as long, just before the flip (when it served all the traffic). Rates are per minute,
so windows of any length compare. A breach needs both more than ``max_errors`` errors and a
rate above ``max_rate_ratio`` times the previous release's (any rate, when the previous one
had no error or is unknown).

A check that cannot be made is a breach, never a pass: a release the error tracker does not
know (the app reports under another name), or a tracker that does not answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from spectral_deploy.config import ErrorRateConfig
from spectral_deploy.errors import ReleaseNotFound, SpectralError
from spectral_deploy.providers.base import ErrorRateProvider

__all__ = ["ErrorCheck", "check_errors", "judge"]

SECONDS_PER_MINUTE = 60.0


@dataclass(frozen=True)
class ErrorCheck:
    """One reading of the error rates, and whether it is a breach (with why)."""

    release: str
    errors: int
    window_seconds: float
    previous: str | None = None
    previous_errors: int | None = None
    breach: str | None = None
    note: str | None = None

    @property
    def rate_per_minute(self) -> float:
        """The new release's errors per minute since the flip."""
        return self.errors * SECONDS_PER_MINUTE / max(self.window_seconds, 1.0)

    @property
    def previous_rate_per_minute(self) -> float | None:
        """The previous release's errors per minute before the flip, when known."""
        if self.previous_errors is None:
            return None
        return self.previous_errors * SECONDS_PER_MINUTE / max(self.window_seconds, 1.0)


def judge(check: ErrorCheck, settings: ErrorRateConfig) -> ErrorCheck:
    """``check`` with its breach decided (a pure function of the counts and the settings)."""
    if check.breach is not None or check.errors <= settings.max_errors:
        return check
    rate, previous = check.rate_per_minute, check.previous_rate_per_minute
    if previous and rate <= previous * settings.max_rate_ratio:
        return check
    against = (
        f"{previous:.2f}/min for {check.previous} before the flip"
        if previous is not None
        else "no known rate of the previous release"
    )
    return ErrorCheck(
        release=check.release,
        errors=check.errors,
        window_seconds=check.window_seconds,
        previous=check.previous,
        previous_errors=check.previous_errors,
        breach=(
            f"{check.errors} error(s) of {check.release} since the flip ({rate:.2f}/min) against "
            f"{against} (limits: {settings.max_errors} error(s), {settings.max_rate_ratio:g}x "
            "the previous rate)"
        ),
        note=check.note,
    )


def check_errors(
    provider: ErrorRateProvider,
    *,
    release: str,
    previous: str | None,
    flipped_at: datetime,
    now: datetime,
    settings: ErrorRateConfig,
) -> ErrorCheck:
    """Read both releases' errors and judge them; a reading that fails is a breach."""
    window = now - flipped_at
    seconds = window.total_seconds()
    if seconds <= 0:
        return ErrorCheck(release=release, errors=0, window_seconds=0.0, previous=previous)
    try:
        errors = provider.error_count(release, flipped_at, now)
    except ReleaseNotFound as exc:
        return ErrorCheck(release, 0, seconds, previous, breach=exc.message)
    except SpectralError as exc:
        return ErrorCheck(
            release, 0, seconds, previous, breach=f"cannot read the error rate: {exc.message}"
        )
    previous_errors: int | None = None
    note = None
    if previous is not None:
        try:
            previous_errors = provider.error_count(previous, flipped_at - window, flipped_at)
        except SpectralError as exc:
            note = f"the previous release's rate is unknown ({exc.message})"
    checked = ErrorCheck(release, errors, seconds, previous, previous_errors, None, note)
    return judge(checked, settings)
