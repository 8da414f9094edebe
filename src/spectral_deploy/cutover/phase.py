"""The phase of a deploy, computed from what was asked and what was observed (pure)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from spectral_deploy.cutover.model import Deploy, Intent, Outcome, Step
from spectral_deploy.cutover.observe import FlipState

__all__ = ["Phase", "compute_phase", "next_commands"]


class Phase(StrEnum):
    """Where a deploy is."""

    PROGRESSING = "Progressing"
    FAILED = "Failed"
    HOLD_WINDOW = "HoldWindow"
    HOLD_EXPIRED = "HoldExpired"
    COMPLETED = "Completed"
    ABORTED = "Aborted"
    ROLLED_BACK = "RolledBack"


def compute_phase(deploy: Deploy, now: datetime) -> Phase:
    """The phase follows from the outcome, the failed step, the flip and the hold window."""
    if deploy.finished:
        return {
            Outcome.COMPLETED: Phase.COMPLETED,
            Outcome.ABORTED: Phase.ABORTED,
            Outcome.ROLLED_BACK: Phase.ROLLED_BACK,
        }.get(deploy.outcome or Outcome.COMPLETED, Phase.COMPLETED)
    if deploy.failed_step is not None:
        return Phase.FAILED
    if deploy.flipped:
        if deploy.hold_until is not None and now >= deploy.hold_until:
            return Phase.HOLD_EXPIRED
        return Phase.HOLD_WINDOW
    return Phase.PROGRESSING


def next_commands(deploy: Deploy, phase: Phase, flip: FlipState | None = None) -> list[str]:
    """What an operator runs next, most likely first; ``flip`` (observed) overrides the
    phase: traffic at green that the deploy never recorded is never answered with abort."""
    if deploy.finished:
        return []
    if deploy.intent is Intent.ABORT:
        return ["spectral-deploy deploy abort"]  # an abort started: finish it
    if deploy.intent is Intent.FINISH and deploy.flipped:
        return ["spectral-deploy deploy finish"]
    if flip is not None:
        overriding = _OBSERVED_OVERRIDES.get(flip)
        if overriding is not None:
            return list(overriding)
    return _by_phase(deploy, phase)


# what the observation calls for, whatever the phase says
_OBSERVED_OVERRIDES: dict[FlipState, tuple[str, ...]] = {
    FlipState.UNRECORDED: (
        "spectral-deploy deploy resume",
        "spectral-deploy rollback run --symptom behavior",
    ),
    FlipState.FLIPPED_BACK: (
        "spectral-deploy rollback run --symptom behavior",
        "spectral-deploy status",
    ),
    FlipState.UNKNOWN: ("spectral-deploy dns show", "spectral-deploy status"),
}


def _by_phase(deploy: Deploy, phase: Phase) -> list[str]:
    if phase is Phase.PROGRESSING:
        return ["spectral-deploy deploy resume", "spectral-deploy deploy abort"]
    if phase is Phase.FAILED:
        failed = Step(deploy.failed_step) if deploy.failed_step else None
        resume = "spectral-deploy deploy resume"
        if failed is Step.LINT_MIGRATIONS:
            return ["spectral-deploy deploy abort", "spectral-deploy lint --base <blue's tag>"]
        return ["spectral-deploy deploy abort", resume, "spectral-deploy rollback plan"]
    if phase is Phase.HOLD_WINDOW:
        return [
            "spectral-deploy deploy watch",
            "spectral-deploy deploy finish --when-due",
            "spectral-deploy rollback plan --symptom behavior",
        ]
    if phase is Phase.HOLD_EXPIRED:
        return ["spectral-deploy deploy finish", "spectral-deploy rollback plan --symptom data"]
    return []
