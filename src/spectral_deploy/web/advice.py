"""What needs an operator, and the command to run for it, decided from a snapshot (pure).

Most urgent first: what is live as observed (the CNAME at a stopped or failing slot, at
neither slot, or at a generation the ledger does not call live), a rollback or deploy that
stopped with no process driving it (a flip that happened but was never recorded is never
answered with abort), stranded generations, then the hold window, dead letters and backups,
then a project with no deploy yet.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from spectral_deploy.cutover.model import Intent
from spectral_deploy.cutover.observe import FlipState
from spectral_deploy.cutover.phase import Phase, next_commands
from spectral_deploy.outbox.status import GenerationBacklog, OutboxStatus, drain_command
from spectral_deploy.providers.base import Color
from spectral_deploy.web.model import (
    Action,
    BackupState,
    BackupView,
    DeployView,
    Level,
    Live,
    RollbackView,
    Slot,
)

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
    slots: Sequence[Slot] = (),
    rollback: RollbackView | None = None,
    dns_known: bool = True,
) -> tuple[Action, ...]:
    """Every action the snapshot calls for, most urgent first."""
    actions = [
        *_live_actions(live, slots, deploy, rollback),
        *_rollback_actions(rollback),
        *_deploy_actions(deploy, now, rollback),
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


def _live_actions(
    live: Live, slots: Sequence[Slot], deploy: DeployView | None, rollback: RollbackView | None
) -> list[Action]:
    """What the observation of the live slot calls for."""
    if not live.observed or not slots:
        return []
    by_color = {slot.color: slot for slot in slots}
    driven = (deploy is not None and deploy.driver_pid is not None) or (
        rollback is not None and rollback.driver_pid is not None
    )
    actions: list[Action] = []
    if live.color is None:
        if live.target or live.recorded_generation is not None:
            actions.append(
                Action(
                    Level.CRITICAL,
                    f"the CNAME {live.record} points at {live.target or '(nothing)'}, neither "
                    "slot: public requests do not reach the app",
                    _repoint(live, by_color, avoid=None),
                )
            )
        return actions
    slot = by_color.get(live.color)
    if slot is not None and slot.status == "stopped":
        actions.append(
            Action(
                Level.CRITICAL,
                f"the CNAME points at a stopped slot ({live.color}): public requests fail",
                _repoint(live, by_color, avoid=live.color),
            )
        )
    elif slot is not None and slot.healthy is False:
        actions.append(
            Action(
                Level.CRITICAL,
                f"the CNAME points at slot {live.color}, whose health check fails "
                f"({slot.health or slot.status}): public requests fail",
                _repoint(live, by_color, avoid=live.color),
            )
        )
    elif live.disagrees and not driven and rollback is None and not _unrecorded(deploy):
        actions.append(
            Action(
                Level.CRITICAL,
                f"the ledger says generation {live.recorded_generation or '-'} is live, but the "
                f"CNAME sends traffic to slot {live.color}, which runs generation "
                f"{live.generation or '-'}",
                (*_repoint(live, by_color, avoid=live.color), "spectral-deploy rollback plan"),
            )
        )
    if live.probe_color is not None and live.probe_color is not live.color:
        actions.append(
            Action(
                Level.WARNING,
                f"the public address is answered by slot {live.probe_color} (generation "
                f"{live.probe_generation or '-'}) while the CNAME points at {live.color}: "
                f"resolvers may still cache the old answer (TTL {live.ttl or '?'} s)",
                ("spectral-deploy dns show",),
            )
        )
    return actions


def _unrecorded(deploy: DeployView | None) -> bool:
    return deploy is not None and deploy.flip is FlipState.UNRECORDED


def _repoint(live: Live, slots: dict[Color, Slot], *, avoid: Color | None) -> tuple[str, ...]:
    """Point the record at the slot that serves (the one running the ledger's live
    generation first); without one, look at the slots."""
    serving = [
        s for s in slots.values() if s.color is not avoid and s.status != "stopped" and s.healthy
    ]
    serving.sort(key=lambda s: s.generation != live.recorded_generation)
    if serving:
        return (f"spectral-deploy dns point {serving[0].color} --yes",)
    return ("spectral-deploy hosting status", "spectral-deploy deploy resume")


def _rollback_actions(rollback: RollbackView | None) -> list[Action]:
    if rollback is None:
        return []
    where = f"step {rollback.steps_done + 1} of {rollback.steps_total}" + (
        f" ({rollback.next_step})" if rollback.next_step else ""
    )
    name = f"rollback #{rollback.id} (class {rollback.failure_class})"
    if rollback.driver_pid is not None:
        return [Action(Level.INFO, f"{name} is running: {where}", ())]
    return [
        Action(
            Level.CRITICAL,
            f"{name} stopped before {where} and no process is driving it",
            ("spectral-deploy rollback run",),
        )
    ]


def _deploy_actions(
    view: DeployView | None, now: datetime, rollback: RollbackView | None = None
) -> list[Action]:
    if view is None or view.deploy.finished:
        return []
    deploy, phase = view.deploy, view.phase
    name = f"deploy #{deploy.id} ({deploy.tag})"
    left = view.hold_seconds_left(now)
    commands = tuple(next_commands(deploy, phase, view.flip))
    if deploy.intent in (Intent.ABORT, Intent.FINISH) and view.driver_pid is None:
        verb = "abort" if deploy.intent is Intent.ABORT else "finish"
        return [
            Action(
                Level.CRITICAL,
                f"{name}: a deploy {verb} started and did not end (its process died)",
                commands,
            )
        ]
    observed = _flip_actions(view, rollback, name, commands)
    if observed is not None:
        return observed
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
        if view.flip_intent and view.flip is FlipState.NOT_FLIPPED:
            reason += " (the flip intent is recorded; the CNAME, read back, still points at blue)"
    elif phase is Phase.HOLD_WINDOW:
        until = f" until {deploy.hold_until:%H:%M:%S} UTC" if deploy.hold_until else ""
        remaining = f" ({left:.0f} s left)" if left is not None else ""
        level = Level.INFO
        reason = f"{name} is in its hold window: slot {deploy.blue} stays warm{until}{remaining}"
    elif phase is Phase.HOLD_EXPIRED:
        level, reason = Level.WARNING, f"the hold window of {name} is over: finish it"
    else:
        return []
    return [Action(level, reason, commands)]


def _flip_actions(
    view: DeployView, rollback: RollbackView | None, name: str, commands: tuple[str, ...]
) -> list[Action] | None:
    """What a flip that the record and the ledger disagree on calls for (None: nothing)."""
    deploy = view.deploy
    if view.flip is FlipState.UNRECORDED:
        if view.driver_pid is not None:
            return []  # the driver is between the flip and its record
        return [
            Action(
                Level.CRITICAL,
                f"{name}: the CNAME points at green (slot {deploy.green}, generation "
                f"{deploy.generation}) but the deploy never recorded the flip: it stopped "
                "between the DNS change and its record. Do not abort (that stops the live slot)",
                commands,
            )
        ]
    if view.flip is FlipState.FLIPPED_BACK and rollback is None:
        return [
            Action(
                Level.CRITICAL,
                f"{name} cut over to slot {deploy.green}, but the CNAME points back at slot "
                f"{deploy.blue}: generation {deploy.generation}'s rows need the rollback's drain",
                commands,
            )
        ]
    return None


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
