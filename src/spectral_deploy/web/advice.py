"""What needs an operator, and the command to run for it, decided from a snapshot (pure).

Most urgent first: a failed or orphaned deploy, stranded generations, then the hold
window, dead letters and backups, then a project with no deploy yet.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from spectral_deploy.cutover.phase import Phase, next_commands
from spectral_deploy.outbox.status import GenerationBacklog, OutboxStatus, drain_command
from spectral_deploy.web.model import Action, BackupState, BackupView, DeployView, Level, Live

__all__ = ["BACKUP_MAX_AGE_SECONDS", "next_actions"]

# a nightly backup plus a few hours of slack
BACKUP_MAX_AGE_SECONDS = 36 * 3600
_LEVEL_ORDER = {Level.CRITICAL: 0, Level.WARNING: 1, Level.INFO: 2}


def next_actions(
    *,
    live: Live,
    deploy: DeployView | None,
    outbox: OutboxStatus,
    backup: BackupView,
    workers_per_slot: int,
    now: datetime,
) -> tuple[Action, ...]:
    """Every action the snapshot calls for, most urgent first."""
    actions = [
        *_deploy_actions(deploy, now),
        *_outbox_actions(outbox.generations, live, workers_per_slot),
        *_backup_actions(backup, now),
    ]
    if deploy is None and live.generation is None:
        actions.append(
            Action(
                Level.INFO,
                "nothing is deployed yet",
                ("spectral-deploy deploy TAG",),
            )
        )
    return tuple(sorted(actions, key=lambda a: _LEVEL_ORDER[a.level]))


def _deploy_actions(view: DeployView | None, now: datetime) -> list[Action]:
    if view is None or view.deploy.finished:
        return []
    deploy, phase = view.deploy, view.phase
    name = f"deploy #{deploy.id} ({deploy.tag})"
    left = view.hold_seconds_left(now)
    if phase is Phase.FAILED:
        step = view.current_step
        where = f" at step {int(step)} ({step.slug})" if step else ""
        error = (deploy.error or "").splitlines()[0] if deploy.error else ""
        level, reason = Level.CRITICAL, f"{name} failed{where}" + (f": {error}" if error else "")
    elif phase is Phase.PROGRESSING:
        if view.driver_pid is not None:
            return []  # a process is running the steps: nothing to do but wait
        level = Level.CRITICAL
        reason = f"{name} stopped after step {deploy.step} and no process is driving it"
    elif phase is Phase.HOLD_WINDOW:
        until = f" until {deploy.hold_until:%H:%M:%S} UTC" if deploy.hold_until else ""
        remaining = f" ({left:.0f} s left)" if left is not None else ""
        level = Level.INFO
        reason = f"{name} is in its hold window: slot {deploy.blue} stays warm{until}{remaining}"
    elif phase is Phase.HOLD_EXPIRED:
        level, reason = Level.WARNING, f"the hold window of {name} is over: finish it"
    else:
        return []
    return [Action(level, reason, tuple(next_commands(deploy, phase)))]


def _outbox_actions(
    generations: Sequence[GenerationBacklog], live: Live, workers_per_slot: int
) -> list[Action]:
    actions: list[Action] = []
    for g in generations:
        rows = g.pending + g.in_flight
        if g.stranded and g.active and live.color is not None:
            # the live generation's own workers are gone: restart them, do not drain
            actions.append(
                Action(
                    Level.CRITICAL,
                    f"generation {g.generation} is live but has no live worker: {rows} row(s) wait",
                    (
                        f"spectral-deploy hosting scale {live.color} {max(workers_per_slot, 1)} "
                        "--yes",
                        drain_command(g.generation),
                    ),
                )
            )
        elif g.stranded:
            actions.append(
                Action(
                    Level.CRITICAL,
                    f"generation {g.generation} is stranded: {rows} row(s) and no live worker",
                    (drain_command(g.generation),),
                )
            )
        if g.dead:
            actions.append(
                Action(
                    Level.WARNING,
                    f"generation {g.generation} has {g.dead} dead-lettered row(s)",
                    (f"spectral-deploy outbox dead list --generation {g.generation}",),
                )
            )
    return actions


def _backup_actions(backup: BackupView, now: datetime) -> list[Action]:
    where = f" in {backup.storage}" if backup.storage else ""
    if backup.state is BackupState.UNKNOWN:
        return [
            Action(
                Level.WARNING,
                f"backups unknown: {backup.error or 'the storage cannot be read'}",
                ("spectral-deploy backup list",),
            )
        ]
    if backup.state is BackupState.NONE:
        return [Action(Level.WARNING, f"no backup{where}", ("spectral-deploy backup run",))]
    actions: list[Action] = []
    name = f"backup {backup.backup_id}"
    verify = "spectral-deploy backup verify --latest --identity FILE"
    if backup.state is BackupState.DAMAGED:
        actions.append(
            Action(
                Level.CRITICAL,
                f"the latest {name} is damaged: {backup.error}",
                ("spectral-deploy backup run",),
            )
        )
    elif backup.state is BackupState.VERIFY_FAILED:
        actions.append(
            Action(
                Level.CRITICAL,
                f"verifying the latest {name} failed: {backup.error or 'see backup list'}",
                ("spectral-deploy backup run", verify),
            )
        )
    elif backup.state is BackupState.UNVERIFIED:
        actions.append(Action(Level.WARNING, f"the latest {name} was never verified", (verify,)))
    age = backup.age_seconds(now)
    if age is not None and age > BACKUP_MAX_AGE_SECONDS:
        actions.append(
            Action(
                Level.WARNING,
                f"the latest backup is {age / 3600:.0f} h old",
                ("spectral-deploy backup run",),
            )
        )
    return actions
