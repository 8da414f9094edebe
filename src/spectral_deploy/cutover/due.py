"""Finishing a deploy on schedule: ``deploy finish --when-due``.

The deploy workflow watches the hold window, then finishes; a scheduled workflow runs the
same command every few minutes for the runs that did not get there. Either way the open
deploy is finished only when all of this holds, observed now:

- it cut over and its hold window is over;
- no breach was recorded during the window (``deploy watch`` records them);
- none is observed now: green healthy, the CNAME at green, the error rate (Sentry) within
  its limits.

A breach is refused loudly (exit 1, with the rollback command); anything else that is not
due (nothing open, not cut over yet, the window still open, another process driving a
deploy) is a quiet "not now" that the next run retries.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from spectral_deploy.cutover import store
from spectral_deploy.cutover.orchestrator import Deployer, FinishReport
from spectral_deploy.cutover.phase import compute_phase, next_commands
from spectral_deploy.errors import CheckFailed, DeployLockHeld
from spectral_deploy.ledger.store import EntryKind, Outcome, append, entries

__all__ = ["BREACH_ACTION", "Due", "DueFinish", "finish_when_due"]

# the ledger action under which a watch (or this check) records a hold-window breach
BREACH_ACTION = "hold-breach"


class Due(StrEnum):
    """What ``finish_when_due`` found."""

    NOTHING_OPEN = "nothing-open"
    NOT_CUT_OVER = "not-cut-over"
    HOLDING = "holding"
    BUSY = "busy"
    FINISHED = "finished"


@dataclass(frozen=True)
class DueFinish:
    """The outcome, a line saying it, and the finish report when it finished."""

    due: Due
    message: str
    report: FinishReport | None = None


def finish_when_due(deployer: Deployer, now: datetime) -> DueFinish:
    """Finish the open deploy if it is due and clean; CheckFailed on a breach."""
    database = deployer.database
    with database.connect() as conn:
        deploy = store.open_deploy(conn, database.schema)
    if deploy is None:
        return DueFinish(Due.NOTHING_OPEN, "no deploy is open: nothing to finish")
    if not deploy.flipped:
        phase = compute_phase(deploy, now)
        commands = next_commands(deploy, phase)
        return DueFinish(
            Due.NOT_CUT_OVER,
            f"deploy #{deploy.id} ({deploy.tag}) has not cut over ({phase}): nothing to finish"
            + (f"; next: {commands[0]}" if commands else ""),
        )
    if deploy.hold_until is not None and now < deploy.hold_until:
        left = (deploy.hold_until - now).total_seconds()
        return DueFinish(
            Due.HOLDING,
            f"deploy #{deploy.id} ({deploy.tag}) is in its hold window: {left:.0f} s left",
        )
    with database.connect() as conn:
        recorded = [
            entry
            for entry in entries(conn, database.schema, kind=EntryKind.DEPLOY, deploy_id=deploy.id)
            if entry.action == BREACH_ACTION
        ]
    if recorded:
        first = recorded[0]
        raise CheckFailed(
            f"deploy #{deploy.id} ({deploy.tag}) had a hold-window breach at "
            f"{first.recorded_at:%Y-%m-%d %H:%M:%S} UTC ({first.details.get('breach')}): "
            "not finishing it on schedule",
            hint="spectral-deploy rollback plan --symptom behavior  (once judged harmless: "
            "spectral-deploy deploy finish --yes)",
        )
    hold = deployer.hold_check(deploy, now)
    if hold.breach is not None:
        with database.connect() as conn:
            append(
                conn,
                database.schema,
                EntryKind.DEPLOY,
                BREACH_ACTION,
                outcome=Outcome.FAILED,
                deploy_id=deploy.id,
                generation=deploy.generation,
                details={"breach": hold.breach, "by": "deploy finish --when-due"},
            )
            conn.commit()
        raise CheckFailed(
            f"deploy #{deploy.id} ({deploy.tag}): {hold.breach}; not finishing it",
            hint="spectral-deploy rollback plan --symptom behavior",
        )
    try:
        report = deployer.finish()
    except DeployLockHeld as exc:
        return DueFinish(Due.BUSY, f"{exc.message}: not now (the next run retries)")
    return DueFinish(Due.FINISHED, f"deploy #{deploy.id} ({deploy.tag}) finished", report)
