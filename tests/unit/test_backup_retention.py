"""Retention: which backups prune keeps, as a pure function of catalog and policy."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from spectral_deploy.backup.retention import Candidate, KeepReason, Policy, select

NOW = datetime(2026, 11, 26, 23, 0, tzinfo=UTC)  # a Thursday
D, W, M = KeepReason.DAILY, KeepReason.WEEKLY, KeepReason.MONTHLY
V, L = KeepReason.NEWEST_VERIFIED, KeepReason.LOCKED


def nightly(
    days: int, *, verified: frozenset[int] = frozenset(), locked: frozenset[int] = frozenset()
) -> list[Candidate]:
    """One backup a night for ``days`` nights; backup ``n`` is ``n`` days old."""
    return [
        Candidate(
            id=f"b{n:03d}",
            created_at=NOW - timedelta(days=n),
            verified=n in verified,
            locked=n in locked,
        )
        for n in range(days)
    ]


def kept(candidates: list[Candidate], policy: Policy) -> dict[str, tuple[KeepReason, ...]]:
    """The kept backups and why."""
    return {d.id: d.reasons for d in select(candidates, policy) if d.keep}


@pytest.mark.parametrize(
    ("days", "policy", "expected"),
    [
        # the newest of each of the last 3 days
        (10, Policy(3, 0, 0), {"b000": (D,), "b001": (D,), "b002": (D,)}),
        # weeks: ISO weeks start on Monday; 2026-11-26 is a Thursday, so b000..b003 share a week
        (20, Policy(0, 3, 0), {"b000": (W,), "b004": (W,), "b011": (W,)}),
        # months: Nov 26 -> b000, Oct 31 -> b026
        (40, Policy(0, 0, 2), {"b000": (M,), "b026": (M,)}),
        # reasons accumulate on the same backup
        (2, Policy(1, 1, 1), {"b000": (D, W, M)}),
        # more slots than backups keeps everything
        (3, Policy(7, 4, 6), {"b000": (D, W, M), "b001": (D,), "b002": (D,)}),
        # nothing at all
        (0, Policy(7, 4, 6), {}),
    ],
)
def test_counts(days: int, policy: Policy, expected: dict[str, tuple[KeepReason, ...]]) -> None:
    """The newest backup of each of the last N days, ISO weeks and months is kept."""
    assert kept(nightly(days), policy) == expected


def test_newest_verified_is_kept_whatever_the_counts() -> None:
    """Counts that keep only today still keep the newest verified backup."""
    candidates = nightly(10, verified=frozenset({4, 7}))
    assert kept(candidates, Policy(1, 0, 0)) == {"b000": (D,), "b004": (V,)}


def test_locked_backups_are_kept() -> None:
    """A backup under a storage lock is kept with the lock as its reason."""
    assert kept(nightly(5, locked=frozenset({3})), Policy(1, 0, 0)) == {"b000": (D,), "b003": (L,)}


def test_several_backups_a_day_keep_the_newest_of_each_day() -> None:
    """Hourly backups: keep-daily keeps the last one of each day (UTC)."""
    hourly = [
        Candidate(
            id=f"h{n:02d}", created_at=datetime(2026, 11, 26, 0, tzinfo=UTC) - timedelta(hours=n)
        )
        for n in range(30)
    ]
    # h00 is 2026-11-26 00:00; h01..h24 fall on 11-25; h25.. on 11-24
    assert kept(hourly, Policy(3, 0, 0)) == {"h00": (D,), "h01": (D,), "h25": (D,)}


def test_decisions_are_newest_first_and_cover_every_candidate() -> None:
    """Every candidate gets a decision, ordered newest first whatever the input order."""
    candidates = list(reversed(nightly(4)))
    decisions = select(candidates, Policy(1, 0, 0))
    assert [d.id for d in decisions] == ["b000", "b001", "b002", "b003"]
    assert [d.keep for d in decisions] == [True, False, False, False]


def test_times_are_bucketed_in_utc() -> None:
    """23:30 at UTC-5 is the next UTC day: two backups in one local day are two UTC days."""
    est = timezone(timedelta(hours=-5))
    late = Candidate("late", datetime(2026, 11, 25, 23, 30, tzinfo=est))  # 11-26 04:30 UTC
    early = Candidate("early", datetime(2026, 11, 25, 1, 0, tzinfo=est))  # 11-25 06:00 UTC
    assert kept([late, early], Policy(2, 0, 0)) == {"late": (D,), "early": (D,)}


def test_negative_counts_are_refused() -> None:
    """A policy cannot hold a negative count."""
    with pytest.raises(ValueError, match="keep_weekly"):
        Policy(1, -1, 0)
