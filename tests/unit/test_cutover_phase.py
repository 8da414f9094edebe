"""A deploy's phase and next commands follow from intent and observations (pure)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from spectral_deploy.cutover.model import Deploy, Intent, Outcome, Step
from spectral_deploy.cutover.phase import Phase, compute_phase, next_commands
from spectral_deploy.providers.base import Color

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)

BASE = Deploy(
    id=7,
    tag="v1.4.0",
    commit="abc",
    generation=8,
    from_generation=7,
    from_commit="def",
    blue=Color.BLUE,
    green=Color.GREEN,
    intent=Intent.DEPLOY,
    step=4,
    failed_step=None,
    error=None,
    flipped_at=None,
    hold_until=None,
    started_by="alice",
    started_at=NOW,
    updated_at=NOW,
    finished_at=None,
    outcome=None,
)


@pytest.mark.parametrize(
    ("changes", "phase"),
    [
        ({}, Phase.PROGRESSING),
        ({"failed_step": 3, "error": "lint"}, Phase.FAILED),
        (
            {"step": 11, "flipped_at": NOW, "hold_until": NOW + timedelta(minutes=5)},
            Phase.HOLD_WINDOW,
        ),
        (
            {"step": 11, "flipped_at": NOW, "hold_until": NOW - timedelta(seconds=1)},
            Phase.HOLD_EXPIRED,
        ),
        ({"finished_at": NOW, "outcome": Outcome.COMPLETED}, Phase.COMPLETED),
        ({"finished_at": NOW, "outcome": Outcome.ABORTED}, Phase.ABORTED),
        ({"finished_at": NOW, "outcome": Outcome.ROLLED_BACK}, Phase.ROLLED_BACK),
    ],
)
def test_phase(changes: dict[str, object], phase: Phase) -> None:
    """Finished beats failed beats flipped beats progressing."""
    assert compute_phase(replace(BASE, **changes), NOW) is phase  # type: ignore[arg-type]


def test_a_failed_lint_suggests_abort_not_resume() -> None:
    """A lint failure cannot be resumed away: abort comes first, resume is not offered."""
    deploy = replace(BASE, failed_step=int(Step.LINT_MIGRATIONS), error="lint")
    commands = next_commands(deploy, Phase.FAILED)
    assert commands[0] == "spectral-deploy deploy abort"
    assert "spectral-deploy deploy resume" not in commands


def test_hold_window_offers_watch_finish_and_rollback() -> None:
    """During the hold window: watch, finish, or the rollback planner."""
    commands = next_commands(BASE, Phase.HOLD_WINDOW)
    assert commands == [
        "spectral-deploy deploy watch",
        "spectral-deploy deploy finish --when-due",
        "spectral-deploy rollback plan --symptom behavior",
    ]


def test_steps_are_numbered_as_in_the_runbook() -> None:
    """Ten runbook steps, then the cutover; slugs are what the ledger stores."""
    assert [int(s) for s in Step] == list(range(1, 12))
    assert Step.APPLY_MIGRATIONS.slug == "apply-migrations"
    assert Color.BLUE.other is Color.GREEN
