"""Which backups ``prune`` keeps: a pure function of the catalog and the policy.

The rule is the one restic and borg use: walking from the newest backup back,
the newest backup of each of the last ``keep_daily`` days that have backups is
kept, likewise for ISO weeks and calendar months (all in UTC). On top of that,
the newest *verified* backup is always kept, whatever the counts say, and so is
every backup the storage holds under a retention lock.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

__all__ = ["Candidate", "Decision", "KeepReason", "Policy", "select"]


class KeepReason(StrEnum):
    """Why a backup is kept; the value is what ``prune`` prints."""

    DAILY = "daily"
    WEEKLY = "weekly"
    MONTHLY = "monthly"
    NEWEST_VERIFIED = "newest-verified"
    LOCKED = "retention-lock"


@dataclass(frozen=True)
class Policy:
    """How many daily, weekly and monthly backups to keep."""

    keep_daily: int
    keep_weekly: int
    keep_monthly: int

    def __post_init__(self) -> None:
        for name in ("keep_daily", "keep_weekly", "keep_monthly"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be 0 or more")


@dataclass(frozen=True)
class Candidate:
    """What retention needs to know of one backup."""

    id: str
    created_at: datetime
    verified: bool = False
    locked: bool = False


@dataclass(frozen=True)
class Decision:
    """Keep or delete one backup, and why it is kept."""

    id: str
    created_at: datetime
    keep: bool
    reasons: tuple[KeepReason, ...]


_Period = Callable[[datetime], Hashable]


def _day(moment: datetime) -> Hashable:
    return moment.astimezone(UTC).date()


def _week(moment: datetime) -> Hashable:
    year, week, _ = moment.astimezone(UTC).isocalendar()
    return (year, week)


def _month(moment: datetime) -> Hashable:
    utc = moment.astimezone(UTC)
    return (utc.year, utc.month)


def select(candidates: Iterable[Candidate], policy: Policy) -> list[Decision]:
    """A decision for every candidate, newest first."""
    ordered = sorted(candidates, key=lambda c: (c.created_at, c.id), reverse=True)
    reasons: dict[str, list[KeepReason]] = {c.id: [] for c in ordered}
    rules: Sequence[tuple[KeepReason, int, _Period]] = (
        (KeepReason.DAILY, policy.keep_daily, _day),
        (KeepReason.WEEKLY, policy.keep_weekly, _week),
        (KeepReason.MONTHLY, policy.keep_monthly, _month),
    )
    for reason, count, period in rules:
        seen: set[Hashable] = set()
        for candidate in ordered:
            if len(seen) >= count:
                break
            key = period(candidate.created_at)
            if key not in seen:
                seen.add(key)
                reasons[candidate.id].append(reason)
    newest_verified = next((c for c in ordered if c.verified), None)
    if newest_verified is not None:
        reasons[newest_verified.id].append(KeepReason.NEWEST_VERIFIED)
    for candidate in ordered:
        if candidate.locked:
            reasons[candidate.id].append(KeepReason.LOCKED)
    return [
        Decision(
            id=c.id,
            created_at=c.created_at,
            keep=bool(reasons[c.id]),
            reasons=tuple(reasons[c.id]),
        )
        for c in ordered
    ]
