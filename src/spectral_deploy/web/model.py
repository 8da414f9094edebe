"""The snapshot as values: what is live, each slot, the deploy, outbox, backup, next actions.

Every class here is a frozen value with an ``as_json``; ``Snapshot.as_json`` is the shape of
``spectral-deploy status --format json`` and of the dashboard's ``/api/status``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from spectral_deploy.backup.catalog import CatalogEntry
from spectral_deploy.cutover.model import Deploy, Step
from spectral_deploy.cutover.observe import FlipState
from spectral_deploy.cutover.phase import Phase
from spectral_deploy.ledger.store import LedgerEntry
from spectral_deploy.outbox.status import OutboxStatus, WorkerRow
from spectral_deploy.outbox.store import WorkerState
from spectral_deploy.providers.base import Color

__all__ = [
    "Action",
    "BackupState",
    "BackupView",
    "DeployView",
    "Level",
    "Live",
    "RollbackView",
    "Slot",
    "Snapshot",
    "WorkerCount",
    "backup_view",
    "worker_counts",
    "worker_state",
]


class Level(StrEnum):
    """How urgent an action is."""

    CRITICAL = "critical"
    WARNING = "warning"
    INFO = "info"


@dataclass(frozen=True)
class Action:
    """Something that needs an operator: why, and the commands to run (most likely first)."""

    level: Level
    reason: str
    commands: tuple[str, ...]

    def as_json(self) -> dict[str, Any]:
        """JSON-ready."""
        return {"level": str(self.level), "reason": self.reason, "commands": list(self.commands)}


@dataclass(frozen=True)
class Live:
    """What serves traffic, observed: the slot the CNAME points at (read back) and the
    generation running there; beside it, what the ledger records as active.

    ``generation`` is the observed one (None when the record's slot runs nothing, or points
    at neither slot); when the hosting provider cannot be read it falls back to the ledger's
    and ``observed`` is False. ``serving`` is None when unknown.
    """

    color: Color | None
    generation: int | None
    tag: str | None = None
    commit: str | None = None
    record: str | None = None
    target: str | None = None
    ttl: int | None = None
    recorded_generation: int | None = None
    serving: bool | None = None
    observed: bool = True
    probe_color: Color | None = None
    probe_generation: int | None = None
    probe_detail: str | None = None

    @property
    def disagrees(self) -> bool:
        """The ledger's active generation is not the one the record's slot runs."""
        return (
            self.observed
            and self.color is not None
            and (self.generation != self.recorded_generation)
        )

    def as_json(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "color": str(self.color) if self.color else None,
            "generation": self.generation,
            "tag": self.tag,
            "commit": self.commit,
            "cname": {"record": self.record, "target": self.target, "ttl": self.ttl},
            "recorded_generation": self.recorded_generation,
            "serving": self.serving,
            "observed": self.observed,
            "probe": (
                {
                    "color": str(self.probe_color) if self.probe_color else None,
                    "generation": self.probe_generation,
                    "detail": self.probe_detail,
                }
                if self.probe_detail is not None
                else None
            ),
        }


@dataclass(frozen=True)
class Slot:
    """One color as the hosting provider reports it."""

    color: Color
    live: bool
    status: str
    generation: int | None = None
    tag: str | None = None
    workers: int | None = None
    healthy: bool | None = None
    health: str = ""

    def as_json(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "color": str(self.color),
            "live": self.live,
            "status": self.status,
            "generation": self.generation,
            "tag": self.tag,
            "workers": self.workers,
            "healthy": self.healthy,
            "health": self.health,
        }


@dataclass(frozen=True)
class DeployView:
    """The open (or latest) deploy with its computed phase."""

    deploy: Deploy
    phase: Phase
    driver_pid: int | None = None
    flip: FlipState | None = None
    flip_intent: bool = False

    @property
    def current_step(self) -> Step | None:
        """The step that failed, or the one running (or next) while the deploy progresses."""
        if self.deploy.failed_step is not None:
            return Step(self.deploy.failed_step)
        if self.phase is Phase.PROGRESSING and self.deploy.step < len(Step):
            return Step(self.deploy.step + 1)
        return None

    def step_state(self, step: Step) -> str:
        """``done``, ``failed``, ``running`` (being run, or next), ``pending`` or ``skipped``."""
        if self.deploy.failed_step == int(step):
            return "failed"
        if int(step) <= self.deploy.step:
            return "done"
        if self.deploy.finished:
            return "skipped"
        if self.current_step is step and self.phase is Phase.PROGRESSING:
            return "running"
        return "pending"

    def hold_seconds_left(self, now: datetime) -> float | None:
        """Seconds left in the hold window (0 once it is over); None outside one."""
        if self.phase not in (Phase.HOLD_WINDOW, Phase.HOLD_EXPIRED):
            return None
        if self.deploy.hold_until is None:
            return None
        return max(0.0, (self.deploy.hold_until - now).total_seconds())

    def as_json(self, now: datetime) -> dict[str, Any]:
        """The deploy's own JSON plus phase, the current step, the driver and the hold window."""
        step = self.current_step
        left = self.hold_seconds_left(now)
        return {
            **self.deploy.as_json(),
            "phase": str(self.phase),
            "steps_total": len(Step),
            "current_step": {"step": int(step), "name": step.slug} if step else None,
            "steps": [
                {"step": int(s), "name": s.slug, "title": s.title, "state": self.step_state(s)}
                for s in Step
            ],
            "driver_pid": self.driver_pid,
            "hold_seconds_left": round(left, 1) if left is not None else None,
            "flip": str(self.flip) if self.flip else None,
            "flip_intent_recorded": self.flip_intent,
        }


@dataclass(frozen=True)
class RollbackView:
    """The rollback in progress: where it stopped and whether a process drives it."""

    id: int
    failure_class: int
    steps_done: int
    steps_total: int
    next_step: str | None
    driver_pid: int | None = None

    def as_json(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "id": self.id,
            "class": self.failure_class,
            "steps_done": self.steps_done,
            "steps_total": self.steps_total,
            "next_step": self.next_step,
            "driver_pid": self.driver_pid,
        }


class BackupState(StrEnum):
    """What is known of the latest backup."""

    VERIFIED = "verified"
    UNVERIFIED = "unverified"
    VERIFY_FAILED = "verify-failed"
    DAMAGED = "damaged"
    NONE = "none"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class BackupView:
    """The latest backup in the configured storage, and whether a restore of it was proven."""

    state: BackupState
    storage: str | None
    backup_id: str | None = None
    created_at: datetime | None = None
    verified_at: datetime | None = None
    error: str | None = None

    def age_seconds(self, now: datetime) -> float | None:
        """How old the latest backup is."""
        return (now - self.created_at).total_seconds() if self.created_at else None

    def as_json(self, now: datetime) -> dict[str, Any]:
        """JSON-ready."""
        age = self.age_seconds(now)
        return {
            "state": str(self.state),
            "storage": self.storage,
            "id": self.backup_id,
            "created_at": self.created_at.isoformat() if self.created_at else None,
            "age_seconds": round(age, 1) if age is not None else None,
            "verified_at": self.verified_at.isoformat() if self.verified_at else None,
            "error": self.error,
        }


def backup_view(entries: Sequence[CatalogEntry], storage: str) -> BackupView:
    """The latest entry of a catalog (newest first) as a view."""
    if not entries:
        return BackupView(BackupState.NONE, storage)
    latest = entries[0]
    verification = latest.verification
    common: dict[str, Any] = {
        "storage": storage,
        "backup_id": latest.id,
        "created_at": latest.manifest.created_at,
        "verified_at": verification.verified_at if verification else None,
    }
    if not latest.intact:
        what = "missing" if latest.stored_size is None else "not the manifest's size"
        return BackupView(BackupState.DAMAGED, error=f"the stored object is {what}", **common)
    if verification is None:
        return BackupView(BackupState.UNVERIFIED, **common)
    if verification.ok:
        return BackupView(BackupState.VERIFIED, **common)
    return BackupView(BackupState.VERIFY_FAILED, error=verification.error, **common)


def worker_state(worker: WorkerRow) -> str:
    """The registry's state, or ``stale`` for a worker whose heartbeat stopped (killed)."""
    if worker.live or worker.state is WorkerState.STOPPED:
        return str(worker.state)
    return "stale"


@dataclass(frozen=True)
class WorkerCount:
    """How many workers of a generation are in a state."""

    generation: int
    state: str
    count: int

    def as_json(self) -> dict[str, Any]:
        """JSON-ready."""
        return {"generation": self.generation, "state": self.state, "count": self.count}


def worker_counts(workers: Sequence[WorkerRow]) -> tuple[WorkerCount, ...]:
    """Workers per generation and state, ordered by generation then state."""
    counts: dict[tuple[int, str], int] = {}
    for worker in workers:
        key = (worker.generation, worker_state(worker))
        counts[key] = counts.get(key, 0) + 1
    return tuple(WorkerCount(g, s, n) for (g, s), n in sorted(counts.items()))


@dataclass(frozen=True)
class Snapshot:
    """Everything ``status`` and the dashboard show, read at ``taken_at``.

    ``unknown`` maps a source that could not be read (``dns``, ``hosting``, ``backup``) to
    the reason; its part of the snapshot then says nothing rather than something wrong.
    """

    taken_at: datetime
    live: Live
    slots: tuple[Slot, ...]
    deploy: DeployView | None
    outbox: OutboxStatus
    backup: BackupView
    timeline: tuple[LedgerEntry, ...] = ()
    actions: tuple[Action, ...] = ()
    unknown: Mapping[str, str] = field(default_factory=dict)
    rollback: RollbackView | None = None

    @property
    def workers(self) -> tuple[WorkerCount, ...]:
        """Workers per generation and state."""
        return worker_counts(self.outbox.workers)

    @property
    def dead_rows(self) -> int:
        """Dead-lettered rows across every generation."""
        return sum(g.dead for g in self.outbox.generations)

    def as_json(self) -> dict[str, Any]:
        """The documented shape of ``status --format json`` and ``/api/status``."""
        now = self.taken_at
        return {
            "taken_at": now.isoformat(),
            "live": self.live.as_json(),
            "slots": [s.as_json() for s in self.slots],
            "deploy": self.deploy.as_json(now) if self.deploy else None,
            "outbox": {
                "generations": [g.as_json() for g in self.outbox.generations],
                "stranded": [g.generation for g in self.outbox.stranded],
                "dead": self.dead_rows,
            },
            "workers": [w.as_json() for w in self.workers],
            "backup": self.backup.as_json(now),
            "next": [a.as_json() for a in self.actions],
            "unknown": dict(self.unknown),
            "rollback": self.rollback.as_json() if self.rollback else None,
        }
