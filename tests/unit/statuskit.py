"""Building snapshots by hand for the status, metrics and dashboard unit tests."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

from spectral_deploy.cutover.model import Deploy, Intent
from spectral_deploy.cutover.phase import Phase, compute_phase
from spectral_deploy.outbox.status import GenerationBacklog, OutboxStatus, WorkerRow
from spectral_deploy.outbox.store import WorkerState
from spectral_deploy.providers.base import Color
from spectral_deploy.web.advice import next_actions
from spectral_deploy.web.model import (
    BackupState,
    BackupView,
    DeployView,
    Live,
    RollbackView,
    Slot,
    Snapshot,
)

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)

DEPLOY = Deploy(
    id=3,
    tag="v1.1.0",
    commit="c0ffee" * 6,
    generation=2,
    from_generation=1,
    from_commit="beef" * 10,
    blue=Color.BLUE,
    green=Color.GREEN,
    intent=Intent.DEPLOY,
    step=5,
    failed_step=None,
    error=None,
    flipped_at=None,
    hold_until=None,
    started_by="alice",
    started_at=NOW - timedelta(minutes=2),
    updated_at=NOW,
    finished_at=None,
    outcome=None,
)

LIVE = Live(
    color=Color.BLUE,
    generation=1,
    tag="v1.0.0",
    commit="beef" * 10,
    record="shop.example.com",
    target="blue",
    ttl=60,
    recorded_generation=1,
    serving=True,
)

VERIFIED = BackupView(
    BackupState.VERIFIED,
    "gs://shop-backups/prod",
    backup_id="20261126T031700Z-3fa2c1",
    created_at=NOW - timedelta(hours=9),
    verified_at=NOW - timedelta(hours=8),
)


def deploy_view(driver_pid: int | None = 4242, **changes: Any) -> DeployView:
    """The deploy of v1.1.0 (generation 1 -> 2) with ``changes``, its phase computed at NOW."""
    deploy = replace(DEPLOY, **changes)
    return DeployView(deploy, compute_phase(deploy, NOW), driver_pid)


def backlog(
    generation: int,
    *,
    pending: int = 0,
    in_flight: int = 0,
    dead: int = 0,
    workers: int = 0,
    active: bool = False,
) -> GenerationBacklog:
    """One generation's outbox figures."""
    return GenerationBacklog(
        generation=generation,
        pending=pending,
        in_flight=in_flight,
        dead=dead,
        live_workers=workers,
        oldest_pending_age_seconds=42.5 if pending or in_flight else None,
        active=active,
    )


def worker(generation: int, state: str = "running", *, live: bool = True) -> WorkerRow:
    """A registered worker."""
    return WorkerRow(
        id=uuid4(),
        generation=generation,
        host="web-1",
        pid=100,
        app="shop.handlers:handlers",
        state=WorkerState(state),
        live=live,
        concurrency=1,
        started_at=NOW - timedelta(minutes=5),
        heartbeat_at=NOW,
        heartbeat_age_seconds=0.4,
        stopped_at=None,
        last_error=None,
    )


def snapshot(
    *,
    live: Live = LIVE,
    deploy: DeployView | None = None,
    generations: tuple[GenerationBacklog, ...] = (),
    workers: tuple[WorkerRow, ...] = (),
    backup: BackupView = VERIFIED,
    unknown: dict[str, str] | None = None,
    slots: tuple[Slot, ...] | None = None,
    rollback: RollbackView | None = None,
) -> Snapshot:
    """A snapshot taken at NOW, with its actions decided as ``read_snapshot`` does (by default
    blue runs generation 1 and answers, green is stopped)."""
    outbox = OutboxStatus(generations=generations, workers=workers)
    if slots is None:
        slots = (
            Slot(Color.BLUE, live.color is Color.BLUE, "running", 1, "v1.0.0", 2, True, "HTTP 200"),
            Slot(Color.GREEN, live.color is Color.GREEN, "stopped", healthy=False),
        )
    actions = next_actions(
        live=live,
        deploy=deploy,
        outbox=outbox,
        backup=backup,
        workers_per_slot=2,
        now=NOW,
        slots=slots,
        rollback=rollback,
    )
    return Snapshot(
        taken_at=NOW,
        live=live,
        slots=slots,
        deploy=deploy,
        outbox=outbox,
        backup=backup,
        actions=actions,
        unknown=unknown or {},
        rollback=rollback,
    )


__all__ = [
    "DEPLOY",
    "LIVE",
    "NOW",
    "VERIFIED",
    "Phase",
    "backlog",
    "deploy_view",
    "snapshot",
    "worker",
]
